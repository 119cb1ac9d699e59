//! Releases of lord itself over real HTTP: who may publish one and with
//! which key. `lord self update` installs what is released here, so the
//! right to release is never part of a plugin author's wildcard, and the
//! releases keep the signer of the first one.

use lord_registry::Scope;

use crate::{Backend, Running};

/// Publishes `bytes` as lord `version` for x86_64-linux, signed by `key`
/// of the test's keys, under `token`: the digest, or the refusal's text.
fn release(
    r: &Running,
    token: &str,
    key: &str,
    bytes: &[u8],
    version: &str,
) -> Result<String, String> {
    let signature = r
        .keys
        .sign_release(key, &lord_package::Digest::of(bytes), x86_64(version))
        .expect("sign");
    publish(r, token, bytes, &signature, version)
}

/// lord `version` for x86_64-linux, as a release signature states it.
fn x86_64(version: &str) -> lord_package::ReleaseStatement {
    lord_package::ReleaseStatement {
        version: version.to_owned(),
        platform: "x86_64-linux".to_owned(),
    }
}

/// Publishes `bytes` as lord `version` for x86_64-linux with `signature`
/// (by the key it names among the test's keys), under `token`: the
/// digest, or the refusal's text.
fn publish(
    r: &Running,
    token: &str,
    bytes: &[u8],
    signature: &lord_package::Signature,
    version: &str,
) -> Result<String, String> {
    let public = r
        .keys
        .trusted()
        .expect("trusted keys")
        .into_iter()
        .find(|k| k.id() == signature.key)
        .expect("the signer's public key");
    r.runtime
        .block_on(r.client.publish_release(
            token,
            bytes.to_vec(),
            signature,
            &public,
            version,
            "x86_64-linux",
        ))
        .map_err(|e| e.to_string())
}

/// The registry's index as the client verifies it, trusted from the
/// registry state folder `state`.
fn index_of(r: &Running, state: &std::path::Path) -> lord_registry_client::TrustedIndex {
    r.runtime
        .block_on(r.client.trusted_index(state))
        .expect("the index verifies")
}

/// `release` downloaded from `index` (read from the registry state
/// `state`) and checked under `trusted`.
fn download_as(
    r: &Running,
    index: &lord_registry_client::TrustedIndex,
    release: &lord_registry_api::ReleaseInfo,
    trusted: &[lord_package::PublicKey],
    state: &std::path::Path,
) -> Result<Vec<u8>, String> {
    r.runtime
        .block_on(r.client.download_release(index, release, trusted, state))
        .map_err(|e| e.to_string())
}

/// `release` downloaded from `index` (read from `state`) and checked under
/// the test's key.
fn download(
    r: &Running,
    index: &lord_registry_client::TrustedIndex,
    release: &lord_registry_api::ReleaseInfo,
    state: &std::path::Path,
) -> Result<Vec<u8>, String> {
    download_as(r, index, release, std::slice::from_ref(&r.key), state)
}

/// A release signed as one version offered as another: refused before
/// the index lists it, naming both.
#[test]
fn a_release_signed_as_another_version_is_refused_at_publishing() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let releases = token(&r, "publish:lord");
    let bytes = b"lord 1";
    let signature = r
        .keys
        .sign_release("ada", &lord_package::Digest::of(bytes), x86_64("1.0.0"))
        .expect("sign");
    let message = publish(&r, &releases, bytes, &signature, "3.0.0")
        .expect_err("published under another version");
    assert!(
        message.contains("vouches for lord 1.0.0 for x86_64-linux")
            && message.contains("offered as lord 3.0.0 for x86_64-linux"),
        "{message}"
    );
    // A package's signature is not a release's.
    let package = r
        .keys
        .sign("ada", &lord_package::Digest::of(bytes))
        .expect("sign");
    let refused = publish(&r, &releases, bytes, &package, "1.0.0")
        .expect_err("published with a package's signature");
    assert!(refused.contains("vouches for a package"), "{refused}");
    assert!(
        r.registry
            .tuf
            .top_level_targets()
            .expect("index")
            .is_empty()
    );
}

