//! `lord:plugin/events`: publishing, each topic behind an
//! `events-publish(TOPIC)` grant that the plugin's scope checks.

use lord_manifest::PermissionFamily;
use lord_state::Propagation;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::events;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/events",
    family: Some(PermissionFamily::EventsPublish),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    events::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl events::Host for StoreState {
    fn publish(
        &mut self,
        topic: String,
        payload: String,
        propagation: events::Propagation,
        sensitive: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        let propagation = match propagation {
            events::Propagation::Local => Propagation::Local,
            events::Propagation::Global => Propagation::Global,
        };
        let payload: serde_json::Value = match serde_json::from_str(&payload) {
            Ok(value) => value,
            Err(e) => return Ok(Err(format!("the event payload is not JSON: {e}"))),
        };
        Ok(self.with_scope(|s| s.publish(&topic, payload, propagation, sensitive).map(drop)))
    }
}
