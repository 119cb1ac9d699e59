//! The alert log: every transition, whether it was silenced and where it
//! was delivered, and the silences in force, in one SQLite file of the
//! monitor's own (`$LORD_HOME/monitor.db`), apart from `lord.db`, whose
//! writers hold the home's lock: an alert must be recorded while installs
//! run. Each write is one statement, so a crash leaves it whole or absent.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;

use crate::alert::{AlertState, Transition};
use crate::error::MonitorError;

/// An entry of the history, as `lord alert list --json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub transition: Transition,
    pub silenced: bool,
    /// The channels that took it (`terminal`, `webhook`, `email`), and any
    /// that failed, with why.
    pub delivered: Vec<String>,
    pub failed: Vec<String>,
}

/// A silence: no notifications for `rule` until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    pub rule: String,
    pub until_ms: u64,
    pub reason: String,
}

/// The open alert log.
#[derive(Debug)]
pub struct AlertLog {
    db: Connection,
}

fn db_error(e: rusqlite::Error) -> MonitorError {
    MonitorError::Log(e.to_string())
}

impl AlertLog {
    /// Opens (making if needed) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, MonitorError> {
        let db = Connection::open(path).map_err(db_error)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS alert_history (
                 id INTEGER PRIMARY KEY,
                 rule TEXT NOT NULL, metric TEXT NOT NULL, state TEXT NOT NULL,
                 value REAL, at_ms INTEGER NOT NULL, summary TEXT NOT NULL,
                 silenced INTEGER NOT NULL, delivered TEXT NOT NULL, failed TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS silences (
                 rule TEXT PRIMARY KEY, until_ms INTEGER NOT NULL, reason TEXT NOT NULL);",
        )
        .map_err(db_error)?;
        Ok(Self { db })
    }

    /// Records one transition and what became of its notification.
    pub fn record(&self, entry: &Entry) -> Result<(), MonitorError> {
        let t = &entry.transition;
        let state = match t.state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        let list = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned());
        self.db
            .execute(
                "INSERT INTO alert_history
                 (rule, metric, state, value, at_ms, summary, silenced, delivered, failed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    t.rule,
                    t.metric,
                    state,
                    t.value,
                    t.at_ms as i64,
                    t.summary,
                    entry.silenced,
                    list(&entry.delivered),
                    list(&entry.failed)
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// The newest `limit` entries, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<Entry>, MonitorError> {
        let mut statement = self
            .db
            .prepare(
                "SELECT rule, metric, state, value, at_ms, summary, silenced, delivered, failed
                 FROM alert_history ORDER BY id DESC LIMIT ?1",
            )
            .map_err(db_error)?;
        let rows = statement
            .query_map([limit as i64], |row| {
                let state: String = row.get(2)?;
                let list = |text: String| serde_json::from_str(&text).unwrap_or_default();
                Ok(Entry {
                    transition: Transition {
                        rule: row.get(0)?,
                        metric: row.get(1)?,
                        state: if state == "firing" {
                            AlertState::Firing
                        } else {
                            AlertState::Resolved
                        },
                        value: row.get(3)?,
                        at_ms: row.get::<_, i64>(4)? as u64,
                        summary: row.get(5)?,
                    },
                    silenced: row.get(6)?,
                    delivered: list(row.get(7)?),
                    failed: list(row.get(8)?),
                })
            })
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }

    /// Silences `rule` until `until_ms` (replacing an earlier silence).
    pub fn silence(&self, silence: &Silence) -> Result<(), MonitorError> {
        self.db
            .execute(
                "INSERT INTO silences (rule, until_ms, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT(rule) DO UPDATE SET until_ms = ?2, reason = ?3",
                params![silence.rule, silence.until_ms as i64, silence.reason],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// The silence on `rule` in force at `now_ms`, if any.
    pub fn silenced(&self, rule: &str, now_ms: u64) -> Result<Option<Silence>, MonitorError> {
        self.db
            .query_row(
                "SELECT until_ms, reason FROM silences WHERE rule = ?1 AND until_ms > ?2",
                params![rule, now_ms as i64],
                |row| {
                    Ok(Silence {
                        rule: rule.to_owned(),
                        until_ms: row.get::<_, i64>(0)? as u64,
                        reason: row.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(db_error)
    }

    /// The rule's last recorded state, if it ever changed.
    pub fn last_state(&self, rule: &str) -> Result<Option<AlertState>, MonitorError> {
        let state: Option<String> = self
            .db
            .query_row(
                "SELECT state FROM alert_history WHERE rule = ?1 ORDER BY id DESC LIMIT 1",
                [rule],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)?;
        Ok(state.map(|s| {
            if s == "firing" {
                AlertState::Firing
            } else {
                AlertState::Resolved
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_and_silences_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.db");
        let log = AlertLog::open(&path).unwrap();
        let t = Transition {
            rule: "mem".into(),
            metric: "memory.used_percent".into(),
            state: AlertState::Firing,
            value: Some(95.0),
            at_ms: 1000,
            summary: "mem is firing".into(),
        };
        log.record(&Entry {
            transition: t.clone(),
            silenced: false,
            delivered: vec!["webhook".into()],
            failed: vec!["email: refused".into()],
        })
        .unwrap();
        log.silence(&Silence {
            rule: "mem".into(),
            until_ms: 5000,
            reason: "maintenance".into(),
        })
        .unwrap();
        drop(log);
        let log = AlertLog::open(&path).unwrap();
        let history = log.history(10).unwrap();
        assert_eq!(history[0].transition, t);
        assert_eq!(history[0].failed, ["email: refused"]);
        assert_eq!(log.last_state("mem").unwrap(), Some(AlertState::Firing));
        assert!(log.silenced("mem", 4000).unwrap().is_some());
        assert!(log.silenced("mem", 6000).unwrap().is_none());
    }
}
