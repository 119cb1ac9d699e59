//! Signed index metadata: The Update Framework's four roles, made and
//! checked by the `tough` crate, so that neither a mirror nor a
//! compromised server can roll a client back to older metadata, freeze it
//! on stale metadata, mix metadata of different versions, or pass off
//! metadata signed by fewer keys than the root demands.
//!
//! The server keeps `tuf/keys/` (PKCS#8 ed25519, 0600: one root key, two
//! targets keys with threshold 2, one snapshot key, one timestamp key) and
//! `tuf/metadata/` (`N.root.json` for every root version and `root.json`
//! the newest, `N.targets.json`, `N.snapshot.json`, `timestamp.json`:
//! consistent snapshots). Every package version is one target,
//! `plugins/ID/VERSION.lordpkg`, with its length, SHA-256 and, in `custom`,
//! what resolution needs (host API, dependencies, yanked, signer), kept in
//! the hashed bin of its plugin (`bins.rs`, `N.bins-XX.json`). Each
//! publish or yank re-signs its plugin's bin, targets, snapshot and
//! timestamp with the online keys only, the top-level roles all at version
//! N+1; the timestamp is re-signed when half its lifetime has passed, so
//! clients never see it expire.
//!
//! Key rotation ([`TufRepo::rotate`], `lord registry keys rotate`) makes new
//! keys for the chosen roles and a root at the next version signed by the
//! old root key and (when the root key itself is replaced) the new one, as
//! the TUF client workflow demands of a root update; then it re-signs the
//! other roles with the new keys. Clients walk from the root they trust to
//! the new one, and the rotated-out keys can no longer get anything
//! accepted.
//!
//! With the records in PostgreSQL the metadata's home is the database, so
//! that several servers sign one history (`shared.rs`); `metadata/` is
//! then each server's working copy, checked out and committed back under
//! the database's index lock.
//!
//! Invariant: signing holds `tuf/lock` (an exclusive file lock) and, with
//! a shared index, the database's index lock, from reading the current
//! metadata to writing the next, so two processes on the same folder or
//! database (two servers, or a server and `lord registry keys rotate`)
//! never sign the same version twice or drop each other's targets. Keys and the root are read from disk under that lock, never
//! cached, so a rotation made by another process is used at the next
//! signing.
//! Invariant: every metadata file is replaced atomically, targets and
//! snapshot before the timestamp that points at them, so a client never
//! reads a torn file and a crash leaves the previous, complete index.
//! A rotation commits when `N+1.root.json` is written; new keys wait in
//! `keys/next/` until then and are moved into place (or dropped, if that
//! root was never written) when the repository is next opened.
//!
//! The client side (`lord_registry_client::TrustedIndex`) starts from a
//! root it already trusts and remembers the newest metadata it has seen,
//! which is what makes rollbacks detectable.
//!
//! The root key need not stay beside the online keys: an operator moves
//! `tuf/keys/root.der` away after the first start, and rotations then go
//! through a root prepared here unsigned, signed where the root key is
//! kept, and installed here (`offline.rs`). With the root key present,
//! `rotate` still signs the new root in one step.
//!
//! `reconcile.rs` signs in what the records hold and the index lacks (the
//! server's start-up resync).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::{KeyHolder, RoleKeys, RoleType, Root, Signed};

use lord_registry_api::IndexEntry;

mod bins;
mod offline;
mod reconcile;
mod rotation;
mod shared;
use bins::Sweep;
pub use offline::{PreparedRoot, RootKey, SignedRoot, sign_root};
pub use rotation::{KeyReport, Role, RoleKeyIds, Rotation};
use shared::Want;

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

/// The server's side: keys, metadata, re-signing, rotation.
#[derive(Debug)]
pub struct TufRepo {
    dir: PathBuf,
    lifetimes: Mutex<Lifetimes>,
    /// Serialises signing within this process; `tuf/lock` does it across
    /// processes.
    signing: tokio::sync::Mutex<()>,
    /// Whether this process has checked that the metadata on disk is
    /// signed by the keys the newest root lists (it is not after a crash
    /// between a rotation's root and its re-signing).
    checked: AtomicBool,
    /// With the records in PostgreSQL: the metadata's home, shared by
    /// every server on that database (`shared.rs`); `None` keeps it in
    /// `metadata/` alone.
    shared: Option<shared::SharedIndex>,
    /// The failpoint: end the next signing session as a killed server
    /// would, between writing the new metadata and committing it.
    die_before_commit: AtomicBool,
    /// The process failpoint: abort the process there instead.
    abort_before_commit: AtomicBool,
}

