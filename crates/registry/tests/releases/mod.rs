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
        .sign(key, &lord_package::Digest::of(bytes))
        .expect("sign");
    let public = r.keys.public(key).expect("public key");
    r.runtime
        .block_on(r.client.publish_release(
            token,
            bytes.to_vec(),
            &signature,
            &public,
            version,
            "x86_64-linux",
        ))
        .map_err(|e| e.to_string())
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