/// Whoever holds the index's online signing keys (the server itself)
/// lists genuine, signed binaries under names they were not signed for:
/// lord 1.0.0 offered as 3.0.0 (a downgrade a client would take for an
/// update), and the x86_64 build of 2.0.0 offered for aarch64. The client
/// finds both in the index it verified, and refuses each download: the
/// publisher's signature vouches for the version and platform, and these
/// are not the ones it vouched for.
#[test]
fn a_release_the_index_lists_as_another_version_or_platform_is_refused_by_the_client() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let releases = token(&r, "publish:lord");
    release(&r, &releases, "ada", b"lord 1", "1.0.0").expect("1.0.0");
    release(&r, &releases, "ada", b"lord 2", "2.0.0").expect("2.0.0");
    let listed = r.registry.tuf.top_level_targets().expect("index");
    let genuine = |version: &str| {
        listed
            .iter()
            .find(|t| t.name == lord_registry_api::release_name("x86_64-linux", version))
            .and_then(|t| {
                lord_registry_api::ReleaseInfo::from_custom(t.length, t.digest.clone(), &t.custom)
            })
            .expect("a listed release")
    };
    let downgrade = lord_registry_api::ReleaseInfo {
        version: "3.0.0".to_owned(),
        ..genuine("1.0.0")
    };
    let other_platform = lord_registry_api::ReleaseInfo {
        platform: "aarch64-linux".to_owned(),
        ..genuine("2.0.0")
    };
    r.runtime
        .block_on(r.registry.tuf.resign(&[
            lord_registry_api::IndexEntry::from(&downgrade),
            lord_registry_api::IndexEntry::from(&other_platform),
        ]))
        .expect("re-signed by the server's keys");

    let state = tempfile::tempdir().expect("state");
    let index = index_of(&r, state.path());
    let running = semver::Version::new(2, 0, 0);
    for (platform, version) in [("x86_64-linux", "3.0.0"), ("aarch64-linux", "2.0.0")] {
        let offered = index
            .release_for(platform, &semver::Version::new(1, 5, 0), None)
            .filter(|rel| rel.version == version)
            .unwrap_or_else(|| panic!("{platform} {version} is offered"))
            .clone();
        let refused = download(&r, &index, &offered, state.path())
            .expect_err("a binary offered as what it was not signed as");
        assert!(
            refused.contains(&format!(
                "does not vouch for these bytes as lord {version} for {platform}"
            )),
            "{platform} {version}: {refused}"
        );
    }
    // The genuine newest release still installs.
    let newest = index
        .release_for(
            "x86_64-linux",
            &semver::Version::new(1, 5, 0),
            Some(&running),
        )
        .expect("2.0.0")
        .clone();
    let bytes = download(&r, &index, &newest, state.path()).expect("2.0.0 downloads");
    assert_eq!(bytes, b"lord 2");
}

fn token(r: &Running, scope: &str) -> String {
    r.registry
        .db
        .create_token(&Scope::parse(scope).expect("scope"))
        .expect("token")
}

#[test]
fn a_wildcard_publish_token_cannot_release_lord() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    // `r.token` is `publish:*`, what plugin authors are handed.
    let error = release(&r, &r.token, "ada", b"lord 99", "99.0.0").expect_err("released");
    assert!(error.contains("(403)"), "{error}");
    assert!(error.contains("`publish:lord`"), "{error}");
    assert!(
        r.registry
            .tuf
            .top_level_targets()
            .expect("index")
            .is_empty(),
        "the refused release was signed in"
    );
    // Nor does it cover a plugin named `lord`.
    assert!(!Scope::parse("publish:*").expect("scope").covers("lord"));
    let releases = token(&r, "publish:lord");
    release(&r, &releases, "ada", b"lord 99", "99.0.0").expect("publish:lord releases");
}

#[test]
fn a_release_signed_by_another_key_than_the_first_is_refused() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let releases = token(&r, "publish:lord");
    release(&r, &releases, "ada", b"lord 1", "1.0.0").expect("first release");
    r.keys.generate("eve").expect("key");
    let eve = r.keys.public("eve").expect("eve").id().to_string();
    let ada = r.key.id().to_string();
    for version in ["1.1.0", "1.0.0"] {
        let error =
            release(&r, &releases, "eve", b"eve's lord", version).expect_err("other signer");
        assert!(error.contains("(403)"), "{error}");
        assert!(
            error.contains(&format!("lord is released under key {ada}")) && error.contains(&eve),
            "{error}"
        );
    }
    let listed = r.registry.tuf.top_level_targets().expect("index");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, "releases/x86_64-linux/lord-1.0.0");
    // The pinned key goes on releasing.
    release(&r, &releases, "ada", b"lord 2", "2.0.0").expect("second release");
}

