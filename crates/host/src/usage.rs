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

use std::collections::BTreeSet;
use std::path::Path;

use lord_registry_client::Client;

use crate::error::HostError;
use crate::framework::Framework;
use lord_registry_client::{PluginUsage, UsageReport};

/// The file holding this home's random installation id.
const INSTALLATION_FILE: &str = "installation-id";

/// This home's installation id, made (32 random hexadecimal digits) and
/// kept the first time it is needed.
fn installation_id(home: &Path) -> Result<String, HostError> {
    let path = home.join(INSTALLATION_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        if (16..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(text.to_owned());
        }
    }
    let mut fresh = [0u8; 16];
    getrandom::fill(&mut fresh)
        .map_err(|e| HostError::Resolve(format!("no randomness for an installation id: {e}")))?;
    let id: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
    lord_file::write_atomic(&path, format!("{id}\n").as_bytes()).map_err(|e| HostError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })?;
    Ok(id)
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
        let plugins: Vec<PluginUsage> = counted
            .into_iter()
            .filter(|c| listed.contains(c.plugin.as_str()))
            .map(|c| PluginUsage {
                id: c.plugin,
                version: c.version,
                runs: c.runs,
                errors: c.errors,
            })
            .collect();
        let reported = plugins.len();
        if reported > 0 {
            client
                .report_usage(&UsageReport {
                    installation: installation_id(self.home())?,
                    host_api: lord_manifest::host_api_version().to_string(),
                    plugins,
                })
                .await?;
        }
        self.store().forget_uses_before(today)?;
        Ok(reported)
    }
}
