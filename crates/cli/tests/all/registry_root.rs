//! The registry's root key kept in a folder of its own: `lord registry
//! keys rotate` on the server (whose `tuf/keys/` lacks `root.der`)
//! prepares the next root, `lord registry root sign` signs it in the
//! other folder, `lord registry root install` installs it while the
//! server runs, and a user's lord that trusted root v1 keeps installing
//! from that server under root v2; then the root key itself is replaced
//! in its folder (`root sign --new-root-key`) and the user follows to v3.

use crate::registry::{Served, flavour, trusting, version_of};
use crate::support::Lord;

fn json(run: &crate::support::Run) -> serde_json::Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).expect("json")
}

#[test]
fn a_root_signed_in_its_own_folder_is_installed_and_users_follow() {
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:*");
    served
        .publish(
            &author,
            flavour("base", "1.0.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    let user = trusting(&author);
    let install = |wanted: &str| {
        user.run(&["plugin", "remove", "base"]);
        user.run(&[
            "plugin",
            "install",
            wanted,
            "--registry",
            &served.url,
            "--yes",
        ])
        .assert_ok();
    };
    install("base@=1.0.0");

    let data = served.data.path().to_str().expect("utf-8").to_owned();
    let offline = tempfile::tempdir().expect("offline folder");
    std::fs::rename(
        served.data.path().join("tuf/keys/root.der"),
        offline.path().join("root.der"),
    )
    .expect("take the root key offline");

    let prepared = json(&author.run(&["registry", "keys", "rotate", "--data", &data, "--json"]));
    assert_eq!(prepared["root_version"], 2);
    let waiting = json(&author.run(&["registry", "keys", "list", "--data", &data, "--json"]));
    assert_eq!(waiting["prepared_root"], 2);
    let file = prepared["prepared"]
        .as_str()
        .expect("prepared file")
        .to_owned();
    // The root travels to the offline folder and back.
    let carried = offline.path().join("next.root.json");
    std::fs::copy(&file, &carried).expect("carry the root");
    let carried = carried.to_str().expect("utf-8");
    // Installing it unsigned is refused.
    author
        .run(&["registry", "root", "install", carried, "--data", &data])
        .assert_stderr_contains("not signed by the current root's key");
    let signed = json(&author.run(&[
        "registry",
        "root",
        "sign",
        carried,
        "--keys",
        offline.path().to_str().expect("utf-8"),
        "--json",
    ]));
    assert_eq!(signed["version"], 2);
    let installed = json(&author.run(&[
        "registry", "root", "install", carried, "--data", &data, "--json",
    ]));
    assert_eq!(installed["root_version"], 2);
    let keys = json(&author.run(&["registry", "keys", "list", "--data", &data, "--json"]));
    assert_eq!(keys["root_version"], 2);
    assert_eq!(keys["root_key_present"], false);
    assert!(keys["prepared_root"].is_null(), "installed, nothing waits");

    // The running server signs with the new keys; the user follows.
    served
        .publish(
            &author,
            flavour("base", "1.1.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    install("base@=1.1.0");
    assert_eq!(version_of(&user, "base"), "1.1.0");

    // The root key itself is replaced in its folder: the server prepares a
    // root naming the root role and makes no key.
    let prepared = json(&author.run(&[
        "registry", "keys", "rotate", "--role", "root", "--data", &data, "--json",
    ]));
    assert_eq!(prepared["root_version"], 3);
    assert!(!served.data.path().join("tuf/keys/root.der").exists());
    let carried = offline.path().join("next.root.json");
    std::fs::copy(prepared["prepared"].as_str().expect("file"), &carried).expect("carry");
    let carried = carried.to_str().expect("utf-8");
    let signed = json(&author.run(&[
        "registry",
        "root",
        "sign",
        carried,
        "--keys",
        offline.path().to_str().expect("utf-8"),
        "--new-root-key",
        "--json",
    ]));
    let new_key = signed["new_root_key"]["keyid"]
        .as_str()
        .expect("a new root key")
        .to_owned();
    assert_eq!(signed["signed_by"].as_array().expect("signers").len(), 2);
    let key_file = signed["new_root_key"]["key_file"]
        .as_str()
        .expect("key file");
    assert!(std::path::Path::new(key_file).is_file());
    assert!(
        offline.path().join("root.der").is_file(),
        "the old key is kept"
    );
    author
        .run(&["registry", "root", "install", carried, "--data", &data])
        .assert_ok();
    let keys = json(&author.run(&["registry", "keys", "list", "--data", &data, "--json"]));
    assert_eq!(keys["root_version"], 3);
    let root_role = keys["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["role"] == "root")
        .expect("root role")
        .clone();
    assert_eq!(root_role["keyids"], serde_json::json!([new_key]));
    served
        .publish(
            &author,
            flavour("base", "1.2.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    install("base@=1.2.0");
    assert_eq!(version_of(&user, "base"), "1.2.0");
}
