//! The signed index shared by several servers on one PostgreSQL database.
//!
//! The metadata files live in the `tuf_metadata` table (name, bytes), the
//! database being the one thing every server sees. A signing is a
//! [`Session`]: one transaction on a connection of its own that first takes
//! a transaction-scoped advisory lock ([`INDEX_LOCK`]), reads the newest
//! root, the timestamp and the targets and snapshot it names, and holds
//! the lock while this server copies them into its `tuf/metadata/` folder,
//! signs the next version there with the folder-based code every backend
//! shares, and sends the new files back to be written and committed.
//!
//! Why a lock and not an elected signer: every server already holds the
//! online keys and signs in a few milliseconds, so electing one would add a
//! forwarding hop and a failover protocol to save nothing. And the lock is
//! the transaction's: a server that dies mid-signing drops its connection,
//! PostgreSQL rolls its writes back and frees the lock, and the next
//! signer starts from the last committed version. No lease or timeout has
//! to guess whether the holder is dead.
//!
//! Invariant: metadata is written only inside a session that holds
//! [`INDEX_LOCK`], and a version's targets and snapshot are inserted (never
//! replaced), so two signers can never both commit version N.
//! Invariant: the folder is this server's working copy; the database is
//! the truth. Whatever the folder holds beyond the database (a session
//! that never committed) is overwritten or removed at the next session.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc;

use postgres::{Client, Transaction};
use serde_json::Value;

use super::write_private;
use crate::db::pool::Pool;
use crate::error::{RegistryError, io};

/// The advisory lock key every signing holds; "lordtuf" in ASCII.
pub(super) const INDEX_LOCK: i64 = 0x006c_6f72_6474_7566;

/// Which bins a session checks out besides the root, timestamp, snapshot
/// and top-level targets: a publish needs only its plugin's bin, a sweep
/// every one.
#[derive(Debug, Clone)]
pub(super) enum Want {
    Bins(BTreeSet<String>),
    Every,
}

/// The bins' files (`V.bins-XX.json`) a snapshot lists, by bin name.
fn bin_files(snapshot: Option<&[u8]>) -> BTreeMap<String, String> {
    let meta = snapshot
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .map(|v| v["signed"]["meta"].clone());
    let Some(Value::Object(meta)) = meta else {
        return BTreeMap::new();
    };
    meta.iter()
        .filter_map(|(file, m)| {
            let bin = file
                .strip_suffix(".json")
                .filter(|b| b.starts_with("bins-"))?;
            Some((bin.to_owned(), format!("{}.{file}", m["version"].as_u64()?)))
        })
        .collect()
}

/// The metadata files a signing starts from, as committed.
#[derive(Debug, Default)]
pub(super) struct Committed {
    files: BTreeMap<String, Vec<u8>>,
    /// The newest root's version; 0 before the first.
    newest_root: u64,
    /// The timestamp's version; 0 before the first signing.
    version: u64,
}

/// The version in a metadata file's `signed` part.
pub(super) fn version_of(bytes: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(bytes).ok()?["signed"]["version"].as_u64()
}

/// `N` of `N.root.json`.
pub(super) fn root_number(name: &str) -> Option<u64> {
    name.strip_suffix(".root.json")?.parse().ok()
}

/// How a session ends.
enum Finish {
    /// Write these files and commit.
    Commit(Vec<(String, Vec<u8>)>),
    /// Write these files, then end without committing, as a server killed
    /// at that moment would (the in-process failpoint tests use it).
    DieBeforeCommit(Vec<(String, Vec<u8>)>),
    /// Write these files, then abort the whole process with the
    /// transaction open: a real kill at that moment (the failpoint
    /// `registry-index-before-commit`, armed by `LORD_FAILPOINT`).
    AbortBeforeCommit(Vec<(String, Vec<u8>)>),
}

/// How [`Session::commit`] ends the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    Commit,
    DieBeforeCommit,
    AbortBeforeCommit,
}

/// Where the shared metadata lives: a connection reserved for signing
/// sessions, and the registry's request pool for reading committed files
/// (a read must never wait behind a session, whose signing may need the
/// very worker thread that read is blocking).
#[derive(Clone)]
pub(super) struct SharedIndex {
    signing: Pool,
    reads: Pool,
}

impl std::fmt::Debug for SharedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedIndex { .. }")
    }
}

