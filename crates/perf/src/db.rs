//! `$LORD_HOME/perf.db`: one row per plugin entry point, each holding its
//! histograms and totals. Apart from `lord.db`, so recording never waits for
//! the home's lock; rows are added to (merged) in one `BEGIN IMMEDIATE`
//! transaction per flush, so several processes flushing at once each add
//! their own calls and none is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lord_manifest::PluginId;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::PerfError;
use crate::sample::{AREAS, Area, EntryKind, OUTCOMES, Outcome};
use crate::stats::{EntryKey, EntryStats, decode, encode};

/// The file under the lord home.
pub const FILE: &str = "perf.db";

/// Another process's flush is a few milliseconds; past this something is
/// wrong and the caller hears about it.
const BUSY_WAIT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entry_perf (
    plugin TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    calls INTEGER NOT NULL,
    wall BLOB NOT NULL,
    guest BLOB NOT NULL,
    memory BLOB NOT NULL,
    output BLOB NOT NULL,
    host TEXT NOT NULL,
    outcomes TEXT NOT NULL,
    cache_hits INTEGER NOT NULL,
    cache_misses INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    PRIMARY KEY (plugin, kind, name)
) WITHOUT ROWID;
";

/// Marks a file that has every table of [`SCHEMA`] and the usage log's:
/// files from before it (version 0) get them the same way (`IF NOT
/// EXISTS`). A change to either schema raises it.
const SCHEMA_VERSION: i64 = 1;

/// The performance database of one lord home.
#[derive(Debug)]
pub struct PerfDb {
    path: PathBuf,
    conn: Connection,
}

/// How long the write-ahead log may grow before the connection closing
/// folds it into the database. A one-shot command flushes a few pages, so
/// this is a checkpoint every few commands. It must be small because the
/// first connection of every process reads the whole log again to rebuild
/// its index, and SQLite's own checkpoints do not shorten it here: a log
/// is restarted only by a writer that saw the checkpoint in the same
/// index, which a process with one flush never is, so without this the
/// log grew with every command and each one read more of it.
pub(crate) const WAL_KEPT: u64 = 64 * 1024;

impl Drop for PerfDb {
    fn drop(&mut self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEPT) {
            // Best effort and without waiting: a process that is ending
            // must not sit out another's reader; a busy file leaves the
            // fold to the next process. No fsync: `synchronous=OFF`.
            let _ = self.conn.busy_handler(None::<fn(i32) -> bool>);
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }
}

impl PerfDb {
    /// Opens (creating if needed) `perf.db` under `home`.
    pub fn open(home: &Path) -> Result<Self, PerfError> {
        let path = home.join(FILE);
        let db = |source| PerfError::Db {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(BUSY_WAIT).map_err(db)?;
        // Figures are advisory, and a command that only reads must make no
        // fsync (`syncs.rs`): a power cut may lose the last flush, never
        // the database's consistency (WAL).
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; \
             PRAGMA journal_size_limit=4194304;",
        )
        .map_err(db)?;
        // The log stays for the next process instead of being checkpointed
        // and deleted by every one that closes the file last (most of a
        // one-shot command's writing); `Drop` folds it in once it is
        // longer than `WAL_KEPT`.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(db)?;
        // The schema is parsed only when this file has not had it yet.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
                crate::calls::SCHEMA
            ))
            .map_err(db)?;
        }
        Ok(Self { path, conn })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The error mapper, holding its own copy of the path so it can be used
    /// while the connection is borrowed mutably.
    pub(crate) fn err_owned(&self) -> impl Fn(rusqlite::Error) -> PerfError + use<> {
        let path = self.path.clone();
        move |source| PerfError::Db {
            path: path.clone(),
            source,
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> PerfError + '_ {
        |source| PerfError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Adds each entry point's calls to what the database holds, in one
    /// transaction.
    pub fn add(&mut self, deltas: &[(EntryKey, EntryStats)]) -> Result<(), PerfError> {
        if deltas.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let db = |source| PerfError::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        for (key, delta) in deltas {
            let stored = read_row(&tx, &path, key)?;
            let mut total = stored.unwrap_or_default();
            total.merge(delta);
            write_row(&tx, key, &total).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Every entry point's figures, or only `plugin`'s.
    pub fn read(
        &self,
        plugin: Option<&PluginId>,
    ) -> Result<Vec<(EntryKey, EntryStats)>, PerfError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT plugin, kind, name, calls, wall, guest, memory, output, host, outcomes,
                        cache_hits, cache_misses, first_ms, last_ms
                 FROM entry_perf WHERE (?1 IS NULL OR plugin = ?1) ORDER BY plugin, kind, name",
            )
            .map_err(self.err())?;
        let rows = statement
            .query_map(params![plugin.map(PluginId::as_str)], raw_row)
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let raw = row.map_err(self.err())?;
            // Rows are written by this crate only; one whose names no
            // longer parse (a kind this build does not know) is skipped.
            if let Some(entry) = raw.into_entry(&self.path)? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Forgets `plugin`'s figures, or everyone's.
    pub fn clear(&mut self, plugin: Option<&PluginId>) -> Result<usize, PerfError> {
        let path = self.path.clone();
        self.conn
            .execute(
                "DELETE FROM entry_perf WHERE (?1 IS NULL OR plugin = ?1)",
                params![plugin.map(PluginId::as_str)],
            )
            .map_err(|source| PerfError::Db { path, source })
    }
}

struct RawRow {
    plugin: String,
    kind: String,
    name: String,
    calls: i64,
    wall: Vec<u8>,
    guest: Vec<u8>,
    memory: Vec<u8>,
    output: Vec<u8>,
    host: String,
    outcomes: String,
    cache_hits: i64,
    cache_misses: i64,
    first_ms: i64,
    last_ms: i64,
}

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        plugin: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        calls: row.get(3)?,
        wall: row.get(4)?,
        guest: row.get(5)?,
        memory: row.get(6)?,
        output: row.get(7)?,
        host: row.get(8)?,
        outcomes: row.get(9)?,
        cache_hits: row.get(10)?,
        cache_misses: row.get(11)?,
        first_ms: row.get(12)?,
        last_ms: row.get(13)?,
    })
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl RawRow {
    fn into_entry(self, path: &Path) -> Result<Option<(EntryKey, EntryStats)>, PerfError> {
        let (Ok(plugin), Some(kind)) =
            (PluginId::new(self.plugin), EntryKind::from_name(&self.kind))
        else {
            return Ok(None);
        };
        let key = EntryKey {
            plugin,
            kind,
            name: self.name,
        };
        let corrupt = |reason: String| PerfError::Corrupt {
            path: path.to_owned(),
            entry: format!("{} {}", key.plugin, key.label()),
            reason,
        };
        let mut stats = EntryStats {
            calls: count(self.calls),
            wall_ns: decode(&self.wall).map_err(corrupt)?,
            guest_ns: decode(&self.guest).map_err(corrupt)?,
            memory_bytes: decode(&self.memory).map_err(corrupt)?,
            output_bytes: decode(&self.output).map_err(corrupt)?,
            cache_hits: count(self.cache_hits),
            cache_misses: count(self.cache_misses),
            first_ms: count(self.first_ms),
            last_ms: count(self.last_ms),
            ..EntryStats::default()
        };
        let host: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.host).map_err(|e| corrupt(e.to_string()))?;
        for (name, pair) in host {
            if let Some(area) = Area::from_name(&name) {
                stats.host_ns[area.index()] = pair[0].as_u64().unwrap_or(0);
                stats.host_calls[area.index()] = pair[1].as_u64().unwrap_or(0);
            }
        }
        let outcomes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.outcomes).map_err(|e| corrupt(e.to_string()))?;
        for (name, n) in outcomes {
            if let Some(outcome) = Outcome::from_name(&name) {
                stats.outcomes[outcome as usize] = n.as_u64().unwrap_or(0);
            }
        }
        Ok(Some((key, stats)))
    }
}

