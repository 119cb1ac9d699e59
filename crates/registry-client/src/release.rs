//! Releases of lord itself through the signed index: which release a
//! platform should move to, its download (the TUF target routine, no
//! further than its signed length, checked against its SHA-256) and its
//! signature checked under the user's own trusted keys, exactly as a
//! package is; and publishing one.

use lord_package::{Digest, PublicKey, ReleaseStatement, Signature};
use lord_registry_api::ReleaseInfo;

use crate::client::Client;
use crate::error::ClientError;
use crate::index::TrustedIndex;

impl TrustedIndex {
    /// The newest release for `platform` newer than `running`, or exactly
    /// `wanted` when given (older ones included: that is a choice).
    pub fn release_for(
        &self,
        platform: &str,
        running: &semver::Version,
        wanted: Option<&semver::Version>,
    ) -> Option<&ReleaseInfo> {
        self.releases
            .iter()
            .filter(|r| r.platform == platform)
            .filter_map(|r| semver::Version::parse(&r.version).ok().map(|v| (v, r)))
            .filter(|(v, _)| match wanted {
                Some(wanted) => v == wanted,
                None => v > running,
            })
            .max_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, r)| r)
    }
}

impl Client {
    /// The binary of `release`, fetched from its TUF target path through
    /// the routine every target download uses (no further than the signed
    /// length, then checked against the signed SHA-256), and its signature
    /// (from the signed index) verified under `trusted`. Nothing the
    /// server says outside the signed index is used.
    pub async fn download_release(
        &self,
        index: &TrustedIndex,
        release: &ReleaseInfo,
        trusted: &[PublicKey],
    ) -> Result<Vec<u8>, ClientError> {
        let file = crate::tuf::TargetFile {
            length: release.length,
            hashes: [("sha256".to_owned(), release.digest.clone())].into(),
            custom: None,
        };
        let mut fetch = crate::tuf::Fetch::new(self.http().clone());
        let bytes = crate::tuf::fetch_target(
            &mut fetch,
            &self.url("/tuf/targets/"),
            index.consistent_snapshot,
            &release.name(),
            &file,
        )
        .await
        .map_err(|e| {
            ClientError::Refused(format!(
                "lord {} for {}: {e}",
                release.version, release.platform
            ))
        })?;
        let (signature, statement) = signature_of(release)?;
        lord_package::verify_release(&signature, &Digest::of(&bytes), &statement, trusted)
            .map_err(|e| {
                // The statement is the index's, so a signature made for
                // another release fails here, as a forgery would.
                ClientError::Refused(if let lord_package::PackageError::BadSignature(key) = &e {
                    format!(
                        "{statement}: its signature by key {key} does not vouch for these \
                             bytes as {statement}; the index offers it as a release it was not \
                             signed as, or it was damaged"
                    )
                } else {
                    format!("{statement}: {e}")
                })
            })?;
        Ok(bytes)
    }

    /// Publishes `binary` as lord `version` for `platform`, signed by
    /// `key` (`signature` over its digest); the token's scope must cover
    /// `lord`. Answers the digest the registry recorded.
    pub async fn publish_release(
        &self,
        token: &str,
        binary: Vec<u8>,
        signature: &Signature,
        key: &PublicKey,
        version: &str,
        platform: &str,
    ) -> Result<String, ClientError> {
        let compact = serde_json::to_string(signature)
            .map_err(|e| ClientError::Client(format!("unserialisable signature: {e}")))?;
        let response = self
            .http()
            .post(self.url("/releases"))
            .bearer_auth(token)
            .header("lord-signature", compact)
            .header("lord-public-key", key.to_text().trim())
            .header("lord-release-version", version)
            .header("lord-release-platform", platform)
            .header("content-type", "application/octet-stream")
            .body(binary)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let answer: serde_json::Value = self
            .checked(response)
            .await?
            .json()
            .await
            .map_err(|e| self.unreachable(&e))?;
        Ok(answer["digest"].as_str().unwrap_or_default().to_owned())
    }
}

/// The signature a release's index entry carries, and what the entry
/// offers it as: the version and platform the publisher's signature must
/// vouch for (the index's signing keys are the server's own, so its word
/// alone does not say which release a binary is).
fn signature_of(release: &ReleaseInfo) -> Result<(Signature, ReleaseStatement), ClientError> {
    let statement = ReleaseStatement {
        version: release.version.clone(),
        platform: release.platform.clone(),
    };
    let json = serde_json::json!({
        "version": 1,
        "key": release.key,
        "digest": release.digest,
        "signature": release.signature,
        "release": statement,
    });
    let signature = Signature::parse(std::path::Path::new("the signed index"), &json.to_string())
        .map_err(|e| {
        ClientError::Refused(format!(
            "lord {} for {} carries no usable signature: {e}",
            release.version, release.platform
        ))
    })?;
    Ok((signature, statement))
}
