//! The server's hashed bins, seen from outside: the top-level targets
//! delegate each plugin to the bin named by its id's SHA-256, a publish
//! re-signs only its plugin's bin, a client resolving one plugin fetches
//! that bin alone, and an index signed before bins (every version in the
//! top-level targets) moves into bins at the next start while a client
//! that trusted it follows.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sha2::Digest as _;

use super::{Backend, Running, Spec};

/// The bin a plugin id belongs in, computed here independently of the
/// server.
fn bin_of(id: &str) -> String {
    format!("bins-{:02x}", sha2::Sha256::digest(id.as_bytes())[0])
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json")
}

/// The committed file `name` (what clients are served).
fn file(r: &Running, name: &str) -> Value {
    json(
        &r.registry
            .tuf
            .file(name)
            .expect("read")
            .unwrap_or_else(|| panic!("{name} is served")),
    )
}

/// Each bin's version in the current snapshot.
fn bin_versions(r: &Running) -> BTreeMap<String, u64> {
    let version = file(r, "timestamp.json")["signed"]["version"]
        .as_u64()
        .expect("version");
    let snapshot = file(r, &format!("{version}.snapshot.json"));
    snapshot["signed"]["meta"]
        .as_object()
        .expect("meta")
        .iter()
        .filter_map(|(name, meta)| {
            let bin = name.strip_suffix(".json")?.strip_prefix("bins-")?;
            Some((format!("bins-{bin}"), meta["version"].as_u64()?))
        })
        .collect()
}

/// Ids spread over at least two bins, with two sharing one when the hash
/// allows (checked, not assumed).
const IDS: [&str; 6] = ["hello", "tally", "notes", "weather", "clock", "dice"];

pub(crate) fn publishing_bins_the_index_and_a_client_reads_one_plugins_bin(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for id in IDS {
        r.publish(&Spec {
            id,
            ..Spec::default()
        })
        .expect("publish");
    }
    let version = file(&r, "timestamp.json")["signed"]["version"]
        .as_u64()
        .expect("version");
    let top = file(&r, &format!("{version}.targets.json"));
    let listed = top["signed"]["targets"].as_object().expect("targets");
    assert!(
        listed.keys().all(|name| !name.starts_with("plugins/")),
        "no plugin version is in the top-level targets: {listed:?}"
    );
    // Each plugin is delegated to its own bin, and to no other.
    let roles = top["signed"]["delegations"]["roles"]
        .as_array()
        .expect("delegations");
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in IDS {
        expected
            .entry(bin_of(id))
            .or_default()
            .push(format!("plugins/{id}/*"));
    }
    let delegated: BTreeMap<String, Vec<String>> = roles
        .iter()
        .map(|role| {
            let mut paths: Vec<String> = role["paths"]
                .as_array()
                .expect("paths")
                .iter()
                .map(|p| p.as_str().expect("path").to_owned())
                .collect();
            paths.sort();
            (role["name"].as_str().expect("name").to_owned(), paths)
        })
        .collect();
    for paths in expected.values_mut() {
        paths.sort();
    }
    assert_eq!(delegated, expected);
    assert!(expected.len() >= 2, "the ids spread over several bins");
    // The bins are signed by the targets keys, at the targets threshold.
    for role in roles {
        assert_eq!(role["threshold"], 2);
        assert_eq!(role["terminating"], true);
    }

    // A fresh client resolving `tally` reads the top-level roles and
    // tally's bin, nothing else.
    let state = tempfile::tempdir().expect("state");
    let mut index = r
        .runtime
        .block_on(r.client.plugin_index(state.path()))
        .expect("plugin index");
    let versions = r
        .runtime
        .block_on(index.versions("tally"))
        .expect("tally's versions");
    assert_eq!(
        versions
            .iter()
            .map(|t| (t.id.as_str(), t.version.as_str()))
            .collect::<Vec<_>>(),
        [("tally", "0.1.0")]
    );
    assert_eq!(kept_bins(&state.path().join("metadata")), [bin_of("tally")]);

    // A new version of `tally` re-signs its bin alone.
    let before = bin_versions(&r);
    r.publish(&Spec {
        id: "tally",
        version: "0.2.0",
        ..Spec::default()
    })
    .expect("tally 0.2.0");
    let after = bin_versions(&r);
    let index_version = file(&r, "timestamp.json")["signed"]["version"]
        .as_u64()
        .expect("version");
    for (bin, version) in &after {
        let was = before.get(bin).copied().unwrap_or(0);
        if *bin == bin_of("tally") {
            assert_eq!(
                *version, index_version,
                "tally's bin is re-signed at the index's version"
            );
            assert!(*version > was);
        } else {
            // Left as it was, or (one slice per signing) re-signed
            // because it neared expiry, which a fresh index never does.
            assert_eq!(*version, was, "{bin} is left as it was");
        }
    }
    // The same client follows, and still reads only that bin.
    let mut index = r
        .runtime
        .block_on(r.client.plugin_index(state.path()))
        .expect("plugin index after the publish");
    let versions = r
        .runtime
        .block_on(index.versions("tally"))
        .expect("tally's versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(kept_bins(&state.path().join("metadata")), [bin_of("tally")]);
    // What needs the whole index still sees every plugin.
    let whole = r
        .runtime
        .block_on(
            r.client
                .trusted_index(tempfile::tempdir().expect("state").path()),
        )
        .expect("whole index");
    assert_eq!(whole.targets.len(), IDS.len() + 1);
}

/// The bins a client kept in its metadata folder.
fn kept_bins(metadata: &Path) -> Vec<String> {
    let mut kept: Vec<String> = std::fs::read_dir(metadata)
        .expect("metadata")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().into_string().ok()?;
            name.strip_suffix(".json")
                .filter(|n| n.starts_with("bins-"))
                .map(str::to_owned)
        })
        .collect();
    kept.sort();
    kept
}

