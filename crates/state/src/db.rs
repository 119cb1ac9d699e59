//! `state.db`: persistent plugin data, shared values, mailboxes and the
//! event log, in SQLite beside the plugin store. Many `lord` processes use
//! it at once, so: WAL (readers never wait for the writer), every write one
//! `BEGIN IMMEDIATE` transaction (the write lock is taken before anything is
//! read, so no transaction ever has to upgrade a stale read and fail with
//! `SQLITE_BUSY` where waiting cannot help), and a busy handler that waits
//! for the other process, with short jittered sleeps, for up to
//! [`BUSY_WAIT`]; only a writer stuck that long is reported, as
//! [`StateError::Busy`]. Synchronous NORMAL: in WAL mode every commit is
//! still atomic (a crash keeps the old value or the new one), and a power
//! cut may lose the last commits, which for events and plugin data is the
//! right price for not paying an fsync on every command's events.
//!
//! Versions: every write of a persistent data key or a shared value takes
//! the next number of one counter (`versions`), in the write's own
//! transaction. A version is thus never reused, for any key, in any
//! process, and compare-and-swap means the same thing everywhere: a key
//! deleted and written again cannot come back at a version a reader holds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::StateError;
use crate::shared::{CasOutcome, Versioned};

/// Whether SQLite refused for lack of space: "database or disk is full",
/// or the WAL index that could not grow (which it reports as an I/O error).
fn no_space(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::DiskFull
            || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE)
}

/// How long a process waits for another's write lock before it reports
/// [`StateError::Busy`]. Every transaction here is short (no plugin code
/// runs inside one), so only a stopped or hung process holds it this long.
pub const BUSY_WAIT: Duration = Duration::from_secs(60);

/// The busy handler: SQLite calls it with the number of earlier calls for
/// the same lock. It sleeps 1, 2, 4 ms, then 4 to 8 ms (jittered by the
/// clock, so processes that collided do not retry in lockstep), and gives
/// up after about [`BUSY_WAIT`]. SQLite's own `busy_timeout` backs off to
/// 100 ms sleeps, which under many short writers leaves the lock idle most
/// of the time.
fn wait_for_lock(attempt: i32) -> bool {
    let attempt = u32::try_from(attempt).unwrap_or(0);
    // Average sleep past the first three is 6 ms.
    let attempts = u32::try_from(BUSY_WAIT.as_millis() / 6).unwrap_or(u32::MAX);
    if attempt >= attempts {
        return false;
    }
    let sleep_us = if attempt < 3 {
        1000u64 << attempt
    } else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        4000 + nanos % 4000
    };
    std::thread::sleep(Duration::from_micros(sleep_us));
    true
}

/// Whether SQLite gave up waiting for another connection's lock.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

const SCHEMA_VERSION: i64 = 9;

/// The schema [`SCHEMA`] creates; a new database then takes the
/// migrations after it, so new and migrated databases cannot differ.
const SCHEMA_BASE: i64 = 4;

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
    // Several processes at once: data keys get versions (for
    // compare-and-swap) from one counter, existing ones at 1 and the
    // counter past them (at 0 when there are none); shared values and
    // mailboxes move here from each process's memory.
    "
