//! The root key kept in a folder of its own, away from the server's
//! online keys: the server prepares the next root unsigned, the root key
//! signs it in its own folder (`sign_root`, what `lord registry root sign`
//! runs), the server installs it, and a client that trusted root v1
//! follows to v2 over HTTP. A root the offline key did not sign is
//! refused at install and changes nothing. The root key itself is replaced
//! in its own folder, and the key it replaced signs nothing clients accept.

use lord_registry::tuf::{Lifetimes, Role, RootKey, TufRepo, sign_root};

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
        .block_on(sign_root(
            &unsigned,
            &thief.path().join("keys"),
            RootKey::Keep,
        ))
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
        .block_on(sign_root(&unsigned, offline.path(), RootKey::Keep))
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

/// The root key itself is replaced where it is kept: the server prepares
/// a root naming the root role and makes no key; the offline folder makes
/// the new root key and signs with the old and the new; a client that
/// trusted root v1 accepts v2, refuses a v3 the retired key signed alone,
/// and accepts a v3 the new key signed.
#[test]
fn the_root_key_is_replaced_in_its_own_folder_and_the_retired_key_signs_nothing() {
    use tough::editor::signed::SignedRole;
    use tough::key_source::{KeySource, LocalKeySource};
    use tough::schema::{KeyHolder, Root, Signed};

    let r = Running::start(Backend::Sqlite).expect("sqlite");
    r.publish(&Spec::default()).expect("0.1.0");
    let state = tempfile::tempdir().expect("client state");
    assert_eq!(trusted(&r, state.path()), (1, 1));
    let offline = tempfile::tempdir().expect("offline folder");
    let tuf = r.data_path().join("tuf");
    std::fs::rename(tuf.join("keys/root.der"), offline.path().join("root.der"))
        .expect("take the root key offline");
    let before = r.registry.tuf.keys().expect("keys");
    let old_root = before
        .roles
        .iter()
        .find(|k| k.role == Role::Root)
        .expect("root")
        .keyids
        .clone();

    let prepared = r
        .runtime
        .block_on(r.registry.tuf.prepare_root(&[Role::Root]))
        .expect("prepare");
    assert_eq!(prepared.version, 2);
    assert!(
        !tuf.join("keys/root.der").exists(),
        "no root key is made on the server"
    );
    let unsigned = std::fs::read(&prepared.path).expect("prepared root");

    let old_key = std::fs::read(offline.path().join("root.der")).expect("old key");
    // A first signing whose file is lost: run again on the same unsigned
    // root. Nothing in the folder is overwritten, the old key included.
    let (_lost, first) = r
        .runtime
        .block_on(sign_root(&unsigned, offline.path(), RootKey::Replace))
        .expect("replace the root key");
    let (first_id, first_file) = first.new_root_key.clone().expect("a new root key");
    let (signed, summary) = r
        .runtime
        .block_on(sign_root(&unsigned, offline.path(), RootKey::Replace))
        .expect("replace the root key again");
    let (new_id, key_file) = summary.new_root_key.clone().expect("a new root key");
    assert_ne!(first_id, new_id);
    assert!(first_file.is_file() && key_file.is_file());
    assert_eq!(
        std::fs::read(offline.path().join("root.der")).expect("old key"),
        old_key,
        "the old key is untouched"
    );
    assert!(!old_root.contains(&new_id));
    let mut signers = summary.signed_by.clone();
    signers.sort();
    let mut expected = vec![old_root[0].clone(), new_id.clone()];
    expected.sort();
    assert_eq!(signers, expected, "signed by the old key and the new");
    // A root that already carries signatures cannot have its key replaced.
    let error = r
        .runtime
        .block_on(sign_root(&signed, offline.path(), RootKey::Replace))
        .expect_err("a signed root re-keyed")
        .to_string();
    assert!(error.contains("already carries signatures"), "{error}");

    r.runtime
        .block_on(r.registry.tuf.install_root(&signed))
        .expect("install");
    let after = r.registry.tuf.keys().expect("keys");
    assert_eq!(after.root_version, 2);
    let root_keys = &after
        .roles
        .iter()
        .find(|k| k.role == Role::Root)
        .expect("root")
        .keyids;
    assert_eq!(root_keys, std::slice::from_ref(&new_id));
    for (old, new) in before.roles.iter().zip(&after.roles) {
        assert_eq!(old.keyids == new.keyids, old.role != Role::Root, "{old:?}");
    }
    assert_eq!(trusted(&r, state.path()), (2, 1), "the client accepts v2");

    // A v3 signed by the retired key alone, served from a mirror: refused.
    let two: Signed<Root> =
        serde_json::from_slice(&std::fs::read(tuf.join("metadata/2.root.json")).expect("root 2"))
            .expect("json");
    let mut three = two.signed.clone();
    three.version = std::num::NonZeroU64::new(3).expect("3");
    let mut holder = two.signed.clone();
    let retired_key = LocalKeySource {
        path: offline.path().join("root.der"),
    };
    let retired_public = r
        .runtime
        .block_on(retired_key.as_sign())
        .expect("retired key")
        .tuf_key();
    let retired_id = retired_public.key_id().expect("id");
    holder.keys.insert(retired_id.clone(), retired_public);
    holder
        .roles
        .get_mut(&tough::schema::RoleType::Root)
        .expect("root role")
        .keyids
        .push(retired_id);
    let keys: Vec<Box<dyn KeySource>> = vec![Box::new(retired_key)];
    let forged = r
        .runtime
        .block_on(SignedRole::new(
            three,
            &KeyHolder::Root(holder),
            &keys,
            &aws_lc_rs::rand::SystemRandom::new(),
        ))
        .expect("the thief signs root 3");
    let mirror = tempfile::tempdir().expect("mirror");
    for entry in std::fs::read_dir(tuf.join("metadata")).expect("metadata") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), mirror.path().join(entry.file_name())).expect("copy");
    }
    std::fs::write(mirror.path().join("3.root.json"), forged.buffer()).expect("root 3");
    let first = r.registry.tuf.root().expect("root 1");
    let error = r
        .runtime
        .block_on(lord_registry_client::TrustedIndex::load(
            url::Url::from_directory_path(mirror.path())
                .expect("url")
                .as_str(),
            &first,
            &state.path().join("metadata"),
            jiff::Timestamp::now(),
        ))
        .expect_err("a root signed by the retired key")
        .to_string();
    assert!(
        error.contains("`root` metadata version 3 is signed by 0 of the 1 keys"),
        "{error}"
    );
    assert_eq!(
        trusted(&r, state.path()).0,
        2,
        "the refusal changed nothing"
    );

    // The new key, found in the folder by the id v3's root role lists,
    // signs v3; the retired `root.der` and the unused key from the lost
    // signing are left alone.
    let prepared = r
        .runtime
        .block_on(r.registry.tuf.prepare_root(&[Role::Timestamp]))
        .expect("prepare v3");
    let (three, _) = r
        .runtime
        .block_on(sign_root(
            &std::fs::read(&prepared.path).expect("v3"),
            offline.path(),
            RootKey::Keep,
        ))
        .expect("the new key signs");
    r.runtime
        .block_on(r.registry.tuf.install_root(&three))
        .expect("install v3");
    assert_eq!(trusted(&r, state.path()), (3, 1));
}