/// Re-signs the index in the layout of a server from before bins: every
/// plugin version in the top-level targets, no delegations, signed with
/// tough's editor as that server did. Returns the version written.
fn sign_flat(r: &Running) -> u64 {
    use tough::editor::RepositoryEditor;
    use tough::key_source::{KeySource, LocalKeySource};

    let tuf = r.data_path().join("tuf");
    let metadata = tuf.join("metadata");
    let version = file(r, "timestamp.json")["signed"]["version"]
        .as_u64()
        .expect("version");
    let next = std::num::NonZeroU64::new(version + 1).expect("nonzero");
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let expires = jiff::Timestamp::from_second(expires.as_second()).expect("time");
    let mut editor = r
        .runtime
        .block_on(RepositoryEditor::new(metadata.join("root.json")))
        .expect("editor");
    for (bin, bin_version) in bin_versions(r) {
        let signed = file(r, &format!("{bin_version}.{bin}.json"));
        for (name, target) in signed["signed"]["targets"].as_object().expect("targets") {
            let target: tough::schema::Target =
                serde_json::from_value(target.clone()).expect("target");
            editor.add_target(name.as_str(), target).expect("add");
        }
    }
    editor
        .targets_version(next)
        .expect("version")
        .targets_expires(expires)
        .expect("expiry")
        .snapshot_version(next)
        .snapshot_expires(expires)
        .timestamp_version(next)
        .timestamp_expires(expires);
    let keys: Vec<Box<dyn KeySource>> = ["targets-1", "targets-2", "snapshot", "timestamp"]
        .into_iter()
        .map(|name| -> Box<dyn KeySource> {
            Box::new(LocalKeySource {
                path: tuf.join(format!("keys/{name}.der")),
            })
        })
        .collect();
    let signed = r.runtime.block_on(editor.sign(&keys)).expect("sign");
    let scratch = tempfile::tempdir().expect("scratch");
    r.runtime
        .block_on(signed.write(scratch.path()))
        .expect("write");
    for name in [
        format!("{next}.targets.json"),
        format!("{next}.snapshot.json"),
        "timestamp.json".to_owned(),
    ] {
        std::fs::copy(scratch.path().join(&name), metadata.join(&name)).expect("copy");
    }
    next.get()
}

