//! The lifecycle part: enabling and disabling (their hooks run), loading a
//! plugin for a call (its on-load hook runs), and what a failure does: a
//! failed hook marks the plugin failed and tells its on-error hook; the
//! breaker disables a plugin after too many failures in a row.
//!
//! Invariant: plugin code runs only for an enabled plugin, or inside the
//! hook that decides it; every failure is recorded before it is returned.

use lord_manifest::{Isolation, PluginId};
use lord_sandbox::PluginInstance;
use lord_store::{InstalledPlugin, PluginState, Store, World};
use serde_json::json;

use super::{Event, next};
use crate::error::HostError;
use crate::runtime::Runtime;

/// The breaker's setting; the state itself is the store's.
pub(crate) struct Lifecycle {
    breaker_threshold: u32,
}

impl Lifecycle {
    pub(crate) fn new(breaker_threshold: u32) -> Self {
        Self { breaker_threshold }
    }

    /// Enables a plugin: runs its on-enable hook, then records the state.
    /// A failing hook marks the plugin failed with the reason.
    pub(crate) async fn enable(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
    ) -> Result<(), HostError> {
        let plugin = store.require(id)?;
        let target =
            next(plugin.state, Event::Enable).map_err(|e| unavailable(&plugin, e.message))?;
        // Every way to enable comes through here (`lord plugin enable`,
        // first use, an install, update or rollback that enables), so the
        // dependencies are checked here: a plugin never runs without them.
        // And the policies decide it here, for the same reason.
        crate::dependencies::require_met(store, &plugin.manifest, true)?;
        rt.governance().govern(
            store,
            lord_policy::Action::Enable,
            || crate::governance::installed_facts(&plugin),
            None,
            None,
        )?;
        let result = async {
            match plugin.world {
                // A micro package has no hooks; enabling proves it still
                // loads under each isolation it declares.
                World::Micro => {
                    for isolation in micro_isolations(&plugin) {
                        rt.loader().prepare_micro(&plugin, isolation)?;
                    }
                }
                // Its hooks are its code: the policies decide their `run`
                // too, before any of it runs.
                World::Plugin => {
                    may_run_hooks(rt, store, &plugin)?;
                    let mut instance = rt.instantiate(store, &plugin).await?;
                    instance.on_load().await?;
                    instance.on_enable().await?;
                }
            }
            Ok::<_, HostError>(())
        }
        .await;
        match result {
            Ok(()) => {
                store.set_state(id, target, None)?;
                store.record_success(id)?;
                rt.announce(store, id, "lord.plugin.enabled", json!({}));
                Ok(())
            }
            Err(HostError::Call(e)) => {
                self.hook_failed(rt, store, &plugin, "on-enable", &e.to_string())
                    .await?;
                Err(HostError::Call(e))
            }
            Err(other) => Err(other),
        }
    }

    /// Disables a plugin. Its on-disable hook runs if the plugin is
    /// enabled; a failing hook is recorded but does not keep it enabled.
    ///
    /// `dependents` (plugins that depend on `id`, furthest first) are
    /// disabled with it: each enabled one's hook runs first, then every
    /// state changes in one transaction, so no plugin is left enabled
    /// without its dependency, whatever fails part way.
    pub(crate) async fn disable_with(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
        dependents: &[PluginId],
    ) -> Result<(), HostError> {
        let because =
            format!("disabled with `{id}`, which it depends on; enable `{id}`, then this one");
        let list: Vec<(&PluginId, &str)> = dependents
            .iter()
            .map(|other| (other, because.as_str()))
            .chain(std::iter::once((id, "disabled by the user")))
            .collect();
        self.disable_each(rt, store, &list).await
    }

    /// Disables each plugin with its reason: every enabled one's hook runs
    /// first, then every state changes in one transaction.
    pub(crate) async fn disable_each(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        list: &[(&PluginId, &str)],
    ) -> Result<(), HostError> {
        let mut changes = Vec::new();
        for (other, reason) in list {
            let plugin = store.require(other)?;
            let target =
                next(plugin.state, Event::Disable).map_err(|e| unavailable(&plugin, e.message))?;
            changes.push((plugin, target, *reason));
        }
        let plugins: Vec<InstalledPlugin> = changes.iter().map(|(p, _, _)| p.clone()).collect();
        run_disable_hooks(rt, store, &plugins).await?;
        let states: Vec<(&PluginId, PluginState, Option<&str>)> = changes
            .iter()
            .map(|(plugin, target, reason)| (plugin.id(), *target, Some(*reason)))
            .collect();
        store.set_states(&states)?;
        for (plugin, _, _) in &changes {
            rt.loader().unload(plugin.id());
            rt.announce(store, plugin.id(), "lord.plugin.disabled", json!({}));
        }
        Ok(())
    }

