//! Signed index metadata: The Update Framework's four roles, made and
//! checked by the `tough` crate, so that neither a mirror nor a
//! compromised server can roll a client back to older metadata, freeze it
//! on stale metadata, mix metadata of different versions, or pass off
//! metadata signed by fewer keys than the root demands.
//!
//! The server keeps `tuf/keys/` (PKCS#8 ed25519, 0600: one root key, two
//! targets keys with threshold 2, one snapshot key, one timestamp key) and
//! `tuf/metadata/` (`1.root.json`, `N.targets.json`, `N.snapshot.json`,
//! `timestamp.json`, consistent snapshots). Every package version is one
//! target, `plugins/ID/VERSION.lordpkg`, with its length, SHA-256 and, in
//! `custom`, what resolution needs (host API, dependencies, yanked, signer).
//! Each publish or yank re-signs targets, snapshot and timestamp with the
//! online keys only, all at version N+1; the timestamp is re-signed when
//! half its lifetime has passed, so clients never see it expire.
//!
//! The client side (`lord_registry_client::TrustedIndex`) starts from a
//! root it already trusts and remembers the newest metadata it has seen,
//! which is what makes rollbacks detectable.
//!
//! Known limit: the root key sits beside the online keys; an operator who
//! wants it offline moves `tuf/keys/root.der` away after the first start
//! (it is needed again only to rotate keys, which is not built yet).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tough::editor::RepositoryEditor;
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::{Hashes, KeyHolder, RoleKeys, RoleType, Root, Signed, Target, Targets};

use lord_registry_api::TargetInfo;

use crate::error::{RegistryError, io};

/// How long each role's metadata stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub root: Duration,
    pub targets: Duration,
    pub snapshot: Duration,
    pub timestamp: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        let day = Duration::from_secs(24 * 3600);
        Self {
            root: day * 365,
            targets: day * 30,
            snapshot: day * 7,
            timestamp: day,
        }
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Tuf(format!("{what}: {e}"))
}

/// An in-memory PKCS#8 ed25519 key as tough's signing wants it.
#[derive(Clone)]
struct Key {
    der: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

#[tough::async_trait]
impl KeySource for Key {
    async fn as_sign(
        &self,
    ) -> Result<Box<dyn tough::sign::Sign>, Box<dyn std::error::Error + Send + Sync + 'static>>
    {
        Ok(Box::new(tough::sign::parse_keypair(&self.der)?))
    }

    async fn write(
        &self,
        _value: &str,
        _key_id_hex: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Err("registry keys are written once, at creation".into())
    }
}

impl Key {
    fn generate() -> Result<Self, RegistryError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| failed("no randomness for a key", e))?;
        let der = ed25519_dalek::SigningKey::from_bytes(&seed)
            .to_pkcs8_der()
            .map_err(|e| failed("could not encode a key", e))?;
        Ok(Self {
            der: der.as_bytes().to_vec(),
        })
    }

    fn tuf_key(&self) -> Result<tough::schema::key::Key, RegistryError> {
        use tough::sign::Sign as _;
        Ok(tough::sign::parse_keypair(&self.der)
            .map_err(|e| failed("unreadable key", e))?
            .tuf_key())
    }

    fn boxed(&self) -> Box<dyn KeySource> {
        Box::new(self.clone())
    }
}

/// The roles' keys, as files under `tuf/keys/`.
const KEY_FILES: [&str; 5] = ["root", "targets-1", "targets-2", "snapshot", "timestamp"];

fn nz(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n.max(1)).unwrap_or(NonZeroU64::MIN)
}

fn expires_in(d: Duration) -> Result<jiff::Timestamp, RegistryError> {
    let span = jiff::SignedDuration::try_from(d).map_err(|e| failed("bad lifetime", e))?;
    let at = jiff::Timestamp::now()
        .checked_add(span)
        .map_err(|e| failed("bad lifetime", e))?;
    // Whole seconds keep `expires` tidy and portable.
    jiff::Timestamp::from_second(at.as_second()).map_err(|e| failed("bad lifetime", e))
}

