//! Releases of lord itself through the signed index: which release a
//! platform should move to, its download (the TUF target routine, no
//! further than its signed length, checked against its SHA-256) and its
//! signature checked under the user's own trusted keys, exactly as a
//! package is; and publishing one.
//!
//! Invariant: a registry's releases of lord keep one signer on this
//! machine. The key that signed the first release verified from a
//! registry is pinned in that registry's state folder ([`PIN_FILE`]), as
//! the registry pins it on its side; a release signed by any other key,
//! even one the user trusts for plugins, is refused until the user removes
//! the pin. Whoever holds the index's online keys (the server) can list
//! any signed binary; without the pin, a plugin author's key the user
//! trusts would be enough to replace lord itself.

use std::path::Path;

use lord_package::{Digest, PublicKey, ReleaseStatement, Signature};
use lord_registry_api::ReleaseInfo;

use crate::client::Client;
use crate::error::ClientError;
use crate::index::TrustedIndex;

/// The file in a registry's state folder naming the key lord's releases
/// from that registry are signed with.
pub const PIN_FILE: &str = "release-key";

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
    /// server says outside the signed index is used. `state` is the
    /// registry's state folder (the one [`Client::trusted_index`] read):
    /// the release must be signed by the key pinned there, and the first
    /// release verified pins its key.
    pub async fn download_release(
        &self,
        index: &TrustedIndex,
        release: &ReleaseInfo,
        trusted: &[PublicKey],
        state: &Path,
    ) -> Result<Vec<u8>, ClientError> {
        let pin = state.join(PIN_FILE);
        // Before anything is fetched: a release under another key is
        // refused whatever its bytes.
        let pinned = read_pin(&pin)?;
        if let Some(pinned) = &pinned {
            check_pinned(release, pinned, &pin)?;
        }
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
        if pinned.is_none() {
            pin_first(&pin, release)?;
        }
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

/// The key pinned at `pin`, if one is.
fn read_pin(pin: &Path) -> Result<Option<String>, ClientError> {
    match std::fs::read_to_string(pin) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::Io {
            action: "read",
            path: pin.to_path_buf(),
            source,
        }),
    }
}

/// Refuses `release` unless it is signed by the `pinned` key.
fn check_pinned(release: &ReleaseInfo, pinned: &str, pin: &Path) -> Result<(), ClientError> {
    if release.key == pinned {
        return Ok(());
    }
    Err(ClientError::Refused(format!(
        "lord {} for {} is signed by key {}, but lord's releases from this registry are \
         signed by key {pinned} (pinned by the first update, in {}). A trusted key is not \
         enough to replace lord. If lord's developers announced a new release key and you \
         checked it with them, remove {} and update again",
        release.version,
        release.platform,
        release.key,
        pin.display(),
        pin.display()
    )))
}

/// Pins the key of `release`, just verified, when none is pinned yet. Two
/// updates racing to pin agree on one key: the loser checks its release
/// against the winner's.
fn pin_first(pin: &Path, release: &ReleaseInfo) -> Result<(), ClientError> {
    let io = |e: lord_file::WriteError| ClientError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    };
    if lord_file::create_atomic(pin, format!("{}\n", release.key).as_bytes()).map_err(io)? {
        return Ok(());
    }
    // Pinned already: before this download, or by an update racing it.
    let pinned = read_pin(pin)?.unwrap_or_default();
    check_pinned(release, &pinned, pin)
}
