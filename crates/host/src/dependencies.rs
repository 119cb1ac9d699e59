//! Plugin dependencies among installed plugins: whether a manifest's
//! `[dependencies]` are met by what is installed, and which installed
//! plugins depend (directly or through others) on one.
//!
//! Invariant: every way in checks them. A folder or package install, a
//! replace (`lord dev`, an update) and a registry install (each step, after
//! the dependencies it resolved were installed before it) are refused
//! while a dependency is missing or at a version outside the range; an
//! enable, on every path (`lord plugin enable`, first use, an install,
//! update, replace or rollback that enables), is refused while a
//! dependency is missing, disabled or failed; a disable
//! or a removal is refused while plugins that are not disabled depend on
//! it, unless the caller asks to disable them too; a rollback or an update
//! to a version that an enabled dependent's range rejects is refused the
//! same way, naming each dependent and its range; a tripped breaker or a
//! failed lifecycle hook disables them with it.

use std::collections::BTreeSet;

use lord_manifest::{Manifest, PluginId, Version, VersionReq};
use lord_store::{InstalledPlugin, PluginState, Store};

use crate::error::HostError;

/// A dependency that is not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub id: PluginId,
    pub wants: VersionReq,
    /// What is installed instead, if anything.
    pub installed: Option<Version>,
    /// Set when installed at a fitting version but disabled.
    pub disabled: bool,
    /// Set when installed at a fitting version but its lifecycle hook
    /// failed, so it does not run.
    pub failed: bool,
}

impl Unmet {
    /// One line for an error: what is wanted and what is there.
    pub(crate) fn describe(&self) -> String {
        match (&self.installed, self.disabled, self.failed) {
            (None, _, _) => format!("`{}` {} (not installed)", self.id, self.wants),
            (Some(have), _, true) => {
                format!(
                    "`{}` {} ({have} failed; see `lord plugin info {}`)",
                    self.id, self.wants, self.id
                )
            }
            (Some(have), true, false) => {
                format!("`{}` {} ({have} is disabled)", self.id, self.wants)
            }
            (Some(have), false, false) => {
                format!("`{}` {} ({have} is installed)", self.id, self.wants)
            }
        }
    }

    /// The command that fixes it.
    pub(crate) fn fix(&self) -> String {
        match (&self.installed, self.disabled || self.failed) {
            (None, _) => format!("lord plugin install {}@{}", self.id, self.wants),
            (Some(_), false) => format!("lord plugin update {}", self.id),
            (Some(_), true) => format!("lord plugin enable {}", self.id),
        }
    }
}

/// The dependencies of `manifest` that the store does not meet. With
/// `need_enabled`, a disabled or failed dependency counts as unmet too (one
/// installed and not yet enabled is enabled by its own first use).
pub(crate) fn unmet(
    store: &Store,
    manifest: &Manifest,
    need_enabled: bool,
) -> Result<Vec<Unmet>, HostError> {
    let mut out = Vec::new();
    for (id, wants) in &manifest.dependencies {
        let installed = store.get(id)?;
        let fits = installed
            .as_ref()
            .is_some_and(|p| wants.matches(&p.manifest.plugin.version));
        let (disabled, failed) = match installed.as_ref().map(|p| p.state) {
            Some(PluginState::Disabled) => (true, false),
            Some(PluginState::Failed) => (false, true),
            Some(PluginState::Installed | PluginState::Enabled) | None => (false, false),
        };
        if !fits || (need_enabled && (disabled || failed)) {
            out.push(Unmet {
                id: id.clone(),
                wants: wants.clone(),
                installed: installed.map(|p| p.manifest.plugin.version.clone()),
                disabled: fits && disabled,
                failed: fits && failed,
            });
        }
    }
    Ok(out)
}

