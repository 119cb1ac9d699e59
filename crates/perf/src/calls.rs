//! The usage log in `perf.db`: one compact row per plugin call (when, which
//! process, which plugin and entry point, how it ended, its wall time and
//! the size of its input), which the histograms cannot give back: order,
//! time and input size per call. Kept 90 days and at most
//! [`MAX_ROWS`] rows; trimmed on every write.
//!
//! Invariant: a row holds names lord or the manifest declared, counts,
//! times and sizes: never an argument, input, output or secret.

use std::time::Duration;

use lord_manifest::PluginId;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::db::PerfDb;
use crate::error::PerfError;
use crate::sample::{EntryKind, Outcome};

/// How long rows are kept.
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// The most rows kept, whatever their age: about 60 bytes each on disk.
pub const MAX_ROWS: u64 = 500_000;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    at_ms INTEGER NOT NULL,
    session INTEGER NOT NULL,
    plugin TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    wall_ns INTEGER NOT NULL,
    input_bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_at ON calls (at_ms);
CREATE TABLE IF NOT EXISTS anomalies_active (
    key TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
";

/// One plugin call as the usage log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    /// When the call ended, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The process that made it (a number drawn at its start), so the
    /// calls of one run of `lord` can be told apart from another's.
    pub session: u64,
    pub plugin: PluginId,
    pub kind: EntryKind,
    /// The command's or micro handler's declared name, the hook's, or empty.
    pub name: String,
    pub outcome: Outcome,
    pub wall_ns: u64,
    pub input_bytes: u64,
}

impl CallRow {
    /// How a report names the entry point: `command:greet`, `event`.
    pub fn entry(&self) -> String {
        if self.name.is_empty() {
            self.kind.name().to_owned()
        } else {
            format!("{}:{}", self.kind.name(), self.name)
        }
    }
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PerfDb {
    /// Appends `rows` and trims the log to its retention, in one
    /// transaction.
    pub fn add_calls(&mut self, rows: &[CallRow], now_ms: u64) -> Result<(), PerfError> {
        if rows.is_empty() {
            return Ok(());
        }
        let err = self.err_owned();
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO calls (at_ms, session, plugin, kind, name, outcome, wall_ns,
                                        input_bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(&err)?;
            for row in rows {
                insert
                    .execute(params![
                        stored(row.at_ms),
                        // Stored as SQLite's signed integer, bit for bit.
                        row.session as i64,
                        row.plugin.as_str(),
                        row.kind.name(),
                        row.name,
                        row.outcome.name(),
                        stored(row.wall_ns),
                        stored(row.input_bytes),
                    ])
                    .map_err(&err)?;
            }
        }
        trim(&tx, now_ms).map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// The calls that ended at or after `since_ms`, oldest first.
    pub fn read_calls(&self, since_ms: u64) -> Result<Vec<CallRow>, PerfError> {
        let err = self.err_owned();
        let mut statement = self
            .conn()
            .prepare(
                "SELECT at_ms, session, plugin, kind, name, outcome, wall_ns, input_bytes
                 FROM calls WHERE at_ms >= ?1 ORDER BY at_ms, rowid",
            )
            .map_err(&err)?;
        let rows = statement
            .query_map(params![stored(since_ms)], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })
            .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let (at, session, plugin, kind, name, outcome, wall, input) = row.map_err(&err)?;
            // Rows are written by this crate only; one whose names this
            // build does not know is skipped, not an error.
            let (Ok(plugin), Some(kind), Some(outcome)) = (
                PluginId::new(plugin),
                EntryKind::from_name(&kind),
                Outcome::from_name(&outcome),
            ) else {
                continue;
            };
            out.push(CallRow {
                at_ms: count(at),
                session: session as u64,
                plugin,
                kind,
                name,
                outcome,
                wall_ns: count(wall),
                input_bytes: count(input),
            });
        }
        Ok(out)
    }

