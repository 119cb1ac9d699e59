//! Local usage analytics as the framework offers it: whether it is on
//! (`analytics.enabled`, on unless set false), the report over a window of
//! the usage log in `perf.db` with the ecosystem health of what is
//! installed, and `lord.plugin.anomaly` published once per new anomaly.
//!
//! Invariant: nothing leaves the machine, and turning analytics off
//! deletes what it recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lord_analytics::{Anomaly, Check, Finding, Report};
use lord_manifest::{FsRoot, Permission, PluginId};
use lord_perf::{PerfDb, Recorder};
use lord_store::{InstalledPlugin, PluginState, Store};

use crate::error::HostError;
use crate::framework::Framework;

/// The configuration key that turns recording off (and deletes its data).
pub const ENABLED_KEY: &str = "analytics.enabled";
/// A plugin not updated for longer than this is reported as stale.
pub const STALE_AFTER: Duration = Duration::from_secs(180 * 24 * 60 * 60);
/// The topic announcing a new anomaly.
pub const ANOMALY_TOPIC: &str = "lord.plugin.anomaly";

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whether analytics is on: unless the configuration says `false`. A
/// configuration that cannot be read leaves it as it was by default, on;
/// the commands that read the configuration report the mistake.
pub(crate) fn enabled(config: Result<&lord_config::Config, HostError>) -> bool {
    config
        .ok()
        .and_then(|c| c.get(ENABLED_KEY))
        .and_then(|v| v.as_bool())
        != Some(false)
}

/// Tells the recorder whether to keep the usage log, and deletes the log
/// when analytics is off. Returns how many recorded calls were deleted.
pub(crate) fn apply(home: &Path, on: bool, recorder: &Recorder) -> Result<usize, HostError> {
    recorder.set_analytics(on);
    if on || !home.join(lord_perf::DB_FILE).exists() {
        return Ok(0);
    }
    Ok(PerfDb::open(home)?.clear_calls()?)
}

/// The window's calls, oldest first: earlier processes' and this one's.
pub(crate) fn calls(
    home: &Path,
    recorder: &Recorder,
    since_ms: u64,
) -> Result<Vec<lord_perf::CallRow>, HostError> {
    // This process's calls go to the file first, so they are read once.
    let _ = recorder.flush();
    let mut rows = if home.join(lord_perf::DB_FILE).exists() {
        PerfDb::open(home)?.read_calls(since_ms)?
    } else {
        Vec::new()
    };
    rows.extend(
        recorder
            .unwritten_calls()
            .into_iter()
            .filter(|r| r.at_ms >= since_ms),
    );
    rows.sort_by_key(|r| r.at_ms);
    Ok(rows)
}

/// What is wrong with the installed plugins as a whole.
pub(crate) fn health(store: &Store, now_ms: u64) -> Result<Vec<Finding>, HostError> {
    let plugins = store.list()?;
    let mut findings = Vec::new();
    let finding = |plugin: &PluginId, check, detail: String| Finding {
        plugin: plugin.to_string(),
        check,
        detail,
    };
    let by_id: BTreeMap<&PluginId, &InstalledPlugin> =
        plugins.iter().map(|p| (&p.manifest.plugin.id, p)).collect();
    for plugin in &plugins {
        let meta = &plugin.manifest.plugin;
        if !lord_manifest::host_api_satisfied_by(&meta.host_api) {
            findings.push(finding(
                &meta.id,
                Check::HostApi,
                format!(
                    "wants host API {} but this lord offers {}; update the plugin \
                     (`lord plugin update {}`) or lord",
                    meta.host_api,
                    lord_manifest::host_api_version(),
                    meta.id
                ),
            ));
        }
        for unmet in crate::dependencies::unmet(store, &plugin.manifest, true)? {
            findings.push(finding(
                &meta.id,
                Check::FailingDependency,
                format!("needs {}; run `{}`", unmet.describe(), unmet.fix()),
            ));
        }
        for dependency in plugin.manifest.dependencies.keys() {
            if let Some(dep) = by_id.get(dependency)
                && dep.state == PluginState::Failed
            {
                findings.push(finding(
                    &meta.id,
                    Check::FailingDependency,
                    format!(
                        "needs `{dependency}`, whose lifecycle hook failed; \
                         see `lord plugin info {dependency}`"
                    ),
                ));
            }
        }
        for grant in &plugin.granted {
            if !plugin.manifest.permissions.contains(grant) {
                findings.push(finding(
                    &meta.id,
                    Check::ConflictingGrants,
                    format!(
                        "holds `{grant}`, which its manifest no longer asks for; \
                         `lord plugin regrant {}` takes it back",
                        meta.id
                    ),
                ));
            }
        }
        let updated_ms = u64::try_from(plugin.updated_at.max(plugin.installed_at))
            .unwrap_or(0)
            .saturating_mul(1000);
        let age = Duration::from_millis(now_ms.saturating_sub(updated_ms));
        if age > STALE_AFTER {
            findings.push(finding(
                &meta.id,
                Check::Stale,
                format!(
                    "version {} has not been updated for {} days; \
                     `lord plugin update {}` looks for a newer one",
                    meta.version,
                    age.as_secs() / 86_400,
                    meta.id
                ),
            ));
        }
    }
    findings.extend(shared_writes(&plugins));
    findings.sort();
    Ok(findings)
}

