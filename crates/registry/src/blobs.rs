//! Package blobs, named by digest, in any `object_store`: a local folder
//! by default (written with fsync), S3, GCS or Azure with the `cloud`
//! feature. A blob is written before the records that name it and kept
//! only when it is whole (its size and digest checked).

use axum::body::Bytes;
use lord_package::Digest;

use crate::error::RegistryError;

/// Package blobs, named by digest, in any `object_store` (a local folder
/// by default; S3, GCS or Azure with the `cloud` feature).
pub struct Blobs {
    store: Box<dyn object_store::ObjectStore>,
    prefix: object_store::path::Path,
    /// The URL without credentials, for messages.
    shown: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("at", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Blobs {
    /// The store at `url` (`file:///abs/path`, `memory:///`, and with the
    /// `cloud` feature `s3://`, `gs://`, `az://`...), configured by the URL
    /// alone.
    pub fn open(url: &str) -> Result<Self, RegistryError> {
        Self::open_with(url, std::iter::empty::<(String, String)>())
    }

    /// The store at `url` with provider settings as `object_store` names
    /// them, which are the providers' environment variables in lower case
    /// (`aws_access_key_id`, `aws_endpoint`, `aws_region`,
    /// `google_service_account`, `azure_storage_account_key`...); settings
    /// of other providers are ignored. The caller reads them from the
    /// environment: a secret never goes on a command line.
    pub fn open_with(
        url: &str,
        settings: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, RegistryError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| RegistryError::BadRequest(format!("`{url}` is not a blob URL: {e}")))?;
        let shown = format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed.path()
        );
        let unusable = |e: object_store::Error| {
            RegistryError::BadRequest(format!(
                "cannot use `{shown}` for blobs: {e} (cloud stores need lord built with the \
                 registry's `cloud` feature)"
            ))
        };
        let (store, prefix) = match object_store::ObjectStoreScheme::parse(&parsed) {
            // A folder's files are synced to disk before a put returns
            // (object_store does not by default): `put` promises a
            // durable blob, and the records written next point at it.
            Ok((object_store::ObjectStoreScheme::Local, prefix)) => (
                Box::new(object_store::local::LocalFileSystem::new().with_fsync(true))
                    as Box<dyn object_store::ObjectStore>,
                prefix,
            ),
            Ok(_) | Err(_) => object_store::parse_url_opts(&parsed, settings).map_err(unusable)?,
        };
        Ok(Self {
            store,
            prefix,
            shown,
        })
    }

    fn path(&self, digest: &str) -> object_store::path::Path {
        self.prefix
            .clone()
            .join("sha256")
            .join(&digest[..2])
            .join(digest)
    }

    fn failed(&self, action: &str, e: &object_store::Error) -> RegistryError {
        RegistryError::Blob(format!("could not {action} a blob in {}: {e}", self.shown))
    }

    /// Stores `bytes` under `digest` durably (synced, on a folder) and
    /// atomically (a reader sees all of it or nothing). A blob already
    /// there is kept only when it is what its name says, its length and
    /// SHA-256 checked: one cut short (by a power cut under an older
    /// server that did not sync) or damaged is written again, so a
    /// retried publish repairs it.
    pub async fn put(&self, digest: &str, bytes: impl Into<Bytes>) -> Result<(), RegistryError> {
        let bytes: Bytes = bytes.into();
        use object_store::ObjectStoreExt as _;
        let path = self.path(digest);
        match self.store.head(&path).await {
            Ok(meta) if meta.size == bytes.len() as u64 && self.holds(&path, digest).await? => {
                return Ok(());
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.failed("look up", &e)),
        }
        self.store
            .put(&path, object_store::PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| self.failed("store", &e))
    }

    /// Whether the blob at `path` has the SHA-256 `digest`.
    async fn holds(
        &self,
        path: &object_store::path::Path,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        use object_store::ObjectStoreExt as _;
        let stored = match self.store.get(path).await {
            Ok(result) => result.bytes().await.map_err(|e| self.failed("read", &e))?,
            // Gone since the look-up: written again.
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(self.failed("read", &e)),
        };
        Ok(Digest::of(&stored).to_string() == digest)
    }

    pub async fn get(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        use object_store::ObjectStoreExt as _;
        let result = self
            .store
            .get(&self.path(digest))
            .await
            .map_err(|e| self.failed("read", &e))?;
        result
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| self.failed("read", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_blobs_is_synced_on_every_put() {
        let dir = tempfile::tempdir().expect("dir");
        let url = url::Url::from_directory_path(dir.path()).expect("file url");
        let blobs = Blobs::open(url.as_str()).expect("folder");
        // object_store shows the setting only in its Debug text.
        let store = format!("{:?}", blobs.store);
        assert!(store.contains("fsync: true"), "{store}");
    }
}
