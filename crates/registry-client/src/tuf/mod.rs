//! The Update Framework's detailed client workflow (specification §5),
//! written for lord: the root rotation loop, then timestamp, snapshot and
//! top-level targets with their rollback, freeze and consistency checks,
//! then delegated targets searched lazily, per target path.
//!
//! Invariant: the metadata folder holds only metadata that passed every
//! check, as the exact bytes received (`root.json`, `timestamp.json`,
//! `snapshot.json`, `targets.json`, and each delegated role as its name
//! percent-encoded plus `.json`), each replaced atomically after it was
//! verified. A refused file never replaces a trusted one (roles verified
//! before it in the same refresh are kept, as the workflow requires: a new
//! timestamp stays trusted when the snapshot it lists is refused). The newest verified
//! root in it is where trust starts next time.
//! Invariant: expiry is compared with the clock the caller passes, and
//! nothing about time is remembered, so a clock that was once ahead never
//! locks a client out once it is right again.
//! Invariant: a delegated role is trusted only through the delegator that
//! reached it in the current search; a role cached from another path is
//! verified again against the current delegator's keys.

mod cjson;
mod error;
mod fetch;
mod keys;
mod listing;
mod metadata;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use error::TufError;
pub use metadata::TargetFile;

pub(crate) use fetch::Fetch;
use keys::PublicKey;
use metadata::{MetaFile, Metadata, Root, Snapshot, Targets, Timestamp};

/// How many new roots one refresh may walk through.
const MAX_ROOT_ROTATIONS: u64 = 256;
/// How many delegated roles one target search may visit.
const MAX_DELEGATIONS: usize = 32;
/// Default size caps for metadata whose length nothing signed states.
const ROOT_MAX: u64 = 512_000;
const TIMESTAMP_MAX: u64 = 16_384;
const SNAPSHOT_MAX: u64 = 2_000_000;
const TARGETS_MAX: u64 = 5_000_000;
/// The most any metadata file is read to, whatever length is signed for
/// it: a read is held in memory, and a timestamp (or snapshot) key alone
/// must not be able to make the client hold gigabytes. lord's registry
/// splits its targets into bins, so its files are far smaller.
const METADATA_HARD_MAX: u64 = 64 << 20;

/// How far to read a metadata file: its signed length, within
/// [`METADATA_HARD_MAX`], or `default` when nothing signed states one.
fn read_limit(meta: &MetaFile, default: u64) -> u64 {
    meta.length
        .map_or(default, |length| length.min(METADATA_HARD_MAX))
}
/// Role names a delegation may not use: they would collide with the
/// top-level roles' files.
const TOP_LEVEL: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// A TUF client for one repository: its metadata URL, and the folder of
/// metadata it trusts.
#[derive(Debug)]
pub struct Updater {
    dir: PathBuf,
    metadata_url: url::Url,
    fetch: Fetch,
    now: jiff::Timestamp,
    root: Metadata<Root>,
    root_keys: BTreeMap<String, PublicKey>,
    timestamp: Option<Metadata<Timestamp>>,
    snapshot: Option<Metadata<Snapshot>>,
    /// Targets roles loaded so far, by role name (`targets` included).
    targets: BTreeMap<String, Metadata<Targets>>,
    refreshed: bool,
}

