//! `lord:plugin/config`: the plugin's own `[plugins.<id>]` table, already
//! checked against its schema (no permission; no plugin can name
//! another's table).

use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::config;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/config",
    family: None,
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    config::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl config::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.meter.enter(Area::Config);
        Ok(self
            .scope()
            .ok()
            .and_then(|scope| scope.config(&key))
            .map(ToString::to_string))
    }
}