/// A registry upgraded from before bins: its flat index moves into bins at
/// the next start, and a client that trusted the flat index follows. On
/// SQLite, whose index is the folder the flat layout is written into (a
/// shared index lives in PostgreSQL and moves the same way, through the
/// same signing).
#[test]
fn an_index_signed_before_bins_moves_into_them_at_the_next_start() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    for id in ["hello", "tally"] {
        r.publish(&Spec {
            id,
            ..Spec::default()
        })
        .expect("publish");
    }
    let flat = sign_flat(&r);
    let top = file(&r, &format!("{flat}.targets.json"));
    assert_eq!(
        top["signed"]["targets"].as_object().expect("targets").len(),
        2,
        "the flat index lists both plugins at the top"
    );
    // A client trusts the flat index.
    let state = tempfile::tempdir().expect("state");
    let whole = r
        .runtime
        .block_on(r.client.trusted_index(state.path()))
        .expect("the flat index verifies");
    assert_eq!(whole.targets.len(), 2);

    // The next start moves it into bins.
    let registry =
        lord_registry::Registry::open_configured(r.data_path(), None, None).expect("reopen");
    r.runtime.block_on(registry.tuf.ready()).expect("ready");
    let version = file(&r, "timestamp.json")["signed"]["version"]
        .as_u64()
        .expect("version");
    assert_eq!(version, flat + 1, "one signing moved it");
    let top = file(&r, &format!("{version}.targets.json"));
    assert!(
        top["signed"]["targets"]
            .as_object()
            .expect("targets")
            .is_empty(),
        "{top}"
    );
    assert_eq!(bin_versions(&r).keys().cloned().collect::<Vec<_>>(), {
        let mut bins = vec![bin_of("hello"), bin_of("tally")];
        bins.sort();
        bins.dedup();
        bins
    });
    // The client that trusted the flat index follows, to the same
    // versions, and resolves one plugin from its bin.
    let whole = r
        .runtime
        .block_on(r.client.trusted_index(state.path()))
        .expect("the binned index verifies");
    assert_eq!(whole.targets.len(), 2);
    let mut index = r
        .runtime
        .block_on(r.client.plugin_index(state.path()))
        .expect("plugin index");
    assert_eq!(
        r.runtime
            .block_on(index.versions("hello"))
            .expect("hello")
            .len(),
        1
    );
}

/// A bin nobody publishes to is re-signed before it expires, however busy
/// the registry: with an 8-second targets lifetime, a plugin published
/// once stays installable while the index is signed again and again for
/// longer than that lifetime (each signing checks one slice of the bins,
/// and the busy signings keep the timestamp from ever needing the refresh
/// that checks them all).
pub(crate) fn a_bin_nobody_publishes_to_is_re_signed_before_it_expires(backend: Backend) {
    use lord_registry::tuf::Lifetimes;

    let Some(r) = Running::start(backend) else {
        return;
    };
    let lifetime = std::time::Duration::from_secs(8);
    r.registry.tuf.set_lifetimes(Lifetimes {
        root: std::time::Duration::from_secs(3600),
        targets: lifetime,
        snapshot: lifetime,
        timestamp: lifetime,
    });
    r.publish(&Spec {
        id: "hello",
        ..Spec::default()
    })
    .expect("hello");
    // Signings as publishes and yanks make them (`resign` is what the
    // server calls; through HTTP the token's rate limit would stop the
    // test first), none of them touching hello's bin.
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < lifetime + std::time::Duration::from_secs(3) {
        n += 1;
        r.runtime
            .block_on(r.registry.tuf.resign(&[]))
            .expect("a signing");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        n >= 32,
        "every slice was checked at least twice ({n} signings)"
    );
    // A fresh client reads every bin: none has expired.
    let whole = r
        .runtime
        .block_on(
            r.client
                .trusted_index(tempfile::tempdir().expect("state").path()),
        )
        .expect("no bin expired");
    assert!(whole.targets.iter().any(|t| t.id == "hello"));
}
