//! The registry's signed index as a client sees it: the TUF workflow of
//! [`crate::tuf::Updater`] run against the registry's metadata, trusting
//! the newest root verified so far, and what the top-level targets role
//! lists turned into [`TargetInfo`]s.

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
        if !datastore.join("root.json").exists() {
            Updater::init(datastore, first_root)?;
        }
        let mut updater = Updater::open(datastore, metadata_url, http, now)?;
        updater.refresh().await?;
        let mut targets = Vec::new();
        let mut releases = Vec::new();
        for (name, target) in updater.top_level_targets().await? {
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
