//! One plugin's versions read from a repository that bins its targets by
//! plugin: the top-level targets role delegates each bin by `paths`
//! patterns (`plugins/ID/*`) to a bins key, and the client fetches only
//! the bin that holds the plugin it asks about, verified through the
//! delegation like any other role; a bin signed by another key is refused.

use ed25519_dalek::SigningKey;
use lord_registry_client::tuf::{TufError, Updater};
use serde_json::{Value, json};

use crate::repo::{Repo, expires, keyid, sha256, sign};

/// Plugins by bin: bin `bin-N` holds the plugins of `BINS[N]`.
const BINS: [&[&str]; 3] = [&["a", "d"], &["b"], &["c"]];

fn target(plugin: &str, version: u64) -> (String, Value) {
    let body = format!("{plugin}-{version}");
    (
        format!("plugins/{plugin}/{version}.0.0.lordpkg"),
        json!({"length": body.len(), "hashes": {"sha256": hex::encode(sha256(body.as_bytes()))}}),
    )
}

/// Publishes version 2 of the repository in the binned layout: every bin
/// at version 1, signed by `signer` (the bins key unless a test forges
/// one), and `extra` listed in bin 0 besides its own plugins' versions.
fn publish_binned(repo: &mut Repo, bins_key: &SigningKey, signer: &SigningKey, extra: &[&str]) {
    repo.version += 1;
    let v = repo.version;
    let mut meta = serde_json::Map::new();
    let mut roles = Vec::new();
    for (n, plugins) in BINS.iter().enumerate() {
        let name = format!("bin-{n}");
        let mut targets: serde_json::Map<String, Value> = plugins
            .iter()
            .flat_map(|p| (1..=3).map(move |version| target(p, version)))
            .collect();
        if n == 0 {
            targets.extend(extra.iter().map(|p| target(p, 9)));
        }
        let signed = json!({
            "_type": "targets", "spec_version": "1.0.31", "version": 1,
            "expires": expires(), "targets": targets,
        });
        repo.write(&format!("1.{name}.json"), &sign(signed, &[signer]));
        meta.insert(format!("{name}.json"), json!({"version": 1}));
        roles.push(json!({
            "name": name, "keyids": [keyid(bins_key)], "threshold": 1, "terminating": true,
            "paths": plugins.iter().map(|p| format!("plugins/{p}/*")).collect::<Vec<_>>(),
        }));
    }
    let top = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": v,
        "expires": expires(), "targets": {},
        "delegations": {
            "keys": {keyid(bins_key): {"keytype": "ed25519", "scheme": "ed25519",
                                       "keyval": {"public": keyid(bins_key)}}},
            "roles": roles,
        },
    });
    repo.write(
        &format!("{v}.targets.json"),
        &sign(top, &[repo.key("targets")]),
    );
    meta.insert("targets.json".to_owned(), json!({"version": v}));
    let snapshot = sign(
        json!({"_type": "snapshot", "spec_version": "1.0.31", "version": v,
               "expires": expires(), "meta": meta}),
        &[repo.key("snapshot")],
    );
    repo.write(&format!("{v}.snapshot.json"), &snapshot);
    let snapshot_key = repo.key("timestamp").clone();
    repo.write_timestamp(v, &snapshot, v, &snapshot_key);
}

/// What a fresh client reads for `folder` (everything when empty): the
/// targets, the bins it kept
/// in its metadata folder, and the requests it made.
fn read_folder(repo: &Repo, folder: &str) -> (Result<Vec<String>, TufError>, Vec<String>, usize) {
    let dir = tempfile::tempdir().expect("metadata");
    let root = std::fs::read(repo.dir.path().join("1.root.json")).expect("root 1");
    Updater::init(dir.path(), &root).expect("init");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut updater = Updater::open(
        dir.path(),
        &repo.url(),
        reqwest::Client::new(),
        jiff::Timestamp::now(),
    )
    .expect("open");
    let found = runtime
        .block_on(async {
            if folder.is_empty() {
                updater.all_targets().await
            } else {
                updater.targets_in(folder).await
            }
        })
        .map(|targets| targets.into_keys().collect());
    let mut kept: Vec<String> = std::fs::read_dir(dir.path())
        .expect("metadata")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("bin-"))
        .collect();
    kept.sort();
    (found, kept, updater.requests())
}

#[test]
fn one_plugin_is_read_from_its_bin_alone() {
    let mut repo = Repo::new();
    let bins_key = SigningKey::from_bytes(&[200; 32]);
    publish_binned(&mut repo, &bins_key, &bins_key, &[]);

    let (found, kept, requests) = read_folder(&repo, "plugins/b/");
    assert_eq!(
        found.expect("plugin b"),
        [
            "plugins/b/1.0.0.lordpkg",
            "plugins/b/2.0.0.lordpkg",
            "plugins/b/3.0.0.lordpkg"
        ]
    );
    assert_eq!(kept, ["bin-1.json"], "only plugin b's bin is fetched");
    // 2.root.json (absent), timestamp, snapshot, targets, bin-1.
    assert_eq!(requests, 5);

    // A bin holding two plugins gives each its own versions only.
    let (found, kept, _) = read_folder(&repo, "plugins/d");
    assert_eq!(found.expect("plugin d").len(), 3);
    assert_eq!(kept, ["bin-0.json"]);

    // A plugin no bin delegates: nothing, and no bin fetched.
    let (found, kept, _) = read_folder(&repo, "plugins/zz/");
    assert!(found.expect("no plugin zz").is_empty());
    assert!(kept.is_empty());

    // What needs the whole index reads every bin.
    let (found, kept, _) = read_folder(&repo, "");
    assert_eq!(found.expect("everything").len(), 12);
    assert_eq!(kept, ["bin-0.json", "bin-1.json", "bin-2.json"]);
}

#[test]
fn a_bin_signed_by_another_key_is_refused() {
    let mut repo = Repo::new();
    let bins_key = SigningKey::from_bytes(&[200; 32]);
    let stranger = SigningKey::from_bytes(&[201; 32]);
    publish_binned(&mut repo, &bins_key, &stranger, &[]);

    let (found, kept, _) = read_folder(&repo, "plugins/b/");
    let error = found.expect_err("a bin the delegation's key did not sign");
    assert!(
        matches!(&error, TufError::Threshold { role, valid: 0, .. } if role == "bin-1"),
        "{error}"
    );
    assert!(kept.is_empty(), "a refused bin is not kept");
}

#[test]
fn a_bin_cannot_list_another_bins_plugin() {
    let mut repo = Repo::new();
    let bins_key = SigningKey::from_bytes(&[200; 32]);
    // bin-0 (plugins a and d) also lists a version of plugin c, which
    // bin-2 holds: it is not bin-0's to list.
    publish_binned(&mut repo, &bins_key, &bins_key, &["c"]);
    let (found, _, _) = read_folder(&repo, "plugins/c/");
    assert_eq!(
        found.expect("plugin c"),
        [
            "plugins/c/1.0.0.lordpkg",
            "plugins/c/2.0.0.lordpkg",
            "plugins/c/3.0.0.lordpkg"
        ]
    );
}