    /// Whether `plugin`'s state lets its code run; the error names the
    /// state, its reason and the way out.
    pub(crate) fn may_run(&self, plugin: &InstalledPlugin) -> Result<(), HostError> {
        next(plugin.state, Event::Run)
            .map(|_| ())
            .map_err(|e| unavailable(plugin, e.message))
    }

    /// A fresh instance of an enabled plugin, after its on-load hook, once
    /// the policies allowed it to `run` (an event handler, a message
    /// handler, an embedder's kept instance).
    pub(crate) async fn load(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        plugin: &InstalledPlugin,
    ) -> Result<PluginInstance, HostError> {
        may_run_hooks(rt, store, plugin)?;
        self.load_decided(rt, store, plugin).await
    }

    /// [`Lifecycle::load`] for a caller that put the `run` to the policies
    /// already: a command, asked with its name before anything else.
    pub(crate) async fn load_decided(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        plugin: &InstalledPlugin,
    ) -> Result<PluginInstance, HostError> {
        next(plugin.state, Event::Run).map_err(|e| unavailable(plugin, e.message))?;
        let mut instance = rt.instantiate(store, plugin).await?;
        if let Err(e) = instance.on_load().await {
            self.hook_failed(rt, store, plugin, "on-load", &e.to_string())
                .await?;
            return Err(e.into());
        }
        Ok(instance)
    }

