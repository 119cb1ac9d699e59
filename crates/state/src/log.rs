//! The event log: lord's own and plugins' `global` events, persisted in
//! `state.db` for replay, with retention by age and count.
//!
//! Appends are buffered and written in one transaction: when the buffer
//! fills (by a writer thread of the log's own, so a publisher never waits
//! for the database), before any read, on [`EventLog::flush`], and when the
//! last handle is dropped (the end of a command's process). A command's own
//! events thus cost one write per process, not one per event; a process
//! killed outright loses what it had not flushed.

use std::sync::mpsc;
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

/// What writing needs, shared with the writer thread.
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
    store: Arc<LogStore>,
    pending: Mutex<Vec<Arc<Event>>>,
    /// Started when the buffer first fills; most commands never need it.
    writer: Mutex<Option<Writer>>,
}

/// The writer thread, and the way to hand it work.
#[derive(Debug)]
struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Work for the writer thread, done in the order it was sent.
enum Job {
    Write(Vec<Arc<Event>>),
    /// Everything sent before is written: report how many since the last
    /// report, or the first failure.
    Report(mpsc::Sender<Result<usize, String>>),
}

/// Buffered events that trigger a write.
const FLUSH_AT: usize = 256;

impl Drop for LogInner {
    fn drop(&mut self) {
        // Nowhere to report a failure from here; `flush` reports it to a
        // caller that wants to know.
        let _ = self.flush();
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut writer) = writer {
            // Closing the channel ends the thread once its queue is done.
            drop(writer.jobs);
            if let Some(thread) = writer.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl LogInner {
    /// Gives a full buffer to the writer thread (started on first use); if
    /// no thread can be started, writes it here.
    fn hand_over(&self, batch: Vec<Arc<Event>>) -> Result<(), StateError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if writer.is_none() {
            *writer = Writer::start(Arc::clone(&self.store));
        }
        match writer.as_ref() {
            Some(w) => match w.jobs.send(Job::Write(batch)) {
                Ok(()) => Ok(()),
                Err(mpsc::SendError(Job::Write(batch))) => self.store.write(&batch).map(drop),
                Err(mpsc::SendError(Job::Report(_))) => Ok(()),
            },
            None => self.store.write(&batch).map(drop),
        }
    }

    fn flush(&self) -> Result<usize, StateError> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(writer) = writer.as_ref() else {
            return self.store.write(&pending);
        };
        // Through the writer, so the batch lands after those it holds.
        let (reply, answer) = mpsc::channel();
        let sent = writer
            .jobs
            .send(Job::Write(pending))
            .and_then(|()| writer.jobs.send(Job::Report(reply)));
        if sent.is_err() {
            return Err(StateError::Unavailable(
                "the event log's writer stopped; events were not recorded".to_owned(),
            ));
        }
        match answer.recv() {
            Ok(Ok(written)) => Ok(written),
            Ok(Err(message)) => Err(StateError::Unavailable(format!(
                "events were not recorded: {message}"
            ))),
            Err(_) => Err(StateError::Unavailable(
                "the event log's writer stopped; events were not recorded".to_owned(),
            )),
        }
    }
}

impl Writer {
    fn start(store: Arc<LogStore>) -> Option<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("lord-event-log".into())
            .spawn(move || {
                let mut written = 0usize;
                let mut failure: Option<String> = None;
                for job in queue {
                    match job {
                        Job::Write(batch) => match store.write(&batch) {
                            Ok(n) => written += n,
                            Err(e) => {
                                failure.get_or_insert(e.to_string());
                            }
                        },
                        Job::Report(reply) => {
                            let answer = match failure.take() {
                                Some(message) => Err(message),
                                None => Ok(std::mem::take(&mut written)),
                            };
                            let _ = reply.send(answer);
                        }
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            thread: Some(thread),
        })
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
                store: Arc::new(LogStore {
                    db,
                    retention,
                    pruned: std::sync::Once::new(),
                    secrets,
                }),
                pending: Mutex::new(Vec::new()),
                writer: Mutex::new(None),
            }),
        }
    }

    /// Queues an event for the log. A full buffer goes to the log's writer
    /// thread, so the publisher does not wait for the database.
    pub fn append(&self, event: Arc<Event>) -> Result<(), StateError> {
        let full = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(event);
            (pending.len() >= FLUSH_AT).then(|| std::mem::take(&mut *pending))
        };
        if let Some(batch) = full {
            self.inner.hand_over(batch)?;
        }
        Ok(())
    }

    /// Writes queued events now, and waits for any the writer thread holds;
    /// returns how many were written since the last flush. A write the
    /// writer failed is reported here.
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
        prune(&self.inner.store.db, self.inner.store.retention, now_ms)
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