/// The signing lock, released on drop: the folder's file lock and, when
/// the index is shared, the database session holding the index lock.
struct Locked {
    _file: std::fs::File,
    session: Option<shared::Session>,
}

impl TufRepo {
    /// Opens the repository in `dir` (`keys/`, `metadata/`), making its
    /// keys on first use and finishing a rotation a crash interrupted. The
    /// signed root and first metadata are written by [`TufRepo::ready`],
    /// which is async like the rest of `tough`.
    pub fn open(dir: &Path, lifetimes: Lifetimes) -> Result<Self, RegistryError> {
        Self::open_in(dir, lifetimes, None)
    }

    /// [`TufRepo::open`] with the metadata kept in the PostgreSQL database
    /// behind `index` when one is given, so that every server on that
    /// database signs one history. Keys stay in `dir/keys/`: every server
    /// needs the same ones (see ARCHITECTURE.md).
    pub(crate) fn open_in(
        dir: &Path,
        lifetimes: Lifetimes,
        index: Option<(crate::db::pool::Pool, crate::db::pool::Pool)>,
    ) -> Result<Self, RegistryError> {
        let key_dir = dir.join("keys");
        let metadata = dir.join("metadata");
        std::fs::create_dir_all(&metadata).map_err(io("create", &metadata))?;
        std::fs::create_dir_all(&key_dir).map_err(io("create", &key_dir))?;
        restrict(&key_dir)?;
        let repo = Self {
            dir: dir.to_path_buf(),
            lifetimes: Mutex::new(lifetimes),
            signing: tokio::sync::Mutex::new(()),
            checked: AtomicBool::new(false),
            shared: index.map(shared::SharedIndex::new),
            die_before_commit: AtomicBool::new(false),
            abort_before_commit: AtomicBool::new(false),
        };
        let lock = repo.lock_blocking(Want::Every)?;
        if repo.newest_root()?.is_none() {
            // First start: every key is made here, once. Later a missing
            // key is an error, never silently replaced (a new root key
            // would sign nothing clients trust).
            for role in Role::ALL {
                for name in role.keys().0 {
                    let path = repo.key_path(name);
                    if !path.exists() {
                        write_private(&path, &Key::generate()?.der)?;
                    }
                }
            }
        }
        repo.finish_rotation()?;
        repo.commit_blocking(lock)?;
        Ok(repo)
    }

    /// Writes the signed root and the first (empty) metadata if they are
    /// not there yet, and re-signs once per process if the metadata is not
    /// signed by the keys the newest root lists.
    pub async fn ready(&self) -> Result<(), RegistryError> {
        if self.checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.signing.lock().await;
        let lock = self.lock(Want::Every).await?;
        if self.newest_root()?.is_none() {
            self.write_first_root().await?;
        }
        if self.shared.is_some() {
            self.check_keys_listed()?;
        }
        if !self.signed_by_current_keys()? || self.is_flat()? {
            self.resign_locked(&[], Sweep::Every).await?;
        }
        self.commit(lock).await?;
        self.checked.store(true, Ordering::Release);
        Ok(())
    }