ALTER TABLE data ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE versions (
    id    INTEGER PRIMARY KEY CHECK (id = 0),
    last  INTEGER NOT NULL
);
INSERT INTO versions (id, last) SELECT 0, EXISTS (SELECT 1 FROM data);
CREATE TABLE shared (
    key      TEXT PRIMARY KEY,
    value    BLOB NOT NULL,
    version  INTEGER NOT NULL,
    writer   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX shared_by_writer ON shared (writer);
CREATE TABLE messages (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver  TEXT NOT NULL,
    sender    TEXT NOT NULL,
    payload   TEXT NOT NULL,
    priority  INTEGER NOT NULL
);
CREATE INDEX messages_by_receiver ON messages (receiver, priority DESC, seq);
CREATE TABLE message_drops (
    receiver  TEXT PRIMARY KEY,
    dropped   INTEGER NOT NULL
) WITHOUT ROWID;
",
    // Per-minute quotas hold across processes: what each plugin used in
    // each one-minute window (`quota.rs`), added to by every process.
    "
CREATE TABLE quota_use (
    plugin  TEXT NOT NULL,
    quota   TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    used    INTEGER NOT NULL,
    PRIMARY KEY (plugin, quota, minute)
) WITHOUT ROWID;
",
    // Each source's share of the log, kept as it changes: the budget check
    // every append makes was a count and a sum over all of the source's
    // events (most of a command's cost once its log was full). Triggers
    // keep the totals whoever inserts or deletes, retention included.
    "
CREATE TABLE event_totals (
    source  TEXT PRIMARY KEY,
    events  INTEGER NOT NULL,
    bytes   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO event_totals (source, events, bytes)
    SELECT source, COUNT(*), COALESCE(SUM(bytes), 0) FROM events GROUP BY source;
CREATE TRIGGER events_counted AFTER INSERT ON events BEGIN
    INSERT INTO event_totals (source, events, bytes) VALUES (NEW.source, 1, NEW.bytes)
        ON CONFLICT (source) DO UPDATE SET
            events = events + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER events_uncounted AFTER DELETE ON events BEGIN
    UPDATE event_totals SET events = events - 1, bytes = bytes - OLD.bytes
        WHERE source = OLD.source;
END;
",
    // The log's writer keeps the totals itself, once per source for each
    // batch it writes or deletes (`log.rs`): the triggers ran for every
    // row, a third of what inserting an event cost. Recounted here, so a
    // database whose triggers kept them starts from the rows themselves.
    "
DROP TRIGGER IF EXISTS events_counted;
DROP TRIGGER IF EXISTS events_uncounted;
DELETE FROM event_totals;
INSERT INTO event_totals (source, events, bytes)
    SELECT source, COUNT(*), COALESCE(SUM(bytes), 0) FROM events GROUP BY source;
",
    // Only plugins' events are looked up by source (for their budgets,
    // `log.rs`); lord's own, two for every command, never are. The index
    // leaves them out, so storing one of lord's events is one b-tree
    // insert rather than two (a quarter of what it cost).
    "
DROP INDEX IF EXISTS events_by_source;
CREATE INDEX events_by_source ON events (source, seq) WHERE source <> 'lord';
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
        self.fold_in_a_long_log();
    }
}

