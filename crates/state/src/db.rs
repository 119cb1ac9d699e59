//! `state.db`: persistent plugin data and the event log, in SQLite beside
//! the plugin store (WAL, a busy timeout so processes wait for each other
//! instead of failing). Synchronous NORMAL: in WAL mode every commit is
//! still atomic (a crash keeps the old value or the new one), and a power
//! cut may lose the last commits, which for events and plugin data is the
//! right price for not paying an fsync on every command's events.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StateError;

/// Whether SQLite refused for lack of space: "database or disk is full",
/// or the WAL index that could not grow (which it reports as an I/O error).
fn no_space(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::DiskFull
            || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE)
}

const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS data (
    plugin  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    topic        TEXT NOT NULL,
    source       TEXT NOT NULL,
    propagation  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    sensitive    INTEGER NOT NULL DEFAULT 0,
    sealed       BLOB,
    bytes        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, seq);
CREATE TABLE IF NOT EXISTS event_drops (
    source   TEXT PRIMARY KEY,
    dropped  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Schema changes after version 1: `MIGRATIONS[n]` takes the database
/// from version `n + 1` to `n + 2`.
const MIGRATIONS: &[&str] = &[
    "
ALTER TABLE events ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN sealed BLOB;
",
    // Every command appends events; the time index and AUTOINCREMENT's
    // bookkeeping were most of an append's cost. Reads and retention walk
    // the table by sequence instead (events are appended in time order).
    "
DROP INDEX IF EXISTS events_at;
CREATE TABLE events_by_seq (
    seq          INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    topic        TEXT NOT NULL,
    source       TEXT NOT NULL,
    propagation  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    sensitive    INTEGER NOT NULL DEFAULT 0,
    sealed       BLOB
);
INSERT INTO events_by_seq (seq, at_ms, topic, source, propagation, payload, sensitive, sealed)
    SELECT seq, at_ms, topic, source, propagation, payload, sensitive, sealed FROM events;
DROP TABLE events;
ALTER TABLE events_by_seq RENAME TO events;
",
    // Each plugin's share of the log is budgeted: what an event costs is
    // kept on its row, and its publisher's events found by index.
    "
ALTER TABLE events ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE events SET bytes = length(CAST(topic AS BLOB)) + length(CAST(payload AS BLOB))
    + COALESCE(length(sealed), 0);
CREATE INDEX events_by_source ON events (source, seq);
CREATE TABLE event_drops (
    source   TEXT PRIMARY KEY,
    dropped  INTEGER NOT NULL
) WITHOUT ROWID;
",
];

/// The state database. Cheap to clone: clones share one connection,
/// opened on first use, so a process that never touches plugin data or
/// events never opens the file.
#[derive(Clone)]
pub struct StateDb {
    home: PathBuf,
    conn: Arc<OnceLock<Result<Opened, Arc<StateError>>>>,
}

/// The open connection, and where its write-ahead log is.
struct Opened {
    conn: Mutex<Connection>,
    wal: PathBuf,
}

/// Past this, the process that closes the database folds its WAL back in
/// and truncates it (see `StateDb::prepare`): a command that wrote a lot
/// pays the syncs, while a command that only read (adding a few KiB of
/// bookkeeping) pays none until some dozens of them have added up, and
/// the files never hold much more than what they record.
const WAL_KEPT: u64 = 256 * 1024;

impl Drop for Opened {
    fn drop(&mut self) {
        let big = std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > WAL_KEPT);
        if big {
            let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
            // Best effort: a busy reader elsewhere leaves it for the next.
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl StateDb {
    /// The state database under `home` (`state.db`), opened (and created
    /// if needed) on first use.
    pub fn at(home: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
            conn: Arc::new(OnceLock::new()),
        }
    }

    /// Opens it now, reporting any problem at once.
    pub fn open(home: &Path) -> Result<Self, StateError> {
        let db = Self::at(home);
        drop(db.conn()?);
        Ok(db)
    }

    fn connect(home: &Path) -> Result<Connection, StateError> {
        std::fs::create_dir_all(home).map_err(|source| StateError::Io {
            action: "create",
            path: home.to_path_buf(),
            source,
        })?;
        let path = home.join("state.db");
        let conn = Connection::open(&path)?;
        match Self::prepare(&conn, false) {
            Ok(()) => Ok(conn),
            // On a full disk SQLite cannot grow the shared-memory index a
            // WAL reader needs. Holding the file alone keeps that index in
            // memory, so reads still work; writes are refused as before.
            Err(StateError::Db(e)) if no_space(&e) => {
                drop(conn);
                let conn = Connection::open(&path)?;
                Self::prepare(&conn, true)?;
                Ok(conn)
            }
            Err(e) => Err(e),
        }
    }

    /// Sets the connection up and brings the schema up to date;
    /// `exclusive`: hold the file for this process alone (see `connect`).
    fn prepare(conn: &Connection, exclusive: bool) -> Result<(), StateError> {
        conn.execute_batch("PRAGMA busy_timeout = 10000;")?;
        if exclusive {
            conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")?;
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;",
        )?;
        // What a command writes here (its events, the session's telemetry,
        // plugin data) is committed to the WAL without a sync (NORMAL); by
        // default the last connection to close would also checkpoint the
        // WAL into the database, syncing both, so every `lord hello` paid
        // four fsyncs for bookkeeping. Without that, the WAL stays for the
        // next process, checkpointed when it reaches SQLite's automatic
        // threshold or when a closing process finds it over `WAL_KEPT`:
        // the syncs are batched across many commands. A power cut may lose
        // the last commits, never corrupt the file.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < SCHEMA_VERSION {
            // The write lock first (the busy timeout applies to it), then
            // the version again: another process opening a new home at the
            // same moment may have migrated while this one waited.
            conn.execute_batch("BEGIN IMMEDIATE;")?;
            let current: i64 = match conn.query_row("PRAGMA user_version", [], |r| r.get(0)) {
                Ok(current) => current,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK;");
                    return Err(e.into());
                }
            };
            if current >= SCHEMA_VERSION {
                conn.execute_batch("COMMIT;")?;
                return Ok(());
            }
            // One transaction: a crash leaves the old schema or the new one.
            let steps = if current == 0 {
                SCHEMA.to_owned()
            } else {
                MIGRATIONS[usize::try_from(current - 1).unwrap_or(0)..].concat()
            };
            conn.execute_batch(&format!(
                "{steps}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
            ))?;
        } else if version > SCHEMA_VERSION {
            return Err(StateError::Corrupt(format!(
                "schema version {version}, this lord understands up to {SCHEMA_VERSION}"
            )));
        }
        Ok(())
    }

    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>, StateError> {
        let opened = self.conn.get_or_init(|| {
            Self::connect(&self.home)
                .map(|conn| Opened {
                    conn: Mutex::new(conn),
                    wal: self.home.join("state.db-wal"),
                })
                .map_err(Arc::new)
        });
        match opened {
            Ok(opened) => Ok(opened.conn.lock().unwrap_or_else(|p| p.into_inner())),
            Err(first) => Err(StateError::Unavailable(Arc::clone(first))),
        }
    }

    // Persistent plugin data.

    pub(crate) fn data_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT value FROM data WHERE plugin = ?1 AND key = ?2")?
            .query_row(params![plugin, key], |r| r.get(0))
            .optional()?)
    }

    /// Writes one key, checking the plugin's quota (keys plus values, in
    /// bytes) inside the same transaction: over quota, nothing is written.
    pub(crate) fn data_set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        quota: u64,
    ) -> Result<(), StateError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let others = used(&tx, plugin, key)?;
        let needed = others + (key.len() + value.len()) as u64;
        if needed > quota {
            return Err(StateError::QuotaExceeded {
                plugin: plugin.to_owned(),
                needed,
                quota,
            });
        }
        tx.execute(
            "INSERT INTO data (plugin, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
            params![plugin, key, value],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Bytes (keys plus values) a plugin holds on disk, except `key`.
    pub(crate) fn data_used(&self, plugin: &str, except: &str) -> Result<u64, StateError> {
        used(&*self.conn()?, plugin, except)
    }

    pub(crate) fn data_delete(&self, plugin: &str, key: &str) -> Result<bool, StateError> {
        Ok(self
            .conn()?
            .prepare_cached("DELETE FROM data WHERE plugin = ?1 AND key = ?2")?
            .execute(params![plugin, key])?
            > 0)
    }

    pub(crate) fn data_keys(&self, plugin: &str) -> Result<Vec<String>, StateError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached("SELECT key FROM data WHERE plugin = ?1 ORDER BY key")?;
        let keys = stmt.query_map([plugin], |r| r.get(0))?;
        Ok(keys.collect::<Result<_, _>>()?)
    }

    /// Drops every key of a plugin (when it is removed).
    pub fn forget_plugin(&self, plugin: &str) -> Result<(), StateError> {
        self.conn()?
            .execute("DELETE FROM data WHERE plugin = ?1", [plugin])?;
        Ok(())
    }
}

fn used(conn: &Connection, plugin: &str, except: &str) -> Result<u64, StateError> {
    let bytes: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0)
             FROM data WHERE plugin = ?1 AND key != ?2",
        )?
        .query_row(params![plugin, except], |r| r.get(0))?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}