fn gone() -> RegistryError {
    RegistryError::Database("the signed index's database session ended unexpectedly".to_owned())
}

/// An open signing session: the lock is held until it is committed or
/// dropped (which rolls back).
pub(super) struct Session {
    finish: mpsc::SyncSender<Finish>,
    done: mpsc::Receiver<Result<(), RegistryError>>,
    committed: Committed,
}

impl SharedIndex {
    pub(super) fn new((signing, reads): (Pool, Pool)) -> Self {
        Self { signing, reads }
    }

    /// One committed file, read without the lock (what clients fetch).
    pub(super) fn file(&self, name: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let name = name.to_owned();
        self.reads.run(move |c| {
            Ok(
                c.query_opt("SELECT bytes FROM tuf_metadata WHERE name = $1", &[&name])?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            )
        })
    }

    /// Takes the lock and reads the committed state; blocks until the
    /// lock is free.
    pub(super) fn begin(&self, want: &Want) -> Result<Session, RegistryError> {
        let (state_tx, state) = mpsc::sync_channel(1);
        let (finish, finish_rx) = mpsc::sync_channel::<Finish>(1);
        let (done_tx, done) = mpsc::sync_channel(1);
        let want = want.clone();
        self.signing.submit(Box::new(move |client: &mut Client| {
            if let Some(result) = hold(client, &want, &state_tx, &finish_rx) {
                let _ = done_tx.send(result);
            }
        }))?;
        let committed = state.recv().map_err(|_| gone())??;
        Ok(Session {
            finish,
            done,
            committed,
        })
    }
}

/// The session on its connection: lock, read, wait for the files, write,
/// commit. `None` when the session was dropped (rolled back).
fn hold(
    client: &mut Client,
    want: &Want,
    state: &mpsc::SyncSender<Result<Committed, RegistryError>>,
    finish: &mpsc::Receiver<Finish>,
) -> Option<Result<(), RegistryError>> {
    let mut tx = match client.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let _ = state.send(Err(e.into()));
            return None;
        }
    };
    match read_committed(&mut tx, want) {
        Ok(committed) => state.send(Ok(committed)).ok()?,
        Err(e) => {
            let _ = state.send(Err(e));
            return None;
        }
    }
    match finish.recv().ok()? {
        Finish::Commit(files) => Some(
            write_files(&mut tx, &files).and_then(|()| tx.commit().map_err(RegistryError::from)),
        ),
        Finish::AbortBeforeCommit(files) => {
            let _ = write_files(&mut tx, &files);
            std::process::abort();
        }
        Finish::DieBeforeCommit(files) => {
            let written = write_files(&mut tx, &files);
            drop(tx);
            Some(written.and(Err(RegistryError::Internal(
                "failpoint: the server died before committing the signed index".to_owned(),
            ))))
        }
    }
}