/// Two enabled plugins both free to write under the same project folder
/// (one's granted folder inside the other's): each can overwrite or delete
/// the other's files.
fn shared_writes(plugins: &[InstalledPlugin]) -> Vec<Finding> {
    let writes: Vec<(&PluginId, String)> = plugins
        .iter()
        .filter(|p| p.state == PluginState::Enabled)
        .flat_map(|p| {
            p.granted.iter().filter_map(move |grant| match grant {
                // Only the project is shared: `$PLUGIN_DATA` and `$TMP`
                // are each plugin's own.
                Permission::FsWrite(path) => match path.root {
                    FsRoot::Project => Some((&p.manifest.plugin.id, path.to_string())),
                    FsRoot::PluginData | FsRoot::Tmp => None,
                },
                Permission::FsRead(_)
                | Permission::Net(_)
                | Permission::Env(_)
                | Permission::Secret(_)
                | Permission::Exec(_)
                | Permission::Db(_)
                | Permission::Ai(_)
                | Permission::SysMetrics
                | Permission::SysMetricsCommandLines
                | Permission::StateShared(_)
                | Permission::EventsPublish(_)
                | Permission::EventsSubscribe(_)
                | Permission::Message(_)
                | Permission::Tty => None,
            })
        })
        .collect();
    let under = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/') || outer.ends_with('/'))
    };
    let mut out = Vec::new();
    for (i, (a, path_a)) in writes.iter().enumerate() {
        for (b, path_b) in &writes[i + 1..] {
            if a != b && (under(path_a, path_b) || under(path_b, path_a)) {
                out.push(Finding {
                    plugin: a.to_string(),
                    check: Check::ConflictingGrants,
                    detail: format!(
                        "`{a}` may write `{path_a}` and `{b}` may write `{path_b}`: each \
                         can change the other's files; revoke one with `lord plugin regrant`"
                    ),
                });
            }
        }
    }
    out
}

/// The payload of `lord.plugin.anomaly` (the bus adds the plugin).
fn anomaly_payload(anomaly: &Anomaly) -> serde_json::Value {
    serde_json::json!({
        "entry": anomaly.entry,
        "metric": anomaly.metric.name(),
        "baseline": anomaly.baseline,
        "recent": anomaly.recent,
        "score": anomaly.score,
        "since_ms": anomaly.since_ms,
    })
}

impl Framework {
    /// Whether usage analytics is on (`analytics.enabled`).
    pub fn analytics_enabled(&self) -> bool {
        enabled(self.settings())
    }

    /// Applies `analytics.enabled` now: the usage log is kept while it is
    /// on, and deleted when it is off. Returns how many recorded calls
    /// were deleted.
    pub fn apply_analytics(&self) -> Result<usize, HostError> {
        apply(
            self.home(),
            self.analytics_enabled(),
            self.loader().recorder(),
        )
    }

    /// Writes this process's call figures to `perf.db` as it exits, on a
    /// thread of its own when there are any, which the caller joins: the
    /// events go to `state.db` meanwhile (two files, no lock shared), so a
    /// one-shot command waits for the longer write instead of both.
    /// Figures are advisory: a database that cannot take them costs them,
    /// never the command. `analytics.enabled` is applied first, so the
    /// usage log is written only when it is on, and deleted when it is
    /// off; a process that ran no plugin reads no configuration for it.
    pub(crate) fn write_figures(&self) -> Option<std::thread::JoinHandle<()>> {
        let recorder = self.loader().recorder().clone();
        if recorder.is_idle() {
            let _ = recorder.flush();
            return None;
        }
        let _ = self.apply_analytics();
        let spawned = std::thread::Builder::new()
            .name("lord-perf".to_owned())
            .spawn({
                let recorder = recorder.clone();
                move || {
                    let _ = recorder.flush();
                }
            });
        // No thread to be had: written here instead.
        spawned.map_or_else(
            |_| {
                let _ = recorder.flush();
                None
            },
            Some,
        )
    }

    /// Stops recording the usage log and deletes it, whatever the
    /// configuration this process read: for the moment the user turns
    /// analytics off. Returns how many recorded calls were deleted.
    pub fn delete_analytics(&self) -> Result<usize, HostError> {
        apply(self.home(), false, self.loader().recorder())
    }

    /// The analytics report over the calls since `since` ago (all that is
    /// kept, without it), with the ecosystem health of the installed
    /// plugins. Each anomaly not seen by the previous report is announced
    /// once as `lord.plugin.anomaly`.
    pub fn analytics_report(&mut self, since: Option<Duration>) -> Result<Report, HostError> {
        let home = self.home().to_owned();
        self.apply_analytics()?;
        let until_ms = now_ms();
        let since_ms = match since {
            Some(window) => {
                until_ms.saturating_sub(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            }
            None => until_ms
                .saturating_sub(u64::try_from(lord_perf::RETENTION.as_millis()).unwrap_or(0)),
        };
        let rows = calls(&home, self.loader().recorder(), since_ms)?;
        let report = Report::new(&rows, since_ms, until_ms, health(self.store(), until_ms)?);
        if home.join(lord_perf::DB_FILE).exists() {
            let keys: Vec<String> = report.anomalies.iter().map(Anomaly::key).collect();
            let new = PerfDb::open(&home)?.note_anomalies(&keys)?;
            let (rt, store) = self.runtime_and_store();
            for anomaly in report.anomalies.iter().filter(|a| new.contains(&a.key())) {
                // Ids in the log were parsed when they were written.
                if let Ok(id) = PluginId::new(anomaly.plugin.clone()) {
                    rt.announce(store, &id, ANOMALY_TOPIC, anomaly_payload(anomaly));
                }
            }
        }
        Ok(report)
    }
}