    /// Records a failed call of the plugin's own and trips the breaker when
    /// the failures in a row reach the threshold.
    pub(crate) async fn failed(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
        error: &str,
    ) -> Result<(), HostError> {
        let failures = store.record_failure(id, error)?;
        if failures >= self.breaker_threshold {
            let plugin = store.require(id)?;
            if let Ok(target) = next(plugin.state, Event::BreakerTripped) {
                // Its dependents go with it, as with `disable --force`: a
                // plugin must not stay enabled without its dependency.
                let mut dependents = crate::dependencies::dependents(&store.list()?, id);
                dependents.retain(|p| p.state != PluginState::Disabled);
                let mut reason = format!(
                    "breaker tripped after {failures} failures in a row; last: {error}; \
                     re-enable with `lord plugin enable {id}` once it is fixed"
                );
                if !dependents.is_empty() {
                    let names = dependents
                        .iter()
                        .map(|p| format!("`{}`", p.id()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    reason.push_str(&format!(
                        ", then its dependents ({names}), which were disabled with it"
                    ));
                }
                let because = format!(
                    "disabled with `{id}`, which it depends on, when `{id}`'s breaker tripped; \
                     enable `{id}` once it is fixed, then this one"
                );
                run_disable_hooks(rt, store, &dependents).await?;
                let mut states: Vec<(&PluginId, PluginState, Option<&str>)> = Vec::new();
                for dependent in &dependents {
                    let to = next(dependent.state, Event::Disable)
                        .map_err(|e| unavailable(dependent, e.message))?;
                    states.push((dependent.id(), to, Some(because.as_str())));
                }
                states.push((id, target, Some(reason.as_str())));
                store.set_states(&states)?;
                for dependent in &dependents {
                    rt.loader().unload(dependent.id());
                    rt.announce(
                        store,
                        dependent.id(),
                        "lord.plugin.disabled",
                        json!({ "reason": because }),
                    );
                }
                rt.announce(store, id, "lord.plugin.failed", json!({ "reason": reason }));
                notify_error(rt, store, &plugin, &reason).await;
            }
        }
        Ok(())
    }

    /// A lifecycle hook failed: mark the plugin failed with the reason and
    /// tell its on-error hook, in a fresh instance since the failed one may
    /// be poisoned.
    async fn hook_failed(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        plugin: &InstalledPlugin,
        hook: &str,
        error: &str,
    ) -> Result<(), HostError> {
        let reason = format!("{hook} hook failed: {error}");
        store.record_failure(plugin.id(), &reason)?;
        if let Ok(target) = next(plugin.state, Event::HookFailed) {
            store.set_state(plugin.id(), target, Some(&reason))?;
            rt.announce(
                store,
                plugin.id(),
                "lord.plugin.failed",
                json!({ "reason": reason }),
            );
            // Its enabled dependents go with it, as with a tripped breaker:
            // a plugin must not stay enabled without its dependency.
            let id = plugin.id();
            let because = format!(
                "disabled with `{id}`, which it depends on, when its {hook} hook failed; \
                 enable `{id}` once it is fixed, then this one"
            );
            let dependents: Vec<InstalledPlugin> =
                crate::dependencies::dependents(&store.list()?, id)
                    .into_iter()
                    .filter(|p| p.state == PluginState::Enabled)
                    .collect();
            let list: Vec<(&PluginId, &str)> = dependents
                .iter()
                .map(|p| (p.id(), because.as_str()))
                .collect();
            self.disable_each(rt, store, &list).await?;
        }
        notify_error(rt, store, plugin, &reason).await;
        Ok(())
    }
}

/// Puts `run` of `plugin`'s code outside a command (its hooks, its event
/// and message handlers, a kept instance) to the policies.
fn may_run_hooks(
    rt: Runtime<'_>,
    store: &mut Store,
    plugin: &InstalledPlugin,
) -> Result<(), HostError> {
    rt.governance().govern(
        store,
        lord_policy::Action::Run,
        || crate::governance::installed_facts(plugin),
        None,
        None,
    )
}

/// Runs the on-disable hook of each of `plugins` that is enabled; a hook
/// that fails, or that the policies refuse to run, is recorded in the
/// audit log and keeps nothing enabled.
async fn run_disable_hooks(
    rt: Runtime<'_>,
    store: &mut Store,
    plugins: &[InstalledPlugin],
) -> Result<(), HostError> {
    for plugin in plugins {
        if plugin.state == PluginState::Enabled && plugin.world == World::Plugin {
            if let Err(refused) = may_run_hooks(rt, store, plugin) {
                store.audit(plugin.id(), "on-disable not run", &refused.to_string())?;
                continue;
            }
            let result = async {
                let mut instance = rt.instantiate(store, plugin).await?;
                instance.on_load().await?;
                instance.on_disable().await?;
                Ok::<_, HostError>(())
            }
            .await;
            if let Err(e) = result {
                store.audit(plugin.id(), "on-disable failed", &e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Calls the plugin's on-error hook; what that hook does (or how it fails)
/// is recorded in the audit log and goes no further.
async fn notify_error(rt: Runtime<'_>, store: &mut Store, plugin: &InstalledPlugin, reason: &str) {
    let outcome = match may_run_hooks(rt, store, plugin) {
        Ok(()) => match rt.instantiate(store, plugin).await {
            Ok(mut instance) => instance.on_error(reason).await.map_err(HostError::from),
            Err(e) => Err(e),
        },
        Err(refused) => Err(refused),
    };
    let detail = match outcome {
        Ok(captured) => format!(
            "on-error hook ran{}",
            captured
                .logs
                .first()
                .map(|l| format!(" and logged: {}", l.message))
                .unwrap_or_default()
        ),
        Err(e) => format!("on-error hook failed: {e}"),
    };
    // The audit write is best effort here: the failure that led here is
    // already recorded.
    let _ = store.audit(plugin.id(), "on-error", &detail);
}

/// The error for a plugin whose state does not allow what was asked.
pub(crate) fn unavailable(plugin: &InstalledPlugin, why: String) -> HostError {
    let id = plugin.id();
    let hint = match plugin.state {
        PluginState::Installed | PluginState::Disabled | PluginState::Failed => {
            format!("enable it with `lord plugin enable {id}`")
        }
        PluginState::Enabled => why,
    };
    HostError::Unavailable {
        plugin: id.clone(),
        state: plugin.state,
        reason: plugin.reason.clone(),
        hint,
    }
}

/// The isolations a micro package's entries declare, each once.
pub(crate) fn micro_isolations(plugin: &InstalledPlugin) -> Vec<Isolation> {
    let mut out: Vec<Isolation> = Vec::new();
    for entry in &plugin.manifest.micro {
        if !out.contains(&entry.isolation) {
            out.push(entry.isolation);
        }
    }
    out
}