fn read_committed(tx: &mut Transaction<'_>, want: &Want) -> Result<Committed, RegistryError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INDEX_LOCK])?;
    let mut committed = Committed::default();
    for row in tx.query(
        "SELECT name, bytes FROM tuf_metadata
         WHERE name LIKE '%.root.json' OR name IN ('root.json', 'timestamp.json')",
        &[],
    )? {
        let name: String = row.try_get(0)?;
        committed.newest_root = committed.newest_root.max(root_number(&name).unwrap_or(0));
        committed.files.insert(name, row.try_get(1)?);
    }
    committed.version = committed
        .files
        .get("timestamp.json")
        .and_then(|b| version_of(b))
        .unwrap_or(0);
    if committed.version > 0 {
        let v = committed.version;
        for row in tx.query(
            "SELECT name, bytes FROM tuf_metadata WHERE name = $1 OR name = $2",
            &[&format!("{v}.targets.json"), &format!("{v}.snapshot.json")],
        )? {
            committed.files.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let snapshot = committed.files.get(&format!("{v}.snapshot.json"));
        let bins: Vec<String> = bin_files(snapshot.map(Vec::as_slice))
            .into_iter()
            .filter(|(bin, _)| match want {
                Want::Every => true,
                // The bins it signs in, and the slice whose expiry the
                // next version checks.
                Want::Bins(wanted) => {
                    wanted.contains(bin) || super::bins::in_sweep_slice(v + 1, bin)
                }
            })
            .map(|(_, file)| file)
            .collect();
        if !bins.is_empty() {
            for row in tx.query(
                "SELECT name, bytes FROM tuf_metadata WHERE name = ANY($1)",
                &[&bins],
            )? {
                committed.files.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
    }
    Ok(committed)
}

/// Inserts versioned files (a second signer of the same version fails
/// here) and replaces the two unversioned ones.
fn write_files(tx: &mut Transaction<'_>, files: &[(String, Vec<u8>)]) -> Result<(), RegistryError> {
    for (name, bytes) in files {
        if name == "root.json" || name == "timestamp.json" {
            tx.execute(
                "INSERT INTO tuf_metadata (name, bytes) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes",
                &[name, bytes],
            )?;
        } else {
            tx.execute(
                "INSERT INTO tuf_metadata (name, bytes) VALUES ($1, $2)",
                &[name, bytes],
            )?;
        }
    }
    Ok(())
}

impl Session {
    /// Makes `metadata` (this server's folder) hold what the database
    /// committed: its files written over the folder's, and roots the
    /// database never committed removed. With nothing committed yet the
    /// folder is left as it is, and its index becomes the shared one at
    /// the first commit.
    pub(super) fn check_out(&self, metadata: &Path) -> Result<(), RegistryError> {
        if self.committed.newest_root == 0 {
            return Ok(());
        }
        for (name, bytes) in &self.committed.files {
            let path = metadata.join(name);
            if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
                write_private(&path, bytes)?;
            }
        }
        for entry in std::fs::read_dir(metadata).map_err(io("read", metadata))? {
            let entry = entry.map_err(io("read", metadata))?;
            let uncommitted = entry
                .file_name()
                .to_str()
                .and_then(root_number)
                .is_some_and(|n| n > self.committed.newest_root);
            if uncommitted {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(io("remove", &path))?;
            }
        }
        Ok(())
    }

    /// What the folder holds beyond the committed state: new roots, and the
    /// bins, targets, snapshot and timestamp of a newer version.
    fn changes(&self, metadata: &Path) -> Result<Vec<(String, Vec<u8>)>, RegistryError> {
        let read = |name: &str| {
            let path = metadata.join(name);
            std::fs::read(&path).map_err(io("read", &path))
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(metadata).map_err(io("read", metadata))? {
            let entry = entry.map_err(io("read", metadata))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if root_number(&name).is_some_and(|n| n > self.committed.newest_root) {
                files.push((name.clone(), read(&name)?));
            }
        }
        // Roots in order, so a reader never sees N+1 without N.
        files.sort_by_key(|(name, _)| root_number(name));
        let root = read("root.json")?;
        if self.committed.files.get("root.json") != Some(&root) {
            files.push(("root.json".to_owned(), root));
        }
        let timestamp = read("timestamp.json").ok();
        let version = timestamp.as_deref().and_then(version_of).unwrap_or(0);
        if let Some(timestamp) = timestamp
            && version > self.committed.version
        {
            // The bins this signing changed, before what names them.
            let was = self.committed.version;
            let before = bin_files(
                self.committed
                    .files
                    .get(&format!("{was}.snapshot.json"))
                    .map(Vec::as_slice),
            );
            let now = bin_files(read(&format!("{version}.snapshot.json")).ok().as_deref());
            for (bin, file) in now {
                if before.get(&bin) != Some(&file) {
                    let bytes = read(&file)?;
                    files.push((file, bytes));
                }
            }
            for name in [
                format!("{version}.targets.json"),
                format!("{version}.snapshot.json"),
            ] {
                let bytes = read(&name)?;
                files.push((name, bytes));
            }
            files.push(("timestamp.json".to_owned(), timestamp));
        }
        Ok(files)
    }

    /// Writes what changed in the folder to the database and commits;
    /// blocks until the database answers.
    /// A failpoint fires only on a session that signed something.
    pub(super) fn commit(self, metadata: &Path, ending: Ending) -> Result<(), RegistryError> {
        let files = self.changes(metadata)?;
        let finish = match ending {
            Ending::DieBeforeCommit if !files.is_empty() => Finish::DieBeforeCommit(files),
            Ending::AbortBeforeCommit if !files.is_empty() => Finish::AbortBeforeCommit(files),
            Ending::Commit | Ending::DieBeforeCommit | Ending::AbortBeforeCommit => {
                Finish::Commit(files)
            }
        };
        self.finish.send(finish).map_err(|_| gone())?;
        self.done.recv().map_err(|_| gone())?
    }
}
