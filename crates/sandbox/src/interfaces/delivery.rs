//! `lord:plugin/delivery` (since 0.2.1): what the host vouches for about
//! the event a `handle-event` call is handling, above all whether lord
//! published it. No permission: it tells a plugin only about an event it
//! was already given.

use lord_perf::Area;
use lord_state::Propagation;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::delivery;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/delivery",
    family: None,
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    delivery::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl delivery::Host for StoreState {
    fn propagation(&mut self) -> wasmtime::Result<Option<delivery::Level>> {
        self.meter.enter(Area::Delivery);
        Ok(self.handling.map(|level| match level {
            Propagation::Local => delivery::Level::Local,
            Propagation::Global => delivery::Level::Global,
            Propagation::System => delivery::Level::System,
        }))
    }
}
