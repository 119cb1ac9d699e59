//! A TUF repository the tests sign themselves: one ed25519 key per
//! top-level role (threshold 1), consistent snapshots, metadata written to a
//! folder the client reads as `file://`. Independent of lord's server, so
//! the tests can rotate keys, replay and forge at will.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::{Signer as _, SigningKey};
use lord_registry_client::tuf::{TufError, Updater};
use serde_json::{Value, json};

pub(crate) const ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

pub(crate) struct Repo {
    pub(crate) dir: tempfile::TempDir,
    keys: BTreeMap<&'static str, SigningKey>,
    next_seed: u8,
    pub(crate) root_version: u64,
    /// The version of timestamp, snapshot and targets last published.
    pub(crate) version: u64,
}

pub(crate) fn keyid(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

pub(crate) fn expires() -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    jiff::Timestamp::from_second(at.as_second())
        .expect("time")
        .to_string()
}

/// Canonical JSON for the plain values these tests sign (sorted keys, no
/// whitespace; no string here needs more than serde's escaping).
fn canonical(value: &Value) -> Vec<u8> {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let ordered: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(ordered).expect("object")
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
                other.clone()
            }
        }
    }
    serde_json::to_vec(&sorted(value)).expect("json")
}

pub(crate) fn sign(signed: Value, signers: &[&SigningKey]) -> Vec<u8> {
    let bytes = canonical(&signed);
    let signatures: Vec<Value> = signers
        .iter()
        .map(|k| json!({"keyid": keyid(k), "sig": hex::encode(k.sign(&bytes).to_bytes())}))
        .collect();
    serde_json::to_vec_pretty(&json!({"signatures": signatures, "signed": signed})).expect("json")
}

impl Repo {
    /// Root version 1 and timestamp, snapshot and targets version 1.
    pub(crate) fn new() -> Self {
        let mut repo = Self {
            dir: tempfile::tempdir().expect("repository"),
            keys: BTreeMap::new(),
            next_seed: 1,
            root_version: 0,
            version: 0,
        };
        for role in ROLES {
            let key = repo.fresh_key();
            repo.keys.insert(role, key);
        }
        let root = repo.key("root").clone();
        repo.write_root(&[&root]);
        repo.publish();
        repo
    }

    fn fresh_key(&mut self) -> SigningKey {
        self.next_seed += 1;
        SigningKey::from_bytes(&[self.next_seed; 32])
    }

    pub(crate) fn key(&self, role: &str) -> &SigningKey {
        &self.keys[role]
    }

