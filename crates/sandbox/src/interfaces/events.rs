//! `lord:plugin/events`: publishing, each topic behind an
//! `events-publish(TOPIC)` grant that the plugin's scope checks. Events are
//! checked when published (grant, size, the call's share of the log, the
//! plugin's events-per-minute quota) and held until the call ends: a call
//! that fails publishes none of them.

use lord_manifest::PermissionFamily;
use lord_perf::Area;
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
        self.meter.enter(Area::Events);
        let propagation = match propagation {
            events::Propagation::Local => Propagation::Local,
            events::Propagation::Global => Propagation::Global,
        };
        let staged = match self.with_scope(|s| s.stage(&topic, &payload, propagation, sensitive)) {
            Ok(staged) => staged,
            Err(message) => return Ok(Err(message)),
        };
        // Held until the call ends, so bounded here: a call may publish
        // what its publisher's share of the log holds, no more.
        let budget = self.scope().map(|s| s.limits().call_events);
        if let Ok(budget) = budget
            && (self.staged.len() as u64 >= budget.events
                || self.staged_bytes + staged.bytes() > budget.bytes)
        {
            return Ok(Err(format!(
                "this call has already published {} events ({} bytes), all that one call may \
                 (the plugin's share of the event log: `events.plugin-budget-kib` and \
                 `events.plugin-budget-events`)",
                self.staged.len(),
                self.staged_bytes
            )));
        }
        // The per-minute quota, across calls and processes: refused here,
        // the guest learns which quota and when its window resets, and the
        // host records the refusal after the call.
        if let Some(quota) = self.links.get::<lord_state::PluginQuota>()
            && let Err(throttle) = quota.take(lord_state::QuotaKind::Events, 1)
        {
            return Ok(Err(throttle.to_string()));
        }
        self.staged_bytes += staged.bytes();
        self.staged.push(staged);
        Ok(Ok(()))
    }
}