/// The server (whoever holds the index's online keys) re-lists a
/// release with a signature by another key the user trusts, a plugin
/// author's. The client pinned the key of the first release it verified
/// from this registry, and refuses the other signer's before fetching it,
/// naming both keys and the pin. A client with no pin (a fresh state
/// folder) takes the very same entry: the refusal is the pin's.
#[test]
fn a_release_by_another_trusted_key_than_the_pinned_one_is_refused_by_the_client() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let releases = token(&r, "publish:lord");
    release(&r, &releases, "ada", b"lord 1", "1.0.0").expect("1.0.0");
    let state = tempfile::tempdir().expect("state");
    let pin = state.path().join(lord_registry_client::RELEASE_PIN_FILE);
    r.keys.generate("eve").expect("key");
    let eve = r.keys.public("eve").expect("eve");
    let trusted = vec![r.key.clone(), eve.clone()];
    let running = semver::Version::new(0, 9, 0);

    let index = index_of(&r, state.path());
    let genuine = index
        .release_for("x86_64-linux", &running, None)
        .expect("1.0.0")
        .clone();
    assert!(!pin.exists(), "pinned before any release was verified");
    download_as(&r, &index, &genuine, &trusted, state.path()).expect("1.0.0 downloads");
    assert!(
        pinned_key(&pin).same_key(&r.key),
        "ada's whole key is pinned"
    );

    // The same bytes, signed by eve as lord 1.0.0 (a valid signature by
    // a trusted key), listed by the server's own keys in place of ada's.
    let signature = r
        .keys
        .sign_release("eve", &lord_package::Digest::of(b"lord 1"), x86_64("1.0.0"))
        .expect("sign");
    let eves = lord_registry_api::ReleaseInfo {
        key: eve.id().to_string(),
        signature: signature.signature.clone(),
        ..genuine.clone()
    };
    r.runtime
        .block_on(
            r.registry
                .tuf
                .resign(&[lord_registry_api::IndexEntry::from(&eves)]),
        )
        .expect("re-signed by the server's keys");
    let index = index_of(&r, state.path());
    let offered = index
        .release_for("x86_64-linux", &running, None)
        .expect("1.0.0 is offered")
        .clone();
    assert_eq!(offered.key, eve.id().to_string());
    let refused = download_as(&r, &index, &offered, &trusted, state.path())
        .expect_err("a release under another key than the pinned one");
    assert!(
        refused.contains(&format!("is signed by key {}", eve.id()))
            && refused.contains(&format!("signed by key {}", r.key.id()))
            && refused.contains(&pin.display().to_string()),
        "{refused}"
    );
    assert!(pinned_key(&pin).same_key(&r.key), "still ada's");

    let fresh = tempfile::tempdir().expect("fresh state");
    let index = index_of(&r, fresh.path());
    let bytes = download_as(&r, &index, &offered, &trusted, fresh.path())
        .expect("without a pin, a trusted key's release downloads");
    assert_eq!(bytes, b"lord 1");
    assert!(
        pinned_key(&fresh.path().join(lord_registry_client::RELEASE_PIN_FILE)).same_key(&eve),
        "eve's key pinned in the fresh state"
    );
}

/// The public key pinned at `pin`.
fn pinned_key(pin: &std::path::Path) -> lord_package::PublicKey {
    lord_package::PublicKey::parse("pin", &std::fs::read_to_string(pin).expect("pinned"))
        .expect("a key")
}

/// A pin that is not a key is named, not taken as no pin (which would
/// pin whatever comes next); a pinned key the user no longer trusts is
/// named too, with the command that trusts it again. (That a trusted key
/// sharing the pinned key's short id does not stand in for it cannot be
/// shown here: such a key takes about 2^64 tries to make.)
#[test]
fn a_damaged_or_untrusted_release_key_pin_is_named_not_ignored() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let releases = token(&r, "publish:lord");
    release(&r, &releases, "ada", b"lord 1", "1.0.0").expect("1.0.0");
    r.keys.generate("eve").expect("key");
    let eve = r.keys.public("eve").expect("eve");
    let state = tempfile::tempdir().expect("state");
    let pin = state.path().join(lord_registry_client::RELEASE_PIN_FILE);
    let index = index_of(&r, state.path());
    let genuine = index
        .release_for("x86_64-linux", &semver::Version::new(0, 9, 0), None)
        .expect("1.0.0")
        .clone();

    std::fs::write(&pin, "").expect("emptied");
    let damaged = download_as(
        &r,
        &index,
        &genuine,
        std::slice::from_ref(&r.key),
        state.path(),
    )
    .expect_err("an empty pin");
    assert!(
        damaged.contains("is damaged") && damaged.contains(&pin.display().to_string()),
        "{damaged}"
    );
    assert_eq!(
        std::fs::read_to_string(&pin).expect("left"),
        "",
        "the pin was rewritten"
    );

    std::fs::write(&pin, r.key.to_text()).expect("pinned");
    let untrusted = download_as(&r, &index, &genuine, &[eve], state.path())
        .expect_err("the pinned key is not trusted");
    assert!(
        untrusted.contains("not among your trusted keys")
            && untrusted.contains(&format!("lord key trust {}", pin.display())),
        "{untrusted}"
    );
    download_as(
        &r,
        &index,
        &genuine,
        std::slice::from_ref(&r.key),
        state.path(),
    )
    .expect("trusted again, it verifies");
}
