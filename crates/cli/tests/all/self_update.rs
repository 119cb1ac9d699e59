//! `lord self update` and `lord self rollback` against a real `lord
//! registry serve` on loopback. Every test works on a COPY of the lord
//! binary in a temp folder (stripped of its symbols, to stay under the
//! registry's upload limit), never on the build output. A release is that
//! same binary with a marker appended (it still runs: the loader ignores
//! trailing bytes), so the bytes say which one is in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::registry::{Served, trusting};
use crate::support::{Lord, Run};

/// A stripped copy of lord in its own folder.
fn copy_of_lord(dir: &Path) -> PathBuf {
    let exe = dir.join("lord");
    std::fs::copy(env!("CARGO_BIN_EXE_lord"), &exe).expect("copy lord");
    let stripped = Command::new("strip")
        .arg(&exe)
        .status()
        .expect("strip (binutils) runs");
    assert!(stripped.success(), "strip failed");
    exe
}

/// Runs the copy at `exe` as `lord` would run for `user`.
fn run_copy(user: &Lord, exe: &Path, args: &[&str]) -> Run {
    let cmd = user.command(args);
    let mut copy = Command::new(exe);
    copy.args(args)
        .current_dir(user.project.path())
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .env_remove("LORD_FAILPOINT")
        .stdin(std::process::Stdio::null());
    user.run_cmd(&mut copy)
}

/// Writes `bytes` as release `version`, signs it with `key` of `author`
/// and publishes it; returns its SHA-256.
fn publish_release(
    author: &Lord,
    served: &Served,
    token: &str,
    bytes: &[u8],
    version: &str,
    key: &str,
) -> String {
    let file = author.project.path().join(format!("lord-{version}"));
    std::fs::write(&file, bytes).expect("release file");
    let file = file.to_str().expect("utf-8");
    author
        .run(&["pdk", "sign", file, "--key", key, "--release", version])
        .assert_ok();
    let mut cmd = author.command(&[
        "registry",
        "publish-release",
        file,
        "--release",
        version,
        "--registry",
        &served.url,
        "--json",
    ]);
    cmd.env("LORD_REGISTRY_TOKEN", token);
    let run = author.run_cmd(&mut cmd);
    run.assert_ok();
    let answer: serde_json::Value = serde_json::from_str(&run.stdout()).expect("json");
    answer["sha256"].as_str().expect("sha256").to_owned()
}

fn marked(original: &[u8], version: &str) -> Vec<u8> {
    let mut bytes = original.to_vec();
    bytes.extend_from_slice(format!("\nlord release {version}\n").as_bytes());
    bytes
}

/// A registry, its author (key `default`, trusted by the user) and a
/// publish token for releases.
fn set_up() -> (Lord, Served, String, Lord) {
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:lord");
    let user = trusting(&author);
    (author, served, token, user)
}

#[test]
fn update_then_rollback_round_trips_on_a_copy_of_lord() {
    let (author, served, token, user) = set_up();
    let dir = tempfile::tempdir().expect("bin dir");
    let exe = copy_of_lord(dir.path());
    let original = std::fs::read(&exe).expect("original");
    let release = marked(&original, "99.0.0");
    let digest = publish_release(&author, &served, &token, &release, "99.0.0", "default");

    run_copy(&user, &exe, &["self", "update", "--registry", &served.url])
        .assert_ok()
        .assert_stderr_contains("to 99.0.0")
        .assert_stderr_contains(&digest)
        .assert_stderr_contains("lord.previous");
    assert!(
        std::fs::read(&exe).expect("new") == release,
        "the update did not take"
    );
    let previous = dir.path().join("lord.previous");
    assert!(
        std::fs::read(&previous).expect("kept") == original,
        "the old binary was not kept"
    );
    run_copy(&user, &exe, &["--version"]).assert_ok();
    // The first update pinned the key that signed it, for this registry.
    let pinned = std::fs::read_dir(user.home.path().join("registries"))
        .expect("registries")
        .flatten()
        .map(|entry| entry.path().join("release-key"))
        .find(|pin| pin.is_file())
        .expect("the release key was pinned");
    let pinned =
        lord_package::PublicKey::parse("pin", &std::fs::read_to_string(pinned).expect("pin"))
            .expect("the pin holds a public key");
    assert!(
        user.run(&["key", "list"])
            .stdout()
            .contains(&pinned.id().to_string()),
        "the pin is not the signer's key: {}",
        pinned.id()
    );

    run_copy(&user, &exe, &["self", "rollback"])
        .assert_ok()
        .assert_stderr_contains("rolled back");
    assert!(
        std::fs::read(&exe).expect("back") == original,
        "rollback did not restore"
    );
    assert!(std::fs::read(&previous).expect("kept") == release);
    run_copy(&user, &exe, &["--version"]).assert_ok();

    // A second rollback undoes the first.
    run_copy(&user, &exe, &["self", "rollback"]).assert_ok();
    assert!(std::fs::read(&exe).expect("forth") == release);
    // The build output itself was never touched.
    assert!(
        std::fs::metadata(env!("CARGO_BIN_EXE_lord"))
            .expect("build")
            .len()
            > 0
    );
}