    /// Deletes the whole usage log and the anomalies noted from it
    /// (`analytics.enabled = false`); returns how many calls it held.
    pub fn clear_calls(&mut self) -> Result<usize, PerfError> {
        let err = self.err_owned();
        // Both or neither: anomalies noted from calls that are gone would
        // stay announced with nothing behind them.
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&err)?;
        let deleted = tx.execute("DELETE FROM calls", []).map_err(&err)?;
        tx.execute("DELETE FROM anomalies_active", [])
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        // The rows' pages are given back to the file system, so what was
        // recorded is gone from the disk too, not only from the table
        // (and the write-ahead log that held them is emptied).
        if deleted > 0 {
            self.conn()
                .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(&err)?;
        }
        Ok(deleted)
    }
}

impl PerfDb {
    /// Records which anomalies are active now (`keys`, as the analysis
    /// names them) and returns those that were not before: the ones to
    /// announce. One that clears and comes back is new again.
    pub fn note_anomalies(&mut self, keys: &[String]) -> Result<Vec<String>, PerfError> {
        let err = self.err_owned();
        let tx = self
            .conn_mut()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&err)?;
        let before: std::collections::BTreeSet<String> = {
            let mut statement = tx
                .prepare("SELECT key FROM anomalies_active")
                .map_err(&err)?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(&err)?;
            let keys: std::collections::BTreeSet<String> =
                rows.collect::<Result<_, _>>().map_err(&err)?;
            keys
        };
        tx.execute("DELETE FROM anomalies_active", [])
            .map_err(&err)?;
        for key in keys {
            tx.execute(
                "INSERT OR IGNORE INTO anomalies_active (key) VALUES (?1)",
                params![key],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(keys
            .iter()
            .filter(|k| !before.contains(*k))
            .cloned()
            .collect())
    }
}

/// Drops rows older than [`RETENTION`], then the oldest beyond [`MAX_ROWS`].
fn trim(conn: &Connection, now_ms: u64) -> rusqlite::Result<()> {
    let horizon = now_ms.saturating_sub(u64::try_from(RETENTION.as_millis()).unwrap_or(0));
    conn.execute(
        "DELETE FROM calls WHERE at_ms < ?1",
        params![stored(horizon)],
    )?;
    conn.execute(
        "DELETE FROM calls WHERE rowid <= (SELECT MAX(rowid) FROM calls) - ?1",
        params![stored(MAX_ROWS)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at_ms: u64) -> CallRow {
        CallRow {
            at_ms,
            session: u64::MAX - 1,
            plugin: PluginId::new("p").expect("id"),
            kind: EntryKind::Command,
            name: "go".to_owned(),
            outcome: Outcome::Trap,
            wall_ns: 1_500,
            input_bytes: 12,
        }
    }

    #[test]
    fn rows_round_trip_and_old_ones_are_trimmed() {
        let home = tempfile::tempdir().expect("temp dir");
        let mut db = PerfDb::open(home.path()).expect("db");
        let day = 24 * 60 * 60 * 1000;
        let now = 200 * day;
        db.add_calls(&[row(now - 100 * day), row(now - 1)], now)
            .expect("add");
        let rows = db.read_calls(0).expect("read");
        assert_eq!(rows, vec![row(now - 1)], "the 100-day-old call is gone");
        assert_eq!(db.read_calls(now).expect("read"), Vec::new());
        assert_eq!(db.clear_calls().expect("clear"), 1);
        // An anomaly is new once, until it clears.
        let keys = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            db.note_anomalies(&keys(&["a"])).expect("note"),
            keys(&["a"])
        );
        assert_eq!(
            db.note_anomalies(&keys(&["a", "b"])).expect("note"),
            keys(&["b"])
        );
        assert_eq!(db.note_anomalies(&keys(&[])).expect("note"), keys(&[]));
        assert_eq!(
            db.note_anomalies(&keys(&["a"])).expect("note"),
            keys(&["a"])
        );
        assert!(db.read_calls(0).expect("read").is_empty());
    }
}
