//! Per-minute quotas as lord's configuration sets them: each plugin's
//! limits (`quota.<name>`, overridden by `quota.plugins.<id>.<name>`), and
//! how many refusals in how many minutes make lord disable a plugin
//! (`quota.strikes`, `quota.strike-minutes`). Counting is `lord-state`'s
//! (`Quotas`); judging is the lifecycle's (`Lifecycle::throttled`).
//!
//! The plugin's `$PLUGIN_DATA` folder is bounded too (`quota.data-mib`),
//! only for plugins granted the folder: measured before any of its code
//! runs for a command, an event, a message, a request or a pipeline step
//! (over it, the command, request or step is refused and the events or
//! messages are not handed over), and after a command and each event or
//! message (over it, the audit log says so). A plugin that filled its
//! folder from its handlers is stopped there as it is in its commands. A
//! pipeline step measures it at most once a second while it is within
//! its quota ([`PacedFolder`]): steps run many times a second. A step
//! runs where no store is at hand, so its refusals are noted
//! ([`DataRefusals`]) and audited once the pipeline ended, with the
//! per-minute refusals ([`crate::Framework::judge_throttles`]).

use std::path::{Path, PathBuf};

use lord_manifest::PluginId;
use lord_state::{QuotaKind, QuotaLimits};

use crate::error::HostError;

use crate::settings::Settings;

/// How many refusals within how many minutes disable a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Strikes {
    pub(crate) count: u32,
    pub(crate) minutes: u32,
}

impl crate::Framework {
    /// Records the quota and policy refusals of plugin code that ran
    /// outside a command (a pipeline's micro handlers), and disables a plugin that
    /// keeps hitting its quotas, as [`Framework::run_command`] does for its
    /// own. Returns the plugins it disabled.
    pub async fn judge_throttles(&mut self) -> Result<Vec<PluginId>, HostError> {
        let (lifecycle, rt, store) = self.lifecycle_parts();
        // A full folder is no strike (its plugin runs nothing until files
        // are removed, so it cannot keep hitting the quota), as for a
        // command refused for it: audited only. One that cannot be written
        // does not keep the others, or the throttles, from being judged.
        // Steps a policy refused are recorded first.
        let mut unwritten = None;
        if let Err(e) = crate::governance::record_step_refusals(rt.governance(), store) {
            unwritten.get_or_insert(e);
        }
        for refused in rt.data_refusals().take() {
            let detail = format!(
                "{}; {} pipeline step(s) refused",
                refused.over, refused.steps
            );
            if let Err(e) = store.audit(&refused.plugin, "throttled (data-mib)", &detail) {
                unwritten.get_or_insert(e);
            }
        }
        let mut disabled = Vec::new();
        for (plugin, throttles) in rt.take_throttles() {
            let Ok(id) = plugin.parse::<PluginId>() else {
                continue;
            };
            if lifecycle.throttled(rt, store, &id, throttles).await? {
                disabled.push(id);
            }
        }
        match unwritten {
            Some(e) => Err(e.into()),
            None => Ok(disabled),
        }
    }
}

/// A whole number from the configuration, if set and readable.
fn number(settings: &Settings, key: &str) -> Option<u64> {
    settings.get().ok()?.get(key)?.as_u64()
}

/// `plugin`'s limits: the built-in defaults, then `quota.<name>`, then
/// `quota.plugins.<id>.<name>`.
pub(crate) fn limits(settings: &Settings, plugin: &PluginId) -> QuotaLimits {
    settings.quota_limits(plugin, || read_limits(settings, plugin))
}

fn read_limits(settings: &Settings, plugin: &PluginId) -> QuotaLimits {
    let mut limits = QuotaLimits::default();
    for kind in QuotaKind::ALL {
        let own = format!("quota.plugins.{plugin}.{}", kind.key());
        let all = format!("quota.{}", kind.key());
        if let Some(limit) = number(settings, &own).or_else(|| number(settings, &all)) {
            limits.set(kind, limit);
        }
    }
    limits
}

/// When refusals disable a plugin: 5 in 10 minutes unless configured.
pub(crate) fn strikes(settings: &Settings) -> Strikes {
    let get = |key, default| {
        number(settings, key)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(default)
    };
    Strikes {
        count: get("quota.strikes", 5),
        minutes: get("quota.strike-minutes", 10),
    }
}

/// The bytes the plugin's `$PLUGIN_DATA` folder may hold
/// (`quota.data-mib`, overridden per plugin).
pub(crate) fn data_bytes(settings: &Settings, plugin: &PluginId) -> u64 {
    number(settings, &format!("quota.plugins.{plugin}.data-mib"))
        .or_else(|| number(settings, "quota.data-mib"))
        .unwrap_or(1024)
        .saturating_mul(1024 * 1024)
}

/// A plugin's `$PLUGIN_DATA` folder and the bytes it may hold.
#[derive(Debug, Clone)]
pub(crate) struct DataFolder {
    pub(crate) plugin: PluginId,
    pub(crate) dir: PathBuf,
    pub(crate) limit: u64,
}

