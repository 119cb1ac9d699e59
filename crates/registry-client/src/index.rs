//! The registry's signed index as a client sees it: The Update Framework's
//! update cycle (by the `tough` crate) from a root the client already
//! trusts, remembering the newest metadata it has seen in a datastore
//! folder, which is what makes a rollback, a freeze or a mix of versions
//! detectable.

use std::path::Path;
use std::time::Duration;

use lord_registry_api::TargetInfo;

use crate::error::{ClientError, io};

/// Fetches metadata over HTTP (with our reqwest client, not tough's TLS
/// stack) or from a `file://` mirror.
#[derive(Clone)]
struct Fetch {
    http: reqwest::Client,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetch")
    }
}

#[tough::async_trait]
impl tough::Transport for Fetch {
    async fn fetch(&self, url: url::Url) -> Result<tough::TransportStream, tough::TransportError> {
        use tough::{TransportError, TransportErrorKind};
        let bytes = if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| {
                TransportError::new(TransportErrorKind::UnsupportedUrlScheme, url.clone())
            })?;
            match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(TransportError::new(TransportErrorKind::FileNotFound, url));
                }
                Err(e) => {
                    return Err(TransportError::new_with_cause(
                        TransportErrorKind::Other,
                        url,
                        e,
                    ));
                }
            }
        } else {
            let response = self.http.get(url.clone()).send().await.map_err(|e| {
                TransportError::new_with_cause(TransportErrorKind::Other, url.clone(), e)
            })?;
            // tough probes for the next root until a "not found": say so
            // precisely, or the probe ends in a misleading error.
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                return Err(TransportError::new(TransportErrorKind::FileNotFound, url));
            }
            if !response.status().is_success() {
                let status = response.status();
                return Err(TransportError::new_with_cause(
                    TransportErrorKind::Other,
                    url,
                    std::io::Error::other(format!("the server answered {status}")),
                ));
            }
            response
                .bytes()
                .await
                .map_err(|e| TransportError::new_with_cause(TransportErrorKind::Other, url, e))?
                .to_vec()
        };
        let chunk: Result<tough::Bytes, TransportError> = Ok(tough::Bytes::from(bytes));
        Ok(Box::pin(futures::stream::iter(vec![chunk])))
    }
}

/// The verified index a client resolves against.
#[derive(Debug, Clone, Default)]
pub struct TrustedIndex {
    pub targets: Vec<TargetInfo>,
}

impl TrustedIndex {
    /// Runs TUF's update cycle against the metadata at `metadata_url`
    /// (ending in `/`), starting from `trusted_root` and remembering what it
    /// saw in `datastore` (created if missing). Every attack the roles
    /// defend against ends here as an error saying which check failed.
    pub async fn load(
        metadata_url: &str,
        trusted_root: &[u8],
        datastore: &Path,
    ) -> Result<Self, ClientError> {
        std::fs::create_dir_all(datastore).map_err(io("create", datastore))?;
        let base = url::Url::parse(metadata_url)
            .map_err(|e| ClientError::Client(format!("`{metadata_url}`: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::Client(format!("no HTTP client: {e}")))?;
        let repo = tough::RepositoryLoader::new(
            &trusted_root,
            base.clone(),
            base.join("targets/").unwrap_or(base),
        )
        .transport(Fetch { http })
        .datastore(datastore)
        .load()
        .await
        .map_err(|e| {
            ClientError::Tuf(format!(
                "the registry's signed index failed verification: {e}; refusing to use it"
            ))
        })?;
        let mut targets = Vec::new();
        for (_name, target) in repo.targets().signed.targets_iter() {
            let custom: serde_json::Map<String, serde_json::Value> = target
                .custom
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            targets.push(TargetInfo::from_custom(
                target.length,
                hex::encode(&target.hashes.sha256),
                &custom,
            ));
        }
        targets.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        Ok(Self { targets })
    }
}