fn read_row(
    conn: &Connection,
    path: &Path,
    key: &EntryKey,
) -> Result<Option<EntryStats>, PerfError> {
    let raw = conn
        .query_row(
            "SELECT plugin, kind, name, calls, wall, guest, memory, output, host, outcomes,
                    cache_hits, cache_misses, first_ms, last_ms
             FROM entry_perf WHERE plugin = ?1 AND kind = ?2 AND name = ?3",
            params![key.plugin.as_str(), key.kind.name(), key.name],
            raw_row,
        )
        .optional()
        .map_err(|source| PerfError::Db {
            path: path.to_owned(),
            source,
        })?;
    match raw {
        Some(raw) => Ok(raw.into_entry(path)?.map(|(_, stats)| stats)),
        None => Ok(None),
    }
}

fn write_row(conn: &Connection, key: &EntryKey, stats: &EntryStats) -> rusqlite::Result<usize> {
    // Named maps, so a row stays readable when areas or outcomes are added.
    let host: serde_json::Map<String, serde_json::Value> = Area::ALL
        .iter()
        .filter(|a| stats.host_calls[a.index()] > 0 || stats.host_ns[a.index()] > 0)
        .map(|a| {
            (
                a.name().to_owned(),
                serde_json::json!([stats.host_ns[a.index()], stats.host_calls[a.index()]]),
            )
        })
        .collect();
    let outcomes: serde_json::Map<String, serde_json::Value> = Outcome::ALL
        .iter()
        .filter(|o| stats.outcomes[**o as usize] > 0)
        .map(|o| (o.name().to_owned(), stats.outcomes[*o as usize].into()))
        .collect();
    debug_assert_eq!(Outcome::ALL.len(), OUTCOMES);
    debug_assert_eq!(Area::ALL.len(), AREAS);
    conn.execute(
        "INSERT OR REPLACE INTO entry_perf
         (plugin, kind, name, calls, wall, guest, memory, output, host, outcomes,
          cache_hits, cache_misses, first_ms, last_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            key.plugin.as_str(),
            key.kind.name(),
            key.name,
            stored(stats.calls),
            encode(&stats.wall_ns),
            encode(&stats.guest_ns),
            encode(&stats.memory_bytes),
            encode(&stats.output_bytes),
            serde_json::Value::Object(host).to_string(),
            serde_json::Value::Object(outcomes).to_string(),
            stored(stats.cache_hits),
            stored(stats.cache_misses),
            stored(stats.first_ms),
            stored(stats.last_ms),
        ],
    )
}
