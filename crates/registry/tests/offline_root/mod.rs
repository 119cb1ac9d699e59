//! The root key kept in a folder of its own, away from the server's
//! online keys: the server prepares the next root unsigned, the root key
//! signs it in its own folder (`sign_root`, what `lord registry root sign`
//! runs), the server installs it, and a client that trusted root v1
//! follows to v2 over HTTP. A root the offline key did not sign is
//! refused at install and changes nothing.

use lord_registry::tuf::{Lifetimes, Role, TufRepo, sign_root};

use super::{Backend, Running, Spec};

fn trusted(r: &Running, state: &std::path::Path) -> (u64, usize) {
    let index = r
        .runtime
        .block_on(r.client.trusted_index(state))
        .expect("verified index");
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("metadata/root.json")).expect("root"))
            .expect("json");
    (
        root["signed"]["version"].as_u64().expect("version"),
        index.targets.len(),
    )
}

#[test]
fn a_root_signed_in_another_folder_rotates_the_online_keys() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    r.publish(&Spec::default()).expect("0.1.0");
    let state = tempfile::tempdir().expect("client state");
    assert_eq!(trusted(&r, state.path()), (1, 1));

    // The root key leaves the server for a folder of its own.
    let offline = tempfile::tempdir().expect("offline folder");
    let tuf = r.data_path().join("tuf");
    std::fs::rename(tuf.join("keys/root.der"), offline.path().join("root.der"))
        .expect("take the root key offline");
    let before = r.registry.tuf.keys().expect("keys");
    assert!(!before.root_key_present);
    assert!(
        r.runtime
            .block_on(r.registry.tuf.rotate(&[Role::Timestamp]))
            .is_err(),
        "an online rotation needs the root key"
    );

    let online = [Role::Targets, Role::Snapshot, Role::Timestamp];
    let prepared = r
        .runtime
        .block_on(r.registry.tuf.prepare_root(&online))
        .expect("prepare");
    assert_eq!(prepared.version, 2);
    // Until it is installed nothing changes, a restart keeps the new keys
    // waiting, and publishing signs with the old ones.
    TufRepo::open(&tuf, Lifetimes::default()).expect("reopen");
    assert!(tuf.join("keys/next").is_dir(), "the new keys wait");
    r.publish(&Spec {
        version: "0.2.0",
        ..Spec::default()
    })
    .expect("0.2.0");
    assert_eq!(trusted(&r, state.path()), (1, 2));

    let unsigned = std::fs::read(&prepared.path).expect("prepared root");
    // Unsigned, or signed by a key that is not the root key: refused.
    let thief = tempfile::tempdir().expect("thief");
    TufRepo::open(thief.path(), Lifetimes::default()).expect("thief's keys");
    let (forged, _) = r
        .runtime
        .block_on(sign_root(&unsigned, &thief.path().join("keys")))
        .expect("the thief signs");
    for (how, bytes) in [("unsigned", &unsigned), ("signed by another key", &forged)] {
        let error = r
            .runtime
            .block_on(r.registry.tuf.install_root(bytes))
            .expect_err(how)
            .to_string();
        assert!(
            error.contains("not signed by the current root's key"),
            "{how}: {error}"
        );
        let now = r.registry.tuf.keys().expect("keys");
        assert_eq!(
            (now.root_version, &now.roles),
            (before.root_version, &before.roles),
            "{how}"
        );
        assert_eq!(
            now.prepared_root,
            Some(2),
            "{how}: the prepared root still waits"
        );
    }

    // Signed in the offline folder, which holds nothing but the root key.
    let (signed, summary) = r
        .runtime
        .block_on(sign_root(&unsigned, offline.path()))
        .expect("sign offline");
    assert_eq!(summary.version, 2);
    assert_eq!(
        summary.signed_by,
        before
            .roles
            .iter()
            .find(|k| k.role == Role::Root)
            .expect("root")
            .keyids
    );
    r.runtime
        .block_on(r.registry.tuf.install_root(&signed))
        .expect("install");
    let after = r.registry.tuf.keys().expect("keys");
    assert_eq!(after.root_version, 2);
    assert!(!after.root_key_present, "the root key stayed offline");
    for (old, new) in before.roles.iter().zip(&after.roles) {
        assert_eq!(old.keyids == new.keyids, old.role == Role::Root, "{old:?}");
    }
    assert!(!tuf.join("next.root.json").exists());
    assert_eq!(after.prepared_root, None);
    assert!(!tuf.join("keys/next").exists());

    // The client follows, and publishing signs with the new keys.
    assert_eq!(trusted(&r, state.path()), (2, 2));
    r.publish(&Spec {
        version: "0.3.0",
        ..Spec::default()
    })
    .expect("0.3.0");
    assert_eq!(trusted(&r, state.path()), (2, 3));
}