    pub(crate) fn url(&self) -> String {
        url::Url::from_directory_path(self.dir.path())
            .expect("url")
            .to_string()
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join(name), bytes).expect("write metadata");
    }

    /// The next root, listing the current keys, signed by `signers`.
    pub(crate) fn write_root(&mut self, signers: &[&SigningKey]) {
        self.root_version += 1;
        let keys: serde_json::Map<String, Value> = self
            .keys
            .values()
            .map(|k| {
                (
                    keyid(k),
                    json!({"keytype": "ed25519", "scheme": "ed25519",
                           "keyval": {"public": keyid(k)}}),
                )
            })
            .collect();
        let roles: serde_json::Map<String, Value> = ROLES
            .iter()
            .map(|r| {
                (
                    r.to_string(),
                    json!({"keyids": [keyid(self.key(r))], "threshold": 1}),
                )
            })
            .collect();
        let signed = json!({
            "_type": "root", "spec_version": "1.0.31", "version": self.root_version,
            "expires": expires(), "consistent_snapshot": true, "keys": keys, "roles": roles,
        });
        let bytes = sign(signed, signers);
        self.write(&format!("{}.root.json", self.root_version), &bytes);
    }

    /// A root at the next version that lists `key` as the root key and is
    /// signed by it alone (an attacker holding a rotated-out key); the
    /// repository's own state is left as it was. Returns its file.
    pub(crate) fn forge_root(&mut self, key: &SigningKey) -> std::path::PathBuf {
        let current = self.keys.insert("root", key.clone()).expect("root key");
        self.write_root(&[key]);
        self.keys.insert("root", current);
        let forged = self
            .dir
            .path()
            .join(format!("{}.root.json", self.root_version));
        self.root_version -= 1;
        forged
    }

    /// Gives `role` a new key in a new root (signed by the old and new root
    /// keys when `role` is root), and returns the key it replaced.
    pub(crate) fn rotate(&mut self, role: &'static str) -> SigningKey {
        let old = self.key(role).clone();
        let old_root = self.key("root").clone();
        let new = self.fresh_key();
        self.keys.insert(role, new);
        let new_root = self.key("root").clone();
        if role == "root" {
            self.write_root(&[&old_root, &new_root]);
        } else {
            self.write_root(&[&new_root]);
        }
        old
    }

    pub(crate) fn write_targets(&self, version: u64, signer: &SigningKey) -> Vec<u8> {
        let signed = json!({
            "_type": "targets", "spec_version": "1.0.31", "version": version,
            "expires": expires(),
            "targets": {"plugins/a/1.0.0.lordpkg": {
                "length": 3, "hashes": {"sha256": hex::encode(sha256(b"abc"))},
            }},
        });
        let bytes = sign(signed, &[signer]);
        self.write(&format!("{version}.targets.json"), &bytes);
        bytes
    }

    pub(crate) fn write_snapshot(
        &self,
        version: u64,
        targets: u64,
        signer: &SigningKey,
    ) -> Vec<u8> {
        let signed = json!({
            "_type": "snapshot", "spec_version": "1.0.31", "version": version,
            "expires": expires(), "meta": {"targets.json": {"version": targets}},
        });
        let bytes = sign(signed, &[signer]);
        self.write(&format!("{version}.snapshot.json"), &bytes);
        bytes
    }

    pub(crate) fn write_timestamp(
        &self,
        version: u64,
        snapshot: &[u8],
        snapshot_version: u64,
        signer: &SigningKey,
    ) {
        let signed = json!({
            "_type": "timestamp", "spec_version": "1.0.31", "version": version,
            "expires": expires(),
            "meta": {"snapshot.json": {
                "version": snapshot_version, "length": snapshot.len(),
                "hashes": {"sha256": hex::encode(sha256(snapshot))},
            }},
        });
        self.write("timestamp.json", &sign(signed, &[signer]));
    }

    /// Targets, snapshot and timestamp at the next version, each signed by
    /// its role's current key unless `signer` names a role and a key to
    /// sign it with instead.
    pub(crate) fn publish_signed(&mut self, signer: Option<(&str, &SigningKey)>) {
        self.version += 1;
        let v = self.version;
        let by = |role: &str| match signer {
            Some((r, key)) if r == role => key.clone(),
            Some(_) | None => self.key(role).clone(),
        };
        self.write_targets(v, &by("targets"));
        let snapshot = self.write_snapshot(v, v, &by("snapshot"));
        self.write_timestamp(v, &snapshot, v, &by("timestamp"));
    }

    pub(crate) fn publish(&mut self) {
        self.publish_signed(None);
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// A client of a [`Repo`]: its metadata folder, starting from root 1.
pub(crate) struct Client {
    pub(crate) dir: tempfile::TempDir,
    url: String,
}

impl Client {
    pub(crate) fn new(repo: &Repo) -> Self {
        let dir = tempfile::tempdir().expect("metadata");
        let root = std::fs::read(repo.dir.path().join("1.root.json")).expect("root 1");
        Updater::init(dir.path(), &root).expect("init");
        Self {
            dir,
            url: repo.url(),
        }
    }

    /// One refresh by a fresh updater, as each `lord` command makes.
    pub(crate) fn refresh(&self) -> Result<(), TufError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut updater = Updater::open(
                self.dir.path(),
                &self.url,
                reqwest::Client::new(),
                jiff::Timestamp::now(),
            )?;
            updater.refresh().await
        })
    }

    /// The version of `role` this client trusts.
    pub(crate) fn version(&self, role: &str) -> u64 {
        let bytes = std::fs::read(self.dir.path().join(format!("{role}.json"))).expect("trusted");
        let json: Value = serde_json::from_slice(&bytes).expect("json");
        json["signed"]["version"].as_u64().expect("version")
    }

    /// Every trusted file with the SHA-256 of its bytes.
    pub(crate) fn files(&self) -> Vec<(String, String)> {
        files(self.dir.path())
    }

    /// The SHA-256 of the trusted file of `role`.
    pub(crate) fn file(&self, role: &str) -> String {
        let bytes = std::fs::read(self.dir.path().join(format!("{role}.json"))).expect("trusted");
        hex::encode(sha256(&bytes))
    }
}

fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("metadata")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                hex::encode(sha256(&std::fs::read(e.path()).expect("read"))),
            )
        })
        .collect();
    out.sort();
    out
}
