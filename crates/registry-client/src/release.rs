//! Releases of lord itself through the signed index: which release a
//! platform should move to, its download (the TUF target routine, no
//! further than its signed length, checked against its SHA-256) and its
//! signature checked under the user's own trusted keys, exactly as a
//! package is; and publishing one.
//!
//! Invariant: a registry's releases of lord keep one signer in a lord
//! home. The whole public key that verified the first release from a
//! registry is pinned in that registry's state folder ([`PIN_FILE`]), as
//! the registry pins its first signer on its side; a release signed by any
//! other key, even one the user trusts for plugins, is refused until the
//! user removes the pin, and only the pinned key verifies (not any trusted
//! key that shares its short id). Whoever holds the index's online keys
//! (the server) can list any signed binary; without the pin, a plugin
//! author's key the user trusts would be enough to replace lord itself.

use std::path::Path;

use lord_package::{Digest, PublicKey, ReleaseStatement, Signature};
use lord_registry_api::ReleaseInfo;

use crate::client::Client;
use crate::error::ClientError;
use crate::index::TrustedIndex;

/// The file in a registry's state folder holding the public key lord's
/// releases from that registry are signed with (its text form).
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

/// The most a release of lord may weigh (a release build is about 60 MB).
pub(crate) const MAX_RELEASE_BYTES: u64 = 1 << 30;

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
        // The index's length is what the download may buffer: a release
        // bigger than any build of lord could be is refused unfetched.
        if release.length > MAX_RELEASE_BYTES {
            return Err(ClientError::Refused(format!(
                "the index lists lord {} for {} at {} bytes, over the {MAX_RELEASE_BYTES} a \
                 release may be; nothing was downloaded",
                release.version, release.platform, release.length
            )));
        }
        let pin = state.join(PIN_FILE);
        // Before anything is fetched: a release under another key is
        // refused whatever its bytes, and only the pinned key verifies it.
        let pinned = read_pin(&pin)?;
        let trusted = match &pinned {
            Some(pinned) => only_pinned(release, pinned, trusted, &pin)?,
            None => trusted.to_vec(),
        };
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
        let verified =
            lord_package::verify_release(&signature, &Digest::of(&bytes), &statement, &trusted)
                .map_err(|e| {
                    // The statement is the index's, so a signature made for
                    // another release fails here, as a forgery would.
                    ClientError::Refused(
                        if let lord_package::PackageError::BadSignature(key) = &e {
                            format!(
                                "{statement}: its signature by key {key} does not vouch for these \
                             bytes as {statement}; the index offers it as a release it was not \
                             signed as, or it was damaged"
                            )
                        } else {
                            format!("{statement}: {e}")
                        },
                    )
                })?;
        if pinned.is_none() {
            // The key that verified: the first trusted one with the
            // signature's id, as `verify_release` chooses it. Not finding
            // it fails closed: nothing unpinned is installed.
            let signer = trusted
                .iter()
                .find(|k| k.id() == verified.key)
                .ok_or_else(|| {
                    ClientError::Refused(format!(
                        "{statement}: key {} verified it, but is not among the keys it was \
                         checked with",
                        verified.key
                    ))
                })?;
            pin_first(&pin, signer, release)?;
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

/// The key pinned at `pin`, if one is; a pin that is not a key is an
/// error saying so, never taken as no pin.
fn read_pin(pin: &Path) -> Result<Option<PublicKey>, ClientError> {
    let text = match std::fs::read_to_string(pin) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ClientError::Io {
                action: "read",
                path: pin.to_path_buf(),
                source,
            });
        }
    };
    PublicKey::parse("the release key pin", &text)
        .map(Some)
        .map_err(|e| ClientError::ReleaseKeyPinDamaged {
            pin: pin.to_path_buf(),
            source: Box::new(e),
        })
}

/// The keys that may verify `release` when `pinned` is pinned: the pinned
/// key alone, if the user still trusts it. A release naming another key is
/// refused.
fn only_pinned(
    release: &ReleaseInfo,
    pinned: &PublicKey,
    trusted: &[PublicKey],
    pin: &Path,
) -> Result<Vec<PublicKey>, ClientError> {
    if release.key != pinned.id().to_string() {
        return Err(changed(release, pinned, pin));
    }
    let allowed: Vec<PublicKey> = trusted
        .iter()
        .filter(|k| k.same_key(pinned))
        .cloned()
        .collect();
    if allowed.is_empty() {
        // The pin is the key's text form, which `lord key trust` reads.
        return Err(ClientError::ReleaseKeyUntrusted {
            id: pinned.id().to_string(),
            name: pinned.name.clone(),
            pin: pin.to_path_buf(),
        });
    }
    Ok(allowed)
}

fn changed(release: &ReleaseInfo, pinned: &PublicKey, pin: &Path) -> ClientError {
    ClientError::ReleaseKeyChanged(Box::new(crate::error::ReleaseKeyChanged {
        version: release.version.clone(),
        platform: release.platform.clone(),
        offered: release.key.clone(),
        pinned: pinned.id().to_string(),
        pin: pin.to_path_buf(),
    }))
}

/// Pins `signer`, which just verified `release`, when nothing is pinned
/// yet. Two updates racing to pin agree on one key: the loser checks its
/// signer against the winner's.
fn pin_first(pin: &Path, signer: &PublicKey, release: &ReleaseInfo) -> Result<(), ClientError> {
    let io = |e: lord_file::WriteError| ClientError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    };
    // Twice at most: a pin found, then gone before it is read (its owner
    // removed it in between), is made again by this update.
    for _ in 0..2 {
        if lord_file::create_atomic(pin, signer.to_text().as_bytes()).map_err(io)? {
            return Ok(());
        }
        // Pinned already, by an update racing this one.
        match read_pin(pin)? {
            Some(pinned) if pinned.same_key(signer) => return Ok(()),
            Some(pinned) => return Err(changed(release, &pinned, pin)),
            None => {}
        }
    }
    Err(ClientError::Io {
        action: "pin the release key in",
        path: pin.to_path_buf(),
        source: std::io::Error::other("it was made and removed twice while this update ran"),
    })
}
