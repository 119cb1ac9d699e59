//! Pinning a registry's TUF root before first contact (`lord registry
//! pin`), and a machine that requires it: a root checked against its
//! published SHA-256 (a wrong one pins nothing), a root given as a file,
//! first use refused until pinned, and a pinned root that is not the
//! registry's own refusing its index.

use crate::registry::{Served, trusting};
use crate::support::{Lord, fixture};

fn hello_registry(author: &Lord) -> Served {
    let served = Served::start(author);
    let token = served.token(author, "publish:*");
    served
        .publish(author, &fixture("hello"), &token)
        .assert_ok();
    served
}

fn root_of(served: &Served) -> std::path::PathBuf {
    served.data.path().join("tuf/metadata/1.root.json")
}

fn sha256(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("root")))
}

fn install(user: &Lord, served: &Served) -> crate::support::Run {
    user.run(&[
        "plugin",
        "install",
        "hello",
        "--registry",
        &served.url,
        "--yes",
    ])
}

#[test]
fn a_root_pinned_by_its_hash_is_checked_first_and_a_wrong_hash_pins_nothing() {
    let author = Lord::new();
    let served = hello_registry(&author);
    let user = trusting(&author);
    let wrong = "0".repeat(64);
    let run = user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root-sha256",
        &wrong,
    ]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("do not trust it; nothing was pinned");
    assert!(
        !user
            .home
            .path()
            .join("registries")
            .join(dir_name(&served.url))
            .join("root.json")
            .exists()
    );

    let right = sha256(&root_of(&served));
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root-sha256",
        &right,
    ])
    .assert_ok();
    install(&user, &served).assert_ok();
    // Trust has moved on from the first root: pinning again is refused.
    let run = user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root-sha256",
        &right,
    ]);
    run.assert_stderr_contains("already trusts");
}

#[test]
fn a_machine_requiring_pinned_roots_refuses_first_use_until_one_is_pinned() {
    let author = Lord::new();
    let served = hello_registry(&author);
    let user = trusting(&author);
    user.run(&["config", "set", "registry.require-pinned-root", "true"])
        .assert_ok();
    let run = install(&user, &served);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("lord registry pin");
    assert!(user.list().is_empty());

    let root = root_of(&served);
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root",
        root.to_str().unwrap(),
    ])
    .assert_ok();
    install(&user, &served).assert_ok();
}

#[test]
fn a_pinned_root_that_is_not_the_registrys_own_refuses_its_index() {
    let author = Lord::new();
    let served = hello_registry(&author);
    let other = Served::start(&author);
    let user = trusting(&author);
    let foreign = root_of(&other);
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &served.url,
        "--root",
        foreign.to_str().unwrap(),
    ])
    .assert_ok();
    let run = install(&user, &served);
    assert!(!run.output.status.success(), "{}", run.stderr());
    run.assert_stderr_contains("signed index was refused");
    assert!(user.list().is_empty());
}

/// The folder lord keeps a registry's trust in, as the host names it.
fn dir_name(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `lord registry add NAME URL --root-sha256 HEX`: a wrong hash adds and
/// pins nothing; the right one pins the root and the name then works
/// wherever `--registry` does; an unknown name says how to add it.
#[test]
fn a_registry_added_by_name_is_pinned_first_and_reached_by_its_name() {
    let author = Lord::new();
    let served = hello_registry(&author);
    let user = trusting(&author);
    let by_name = ["plugin", "install", "hello", "--registry", "corp", "--yes"];
    user.run(&by_name).assert_stderr_contains(
        "no registry is named `corp`: add it with `lord registry add corp URL`",
    );
    let wrong = "0".repeat(64);
    let run = user.run(&[
        "registry",
        "add",
        "corp",
        &served.url,
        "--root-sha256",
        &wrong,
    ]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("nothing was pinned");
    assert!(!user.home.path().join("registries/names.json").exists());

    let right = sha256(&root_of(&served));
    user.run(&[
        "registry",
        "add",
        "corp",
        &served.url,
        "--root-sha256",
        &right,
    ])
    .assert_ok();
    assert!(
        user.home
            .path()
            .join("registries")
            .join(dir_name(&served.url))
            .join("root.json")
            .is_file(),
        "the root is pinned before first contact"
    );
    user.run(&by_name).assert_ok();
    // The name is taken: another URL under it is refused.
    user.run(&["registry", "add", "corp", "http://127.0.0.1:9"])
        .assert_stderr_contains("already given to");
}
