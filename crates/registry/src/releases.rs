//! Releases of lord itself: `POST /api/v1/releases` publishes a `lord`
//! binary for one platform, signed as a package is (an ed25519 signature
//! of its SHA-256 by the publisher's key), under a token whose scope names
//! `publish:lord` (the wildcard `publish:*` a plugin author holds does not
//! cover it); the server checks the signature against the key sent and
//! against the signer of the releases already in the index, stores the
//! binary as a blob named by its digest, and signs it into the TUF index
//! as the target `releases/PLATFORM/lord-VERSION`. `GET
//! /api/v1/tuf/targets/releases/PLATFORM/SHA256.lord-VERSION` serves it at
//! its consistent-snapshot path, only with the digest the index lists.
//!
//! Invariant: a release is immutable: the same platform and version again
//! is accepted only with the same bytes (the retry of a publish cut short),
//! as package versions are; checked again under the signing lock, so two
//! publishes of one release with different bytes cannot both pass.
//! Invariant: lord's releases have one signer, pinned by the first
//! release signed into the index (as a plugin's first publish pins its
//! signer); a release signed by another key is refused, checked again
//! under the signing lock.

use std::path::Path;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lord_package::{Digest, PublicKey, ReleaseStatement, Signature};
use lord_registry_api::{IndexEntry, ReleaseInfo, release_name};

use crate::db::RELEASES_SCOPE;
use crate::error::RegistryError;
use crate::server::{Shared, blocking, caller, header_text, upload_body};
use crate::tuf::TufRepo;

/// What a release publish answers.
#[derive(Debug, serde::Serialize)]
struct Released {
    version: String,
    platform: String,
    digest: String,
}

