//! `state.db`: persistent plugin data and the event log, in SQLite beside
//! the plugin store (WAL, a busy timeout so processes wait for each other
//! instead of failing). Synchronous NORMAL: in WAL mode every commit is
//! still atomic (a crash keeps the old value or the new one), and a power
//! cut may lose the last commits, which for events and plugin data is the
//! right price for not paying an fsync on every command's events.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StateError;
use crate::event::{Event, Propagation};

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS data (
    plugin  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms        INTEGER NOT NULL,
    topic        TEXT NOT NULL,
    source       TEXT NOT NULL,
    propagation  TEXT NOT NULL,
    payload      TEXT NOT NULL,
    sensitive    INTEGER NOT NULL DEFAULT 0,
    sealed       BLOB
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
";

/// Schema changes after version 1: `MIGRATIONS[n]` takes the database
/// from version `n + 1` to `n + 2`.
const MIGRATIONS: &[&str] = &["
ALTER TABLE events ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN sealed BLOB;
"];

/// The state database. Cheap to clone: clones share one connection,
/// opened on first use, so a process that never touches plugin data or
/// events never opens the file.
#[derive(Clone)]
pub struct StateDb {
    home: PathBuf,
    conn: Arc<OnceLock<Result<Mutex<Connection>, String>>>,
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
        let conn = Connection::open(home.join("state.db"))?;
        conn.execute_batch(
            "PRAGMA busy_timeout = 10000;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;",
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
                return Ok(conn);
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
        Ok(conn)
    }

    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>, StateError> {
        let opened = self.conn.get_or_init(|| {
            Self::connect(&self.home)
                .map(Mutex::new)
                .map_err(|e| e.to_string())
        });
        match opened {
            Ok(conn) => Ok(conn.lock().unwrap_or_else(|p| p.into_inner())),
            Err(message) => Err(StateError::Unavailable(message.clone())),
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

/// How much of the event log to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_events: u64,
}

impl Default for Retention {
    /// A week, and at most 100 000 events.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_events: 100_000,
        }
    }
}

/// The persisted events, oldest first by sequence number.
///
/// Appends are buffered and written in one transaction: when the buffer
/// fills, before any read, on [`EventLog::flush`], and when the last handle
/// is dropped (the end of a command's process). A command's own events thus
/// cost one write per process, not one per event; a process killed
/// outright loses what it had not flushed.
#[derive(Debug, Clone)]
pub struct EventLog {
    inner: Arc<LogInner>,
}

#[derive(Debug)]
struct LogInner {
    db: StateDb,
    retention: Retention,
    /// Retention runs once per process, with its first write.
    pruned: std::sync::Once,
    pending: Mutex<Vec<Event>>,
    /// Where the key that seals sensitive events comes from; without one,
    /// sensitive events are not written at all.
    secrets: Option<crate::secrets::Secrets>,
}

/// Buffered events that trigger a write.
const FLUSH_AT: usize = 256;

impl Drop for LogInner {
    fn drop(&mut self) {
        // Nowhere to report a failure from here; `flush` reports it to a
        // caller that wants to know.
        let _ = self.write_pending();
    }
}

impl LogInner {
    fn write_pending(&self) -> Result<usize, StateError> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let Some(first) = pending.first() else {
            return Ok(0);
        };
        let mut pruning = Ok(0);
        self.pruned
            .call_once(|| pruning = prune(&self.db, self.retention, first.at_ms));
        pruning?;
        let sealer = match (&self.secrets, pending.iter().any(|e| e.sensitive)) {
            (Some(secrets), true) => Some(secrets.sealer()?),
            (Some(_) | None, true | false) => None,
        };
        let mut conn = self.db.conn()?;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (at_ms, topic, source, propagation, payload, sensitive, sealed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for event in &pending {
                let text = serde_json::to_string(&event.payload)
                    .map_err(|e| StateError::Corrupt(format!("unserialisable payload: {e}")))?;
                // A sensitive payload is stored only sealed; with no key to
                // seal it, the event is not stored.
                let (payload, sealed) = match (event.sensitive, &sealer) {
                    (false, _) => (text, None),
                    (true, Some(sealer)) => {
                        ("null".to_owned(), Some(sealer.seal(text.as_bytes())?))
                    }
                    (true, None) => continue,
                };
                insert.execute(params![
                    event.at_ms,
                    event.topic,
                    event.source,
                    event.propagation.as_str(),
                    payload,
                    event.sensitive,
                    sealed
                ])?;
            }
        }
        tx.commit()?;
        Ok(pending.len())
    }
}

impl EventLog {
    pub fn new(db: StateDb, retention: Retention) -> Self {
        Self::build(db, retention, None)
    }

    fn build(db: StateDb, retention: Retention, secrets: Option<crate::secrets::Secrets>) -> Self {
        Self {
            inner: Arc::new(LogInner {
                db,
                retention,
                pruned: std::sync::Once::new(),
                pending: Mutex::new(Vec::new()),
                secrets,
            }),
        }
    }

    /// Queues an event for the log.
    pub fn append(&self, event: &Event) -> Result<(), StateError> {
        let full = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(event.clone());
            pending.len() >= FLUSH_AT
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes queued events now; returns how many.
    pub fn flush(&self) -> Result<usize, StateError> {
        self.inner.write_pending()
    }

    /// Seals sensitive events with `secrets`' key, so they are stored.
    pub fn with_secrets(
        db: StateDb,
        retention: Retention,
        secrets: crate::secrets::Secrets,
    ) -> Self {
        Self::build(db, retention, Some(secrets))
    }

    /// Events with `at_ms >= since_ms`, in publication order, at most
    /// `limit` (the newest ones when there are more). A sensitive event's
    /// payload is `null` unless `reveal` asks for it to be unsealed.
    pub fn since(&self, since_ms: i64, limit: u64) -> Result<Vec<Event>, StateError> {
        self.read(since_ms, limit, false)
    }

    /// As [`EventLog::since`], with sensitive payloads unsealed.
    pub fn since_revealed(&self, since_ms: i64, limit: u64) -> Result<Vec<Event>, StateError> {
        self.read(since_ms, limit, true)
    }

    fn read(&self, since_ms: i64, limit: u64, reveal: bool) -> Result<Vec<Event>, StateError> {
        self.flush()?;
        let sealer = match (&self.inner.secrets, reveal) {
            (Some(secrets), true) => Some(secrets.sealer()?),
            (Some(_) | None, true | false) => None,
        };
        let conn = self.inner.db.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at_ms, topic, source, propagation, payload, sensitive, sealed FROM (
                 SELECT * FROM events WHERE at_ms >= ?1 ORDER BY seq DESC LIMIT ?2
             ) ORDER BY seq",
        )?;
        let rows = stmt.query_map(
            params![since_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, Option<Vec<u8>>>(7)?,
                ))
            },
        )?;
        let mut events = Vec::new();
        for row in rows {
            let (seq, at_ms, topic, source, propagation, payload, sensitive, sealed) = row?;
            let text = match (&sealer, sealed) {
                (Some(sealer), Some(sealed)) => String::from_utf8(sealer.open(&sealed)?)
                    .map_err(|e| StateError::Corrupt(format!("event {seq}: {e}")))?,
                (Some(_) | None, Some(_) | None) => payload,
            };
            events.push(Event {
                seq: u64::try_from(seq).unwrap_or(0),
                at_ms,
                topic,
                source,
                propagation: Propagation::parse(&propagation).ok_or_else(|| {
                    StateError::Corrupt(format!("event {seq} has propagation `{propagation}`"))
                })?,
                payload: serde_json::from_str(&text)
                    .map_err(|e| StateError::Corrupt(format!("event {seq}: {e}")))?,
                sensitive,
            });
        }
        Ok(events)
    }

    /// Deletes what the retention policy no longer keeps; returns how many.
    pub fn prune(&self, now_ms: i64) -> Result<u64, StateError> {
        self.flush()?;
        prune(&self.inner.db, self.inner.retention, now_ms)
    }
}

fn prune(db: &StateDb, retention: Retention, now_ms: i64) -> Result<u64, StateError> {
    let oldest = now_ms - i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let conn = db.conn()?;
    let by_age = conn.execute("DELETE FROM events WHERE at_ms < ?1", [oldest])?;
    let by_count = conn.execute(
        "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?1",
        [i64::try_from(retention.max_events).unwrap_or(i64::MAX)],
    )?;
    Ok((by_age + by_count) as u64)
}
