//! The registry's signed index as a client sees it: the TUF workflow of
//! [`crate::tuf::Updater`] run against the registry's metadata, trusting
//! the newest root verified so far, and what the top-level targets role
//! lists (and every role it delegates to) turned into [`TargetInfo`]s;
//! or, with [`PluginIndex`], only the roles that hold the plugins asked
//! about.

use std::path::Path;
use std::time::Duration;

use lord_registry_api::{RELEASES, ReleaseInfo, TargetInfo};

use crate::error::ClientError;
use crate::tuf::Updater;

/// The verified index a client resolves against.
#[derive(Debug, Clone, Default)]
pub struct TrustedIndex {
    pub targets: Vec<TargetInfo>,
    /// Releases of lord itself (`releases/PLATFORM/lord-VERSION`).
    pub releases: Vec<ReleaseInfo>,
    /// Whether the verified root asks for consistent snapshots: packages
    /// are then fetched at `plugins/ID/SHA256.VERSION.lordpkg`.
    pub consistent_snapshot: bool,
}

impl TrustedIndex {
    /// Runs the TUF workflow against the metadata at `metadata_url`, with
    /// `datastore` as the folder of trusted metadata (created if missing).
    /// Trust starts from the newest root in `datastore`; `first_root` is
    /// written there only when it has none yet (first contact). Expiry is
    /// judged by `now`. Every attack the roles defend against ends here as
    /// an error naming the role, the versions and the check that failed,
    /// and leaves `datastore` as it was.
    pub async fn load(
        metadata_url: &str,
        first_root: &[u8],
        datastore: &Path,
        now: jiff::Timestamp,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::Client(format!("no HTTP client: {e}")))?;
        Self::load_over(http, metadata_url, first_root, datastore, now).await
    }

    /// [`TrustedIndex::load`] through `http` (a [`crate::Client`]'s, with
    /// the CA it trusts for the registry's HTTPS).
    pub async fn load_over(
        http: reqwest::Client,
        metadata_url: &str,
        first_root: &[u8],
        datastore: &Path,
        now: jiff::Timestamp,
    ) -> Result<Self, ClientError> {
        let mut updater = PluginIndex::open(http, metadata_url, first_root, datastore, now)
            .await?
            .updater;
        let mut targets = Vec::new();
        let mut releases = Vec::new();
        // A registry that bins its index delegates the plugins' targets;
        // every bin is read here (`PluginIndex` reads only the ones asked
        // about).
        for (name, target) in updater.all_targets().await? {
            // lord's packages are named by their SHA-256; a target listed
            // without one is not a lord package.
            let Some(sha256) = target.hashes.get("sha256") else {
                continue;
            };
            if name.starts_with(RELEASES) {
                releases.extend(ReleaseInfo::from_custom(
                    target.length,
                    sha256.to_ascii_lowercase(),
                    &target.custom.unwrap_or_default(),
                ));
                continue;
            }
            targets.push(TargetInfo::from_custom(
                target.length,
                sha256.to_ascii_lowercase(),
                &target.custom.unwrap_or_default(),
            ));
        }
        targets.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        Ok(Self {
            targets,
            releases,
            consistent_snapshot: updater.consistent_snapshot(),
        })
    }
}

/// The verified index read one plugin at a time: after the top-level
/// roles, only the delegated roles (bins) that hold the plugins asked
/// about are fetched, each verified through the delegation that reaches it.
#[derive(Debug)]
pub struct PluginIndex {
    updater: Updater,
}

impl PluginIndex {
    /// Refreshes the top-level metadata at `metadata_url` as
    /// [`TrustedIndex::load_over`] does (same `datastore`, same first
    /// contact), and reads no plugin yet.
    pub async fn open(
        http: reqwest::Client,
        metadata_url: &str,
        first_root: &[u8],
        datastore: &Path,
        now: jiff::Timestamp,
    ) -> Result<Self, ClientError> {
        if !datastore.join("root.json").exists() {
            Updater::init(datastore, first_root)?;
        }
        let mut updater = Updater::open(datastore, metadata_url, http, now)?;
        updater.refresh().await?;
        Ok(Self { updater })
    }

    /// Every version of plugin `id` the signed index lists, in target-name
    /// order (none when it lists none).
    pub async fn versions(&mut self, id: &str) -> Result<Vec<TargetInfo>, ClientError> {
        let targets: Vec<TargetInfo> = self
            .updater
            .targets_in(&format!("plugins/{id}/"))
            .await?
            .into_values()
            .filter_map(|target| {
                // lord's packages are named by their SHA-256.
                let sha256 = target.hashes.get("sha256")?.to_ascii_lowercase();
                Some(TargetInfo::from_custom(
                    target.length,
                    sha256,
                    &target.custom.unwrap_or_default(),
                ))
            })
            .filter(|target| target.id == id)
            .collect();
        Ok(targets)
    }

    /// Whether the trusted root asks for consistent snapshots.
    pub fn consistent_snapshot(&self) -> bool {
        self.updater.consistent_snapshot()
    }

    /// One target the top-level targets list (releases, the registry's
    /// policies), without reading any bin.
    pub async fn top_level_target(
        &mut self,
        name: &str,
    ) -> Result<Option<crate::tuf::TargetFile>, ClientError> {
        Ok(self.updater.top_level_targets().await?.remove(name))
    }

    /// Bytes of metadata fetched so far (the top-level roles and the bins
    /// read).
    pub fn bytes_fetched(&self) -> u64 {
        self.updater.bytes_fetched()
    }

    /// Requests made so far.
    pub fn requests(&self) -> usize {
        self.updater.requests()
    }
}
