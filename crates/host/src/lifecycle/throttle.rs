//! What a refusal over a per-minute quota does to a plugin: each one is
//! recorded in the audit log (`throttled (QUOTA)`), and a plugin refused
//! `quota.strikes` times for one quota within `quota.strike-minutes` since
//! it was last enabled is disabled with the reason, its dependents with it
//! (as the breaker does). Enabling it again starts the count afresh.

use lord_manifest::PluginId;
use lord_state::Throttle;
use lord_store::{PluginState, Store};

use super::{Event, Lifecycle, next};
use crate::error::HostError;
use crate::runtime::Runtime;

impl Lifecycle {
    /// Records `throttles` of plugin `id` and disables it once one quota
    /// has refused it often enough. Returns whether it was disabled.
    pub(crate) async fn throttled(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
        throttles: Vec<Throttle>,
    ) -> Result<bool, HostError> {
        let strikes = rt.strikes();
        for throttle in throttles {
            let action = format!("throttled ({})", throttle.kind.key());
            let within = i64::from(strikes.minutes) * 60;
            let count = store.record_throttle(id, &action, &throttle.to_string(), within)?;
            if strikes.count == 0 || count < strikes.count {
                continue;
            }
            let plugin = store.require(id)?;
            if plugin.state != PluginState::Enabled || next(plugin.state, Event::Disable).is_err() {
                continue;
            }
            let reason = format!(
                "over {} {count} times in {} minutes; raise `quota.{}` or \
                 `quota.plugins.{id}.{}` if it needs more, then re-enable it with \
                 `lord plugin enable {id}`",
                throttle.quota(),
                strikes.minutes,
                throttle.kind.key(),
                throttle.kind.key(),
            );
            // Its dependents go with it, as when the breaker trips: a
            // plugin must not stay enabled without its dependency.
            let mut dependents = crate::dependencies::dependents(&store.list()?, id);
            dependents.retain(|p| p.state == PluginState::Enabled);
            let because = format!(
                "disabled with `{id}`, which it depends on, when `{id}` kept going over its \
                 quotas; enable `{id}` first, then this one"
            );
            let mut list: Vec<(&PluginId, &str)> = dependents
                .iter()
                .map(|p| (p.id(), because.as_str()))
                .collect();
            list.push((id, reason.as_str()));
            self.disable_each(rt, store, &list).await?;
            return Ok(true);
        }
        Ok(false)
    }
}