impl Updater {
    /// Writes `root` as the trusted root of a new metadata folder `dir`.
    /// Nothing is checked until the first refresh (which checks it first).
    pub fn init(dir: &Path, root: &[u8]) -> Result<(), TufError> {
        std::fs::create_dir_all(dir).map_err(|source| TufError::Io {
            action: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(lord_file::write_atomic(&dir.join("root.json"), root)?)
    }

    /// A client trusting the root in `dir` (which must be signed by its own
    /// root keys), fetching from `metadata_url`, judging expiry by `now`.
    /// Makes no request.
    pub fn open(
        dir: &Path,
        metadata_url: &str,
        http: reqwest::Client,
        now: jiff::Timestamp,
    ) -> Result<Self, TufError> {
        let mut base = metadata_url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let metadata_url = url::Url::parse(&base).map_err(|e| TufError::Fetch {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        let path = dir.join("root.json");
        let bytes = std::fs::read(&path).map_err(|source| TufError::Io {
            action: "read the trusted root",
            path: path.clone(),
            source,
        })?;
        let root = Metadata::<Root>::parse("root", &bytes)?;
        let root_keys = root.signed.keys();
        root.verify("root", &root_keys, &root.signed.roles["root"])?;
        Ok(Self {
            dir: dir.to_path_buf(),
            metadata_url,
            fetch: Fetch::new(http),
            now,
            root,
            root_keys,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            refreshed: false,
        })
    }

    /// How many HTTP (or file) requests this client has made.
    pub fn requests(&self) -> usize {
        self.fetch.requests
    }

    /// How many bytes those requests brought back, together.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetch.bytes
    }

    /// The top-level metadata brought up to date: root, timestamp,
    /// snapshot, targets (§5.1–§5.6). Delegated roles are loaded when a
    /// target is looked up.
    pub async fn refresh(&mut self) -> Result<(), TufError> {
        self.refresh_root().await?;
        self.refresh_timestamp().await?;
        self.refresh_snapshot().await?;
        self.load_targets("targets", "root").await?;
        self.refreshed = true;
        Ok(())
    }

    /// Every target the top-level targets role lists (refreshing first if
    /// this client has not).
    pub async fn top_level_targets(&mut self) -> Result<BTreeMap<String, TargetFile>, TufError> {
        if !self.refreshed {
            self.refresh().await?;
        }
        Ok(self
            .targets
            .get("targets")
            .map(|t| t.signed.targets.clone())
            .unwrap_or_default())
    }

    async fn refresh_root(&mut self) -> Result<(), TufError> {
        let first = self.root.version + 1;
        for next in first..first + MAX_ROOT_ROTATIONS {
            let url = self.url(&format!("{next}.root.json"));
            let Some(bytes) = self.fetch.get("root", &url, ROOT_MAX).await? else {
                break;
            };
            let new = Metadata::<Root>::parse("root", &bytes)?;
            // Signed by the trusted root's keys, and by its own.
            new.verify("root", &self.root_keys, &self.root.signed.roles["root"])?;
            let new_keys = new.signed.keys();
            new.verify("root", &new_keys, &new.signed.roles["root"])?;
            if new.version != next {
                return Err(TufError::VersionMismatch {
                    role: "root".to_owned(),
                    by: "its file name",
                    expected: next,
                    got: new.version,
                });
            }
            self.persist("root", &bytes)?;
            self.root = new;
            self.root_keys = new_keys;
        }
        self.check_expiry("root", self.root.version, self.root.expires)
    }

    async fn refresh_timestamp(&mut self) -> Result<(), TufError> {
        // What was trusted before is what rollback is judged against; if it
        // no longer verifies (its keys were rotated out) it is forgotten,
        // which is the specification's fast-forward recovery.
        if let Some(bytes) = self.local("timestamp") {
            let _ = self.accept_timestamp(&bytes);
        }
        let url = self.url("timestamp.json");
        let bytes = self
            .fetch
            .get("timestamp", &url, TIMESTAMP_MAX)
            .await?
            .ok_or_else(|| missing("timestamp", &url))?;
        if self.accept_timestamp(&bytes)? {
            self.persist("timestamp", &bytes)?;
        }
        Ok(())
    }

    /// Takes `bytes` as the timestamp if they pass; `Ok(false)` when they
    /// hold the version already trusted (which is kept: the same version
    /// with other content is not followed).
    fn accept_timestamp(&mut self, bytes: &[u8]) -> Result<bool, TufError> {
        let new = Metadata::<Timestamp>::parse("timestamp", bytes)?;
        new.verify(
            "timestamp",
            &self.root_keys,
            &self.root.signed.roles["timestamp"],
        )?;
        if let Some(old) = &self.timestamp {
            if new.version < old.version {
                return Err(rollback("timestamp", old.version, new.version));
            }
            if new.version == old.version {
                self.check_expiry("timestamp", old.version, old.expires)?;
                return Ok(false);
            }
            let (was, is) = (snapshot_meta(old).version, snapshot_meta(&new).version);
            if is < was {
                return Err(rollback("snapshot", was, is));
            }
        }
        let (version, expires) = (new.version, new.expires);
        // Trusted from here even if expired, so that rollback is still
        // judged against it.
        self.timestamp = Some(new);
        self.check_expiry("timestamp", version, expires)?;
        Ok(true)
    }

    async fn refresh_snapshot(&mut self) -> Result<(), TufError> {
        if let Some(bytes) = self.local("snapshot")
            && self.accept_snapshot(&bytes, true).is_ok()
        {
            return Ok(());
        }
        let meta = self.timestamp_snapshot_meta()?.clone();
        let name = if self.root.signed.consistent_snapshot {
            format!("{}.snapshot.json", meta.version)
        } else {
            "snapshot.json".to_owned()
        };
        let url = self.url(&name);
        let bytes = self
            .fetch
            .get("snapshot", &url, read_limit(&meta, SNAPSHOT_MAX))
            .await?
            .ok_or_else(|| missing("snapshot", &url))?;
        self.accept_snapshot(&bytes, false)?;
        self.persist("snapshot", &bytes)
    }

    /// Takes `bytes` as the snapshot if they pass. `local` bytes were
    /// verified before, so their hashes are not held to the timestamp.
    fn accept_snapshot(&mut self, bytes: &[u8], local: bool) -> Result<(), TufError> {
        let meta = self.timestamp_snapshot_meta()?.clone();
        if let Some(ts) = &self.timestamp {
            self.check_expiry("timestamp", ts.version, ts.expires)?;
        }
        if !local {
            check_meta("snapshot", &meta, bytes)?;
        }
        let new = Metadata::<Snapshot>::parse("snapshot", bytes)?;
        new.verify(
            "snapshot",
            &self.root_keys,
            &self.root.signed.roles["snapshot"],
        )?;
        if let Some(old) = &self.snapshot {
            for (name, was) in &old.signed.meta {
                let Some(is) = new.signed.meta.get(name) else {
                    return Err(TufError::SnapshotRollback {
                        snapshot: new.version,
                        detail: format!(
                            "no longer lists `{name}`, which version {} listed",
                            old.version
                        ),
                    });
                };
                if is.version < was.version {
                    return Err(TufError::SnapshotRollback {
                        snapshot: new.version,
                        detail: format!(
                            "lists `{name}` at version {}, older than version {} already trusted",
                            is.version, was.version
                        ),
                    });
                }
            }
        }
        let (version, expires) = (new.version, new.expires);
        self.snapshot = Some(new);
        self.check_snapshot(version, expires, &meta)
    }

    fn check_snapshot(
        &self,
        version: u64,
        expires: jiff::Timestamp,
        meta: &MetaFile,
    ) -> Result<(), TufError> {
        self.check_expiry("snapshot", version, expires)?;
        if version != meta.version {
            return Err(TufError::VersionMismatch {
                role: "snapshot".to_owned(),
                by: "the timestamp",
                expected: meta.version,
                got: version,
            });
        }
        Ok(())
    }

    fn timestamp_snapshot_meta(&self) -> Result<&MetaFile, TufError> {
        self.timestamp
            .as_ref()
            .map(snapshot_meta)
            .ok_or_else(|| TufError::Missing {
                role: "timestamp".to_owned(),
                url: self.url("timestamp.json").to_string(),
            })
    }

    /// The keys and threshold `delegator` gives `role`.
    fn delegation(
        &self,
        role: &str,
        delegator: &str,
    ) -> Result<(BTreeMap<String, PublicKey>, metadata::RoleKeys), TufError> {
        if delegator == "root" {
            return Ok((
                self.root_keys.clone(),
                self.root.signed.roles["targets"].clone(),
            ));
        }
        let not_delegated = |reason: String| TufError::NotDelegated {
            role: role.to_owned(),
            reason,
        };
        let parent = self
            .targets
            .get(delegator)
            .ok_or_else(|| not_delegated(format!("reached through `{delegator}`, not loaded")))?;
        let delegations = parent
            .signed
            .delegations
            .as_ref()
            .ok_or_else(|| not_delegated(format!("not delegated by `{delegator}`")))?;
        let entry = delegations
            .roles
            .iter()
            .find(|r| r.name == role)
            .ok_or_else(|| not_delegated(format!("not delegated by `{delegator}`")))?;
        Ok((delegations.keys(), entry.keys.clone()))
    }

    /// Targets role `role` as `delegator` delegates it: from memory
    /// (verified again against this delegator), from the folder if it is
    /// still what the snapshot lists, or from the repository.
    async fn load_targets(&mut self, role: &str, delegator: &str) -> Result<(), TufError> {
        if role != "targets" && TOP_LEVEL.contains(&role) {
            return Err(TufError::NotDelegated {
                role: role.to_owned(),
                reason: "the name of a top-level role, which no delegation may use".to_owned(),
            });
        }
        if let Some(cached) = self.targets.get(role) {
            let (keys, role_keys) = self.delegation(role, delegator)?;
            return cached.verify(role, &keys, &role_keys);
        }
        if let Some(bytes) = self.local(role)
            && self.accept_targets(&bytes, role, delegator, true).is_ok()
        {
            return Ok(());
        }
        let snapshot = self.snapshot.as_ref().ok_or_else(|| TufError::Missing {
            role: "snapshot".to_owned(),
            url: self.url("snapshot.json").to_string(),
        })?;
        let meta = snapshot
            .signed
            .meta
            .get(&format!("{role}.json"))
            .ok_or_else(|| TufError::NotInSnapshot {
                role: role.to_owned(),
                snapshot: snapshot.version,
            })?
            .clone();
        let name = if self.root.signed.consistent_snapshot {
            format!("{}.{}.json", meta.version, quote(role))
        } else {
            format!("{}.json", quote(role))
        };
        let url = self.url(&name);
        let bytes = self
            .fetch
            .get(role, &url, read_limit(&meta, TARGETS_MAX))
            .await?
            .ok_or_else(|| missing(role, &url))?;
        self.accept_targets(&bytes, role, delegator, false)?;
        self.persist(role, &bytes)
    }

    fn accept_targets(
        &mut self,
        bytes: &[u8],
        role: &str,
        delegator: &str,
        local: bool,
    ) -> Result<(), TufError> {
        let snapshot = self.snapshot.as_ref().ok_or_else(|| TufError::Missing {
            role: "snapshot".to_owned(),
            url: self.url("snapshot.json").to_string(),
        })?;
        self.check_snapshot(
            snapshot.version,
            snapshot.expires,
            self.timestamp_snapshot_meta()?,
        )?;
        let meta = snapshot
            .signed
            .meta
            .get(&format!("{role}.json"))
            .ok_or_else(|| TufError::NotInSnapshot {
                role: role.to_owned(),
                snapshot: snapshot.version,
            })?;
        if !local {
            check_meta(role, meta, bytes)?;
        }
        let new = Metadata::<Targets>::parse(role, bytes)?;
        let (keys, role_keys) = self.delegation(role, delegator)?;
        new.verify(role, &keys, &role_keys)?;
        if new.version != meta.version {
            return Err(TufError::VersionMismatch {
                role: role.to_owned(),
                by: "the snapshot",
                expected: meta.version,
                got: new.version,
            });
        }
        self.check_expiry(role, new.version, new.expires)?;
        self.targets.insert(role.to_owned(), new);
        Ok(())
    }

    /// The target `path` as the delegation graph assigns it (§5.7.7): a
    /// pre-order depth-first search from the top-level targets role,
    /// following only delegations whose paths cover `path`, stopping at a
    /// terminating one, visiting each role once and at most 32.
    pub async fn target(&mut self, path: &str) -> Result<TargetFile, TufError> {
        if !self.refreshed {
            self.refresh().await?;
        }
        let mut stack = vec![("targets".to_owned(), "root".to_owned())];
        let mut visited = BTreeSet::new();
        while visited.len() < MAX_DELEGATIONS
            && let Some((role, delegator)) = stack.pop()
        {
            if visited.contains(&role) {
                continue;
            }
            self.load_targets(&role, &delegator).await?;
            let Some(targets) = self.targets.get(&role) else {
                break;
            };
            if let Some(found) = targets.signed.targets.get(path) {
                return Ok(found.clone());
            }
            let mut children = Vec::new();
            for child in targets
                .signed
                .delegations
                .iter()
                .flat_map(|d| &d.roles)
                .filter(|d| d.covers(path))
            {
                children.push((child.name.clone(), role.clone()));
                if child.terminating {
                    stack.clear();
                    break;
                }
            }
            visited.insert(role);
            stack.extend(children.into_iter().rev());
        }
        Err(TufError::NoSuchTarget {
            path: path.to_owned(),
        })
    }

    /// Downloads target `path` (described by `file`, from [`Self::target`])
    /// from `base_url`, at its hash-prefixed name when the repository uses
    /// consistent snapshots, and checks its length and hashes.
    pub async fn download_target(
        &mut self,
        path: &str,
        file: &TargetFile,
        base_url: &str,
    ) -> Result<Vec<u8>, TufError> {
        let consistent = self.root.signed.consistent_snapshot;
        fetch_target(&mut self.fetch, base_url, consistent, path, file).await
    }

    /// Whether the trusted root asks for consistent snapshots, so targets
    /// are fetched at hash-prefixed names.
    pub fn consistent_snapshot(&self) -> bool {
        self.root.signed.consistent_snapshot
    }

    fn url(&self, name: &str) -> url::Url {
        // A name made of percent-encoded parts always joins.
        self.metadata_url
            .join(name)
            .unwrap_or_else(|_| self.metadata_url.clone())
    }

    fn local(&self, role: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(format!("{}.json", quote(role)))).ok()
    }

    fn persist(&self, role: &str, bytes: &[u8]) -> Result<(), TufError> {
        Ok(lord_file::write_atomic(
            &self.dir.join(format!("{}.json", quote(role))),
            bytes,
        )?)
    }

    fn check_expiry(
        &self,
        role: &str,
        version: u64,
        expires: jiff::Timestamp,
    ) -> Result<(), TufError> {
        if expires <= self.now {
            return Err(TufError::Expired {
                role: role.to_owned(),
                version,
                expires,
                now: self.now,
            });
        }
        Ok(())
    }
}

fn snapshot_meta(timestamp: &Metadata<Timestamp>) -> &MetaFile {
    // `Timestamp::check` made sure it is there.
    &timestamp.signed.meta["snapshot.json"]
}

fn rollback(role: &str, trusted: u64, offered: u64) -> TufError {
    TufError::Rollback {
        role: role.to_owned(),
        trusted,
        offered,
    }
}

fn missing(role: &str, url: &url::Url) -> TufError {
    TufError::Missing {
        role: role.to_owned(),
        url: url.to_string(),
    }
}

/// Target `path` (described by `file`) fetched from `base_url`: at
/// `DIR/HASH.NAME` when the repository uses consistent snapshots (so a
/// mirror can replace a target while clients still fetch the old one), at
/// its own path otherwise; read no further than its listed length, then
/// checked against that length and every listed hash. The one download
/// path of both [`Updater::download_target`] and lord's package installs.
pub(crate) async fn fetch_target(
    fetch: &mut Fetch,
    base_url: &str,
    consistent: bool,
    path: &str,
    file: &TargetFile,
) -> Result<Vec<u8>, TufError> {
    let name = match (consistent, file.hashes.values().next()) {
        (true, Some(hash)) => match path.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/{hash}.{base}"),
            None => format!("{hash}.{path}"),
        },
        _ => path.to_owned(),
    };
    let base = if base_url.ends_with('/') {
        base_url.to_owned()
    } else {
        format!("{base_url}/")
    };
    let url = url::Url::parse(&format!("{base}{name}")).map_err(|e| TufError::Fetch {
        url: format!("{base}{name}"),
        reason: e.to_string(),
    })?;
    let bytes = fetch
        .get(path, &url, file.length)
        .await?
        .ok_or_else(|| missing(path, &url))?;
    verify_target(path, file, &bytes)?;
    Ok(bytes)
}

/// Metadata bytes against the length and hashes that list them, when
/// listed.
fn check_meta(role: &str, meta: &MetaFile, bytes: &[u8]) -> Result<(), TufError> {
    let what = format!("{role}.json");
    if let Some(length) = meta.length
        && length != bytes.len() as u64
    {
        return Err(TufError::LengthMismatch {
            what,
            expected: length,
            got: bytes.len() as u64,
        });
    }
    match &meta.hashes {
        Some(hashes) => check_hashes(&what, hashes, bytes),
        None => Ok(()),
    }
}

/// A downloaded target against its length and every hash listed for it.
pub fn verify_target(path: &str, file: &TargetFile, bytes: &[u8]) -> Result<(), TufError> {
    if file.length != bytes.len() as u64 {
        return Err(TufError::LengthMismatch {
            what: path.to_owned(),
            expected: file.length,
            got: bytes.len() as u64,
        });
    }
    if file.hashes.is_empty() {
        return Err(TufError::Unverifiable {
            what: path.to_owned(),
            detail: "no hash".to_owned(),
        });
    }
    check_hashes(path, &file.hashes, bytes)
}

fn check_hashes(
    what: &str,
    hashes: &BTreeMap<String, String>,
    bytes: &[u8],
) -> Result<(), TufError> {
    use aws_lc_rs::digest;
    for (algorithm, expected) in hashes {
        let kind = match algorithm.as_str() {
            "sha256" => &digest::SHA256,
            "sha384" => &digest::SHA384,
            "sha512" => &digest::SHA512,
            other => {
                return Err(TufError::Unverifiable {
                    what: what.to_owned(),
                    detail: format!("a `{other}` hash"),
                });
            }
        };
        let actual = digest::digest(kind, bytes);
        if !hex::decode(expected).is_ok_and(|e| e == actual.as_ref()) {
            return Err(TufError::HashMismatch {
                what: what.to_owned(),
                algorithm: algorithm.clone(),
            });
        }
    }
    Ok(())
}

/// A role name or target path as one URL path segment and file name:
/// everything but ASCII letters, digits and `_.-~` percent-encoded, as
/// python-tuf does, so `../x` or `a/b` can neither climb out of a folder nor
/// name another role's file.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quote_leaves_nothing_that_climbs_or_nests() {
        assert_eq!(super::quote("../a/b?#"), "..%2Fa%2Fb%3F%23");
        assert_eq!(super::quote("plain-name_1.x~"), "plain-name_1.x~");
        assert_eq!(super::metadata::short("abcdef0123456789"), "abcdef01");
    }

    /// A signed length is read to, but never past the hard cap; with none
    /// signed, the role's default applies.
    #[test]
    fn a_signed_length_is_capped() {
        let meta = |length| super::MetaFile {
            version: 1,
            length,
            hashes: None,
        };
        assert_eq!(super::read_limit(&meta(Some(1_234)), 99), 1_234);
        assert_eq!(
            super::read_limit(&meta(Some(u64::MAX)), 99),
            super::METADATA_HARD_MAX
        );
        assert_eq!(super::read_limit(&meta(None), 99), 99);
    }
}