/// Refuses `manifest` (about to be installed, replaced or enabled) while a
/// dependency is unmet, naming each and the command that fixes it.
pub(crate) fn require_met(
    store: &Store,
    manifest: &Manifest,
    need_enabled: bool,
) -> Result<(), HostError> {
    let missing = unmet(store, manifest, need_enabled)?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(HostError::DependenciesUnmet {
        plugin: manifest.plugin.id.clone(),
        missing: missing
            .iter()
            .map(Unmet::describe)
            .collect::<Vec<_>>()
            .join(", "),
        fix: missing
            .iter()
            .map(|m| format!("`{}`", m.fix()))
            .collect::<Vec<_>>()
            .join(", then "),
    })
}

/// Every installed plugin that depends on `id`, directly or through other
/// plugins, each once, the furthest first (so disabling them in this order
/// never leaves an enabled plugin whose dependency is already disabled).
pub(crate) fn dependents(plugins: &[InstalledPlugin], id: &PluginId) -> Vec<InstalledPlugin> {
    let mut found: Vec<InstalledPlugin> = Vec::new();
    let mut seen = BTreeSet::from([id.clone()]);
    let mut frontier = vec![id.clone()];
    while let Some(current) = frontier.pop() {
        for plugin in plugins {
            if plugin.manifest.dependencies.contains_key(&current)
                && seen.insert(plugin.id().clone())
            {
                frontier.push(plugin.id().clone());
                found.push(plugin.clone());
            }
        }
    }
    found.reverse();
    found
}

/// The error for a disable or removal that dependents stand in the way of.
pub(crate) fn blocked(
    action: &'static str,
    id: &PluginId,
    dependents: &[InstalledPlugin],
) -> HostError {
    let names = dependents
        .iter()
        .map(|p| format!("`{}`", p.id()))
        .collect::<Vec<_>>()
        .join(", ");
    let verb = if dependents.len() == 1 {
        "depends"
    } else {
        "depend"
    };
    HostError::HasDependents {
        plugin: id.clone(),
        action,
        dependents: format!("{names} {verb}"),
    }
}

/// A plugin, not disabled, whose `[dependencies]` range for another
/// rejects the version that one would change to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejecting {
    pub(crate) id: PluginId,
    pub(crate) wants: VersionReq,
}

/// The plugins (not disabled) whose range for `id` rejects `version`.
pub(crate) fn rejecting(
    plugins: &[InstalledPlugin],
    id: &PluginId,
    version: &Version,
) -> Vec<Rejecting> {
    plugins
        .iter()
        .filter(|p| p.state != PluginState::Disabled)
        .filter_map(|p| {
            let wants = p.manifest.dependencies.get(id)?;
            (!wants.matches(version)).then(|| Rejecting {
                id: p.id().clone(),
                wants: wants.clone(),
            })
        })
        .collect()
}

/// The error for a rollback or an update that dependents' ranges reject.
pub(crate) fn rejected(
    action: &'static str,
    id: &PluginId,
    version: &Version,
    rejecting: &[Rejecting],
) -> HostError {
    HostError::RangeRejects {
        plugin: id.clone(),
        action,
        version: version.clone(),
        dependents: rejecting
            .iter()
            .map(|r| format!("`{}` wants {} {}", r.id, id, r.wants))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// What `--force` disables for a change the `rejecting` plugins refuse:
/// each of them and every plugin that depends on one, not already
/// disabled, each once, the furthest first.
pub(crate) fn forced_out(
    plugins: &[InstalledPlugin],
    id: &PluginId,
    rejecting: &[Rejecting],
) -> Vec<PluginId> {
    let mut out: Vec<PluginId> = Vec::new();
    for r in rejecting {
        let chain = dependents(plugins, &r.id)
            .into_iter()
            .filter(|p| p.state != PluginState::Disabled)
            .map(|p| p.id().clone())
            .chain(std::iter::once(r.id.clone()));
        for other in chain {
            // The plugin changing stays enabled, even in a cycle.
            if &other != id && !out.contains(&other) {
                out.push(other);
            }
        }
    }
    out
}