impl DataFolder {
    /// What the folder holds past its quota: `Some(message)` when it holds
    /// more than its limit.
    pub(crate) fn over(&self) -> Option<String> {
        data_folder_over(&self.plugin, &self.dir, self.limit)
    }
}

/// Pipeline steps refused because their plugin's data folder was over its
/// quota, by plugin: what the folder held past it (the latest refusal's
/// words) and how many steps were refused. Shared by every package of a
/// process.
#[derive(Debug, Clone, Default)]
pub(crate) struct DataRefusals(
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<PluginId, (String, u64)>>>,
);

/// One plugin's entry in [`DataRefusals`], taken to be audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataRefused {
    pub(crate) plugin: PluginId,
    pub(crate) over: String,
    pub(crate) steps: u64,
}

impl DataRefusals {
    fn note(&self, plugin: &PluginId, over: &str) {
        let mut noted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = noted.entry(plugin.clone()).or_default();
        over.clone_into(&mut entry.0);
        entry.1 += 1;
    }

    /// Every refusal noted since the last call.
    pub(crate) fn take(&self) -> Vec<DataRefused> {
        let mut noted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *noted)
            .into_iter()
            .map(|(plugin, (over, steps))| DataRefused {
                plugin,
                over,
                steps,
            })
            .collect()
    }
}

/// How often a [`PacedFolder`] within its quota is measured again.
const PACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A [`DataFolder`] for a path that calls often (a pipeline's micro
/// handler, many times a second): measured at most once per [`PACE`]
/// while it is within its quota, so a folder of many files is not walked
/// on every call; once over, on every call until it is under again.
#[derive(Debug)]
pub(crate) struct PacedFolder {
    folder: DataFolder,
    /// When it was last found within its quota.
    within_at: std::sync::Mutex<Option<std::time::Instant>>,
    refusals: DataRefusals,
}

impl PacedFolder {
    pub(crate) fn new(folder: DataFolder, refusals: DataRefusals) -> Self {
        Self {
            folder,
            within_at: std::sync::Mutex::new(None),
            refusals,
        }
    }

    /// As [`DataFolder::over`], measured again only after [`PACE`]. The
    /// caller refuses the step when it is `Some`, so the refusal is noted
    /// for the audit log here.
    pub(crate) fn refuses(&self) -> Option<String> {
        let mut within_at = self.within_at.lock().unwrap_or_else(|p| p.into_inner());
        if within_at.is_some_and(|at| at.elapsed() < PACE) {
            return None;
        }
        let over = self.folder.over();
        *within_at = over.is_none().then(std::time::Instant::now);
        if let Some(over) = &over {
            self.refusals.note(&self.folder.plugin, over);
        }
        over
    }
}

/// What `$PLUGIN_DATA` holds past its quota: `Some(message)` when the
/// folder at `dir` holds more than `limit` bytes.
fn data_folder_over(plugin: &PluginId, dir: &Path, limit: u64) -> Option<String> {
    let held = folder_bytes(dir);
    (held > limit).then(|| {
        format!(
            "plugin `{plugin}` holds {} MiB in its data folder ({}), over its `quota.data-mib` \
             ({} MiB); remove files from it, or raise `quota.plugins.{plugin}.data-mib`",
            held.div_ceil(1024 * 1024),
            dir.display(),
            limit / (1024 * 1024)
        )
    })
}

/// The bytes of the regular files under `dir`, links not followed (what a
/// link points at is not the plugin's to count); 0 when it cannot be read.
fn folder_bytes(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_refusals_count_steps_per_plugin_and_are_taken_once() {
        let refusals = DataRefusals::default();
        let a: PluginId = "alpha".parse().unwrap();
        let b: PluginId = "beta".parse().unwrap();
        refusals.note(&a, "holds 2 MiB");
        refusals.note(&b, "holds 5 MiB");
        refusals.note(&a, "holds 3 MiB");
        let taken = refusals.take();
        assert_eq!(
            taken,
            [
                DataRefused {
                    plugin: a,
                    over: "holds 3 MiB".to_owned(),
                    steps: 2
                },
                DataRefused {
                    plugin: b,
                    over: "holds 5 MiB".to_owned(),
                    steps: 1
                },
            ]
        );
        assert!(refusals.take().is_empty());
    }

    #[test]
    fn a_data_folder_is_measured_with_its_subfolders_and_without_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), vec![0u8; 700 * 1024]).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![0u8; 500 * 1024]).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 4 * 1024 * 1024]).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let id: PluginId = "filler".parse().unwrap();
        assert_eq!(folder_bytes(dir.path()), 1200 * 1024);
        assert!(data_folder_over(&id, dir.path(), 2 * 1024 * 1024).is_none());
        let over = data_folder_over(&id, dir.path(), 1024 * 1024).unwrap();
        assert!(over.contains("holds 2 MiB"), "{over}");
        assert!(over.contains("`quota.data-mib` (1 MiB)"), "{over}");
    }
}
