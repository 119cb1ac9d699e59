//! Root rotation as a client sees it, through the real server on loopback
//! and the real client (`Client::trusted_index`, what `lord` itself calls):
//! a client that trusted root v1 walks to a v2 the server rotated (its
//! root key replaced), and refuses every v2 a thief could forge without
//! the v1 root key's signature, or without the signature of the new root
//! key it names. A refused root leaves the client trusting v1.
//!
//! The forged roots are put where the server serves its metadata from
//! (`tuf/metadata/` of a SQLite-backed registry), so the client fetches
//! them over HTTP exactly as it would fetch a real rotation.

use std::path::Path;

use lord_registry::tuf::{Lifetimes, Role, TufRepo};
use lord_registry_client::ClientError;
use tough::editor::signed::SignedRole;
use tough::key_source::{KeySource, LocalKeySource};
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::{KeyHolder, RoleType, Root, Signed};

use super::{Backend, Running, Spec};

/// A root read from a file or the server.
fn parse(bytes: &[u8]) -> Signed<Root> {
    serde_json::from_slice(bytes).expect("root json")
}

/// The id tough gives the public half of the PKCS#8 key in `path`.
fn key_id(path: &Path) -> (Decoded<Hex>, tough::schema::key::Key) {
    use tough::sign::Sign as _;
    let key = tough::sign::parse_keypair(&std::fs::read(path).expect("key"))
        .expect("keypair")
        .tuf_key();
    (key.key_id().expect("key id"), key)
}

/// Root v2: v1's content with its root role given to `new_root` alone,
/// signed by `signers`. Tough signs only with keys its holder lists for
/// the role, so the holder also lists `also_listed` (the forged root itself
/// does not).
fn forge(r: &Running, new_root: &Path, signers: &[&Path], also_listed: &[&Path]) -> Vec<u8> {
    let one = parse(&r.registry.tuf.root().expect("root 1"));
    let mut two = one.signed.clone();
    two.version = std::num::NonZeroU64::new(2).expect("2");
    let (id, key) = key_id(new_root);
    two.keys.insert(id.clone(), key);
    two.roles
        .get_mut(&RoleType::Root)
        .expect("root role")
        .keyids = vec![id];
    let mut holder = two.clone();
    for path in also_listed {
        let (id, key) = key_id(path);
        holder.keys.insert(id.clone(), key);
        holder
            .roles
            .get_mut(&RoleType::Root)
            .expect("root role")
            .keyids
            .push(id);
    }
    let keys: Vec<Box<dyn KeySource>> = signers
        .iter()
        .map(|path| -> Box<dyn KeySource> {
            Box::new(LocalKeySource {
                path: path.to_path_buf(),
            })
        })
        .collect();
    r.runtime
        .block_on(SignedRole::new(
            two,
            &KeyHolder::Root(holder),
            &keys,
            &aws_lc_rs::rand::SystemRandom::new(),
        ))
        .expect("sign the forged root")
        .buffer()
        .clone()
}

/// The root version the client's trusted folder starts from.
fn trusted_root_version(state: &Path) -> u64 {
    parse(&std::fs::read(state.join("metadata/root.json")).expect("trusted root"))
        .signed
        .version
        .get()
}

fn refresh(r: &Running, state: &Path) -> Result<usize, ClientError> {
    r.runtime
        .block_on(r.client.trusted_index(state))
        .map(|index| index.targets.len())
}

#[test]
fn a_client_that_trusted_root_v1_accepts_a_rotated_v2_and_refuses_forged_ones() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    r.publish(&Spec::default()).expect("0.1.0");
    let state = tempfile::tempdir().expect("client state");
    assert_eq!(refresh(&r, state.path()).expect("first contact"), 1);
    assert_eq!(trusted_root_version(state.path()), 1);

    let keys = r.data_path().join("tuf/keys");
    let served = r.data_path().join("tuf/metadata/2.root.json");
    // A thief's own keys: a repository of its own, made for the keys.
    let thief = tempfile::tempdir().expect("thief");
    TufRepo::open(thief.path(), Lifetimes::default()).expect("thief's keys");
    let thief_root = thief.path().join("keys/root.der");
    let old_root = keys.join("root.der");
    let targets_key = keys.join("targets-1.der");

    let forgeries: [(&str, Vec<u8>); 3] = [
        (
            "signed only by the new root key it names",
            forge(&r, &thief_root, &[&thief_root], &[]),
        ),
        (
            "signed by an online (targets) key of v1",
            forge(&r, &targets_key, &[&targets_key], &[]),
        ),
        (
            "signed by the v1 root key but not by the new root key it names",
            forge(&r, &thief_root, &[&old_root], &[&old_root]),
        ),
    ];
    for (how, forged) in forgeries {
        std::fs::write(&served, &forged).expect("serve the forged root");
        let error = refresh(&r, state.path()).expect_err(how);
        let text = error.to_string();
        assert!(
            text.contains("`root` metadata version 2 is signed by 0 of the 1 keys"),
            "{how}: {text}"
        );
        assert_eq!(
            trusted_root_version(state.path()),
            1,
            "{how}: v1 stays trusted"
        );
        std::fs::remove_file(&served).expect("withdraw the forged root");
    }

    // The server's own rotation of the root key: v2 is signed by the v1
    // key and by the new one, and the client walks to it.
    let before = parse(&r.registry.tuf.root().expect("root 1"));
    let rotation = r
        .runtime
        .block_on(r.registry.tuf.rotate(&[Role::Root]))
        .expect("rotate the root key");
    assert_eq!(rotation.root_version, 2);
    assert_eq!(refresh(&r, state.path()).expect("the rotated root"), 1);
    assert_eq!(trusted_root_version(state.path()), 2);
    let after = parse(&std::fs::read(state.path().join("metadata/root.json")).expect("root 2"));
    assert_ne!(
        after.signed.roles[&RoleType::Root].keyids,
        before.signed.roles[&RoleType::Root].keyids,
        "v2 names a new root key"
    );
    // And publishing keeps working for that client under root v2.
    r.publish(&Spec {
        version: "0.2.0",
        ..Spec::default()
    })
    .expect("0.2.0");
    assert_eq!(refresh(&r, state.path()).expect("after the rotation"), 2);
}