#[test]
fn a_tampered_release_is_refused_and_the_old_binary_keeps_working() {
    let (author, served, token, user) = set_up();
    let dir = tempfile::tempdir().expect("bin dir");
    let exe = copy_of_lord(dir.path());
    let original = std::fs::read(&exe).expect("original");
    let digest = publish_release(
        &author,
        &served,
        &token,
        &marked(&original, "99.0.0"),
        "99.0.0",
        "default",
    );

    // The registry's stored binary changes behind the signed index: same
    // length, one byte different.
    let blob = served
        .data
        .path()
        .join("blobs/sha256")
        .join(&digest[..2])
        .join(&digest);
    let mut bytes = std::fs::read(&blob).expect("stored release");
    let last = bytes.len() - 2;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).expect("tamper");

    let refused = run_copy(&user, &exe, &["self", "update", "--registry", &served.url]);
    assert_ne!(refused.code(), Some(0), "a tampered release was installed");
    let stderr = refused.stderr();
    assert!(
        stderr.contains("sha256") || stderr.contains("hash"),
        "{stderr}"
    );
    assert!(
        std::fs::read(&exe).expect("still") == original,
        "the binary changed"
    );
    assert!(!dir.path().join("lord.previous").exists());
    run_copy(&user, &exe, &["--version"]).assert_ok();
    run_copy(&user, &exe, &["self", "rollback"])
        .assert_code(2)
        .assert_stderr_contains("no earlier lord is kept");
}

#[test]
fn a_release_signed_by_a_key_the_user_does_not_trust_is_refused() {
    let (author, served, token, user) = set_up();
    author.run(&["key", "generate", "mallory"]).assert_ok();
    let dir = tempfile::tempdir().expect("bin dir");
    let exe = copy_of_lord(dir.path());
    let original = std::fs::read(&exe).expect("original");
    publish_release(
        &author,
        &served,
        &token,
        &marked(&original, "99.0.0"),
        "99.0.0",
        "mallory",
    );

    let refused = run_copy(&user, &exe, &["self", "update", "--registry", &served.url]);
    assert_ne!(
        refused.code(),
        Some(0),
        "an untrusted release was installed"
    );
    refused.assert_stderr_contains("refused");
    assert!(
        std::fs::read(&exe).expect("still") == original,
        "the binary changed"
    );
    run_copy(&user, &exe, &["--version"]).assert_ok();
}

/// Every `root.json` under `home`'s registries folder: a pinned root or
/// one trusted on first use.
fn roots_kept(user: &Lord) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.file_name().is_some_and(|n| n == "root.json") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&user.home.path().join("registries"), &mut found);
    found
}

