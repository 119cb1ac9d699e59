//! Sharing use with a registry, when the user opts in
//! (`registry.share-usage = true`): each command run is counted per plugin,
//! version and UTC day (`lord-store`'s `use_counts`, written only while
//! sharing is on), and [`Framework::share_usage`] sends today's counts.
//!
//! What is sent is what `lord_registry_api::UsageReport` holds and nothing
//! more: a random installation id made once for this home (which the
//! registry keeps only as a hash under a salt it discards daily), the host
//! API, and for each plugin version its runs and failures today. Never
//! arguments, input, output, times, or anything naming the user. Only
//! plugins the registry's signed index lists are reported, so the names of
//! plugins installed from folders or other registries never leave.
//!
//! A report replaces the day's earlier one on the registry, so it carries
//! the day's totals; counts of past days are dropped once a report has
//! been sent (a report can only speak for today).
//!
//! Each plugin version also carries its p95 command latency today, from
//! the local usage log, when it was the only version of its plugin that
//! ran today (otherwise the figure could be another version's): what a
//! staged rollout's gate compares (`rollout.rs`).

use std::collections::BTreeSet;
use std::path::Path;

use lord_registry_client::Client;

use crate::error::HostError;
use crate::framework::Framework;
use lord_registry_client::{PluginUsage, UsageReport};

/// The file holding this home's random installation id.
const INSTALLATION_FILE: &str = "installation-id";

/// This home's installation id (also its machine id in rollouts,
/// `rollout.rs`), made (32 random hexadecimal digits) and
/// kept the first time it is needed.
pub(crate) fn installation_id(home: &Path) -> Result<String, HostError> {
    let path = home.join(INSTALLATION_FILE);
    let read = std::fs::read_to_string(&path);
    if let Ok(text) = &read {
        let text = text.trim();
        if (16..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(text.to_owned());
        }
    }
    // Missing: made only if still missing. There but unreadable or not an
    // id: replaced.
    let missing = read
        .as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
    let mut fresh = [0u8; 16];
    getrandom::fill(&mut fresh)
        .map_err(|e| HostError::Resolve(format!("no randomness for an installation id: {e}")))?;
    let id: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
    let io = |e: lord_file::WriteError| HostError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    };
    let bytes = format!("{id}\n");
    // Two commands making a missing id at once must agree on one (it is
    // the machine's id in rollouts): the one that finds it made reads it.
    if !missing {
        lord_file::write_atomic(&path, bytes.as_bytes()).map_err(io)?;
    } else if !lord_file::create_atomic(&path, bytes.as_bytes()).map_err(io)? {
        return winner(&path);
    }
    Ok(id)
}

/// The installation id another command made first; read once, so a file
/// that cannot be read ends in an error, not a loop.
fn winner(path: &Path) -> Result<String, HostError> {
    let text = std::fs::read_to_string(path).map_err(|source| HostError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim().to_owned())
}

impl Framework {
    /// Whether sharing is on and today's counts hold something to send.
    pub fn has_use_to_share(&self) -> bool {
        self.runtime().shares_usage()
            && self
                .store()
                .uses_on(lord_store::today())
                .is_ok_and(|counted| !counted.is_empty())
    }

    /// Sends the registry behind `client` today's use of the plugins its
    /// signed index lists, then forgets earlier days' counts. Returns how
    /// many plugin versions were reported; sends nothing (and returns 0)
    /// when sharing is off or nothing was used today.
    pub async fn share_usage(&self, client: &Client) -> Result<usize, HostError> {
        if !self.runtime().shares_usage() {
            return Ok(0);
        }
        let today = lord_store::today();
        let counted = self.store().uses_on(today)?;
        if counted.is_empty() {
            self.store().forget_uses_before(today)?;
            return Ok(0);
        }
        let index = client
            .trusted_index(&self.registry_folder(client.base()))
            .await?;
        let listed: BTreeSet<&str> = index.targets.iter().map(|t| t.id.as_str()).collect();
        let versions_run = |plugin: &str| counted.iter().filter(|c| c.plugin == plugin).count();
        let single: BTreeSet<String> = counted
            .iter()
            .filter(|c| versions_run(&c.plugin) == 1)
            .map(|c| c.plugin.clone())
            .collect();
        let p95 = self.todays_p95(today, &single)?;
        let plugins: Vec<PluginUsage> = counted
            .into_iter()
            .filter(|c| listed.contains(c.plugin.as_str()))
            .map(|c| PluginUsage {
                p95_us: p95.get(&c.plugin).copied(),
                id: c.plugin,
                version: c.version,
                runs: c.runs,
                errors: c.errors,
            })
            .collect();
        let reported = plugins.len();
        if reported > 0 {
            let mut report = UsageReport {
                installation: installation_id(self.home())?,
                host_api: lord_manifest::host_api_version().to_string(),
                plugins,
            };
            match client.report_usage(&report).await {
                // A registry from before rollouts refuses the field it
                // does not know (400): the counts alone still help it.
                Err(lord_registry_client::ClientError::Remote { status: 400, .. })
                    if report.plugins.iter().any(|p| p.p95_us.is_some()) =>
                {
                    for plugin in &mut report.plugins {
                        plugin.p95_us = None;
                    }
                    client.report_usage(&report).await?;
                }
                other => other?,
            }
        }
        self.store().forget_uses_before(today)?;
        Ok(reported)
    }

    /// The p95 wall time (µs) of today's command calls of each of
    /// `plugins`, from the usage log: the callers pass only plugins of
    /// which one version ran today, so the figure is that version's. None
    /// for a plugin with no logged call (or with analytics off).
    fn todays_p95(
        &self,
        today: i64,
        plugins: &BTreeSet<String>,
    ) -> Result<std::collections::BTreeMap<String, u64>, HostError> {
        let since_ms = u64::try_from(today * 86_400_000).unwrap_or(0);
        let mut walls: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
        for row in crate::analytics::calls(self.home(), self.loader().recorder(), since_ms)? {
            if row.kind == lord_perf::EntryKind::Command && plugins.contains(row.plugin.as_str()) {
                walls
                    .entry(row.plugin.to_string())
                    .or_default()
                    .push(row.wall_ns / 1000);
            }
        }
        Ok(walls
            .into_iter()
            .map(|(plugin, mut w)| {
                w.sort_unstable();
                // Nearest rank: the smallest figure at or above 95 % of calls.
                let rank = (w.len() * 95).div_ceil(100).max(1) - 1;
                (plugin, w[rank])
            })
            .collect())
    }
}