/// The server's side: keys, metadata, re-signing.
#[derive(Debug)]
pub struct TufRepo {
    dir: PathBuf,
    keys: BTreeMap<&'static str, Key>,
    lifetimes: Mutex<Lifetimes>,
    /// Serialises re-signing within this process.
    signing: tokio::sync::Mutex<()>,
}

impl TufRepo {
    /// Opens the repository in `dir` (`keys/`, `metadata/`), making its
    /// keys on first use. The signed root and first metadata are written by
    /// [`TufRepo::ready`], which is async like the rest of `tough`.
    pub fn open(dir: &Path, lifetimes: Lifetimes) -> Result<Self, RegistryError> {
        let key_dir = dir.join("keys");
        let metadata = dir.join("metadata");
        std::fs::create_dir_all(&metadata).map_err(io("create", &metadata))?;
        std::fs::create_dir_all(&key_dir).map_err(io("create", &key_dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("restrict", &key_dir))?;
        }
        let mut keys = BTreeMap::new();
        for name in KEY_FILES {
            let path = key_dir.join(format!("{name}.der"));
            let key = match std::fs::read(&path) {
                Ok(der) => Key { der },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let key = Key::generate()?;
                    write_private(&path, &key.der)?;
                    key
                }
                Err(e) => return Err(io("read", &path)(e)),
            };
            keys.insert(name, key);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            keys,
            lifetimes: Mutex::new(lifetimes),
            signing: tokio::sync::Mutex::new(()),
        })
    }

    /// Writes the signed root and the first (empty) metadata if they are
    /// not there yet.
    pub async fn ready(&self) -> Result<(), RegistryError> {
        if !self.root_path().exists() {
            let _guard = self.signing.lock().await;
            if !self.root_path().exists() {
                self.write_root().await?;
            }
        }
        if !self.metadata().join("timestamp.json").exists() {
            self.resign(&[]).await?;
        }
        Ok(())
    }

    fn metadata(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    fn root_path(&self) -> PathBuf {
        self.metadata().join("1.root.json")
    }

    fn key(&self, name: &str) -> Result<&Key, RegistryError> {
        self.keys
            .get(name)
            .ok_or_else(|| failed("missing key", name))
    }

    /// Changes how long new metadata stays valid (tests shorten it).
    pub fn set_lifetimes(&self, lifetimes: Lifetimes) {
        *self.lifetimes.lock().unwrap_or_else(|p| p.into_inner()) = lifetimes;
    }

    fn lifetimes(&self) -> Lifetimes {
        *self.lifetimes.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn write_root(&self) -> Result<(), RegistryError> {
        let mut root = Root {
            spec_version: "1.0.0".to_owned(),
            consistent_snapshot: true,
            version: nz(1),
            expires: expires_in(self.lifetimes().root)?,
            keys: HashMap::new(),
            roles: HashMap::new(),
            _extra: HashMap::new(),
        };
        for (role, names, threshold) in [
            (RoleType::Root, &["root"][..], 1),
            (RoleType::Targets, &["targets-1", "targets-2"][..], 2),
            (RoleType::Snapshot, &["snapshot"][..], 1),
            (RoleType::Timestamp, &["timestamp"][..], 1),
        ] {
            let mut keyids = Vec::new();
            for name in names {
                let key = self.key(name)?.tuf_key()?;
                let id = key.key_id().map_err(|e| failed("key id", e))?;
                root.keys.insert(id.clone(), key);
                keyids.push(id);
            }
            root.roles.insert(
                role,
                RoleKeys {
                    keyids,
                    threshold: nz(threshold),
                    _extra: HashMap::new(),
                },
            );
        }
        let signers = [self.key("root")?.boxed()];
        let signed = SignedRole::new(
            root.clone(),
            &KeyHolder::Root(root),
            &signers,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .await
        .map_err(|e| failed("could not sign the root", e))?;
        write_private(&self.root_path(), signed.buffer())?;
        write_private(&self.metadata().join("root.json"), signed.buffer())
    }

    /// The current metadata version (that of `timestamp.json`), 0 before
    /// the first signing.
    fn current_version(&self) -> u64 {
        std::fs::read(self.metadata().join("timestamp.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["signed"]["version"].as_u64())
            .unwrap_or(0)
    }

    /// Adds or replaces `targets` and re-signs targets, snapshot and
    /// timestamp at the next version, with the online keys only.
    pub async fn resign(&self, targets: &[TargetInfo]) -> Result<(), RegistryError> {
        let _guard = self.signing.lock().await;
        let current = self.current_version();
        let next = current + 1;
        let lifetimes = self.lifetimes();
        let mut editor = RepositoryEditor::new(self.root_path())
            .await
            .map_err(|e| failed("could not open the root", e))?;
        if current > 0 {
            let path = self.metadata().join(format!("{current}.targets.json"));
            let bytes = std::fs::read(&path).map_err(io("read", &path))?;
            let previous: Signed<Targets> =
                serde_json::from_slice(&bytes).map_err(|e| failed("unreadable targets", e))?;
            editor
                .targets(previous)
                .map_err(|e| failed("could not load the targets", e))?;
        }
        for info in targets {
            let sha = hex::decode(&info.digest).map_err(|e| failed("bad digest", e))?;
            let target = Target {
                length: info.length,
                hashes: Hashes {
                    sha256: sha.into(),
                    _extra: HashMap::new(),
                },
                custom: info.custom().into_iter().collect(),
                _extra: HashMap::new(),
            };
            editor
                .add_target(info.name().as_str(), target)
                .map_err(|e| failed("bad target", e))?;
        }
        editor
            .targets_version(nz(next))
            .map_err(|e| failed("targets version", e))?
            .targets_expires(expires_in(lifetimes.targets)?)
            .map_err(|e| failed("targets expiry", e))?
            .snapshot_version(nz(next))
            .snapshot_expires(expires_in(lifetimes.snapshot)?)
            .timestamp_version(nz(next))
            .timestamp_expires(expires_in(lifetimes.timestamp)?);
        let online: Vec<Box<dyn KeySource>> = ["targets-1", "targets-2", "snapshot", "timestamp"]
            .iter()
            .map(|name| self.key(name).map(Key::boxed))
            .collect::<Result<_, _>>()?;
        let signed = editor
            .sign(&online)
            .await
            .map_err(|e| failed("could not sign the metadata", e))?;
        signed
            .write(self.metadata())
            .await
            .map_err(|e| failed("could not write the metadata", e))?;
        Ok(())
    }

    /// Re-signs when the timestamp has used up half its lifetime.
    pub async fn refresh_if_stale(&self) -> Result<(), RegistryError> {
        let expires = std::fs::read(self.metadata().join("timestamp.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["signed"]["expires"].as_str().map(str::to_owned))
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let half = jiff::SignedDuration::try_from(self.lifetimes().timestamp / 2)
            .unwrap_or(jiff::SignedDuration::ZERO);
        let stale = expires.is_none_or(|at| {
            jiff::Timestamp::now()
                .checked_add(half)
                .is_ok_and(|soon| soon >= at)
        });
        if stale {
            self.resign(&[]).await?;
        }
        Ok(())
    }

    /// A metadata file by name (`1.root.json`, `N.snapshot.json`...), or
    /// `None` if there is no such file.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let ok = name.ends_with(".json")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok || name.contains("..") {
            return Ok(None);
        }
        let path = self.metadata().join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// The trusted root clients start from.
    pub fn root(&self) -> Result<Vec<u8>, RegistryError> {
        std::fs::read(self.root_path()).map_err(io("read", &self.root_path()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    lord_file::write_atomic(path, bytes).map_err(|e| RegistryError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}