#[test]
fn self_update_honours_require_pinned_root_and_trusts_nothing_on_first_use() {
    let (author, served, token, user) = set_up();
    let dir = tempfile::tempdir().expect("bin dir");
    let exe = copy_of_lord(dir.path());
    let original = std::fs::read(&exe).expect("original");
    let release = marked(&original, "99.0.0");
    publish_release(&author, &served, &token, &release, "99.0.0", "default");
    user.run(&["config", "set", "registry.require-pinned-root", "true"])
        .assert_ok();

    let refused = run_copy(&user, &exe, &["self", "update", "--registry", &served.url]);
    assert_ne!(refused.code(), Some(0), "an unpinned registry was trusted");
    refused.assert_stderr_contains("lord registry pin");
    assert!(
        std::fs::read(&exe).expect("still") == original,
        "the binary changed"
    );
    assert_eq!(roots_kept(&user), Vec::<PathBuf>::new());
    // Nor does a later install take the registry as pinned.
    let install = user.run(&[
        "plugin",
        "install",
        "hello",
        "--registry",
        &served.url,
        "--yes",
    ]);
    assert_ne!(install.code(), Some(0));
    install.assert_stderr_contains("lord registry pin");

    // Once its root is pinned, the same update goes through.
    let root = served.data.path().join("tuf/metadata/1.root.json");
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root",
        root.to_str().expect("utf-8"),
    ])
    .assert_ok();
    run_copy(&user, &exe, &["self", "update", "--registry", &served.url])
        .assert_ok()
        .assert_stderr_contains("to 99.0.0");
    assert!(std::fs::read(&exe).expect("new") == release);
}

#[test]
fn publishing_a_release_needs_a_token_for_lord_and_releases_are_immutable() {
    let (author, served, _, _) = set_up();
    let other = served.token(&author, "publish:hello");
    let file = author.project.path().join("lord-1.0.0");
    std::fs::write(&file, b"not really lord").expect("file");
    let file = file.to_str().expect("utf-8");
    author.run(&["pdk", "sign", file]).assert_ok();
    let publish = |token: &str| {
        let mut cmd = author.command(&[
            "registry",
            "publish-release",
            file,
            "--release",
            "1.0.0",
            "--registry",
            &served.url,
        ]);
        cmd.env("LORD_REGISTRY_TOKEN", token);
        author.run_cmd(&mut cmd)
    };
    // Signed as a package, it is not yet a release: the signature must
    // vouch for the version and platform too.
    publish(&other)
        .assert_code(2)
        .assert_stderr_contains("signs the binary as a package")
        .assert_stderr_contains("--release 1.0.0");
    author
        .run(&["pdk", "sign", file, "--release", "1.0"])
        .assert_code(2)
        .assert_stderr_contains("cannot sign it as a release: `1.0` is not a version like 1.2.3");
    let signed = author.run(&["pdk", "sign", file, "--release", "1.0.0", "--json"]);
    signed.assert_ok();
    let said: serde_json::Value = serde_json::from_str(&signed.stdout()).expect("json");
    assert_eq!(said["release"]["version"], "1.0.0");
    // Nor is one signed as another release.
    let mut other_version = author.command(&[
        "registry",
        "publish-release",
        file,
        "--release",
        "2.0.0",
        "--registry",
        &served.url,
    ]);
    other_version.env("LORD_REGISTRY_TOKEN", &other);
    author
        .run_cmd(&mut other_version)
        .assert_code(2)
        .assert_stderr_contains("vouches for lord 1.0.0 for")
        .assert_stderr_contains("not lord 2.0.0 for");
    publish(&other)
        .assert_code(2)
        .assert_stderr_contains("publish:lord");
    // A plugin author's wildcard does not cover lord.
    let wildcard = served.token(&author, "publish:*");
    publish(&wildcard)
        .assert_code(2)
        .assert_stderr_contains("(403)")
        .assert_stderr_contains("publish:lord");
    let token = served.token(&author, "publish:lord");
    publish(&token).assert_ok();
    // The same bytes again is a harmless retry; other bytes are refused.
    publish(&token).assert_ok();
    std::fs::write(file, b"other bytes").expect("file");
    // The signature beside it is the earlier bytes': named before sending.
    publish(&token)
        .assert_code(2)
        .assert_stderr_contains("was made for other bytes than");
    author
        .run(&["pdk", "sign", file, "--release", "1.0.0"])
        .assert_ok();
    publish(&token)
        .assert_code(2)
        .assert_stderr_contains("immutable");
}