    fn metadata(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    fn key_path(&self, name: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{name}.der"))
    }

    fn next_key_dir(&self) -> PathBuf {
        self.dir.join("keys").join("next")
    }

    /// A key read from `keys/`, now: never cached, so a rotation by
    /// another process is used at once.
    fn key(&self, name: &str) -> Result<Key, RegistryError> {
        let path = self.key_path(name);
        match std::fs::read(&path) {
            Ok(der) => Ok(Key { der }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(RegistryError::Tuf(if name == "root" {
                    format!(
                        "the root key is not in `{}`; it is needed only to sign a new root: \
                         put it back there and run the command again, or rotate the online \
                         keys through a root signed where the root key is kept (`lord \
                         registry keys rotate` prepares it, `lord registry root sign` signs it)",
                        path.display()
                    )
                } else {
                    format!(
                        "the `{name}` signing key is missing from `{}`; restore it from a \
                         backup, or make new online keys with `lord registry keys rotate` \
                         (which needs the root key)",
                        path.display()
                    )
                }))
            }
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// The newest `N.root.json`: its version and path, `None` before the
    /// first root is written.
    fn newest_root(&self) -> Result<Option<(u64, PathBuf)>, RegistryError> {
        let dir = self.metadata();
        let mut newest = None;
        for entry in std::fs::read_dir(&dir).map_err(io("read", &dir))? {
            let entry = entry.map_err(io("read", &dir))?;
            let name = entry.file_name();
            let Some(version) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".root.json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if newest.as_ref().is_none_or(|(v, _)| version > *v) {
                newest = Some((version, entry.path()));
            }
        }
        Ok(newest)
    }

    fn read_root(&self) -> Result<(u64, PathBuf, Signed<Root>), RegistryError> {
        let (version, path) = self
            .newest_root()?
            .ok_or_else(|| failed("no root", "the repository has not been started"))?;
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        let root = serde_json::from_slice(&bytes).map_err(|e| failed("unreadable root", e))?;
        Ok((version, path, root))
    }

    /// Changes how long new metadata stays valid (tests shorten it).
    pub fn set_lifetimes(&self, lifetimes: Lifetimes) {
        *self.lifetimes.lock().unwrap_or_else(|p| p.into_inner()) = lifetimes;
    }

    fn lifetimes(&self) -> Lifetimes {
        *self.lifetimes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_blocking(&self, want: Want) -> Result<Locked, RegistryError> {
        lock_both(&self.dir, self.shared.as_ref(), &want)
    }

    /// The cross-process signing lock, waited for off the async threads.
    async fn lock(&self, want: Want) -> Result<Locked, RegistryError> {
        let dir = self.dir.clone();
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || lock_both(&dir, shared.as_ref(), &want))
            .await
            .map_err(|e| failed("the signing lock", e))?
    }

    /// Ends a signing: with a shared index, what it wrote to the folder is
    /// checked (signed by keys the newest root lists, so a server holding
    /// other keys cannot publish metadata no client accepts) and committed
    /// to the database. Dropping `lock` instead abandons it.
    async fn commit(&self, lock: Locked) -> Result<(), RegistryError> {
        let Some(session) = lock.session else {
            return Ok(());
        };
        if self.current_version() > 0 && !self.signed_by_current_keys()? {
            return Err(self.keys_not_listed());
        }
        let metadata = self.metadata();
        let ending = if self.abort_before_commit.load(Ordering::Acquire) {
            shared::Ending::AbortBeforeCommit
        } else if self.die_before_commit.swap(false, Ordering::AcqRel) {
            shared::Ending::DieBeforeCommit
        } else {
            shared::Ending::Commit
        };
        tokio::task::spawn_blocking(move || session.commit(&metadata, ending))
            .await
            .map_err(|e| failed("the signed index's commit", e))?
    }

    fn commit_blocking(&self, lock: Locked) -> Result<(), RegistryError> {
        match lock.session {
            Some(session) if self.newest_root()?.is_some() => {
                session.commit(&self.metadata(), shared::Ending::Commit)
            }
            _ => Ok(()),
        }
    }

    fn keys_not_listed(&self) -> RegistryError {
        RegistryError::Tuf(format!(
            "the online keys in `{}` are not the ones the shared index's newest root lists: \
             every server on one database must sign with the same keys, so copy `tuf/keys/` \
             from the server that made them (or last rotated them) to this one",
            self.dir.join("keys").display()
        ))
    }

    /// Refuses to serve a shared index with online keys its root does not
    /// list, before any signing could fail on it.
    fn check_keys_listed(&self) -> Result<(), RegistryError> {
        let (_, _, root) = self.read_root()?;
        for role in [Role::Targets, Role::Snapshot, Role::Timestamp] {
            let listed = root.signed.roles.get(&role.tough());
            for name in role.keys().0 {
                let key = self.key(name).map_err(|_| self.keys_not_listed())?;
                let id = key.tuf_key()?.key_id().map_err(|e| failed("key id", e))?;
                if !listed.is_some_and(|r| r.keyids.contains(&id)) {
                    return Err(self.keys_not_listed());
                }
            }
        }
        Ok(())
    }

    /// Arms the failpoint: the next signing writes its metadata and then
    /// ends as if its server were killed before committing. For the tests
    /// of several servers on one database; a no-op without one.
    #[doc(hidden)]
    pub fn die_before_next_commit(&self) {
        self.die_before_commit.store(true, Ordering::Release);
    }

    /// Arms a process failpoint by name (`LORD_FAILPOINT`, read by the
    /// CLI): `registry-index-before-commit` aborts the process at the first
    /// signing of a shared index, after writing its metadata and before
    /// committing it, as `kill -9` at that moment would. Other names are
    /// not the registry's and are ignored.
    #[doc(hidden)]
    pub fn arm_failpoint(&self, name: &str) {
        if name == "registry-index-before-commit" {
            self.abort_before_commit.store(true, Ordering::Release);
        }
    }

    async fn write_first_root(&self) -> Result<(), RegistryError> {
        let mut root = Root {
            spec_version: "1.0.0".to_owned(),
            consistent_snapshot: true,
            version: nz(1),
            expires: expires_in(self.lifetimes().root)?,
            keys: HashMap::new(),
            roles: HashMap::new(),
            _extra: HashMap::new(),
        };
        for role in Role::ALL {
            let (names, threshold) = role.keys();
            let mut keyids = Vec::new();
            for name in names {
                let key = self.key(name)?.tuf_key()?;
                let id = key.key_id().map_err(|e| failed("key id", e))?;
                root.keys.insert(id.clone(), key);
                keyids.push(id);
            }
            root.roles.insert(
                role.tough(),
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
        write_private(&self.metadata().join("1.root.json"), signed.buffer())?;
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

    /// Whether targets, snapshot and timestamp on disk each carry enough
    /// signatures by the keys the newest root lists for them.
    fn signed_by_current_keys(&self) -> Result<bool, RegistryError> {
        let current = self.current_version();
        if current == 0 {
            return Ok(false);
        }
        let (_, _, root) = self.read_root()?;
        for (role, file) in [
            (RoleType::Targets, format!("{current}.targets.json")),
            (RoleType::Snapshot, format!("{current}.snapshot.json")),
            (RoleType::Timestamp, "timestamp.json".to_owned()),
        ] {
            let Some(keys) = root.signed.roles.get(&role) else {
                return Ok(false);
            };
            let signed = std::fs::read(self.metadata().join(&file))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let by_listed = signed
                .as_ref()
                .and_then(|v| v["signatures"].as_array())
                .map_or(0, |sigs| {
                    sigs.iter()
                        .filter_map(|s| s["keyid"].as_str())
                        .filter(|id| keys.keyids.iter().any(|k| hex::encode(k) == *id))
                        .count()
                });
            if (by_listed as u64) < keys.threshold.get() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Adds or replaces `targets` and re-signs targets, snapshot and
    /// timestamp at the next version, with the online keys only.
    pub async fn resign(&self, targets: &[IndexEntry]) -> Result<(), RegistryError> {
        let _guard = self.signing.lock().await;
        let lock = self.lock(Want::Bins(bins::bins_of(targets))).await?;
        self.resign_locked(targets, Sweep::Touched).await?;
        self.commit(lock).await
    }

    /// [`TufRepo::resign`] once `check` accepts the top-level targets
    /// (lord's releases, the policies) the index lists, read under the
    /// signing locks: a check against what is already signed (a
    /// release's signer, its immutability) cannot race another signing.
    pub(crate) async fn resign_checked(
        &self,
        targets: &[IndexEntry],
        check: impl FnOnce(&[IndexEntry]) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let _guard = self.signing.lock().await;
        let lock = self.lock(Want::Bins(bins::bins_of(targets))).await?;
        // A refusal drops `lock`, which abandons the session unsigned.
        check(&self.top_level()?)?;
        self.resign_locked(targets, Sweep::Touched).await?;
        self.commit(lock).await
    }

    /// The top-level targets the current index lists (read without the
    /// signing lock: what clients are served now).
    pub fn top_level_targets(&self) -> Result<Vec<IndexEntry>, RegistryError> {
        let read = |file: &str| -> Result<Option<Value>, RegistryError> {
            Ok(self
                .file(file)?
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok()))
        };
        let Some(version) = read("timestamp.json")?.and_then(|t| t["signed"]["version"].as_u64())
        else {
            return Ok(Vec::new());
        };
        let Some(targets) = read(&format!("{version}.targets.json"))? else {
            return Ok(Vec::new());
        };
        let listed = targets["signed"]["targets"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, target)| IndexEntry {
                name: name.clone(),
                length: target["length"].as_u64().unwrap_or(0),
                digest: target["hashes"]["sha256"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                custom: target["custom"].as_object().cloned().unwrap_or_default(),
            })
            .collect();
        Ok(listed)
    }

    /// [`TufRepo::resign`] with both signing locks held; returns the
    /// version signed (`bins.rs`).
    async fn resign_locked(
        &self,
        targets: &[IndexEntry],
        sweep: Sweep,
    ) -> Result<u64, RegistryError> {
        self.sign_next(targets, sweep).await
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
        let stale = |at: Option<jiff::Timestamp>| {
            at.is_none_or(|at| {
                jiff::Timestamp::now()
                    .checked_add(half)
                    .is_ok_and(|soon| soon >= at)
            })
        };
        if stale(expires) {
            let _guard = self.signing.lock().await;
            let lock = self.lock(Want::Every).await?;
            // Another process (or task) may have re-signed meanwhile.
            let expires = std::fs::read(self.metadata().join("timestamp.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["signed"]["expires"].as_str().map(str::to_owned))
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            if stale(expires) {
                self.resign_locked(&[], Sweep::Every).await?;
            }
            self.commit(lock).await?;
        }
        Ok(())
    }

    /// The SHA-256 the current targets metadata lists for the target
    /// `name`, if it lists it (the same files clients are served).
    pub fn target_sha256(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let read = |file: &str| -> Result<Option<Value>, RegistryError> {
            Ok(self
                .file(file)?
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok()))
        };
        let Some(version) = read("timestamp.json")?.and_then(|t| t["signed"]["version"].as_u64())
        else {
            return Ok(None);
        };
        Ok(
            read(&format!("{version}.targets.json"))?.and_then(|targets| {
                targets["signed"]["targets"][name]["hashes"]["sha256"]
                    .as_str()
                    .map(str::to_owned)
            }),
        )
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
        if let Some(shared) = &self.shared {
            return shared.file(name);
        }
        let path = self.metadata().join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// The root clients trust at first contact (version 1; they walk from
    /// it to the newest).
    pub fn root(&self) -> Result<Vec<u8>, RegistryError> {
        if let Some(shared) = &self.shared {
            return shared.file("1.root.json")?.ok_or_else(|| {
                failed(
                    "no root",
                    "the shared index has not been started by any server",
                )
            });
        }
        let path = self.metadata().join("1.root.json");
        std::fs::read(&path).map_err(io("read", &path))
    }
}

/// The folder's lock, then the shared index's session (checked out into
/// the folder), in that order everywhere so two tasks cannot deadlock.
fn lock_both(
    dir: &Path,
    shared: Option<&shared::SharedIndex>,
    want: &Want,
) -> Result<Locked, RegistryError> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    file.lock().map_err(io("lock", &path))?;
    let session = shared.map(|s| s.begin(want)).transpose()?;
    if let Some(session) = &session {
        session.check_out(&dir.join("metadata"))?;
    }
    Ok(Locked {
        _file: file,
        session,
    })
}

fn restrict(dir: &Path) -> Result<(), RegistryError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("restrict", dir))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    lord_file::write_atomic(path, bytes).map_err(|e| RegistryError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}
