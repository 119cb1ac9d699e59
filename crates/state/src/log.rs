//! The event log: lord's own and plugins' `global` events, persisted in
//! `state.db` for replay, with retention by age and count.
//!
//! Appends are buffered and written in one transaction: when the buffer
//! fills, before any read, on [`EventLog::flush`], and when the last handle
//! is dropped (the end of a command's process). A command's own
//! events thus cost one write per process, not one per event; a process
//! killed outright loses what it had not flushed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::params;

use crate::db::StateDb;
use crate::error::StateError;
use crate::event::{Event, Propagation};

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
#[derive(Debug, Clone)]
pub struct EventLog {
    inner: Arc<LogInner>,
}

/// Where the events go.
#[derive(Debug)]
struct LogStore {
    db: StateDb,
    retention: Retention,
    /// Retention runs once per process, with its first write.
    pruned: std::sync::Once,
    /// Where the key that seals sensitive events comes from; without one,
    /// sensitive events are not written at all.
    secrets: Option<crate::secrets::Secrets>,
}

#[derive(Debug)]
struct LogInner {
    store: LogStore,
    pending: Mutex<Vec<Arc<Event>>>,
}

/// Buffered events that trigger a write.
const FLUSH_AT: usize = 256;

impl Drop for LogInner {
    fn drop(&mut self) {
        // Nowhere to report a failure from here; `flush` reports it to a
        // caller that wants to know.
        let _ = self.flush();
    }
}

impl LogInner {
    fn flush(&self) -> Result<usize, StateError> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.store.write(&pending)
    }
}

impl LogStore {
    /// Writes `pending` in one transaction; returns how many.
    fn write(&self, pending: &[Arc<Event>]) -> Result<usize, StateError> {
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
            for event in pending {
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
                store: LogStore {
                    db,
                    retention,
                    pruned: std::sync::Once::new(),
                    secrets,
                },
                pending: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Queues an event for the log (the bus's own copy: nothing is cloned).
    pub fn append(&self, event: Arc<Event>) -> Result<(), StateError> {
        let full = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(event);
            pending.len() >= FLUSH_AT
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes queued events now; returns how many.
    pub fn flush(&self) -> Result<usize, StateError> {
        self.inner.flush()
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
        let sealer = match (&self.inner.store.secrets, reveal) {
            (Some(secrets), true) => Some(secrets.sealer()?),
            (Some(_) | None, true | false) => None,
        };
        let conn = self.inner.store.db.conn()?;
        // Newest first, stopping at the first event older than `since_ms`
        // or at `limit`: events are appended in time order, so this reads
        // only the rows it returns (and needs no index on the time).
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at_ms, topic, source, propagation, payload, sensitive, sealed
             FROM events ORDER BY seq DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut events = Vec::new();
        while u64::try_from(events.len()).unwrap_or(u64::MAX) < limit {
            let Some(row) = rows.next()? else { break };
            let at_ms: i64 = row.get(1)?;
            if at_ms < since_ms {
                break;
            }
            events.push(decode_row(row, at_ms, sealer.as_ref())?);
        }
        events.reverse();
        Ok(events)
    }

    /// Deletes what the retention policy no longer keeps; returns how many.
    pub fn prune(&self, now_ms: i64) -> Result<u64, StateError> {
        self.flush()?;
        prune(&self.inner.store.db, self.inner.store.retention, now_ms)
    }
}

/// One row of the events table as an event, unsealing a sensitive payload
/// when a sealer is given.
fn decode_row(
    row: &rusqlite::Row<'_>,
    at_ms: i64,
    sealer: Option<&crate::secrets::Sealer>,
) -> Result<Event, StateError> {
    let seq: i64 = row.get(0)?;
    let topic: String = row.get(2)?;
    let source: String = row.get(3)?;
    let propagation: String = row.get(4)?;
    let payload: String = row.get(5)?;
    let sensitive: bool = row.get(6)?;
    let sealed: Option<Vec<u8>> = row.get(7)?;
    let text = match (sealer, sealed) {
        (Some(sealer), Some(sealed)) => String::from_utf8(sealer.open(&sealed)?)
            .map_err(|e| StateError::Corrupt(format!("event {seq}: {e}")))?,
        (Some(_) | None, Some(_) | None) => payload,
    };
    Ok(Event {
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
    })
}

fn prune(db: &StateDb, retention: Retention, now_ms: i64) -> Result<u64, StateError> {
    let oldest = now_ms - i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let conn = db.conn()?;
    // Events are appended in time order, so the expired ones are the
    // oldest by sequence: the subquery walks the table from its start and
    // stops at the first event young enough, with no index on the time to
    // keep up on every append.
    let by_age = conn.execute(
        "DELETE FROM events WHERE seq < COALESCE(
             (SELECT seq FROM events WHERE at_ms >= ?1 ORDER BY seq LIMIT 1),
             (SELECT MAX(seq) + 1 FROM events))",
        [oldest],
    )?;
    let by_count = conn.execute(
        "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?1",
        [i64::try_from(retention.max_events).unwrap_or(i64::MAX)],
    )?;
    Ok((by_age + by_count) as u64)
}