pub(crate) async fn publish_release(
    State(registry): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    if !caller.scope.covers(RELEASES_SCOPE) {
        return Err(RegistryError::Forbidden(format!(
            "this token may not publish releases of lord (`publish:*` does not cover them); \
             ask for a token with scope `publish:{RELEASES_SCOPE}`"
        )));
    }
    let text = |name: &str, what: &str| header_text(&headers, name, what).map(str::to_owned);
    let signature_text = text(
        "lord-signature",
        "send the binary's release signature (`lord pdk sign BINARY --release VERSION`) as \
         compact JSON",
    )?;
    let key_text = text(
        "lord-public-key",
        "send the signer's public key (`lord key export`)",
    )?;
    let version = text("lord-release-version", "send the release's version")?;
    let platform = text(
        "lord-release-platform",
        "send the platform it runs on, as ARCH-OS (x86_64-linux)",
    )?;
    check_release(&version, &platform)?;
    let body = upload_body(&headers, body, registry.limits.max_total_bytes).await?;
    let rejected = |e: lord_package::PackageError| RegistryError::Rejected(e.to_string());
    let public = PublicKey::parse("the lord-public-key header", &key_text).map_err(rejected)?;
    let signature = Signature::parse(Path::new("the lord-signature header"), &signature_text)
        .map_err(rejected)?;
    let digest = Digest::of(&body);
    // The publisher's signature must vouch for these bytes as this version
    // for this platform: the index then lists nothing its publisher did
    // not say, and clients check the same statement.
    let statement = ReleaseStatement {
        version: version.clone(),
        platform: platform.clone(),
    };
    lord_package::verify_release(
        &signature,
        &digest,
        &statement,
        std::slice::from_ref(&public),
    )
    .map_err(rejected)?;

    let release = ReleaseInfo {
        version,
        platform,
        digest: digest.to_string(),
        length: body.len() as u64,
        key: public.id().to_string(),
        signature: signature.signature.clone(),
    };
    registry.tuf.ready().await?;
    // Checked before the blob is stored, and again under the signing lock
    // (`sign_in`), where another publish cannot slip in between.
    let listed = blocking(&registry, |r| r.tuf.top_level_targets()).await?;
    admit(&listed, &release)?;
    // The blob first, durably: the index never lists a missing binary.
    registry.blobs.put(&release.digest, body).await?;
    sign_in(&registry.tuf, &release).await?;
    let answer = Released {
        version: release.version,
        platform: release.platform,
        digest: release.digest,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// A release at its TUF target path; the digest in the name must be the
/// one the current index lists for that platform and version.
pub(crate) async fn release_target(
    State(registry): State<Shared>,
    UrlPath((platform, file)): UrlPath<(String, String)>,
) -> Result<Response, RegistryError> {
    let missing = format!("no target `releases/{platform}/{file}`");
    let no_target = || RegistryError::NotFound(missing.clone());
    let (digest, version) = file
        .split_once('.')
        .and_then(|(d, rest)| Some((d.to_owned(), rest.strip_prefix("lord-")?.to_owned())))
        .ok_or_else(no_target)?;
    check_release(&version, &platform).map_err(|_| no_target())?;
    let name = release_name(&platform, &version);
    let listed = blocking(&registry, move |r| r.tuf.target_sha256(&name)).await?;
    if listed.as_deref() != Some(digest.as_str()) {
        return Err(no_target());
    }
    let bytes = registry.blobs.get(&digest).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Signs `release` into the index if [`admit`] accepts it against what the
/// index lists under the signing lock.
async fn sign_in(tuf: &TufRepo, release: &ReleaseInfo) -> Result<(), RegistryError> {
    tuf.resign_checked(&[IndexEntry::from(release)], |listed| {
        admit(listed, release)
    })
    .await
}

/// Whether `release` may join the targets `listed`: signed by lord's
/// pinned key, and new, or the same bytes again (releases are immutable).
fn admit(listed: &[IndexEntry], release: &ReleaseInfo) -> Result<(), RegistryError> {
    check_signer(listed, release)?;
    let name = release.name();
    match listed.iter().find(|e| e.name == name) {
        Some(e) if e.digest != release.digest => Err(RegistryError::Rejected(format!(
            "lord {} for {} is already published with other bytes; releases are immutable, \
             publish a new version",
            release.version, release.platform
        ))),
        Some(_) | None => Ok(()),
    }
}

/// Refuses `release` when the index lists a release of lord signed by
/// another key: the signer of the first release is lord's, as the first
/// signer of a plugin is the plugin's.
fn check_signer(listed: &[IndexEntry], release: &ReleaseInfo) -> Result<(), RegistryError> {
    let pinned = listed
        .iter()
        .filter_map(|e| ReleaseInfo::from_custom(e.length, e.digest.clone(), &e.custom))
        .find(|r| !r.key.is_empty() && r.key != release.key);
    match pinned {
        Some(pinned) => Err(RegistryError::Forbidden(format!(
            "lord is released under key {}; this release is signed by key {}: sign new \
             releases with that key",
            pinned.key, release.key
        ))),
        None => Ok(()),
    }
}

/// A version is SemVer; a platform is `ARCH-OS` in lower-case letters,
/// digits and `_`, so neither can reach outside its place in a path.
fn check_release(version: &str, platform: &str) -> Result<(), RegistryError> {
    ReleaseStatement {
        version: version.to_owned(),
        platform: platform.to_owned(),
    }
    .check()
    .map_err(RegistryError::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(digest: &str, key: &str) -> ReleaseInfo {
        ReleaseInfo {
            version: "1.0.0".to_owned(),
            platform: "x86_64-linux".to_owned(),
            digest: digest.repeat(32),
            length: 7,
            key: key.to_owned(),
            signature: "00".to_owned(),
        }
    }

    /// Two publishes of one release with other bytes both pass the check
    /// made before the blob is stored; the one under the signing lock
    /// lets only the first in.
    #[test]
    fn the_signing_lock_admits_one_set_of_bytes_per_release() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("dir");
        let tuf = TufRepo::open(dir.path(), crate::tuf::Lifetimes::default()).expect("tuf");
        runtime.block_on(tuf.ready()).expect("ready");
        let (first, second) = (release("aa", "k1"), release("bb", "k1"));
        let listed = tuf.top_level_targets().expect("index");
        // Both pass while neither is signed in.
        assert!(admit(&listed, &first).is_ok() && admit(&listed, &second).is_ok());
        runtime.block_on(sign_in(&tuf, &first)).expect("first");
        let error = runtime
            .block_on(sign_in(&tuf, &second))
            .expect_err("other bytes signed in");
        assert!(error.to_string().contains("immutable"), "{error}");
        assert_eq!(
            tuf.target_sha256(&first.name()).expect("index"),
            Some(first.digest.clone())
        );
        // The same bytes again is the retry of a publish cut short.
        runtime.block_on(sign_in(&tuf, &first)).expect("retry");
    }

    #[test]
    fn releases_are_named_safely() {
        assert!(check_release("1.2.3", "x86_64-linux").is_ok());
        assert!(check_release("1.2", "x86_64-linux").is_err());
        assert!(check_release("1.2.3", "../etc").is_err());
        assert!(check_release("1.2.3", "x86_64-linux/..").is_err());
        assert!(check_release("1.2.3", "linux").is_err());
    }
}