impl Opened {
    /// Checkpoints and truncates the write-ahead log if it grew past
    /// [`WAL_KEPT`].
    fn fold_in_a_long_log(&self) {
        let big = std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > WAL_KEPT);
        if big {
            let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            // Best effort, and without waiting: a process that is ending
            // must not sit out other processes' readers; a busy reader
            // elsewhere leaves it for the next.
            let _ = conn.busy_handler(None::<fn(i32) -> bool>);
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = conn.busy_handler(Some(wait_for_lock));
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

    /// Opens the database on a thread of its own now, so that the opening
    /// (reading the schema, recovering the write-ahead log) overlaps the
    /// caller's work; a use meanwhile waits for it. Its error, if any, is
    /// reported to the first use, as if that use had opened it.
    pub fn open_in_background(&self) {
        if self.conn.get().is_some() {
            return;
        }
        let db = self.clone();
        let _ = std::thread::Builder::new()
            .name("lord-state".to_owned())
            .spawn(move || drop(db.conn()));
    }

    /// What closing the last handle does that outlives the process (a long
    /// write-ahead log folded back in), for a process that will exit
    /// without dropping its handles. Nothing is lost by not closing: every
    /// write was committed.
    pub fn close_for_exit(&self) {
        if let Some(Ok(opened)) = self.conn.get() {
            opened.fold_in_a_long_log();
        }
    }

    fn connect(home: &Path) -> Result<Connection, StateError> {
        lord_file::create_private_dir(home).map_err(|source| StateError::Io {
            action: "create",
            path: home.to_path_buf(),
            source,
        })?;
        let path = home.join("state.db");
        let mut conn = Connection::open(&path)?;
        match Self::prepare(&mut conn, false) {
            Ok(()) => Ok(conn),
            // On a full disk SQLite cannot grow the shared-memory index a
            // WAL reader needs. Holding the file alone keeps that index in
            // memory, so reads still work; writes are refused as before.
            Err(StateError::Db(e)) if no_space(&e) => {
                drop(conn);
                let mut conn = Connection::open(&path)?;
                Self::prepare(&mut conn, true)?;
                Ok(conn)
            }
            Err(e) => Err(e),
        }
    }

    /// Sets the connection up and brings the schema up to date;
    /// `exclusive`: hold the file for this process alone (see `connect`).
    fn prepare(conn: &mut Connection, exclusive: bool) -> Result<(), StateError> {
        conn.busy_handler(Some(wait_for_lock))?;
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
                let base = usize::try_from(SCHEMA_BASE - 1).unwrap_or(0);
                format!("{SCHEMA}{}", MIGRATIONS[base..].concat())
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

    /// Runs `write` in one `BEGIN IMMEDIATE` transaction, committed if it
    /// returns `Ok` and rolled back otherwise.
    pub(crate) fn write<T>(
        &self,
        write: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = write(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    // Persistent plugin data.

    pub(crate) fn data_get(
        &self,
        plugin: &str,
        key: &str,
    ) -> Result<Option<Versioned>, StateError> {
        data_row(&*self.conn()?, plugin, key)
    }

    /// Writes one key if it is at `expected` (`None`: whatever it is at),
    /// checking the plugin's quota (its keys and values, and the shared
    /// values it wrote last, in bytes) inside the same transaction: over
    /// quota, nothing is written. A conflict writes nothing either.
    pub(crate) fn data_write(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        expected: Option<u64>,
        quota: u64,
    ) -> Result<CasOutcome, StateError> {
        self.write(|tx| {
            if let Some(expected) = expected {
                let current = data_row(tx, plugin, key)?;
                if current.as_ref().map_or(0, |c| c.version) != expected {
                    return Ok(CasOutcome::Conflict(current));
                }
            }
            let needed = used(tx, plugin, key)?
                + shared_held(tx, plugin, "")?
                + (key.len() + value.len()) as u64;
            if needed > quota {
                return Err(StateError::QuotaExceeded {
                    plugin: plugin.to_owned(),
                    needed,
                    quota,
                });
            }
            let version = next_version(tx)?;
            tx.prepare_cached(
                "INSERT INTO data (plugin, key, value, version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin, key) DO UPDATE
                 SET value = excluded.value, version = excluded.version",
            )?
            .execute(params![plugin, key, value, stored(version)])?;
            Ok(CasOutcome::Swapped(version))
        })
    }

    /// Bytes a plugin holds on disk: its data (keys plus values) except
    /// `key`, and the shared values it wrote last.
    pub(crate) fn data_used(&self, plugin: &str, except: &str) -> Result<u64, StateError> {
        let conn = self.conn()?;
        Ok(used(&conn, plugin, except)? + shared_held(&conn, plugin, "")?)
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

    /// Drops every key of a plugin and the messages waiting for it (when
    /// it is removed), in one transaction. The shared values it wrote stay:
    /// they are other plugins' too.
    pub fn forget_plugin(&self, plugin: &str) -> Result<(), StateError> {
        self.write(|tx| {
            tx.execute("DELETE FROM data WHERE plugin = ?1", [plugin])?;
            tx.execute("DELETE FROM messages WHERE receiver = ?1", [plugin])?;
            Ok(())
        })
    }
}

/// A plugin's persistent value and its version.
fn data_row(conn: &Connection, plugin: &str, key: &str) -> Result<Option<Versioned>, StateError> {
    Ok(conn
        .prepare_cached("SELECT value, version FROM data WHERE plugin = ?1 AND key = ?2")?
        .query_row(params![plugin, key], |r| {
            Ok(Versioned {
                value: r.get(0)?,
                version: version(r.get(1)?),
            })
        })
        .optional()?)
}

/// A version as SQLite stores it (a signed integer; versions start at 1).
pub(crate) fn version(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or(0)
}

/// A version to store.
pub(crate) fn stored(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// The next version of the one counter every versioned write takes from;
/// inside the write's own transaction.
pub(crate) fn next_version(tx: &Transaction<'_>) -> Result<u64, StateError> {
    let version: i64 = tx
        .prepare_cached("UPDATE versions SET last = last + 1 WHERE id = 0 RETURNING last")?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(version).unwrap_or(0))
}

/// Bytes (keys plus values) of the shared values `writer` wrote last,
/// except the one at `except`.
pub(crate) fn shared_held(
    conn: &Connection,
    writer: &str,
    except: &str,
) -> Result<u64, StateError> {
    let bytes: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0)
             FROM shared WHERE writer = ?1 AND key != ?2",
        )?
        .query_row(params![writer, except], |r| r.get(0))?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}

pub(crate) fn used(conn: &Connection, plugin: &str, except: &str) -> Result<u64, StateError> {
    let bytes: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0)
             FROM data WHERE plugin = ?1 AND key != ?2",
        )?
        .query_row(params![plugin, except], |r| r.get(0))?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}
