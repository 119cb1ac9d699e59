//! The event log: lord's own and plugins' `global` events, persisted in
//! `state.db` for replay, with retention by age and count, and a budget
//! per publishing plugin (bytes and events): over it, that plugin's oldest
//! events are dropped first, and counted, so no plugin can fill the disk
//! or push out anyone else's events.
//!
//! Appends are buffered and written in one transaction: when the buffer
//! fills, before any read, on [`EventLog::flush`], and when the last handle
//! is dropped (the end of a command's process). A command's own
//! events thus cost one write per process, not one per event; a process
//! killed outright loses what it had not flushed. A write that fails keeps
//! its events queued, up to [`REQUEUE_AT_MOST`]; those let go past it are
//! counted with the drops by the next write that succeeds. One write runs
//! at a time in a process, from taking the queue to storing it (or putting
//! it back), so the log holds a process's events in the order they were
//! queued, which reads that stop at the first event too old rely on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{OptionalExtension as _, params};

use crate::db::StateDb;
use crate::error::StateError;
use crate::event::{Event, Propagation};

/// How much of the event log to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_events: u64,
    /// What each plugin's events may take in the log (lord's own are
    /// bounded by age and count alone).
    pub per_plugin: LogBudget,
}

/// One plugin's share of the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBudget {
    /// Bytes: what each event takes on disk, its topic and payload
    /// (sealed or not) plus [`EVENT_OVERHEAD`], in whole pages when it
    /// fills more than one.
    pub bytes: u64,
    pub events: u64,
}

impl Default for LogBudget {
    /// 4 MiB and 10 000 events.
    fn default() -> Self {
        Self {
            bytes: 4 * 1024 * 1024,
            events: 10_000,
        }
    }
}

/// What an event costs in the log beyond its topic and payload (its row,
/// its index entries), counted so that many tiny events are not free.
pub const EVENT_OVERHEAD: u64 = 64;

/// `state.db`'s page size: an event too large to share a page takes whole
/// ones (each overflow page holds 4 bytes less than a page).
const PAGE: u64 = 4096;

/// What an event of `raw` bytes (topic, payload, seal) takes on disk, so a
/// budget bounds the file, not just the text.
fn stored_cost(raw: u64) -> u64 {
    if raw + EVENT_OVERHEAD < PAGE {
        raw + EVENT_OVERHEAD
    } else {
        raw.div_ceil(PAGE - 4) * PAGE + EVENT_OVERHEAD
    }
}

impl Default for Retention {
    /// A week, at most 100 000 events, and the default plugin budget.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_events: 100_000,
            per_plugin: LogBudget::default(),
        }
    }
}

/// Events of one source the log dropped: to keep it within its budget,
/// or let go past [`REQUEUE_AT_MOST`] queued while writes failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    pub source: String,
    pub dropped: u64,
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
    /// How many queued events make [`EventLog::append`] write:
    /// [`FLUSH_AT`], or after a write failed, [`FLUSH_AT`] more than it
    /// left queued, so a failing disk is tried once per batch of new
    /// events, not on every publish.
    flush_at: std::sync::atomic::AtomicUsize,
    /// Events let go at [`REQUEUE_AT_MOST`] while writes failed, per
    /// source, not yet counted in `event_drops`: the next write that
    /// succeeds counts them, so a long outage is not a silent gap.
    lost: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Held by a write from taking the queue until its events are stored
    /// or queued again. Without it two threads flushing at once could
    /// commit their batches in either order, or one could store events
    /// queued after a batch another put back, and the log's order would
    /// no longer be the order of publishing.
    writing: Mutex<()>,
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

/// Events kept queued while writes fail (a busy or full disk), at most:
/// beyond it the oldest are let go, and the failure is reported as each
/// write's is.
const REQUEUE_AT_MOST: usize = 16 * FLUSH_AT;

impl LogInner {
    fn flush(&self) -> Result<usize, StateError> {
        use std::sync::atomic::Ordering;
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if pending.is_empty() {
            // Nothing to write, and so nothing to count `lost` with yet.
            return Ok(0);
        }
        let lost = std::mem::take(&mut *self.lost.lock().unwrap_or_else(|p| p.into_inner()));
        match self.store.write(&pending, &lost) {
            Ok(written) => {
                self.flush_at.store(FLUSH_AT, Ordering::Relaxed);
                Ok(written)
            }
            Err(e) => {
                let queued = self.requeue(pending, lost);
                self.flush_at.store(queued + FLUSH_AT, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Puts events a write failed to store back at the front of the queue
    /// (the write is one transaction, so none of them was stored), so the
    /// next write tries them again rather than losing them; `uncounted`,
    /// the tally of earlier losses that write did not record, goes back
    /// with them, and any events past [`REQUEUE_AT_MOST`] join it. Returns
    /// how many are queued now.
    fn requeue(
        &self,
        mut failed: Vec<Arc<Event>>,
        uncounted: std::collections::BTreeMap<String, u64>,
    ) -> usize {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        failed.append(&mut pending);
        let over = failed.len().saturating_sub(REQUEUE_AT_MOST);
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        for (source, count) in uncounted {
            *lost.entry(source).or_default() += count;
        }
        for event in failed.drain(..over) {
            *lost.entry(event.source.clone()).or_default() += 1;
        }
        drop(lost);
        *pending = failed;
        pending.len()
    }
}

impl LogStore {
    /// Writes `pending` in one transaction, and counts `lost` (events let
    /// go before they could be written) with the drops; returns how many
    /// were written.
    fn write(
        &self,
        pending: &[Arc<Event>],
        lost: &std::collections::BTreeMap<String, u64>,
    ) -> Result<usize, StateError> {
        let Some(first) = pending.first() else {
            return Ok(0);
        };
        let sealer = match (&self.secrets, pending.iter().any(|e| e.sensitive)) {
            (Some(secrets), true) => Some(secrets.sealer()?),
            (Some(_) | None, true | false) => None,
        };
        let rows = encode(pending, sealer.as_ref())?;
        let budget = self.retention.per_plugin;
        let (rows, mut dropped) = within_budget(rows, budget);
        for (source, count) in lost {
            *dropped.entry(source.as_str()).or_default() += count;
        }
        let mut conn = self.db.conn()?;
        // IMMEDIATE: the budget is read before rows are written, and a
        // deferred transaction upgrading that read would fail at once when
        // another process wrote in between.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            // Expired events go once per process, in the transaction that
            // adds the first new ones: one commit, not two.
            let mut pruning = Ok(0);
            self.pruned
                .call_once(|| pruning = prune_in(&tx, self.retention, first.at_ms));
            pruning?;
            // Room first, then the new rows: pages the old rows free are
            // reused in this same transaction, so the file does not grow
            // by what it drops.
            let added = Counts::of(&rows);
            for (source, &(events, bytes)) in added.0.iter().filter(|(s, _)| budgeted(s)) {
                *dropped.entry(source).or_default() +=
                    make_room(&tx, source, events, bytes, budget)?;
            }
            for (source, count) in &dropped {
                if *count > 0 {
                    tx.prepare_cached(
                        "INSERT INTO event_drops (source, dropped) VALUES (?1, ?2)
                         ON CONFLICT (source) DO UPDATE SET dropped = dropped + excluded.dropped",
                    )?
                    .execute(params![source, i64::try_from(*count).unwrap_or(i64::MAX)])?;
                }
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (at_ms, topic, source, propagation, payload, sensitive, sealed, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for row in &rows {
                insert.execute(params![
                    row.event.at_ms,
                    row.event.topic,
                    row.event.source,
                    row.event.propagation.as_str(),
                    row.payload,
                    row.event.sensitive,
                    row.sealed,
                    i64::try_from(row.bytes).unwrap_or(i64::MAX)
                ])?;
            }
            added.keep(&tx, 1)?;
        }
        tx.commit()?;
        Ok(pending.len())
    }
}

/// One event as it is stored.
struct Row<'e> {
    event: &'e Event,
    payload: String,
    sealed: Option<Vec<u8>>,
    bytes: u64,
}

/// The rows to store: a sensitive payload only sealed, and with no key to
/// seal it, not at all.
fn encode<'e>(
    pending: &'e [Arc<Event>],
    sealer: Option<&crate::secrets::Sealer>,
) -> Result<Vec<Row<'e>>, StateError> {
    let mut rows = Vec::with_capacity(pending.len());
    for event in pending {
        let text = serde_json::to_string(&event.payload)
            .map_err(|e| StateError::Corrupt(format!("unserialisable payload: {e}")))?;
        let (payload, sealed) = match (event.sensitive, sealer) {
            (false, _) => (text, None),
            (true, Some(sealer)) => ("null".to_owned(), Some(sealer.seal(text.as_bytes())?)),
            (true, None) => continue,
        };
        let bytes = stored_cost(
            (event.topic.len() + payload.len() + sealed.as_ref().map_or(0, Vec::len)) as u64,
        );
        rows.push(Row {
            event,
            payload,
            sealed,
            bytes,
        });
    }
    Ok(rows)
}

/// Whether the log budgets `source`'s events (lord's own it does not).
fn budgeted(source: &str) -> bool {
    source != lord_manifest::LORD
}

/// Keeps, of each plugin's rows, the newest that fit its budget on their
/// own; returns them in order and how many of each plugin's were dropped.
fn within_budget(
    rows: Vec<Row<'_>>,
    budget: LogBudget,
) -> (Vec<Row<'_>>, std::collections::BTreeMap<&str, u64>) {
    let mut used: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    let mut dropped: std::collections::BTreeMap<&str, u64> = Default::default();
    let mut keep = vec![true; rows.len()];
    for (index, row) in rows.iter().enumerate().rev() {
        if !budgeted(&row.event.source) {
            continue;
        }
        let (events, bytes) = used.entry(&row.event.source).or_default();
        if *events + 1 > budget.events || *bytes + row.bytes > budget.bytes {
            keep[index] = false;
            *dropped.entry(&row.event.source).or_default() += 1;
        } else {
            *events += 1;
            *bytes += row.bytes;
        }
    }
    let mut kept = keep.into_iter();
    let rows = rows
        .into_iter()
        .filter(|_| kept.next().unwrap_or(false))
        .collect();
    (rows, dropped)
}

/// Events and bytes per source, gathered while rows are written or
/// deleted and then added to (or taken from) `event_totals` in the same
/// transaction: one statement per source, not one per row.
#[derive(Debug, Default)]
struct Counts(std::collections::BTreeMap<String, (u64, u64)>);

impl Counts {
    /// The rows about to be written, per source.
    fn of(rows: &[Row<'_>]) -> Self {
        let mut counts = Self::default();
        for row in rows {
            counts.add(&row.event.source, row.bytes);
        }
        counts
    }

    /// One event of `bytes` from `source`.
    fn add(&mut self, source: &str, bytes: u64) {
        match self.0.get_mut(source) {
            Some((events, total)) => {
                *events += 1;
                *total = total.saturating_add(bytes);
            }
            None => {
                self.0.insert(source.to_owned(), (1, bytes));
            }
        }
    }

    /// Adds the counts to the totals (`sign` 1), or takes them away (-1).
    fn keep(&self, tx: &rusqlite::Transaction<'_>, sign: i64) -> Result<(), StateError> {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO event_totals (source, events, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET
                 events = events + excluded.events, bytes = bytes + excluded.bytes",
        )?;
        let signed = |n: u64| sign * i64::try_from(n).unwrap_or(i64::MAX);
        for (source, &(events, bytes)) in &self.0 {
            upsert.execute(params![source, signed(events), signed(bytes)])?;
        }
        Ok(())
    }
}

// A budgeted source's events, found through `events_by_source`, which
// holds no events of lord's (`db.rs`). SQLite uses a partial index only for
// a statement whose own terms imply the index's condition, so each says
// `source <> 'lord'` in so many words (`lord_manifest::LORD`, checked by a
// test); lord's own events are never budgeted, so the term drops nothing.
const OLDEST_OF_SOURCE: &str =
    "SELECT seq, bytes FROM events WHERE source = ?1 AND source <> 'lord' ORDER BY seq";
const DROP_OLDEST_OF_SOURCE: &str =
    "DELETE FROM events WHERE source = ?1 AND source <> 'lord' AND seq <= ?2";

/// Deletes `source`'s oldest stored events until `events` more events of
/// `bytes` fit its budget; returns how many it deleted.
fn make_room(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    events: u64,
    bytes: u64,
    budget: LogBudget,
) -> Result<u64, StateError> {
    let (stored, stored_bytes): (i64, i64) = tx
        .prepare_cached("SELECT events, bytes FROM event_totals WHERE source = ?1")?
        .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    let mut count = u64::try_from(stored).unwrap_or(0) + events;
    let mut total = u64::try_from(stored_bytes).unwrap_or(0) + bytes;
    if count <= budget.events && total <= budget.bytes {
        return Ok(0);
    }
    let mut oldest = tx.prepare_cached(OLDEST_OF_SOURCE)?;
    let mut rows = oldest.query([source])?;
    let mut last = None;
    let mut deleted = 0;
    let mut freed = Counts::default();
    while count > budget.events || total > budget.bytes {
        let Some(row) = rows.next()? else { break };
        let seq: i64 = row.get(0)?;
        let size = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
        last = Some(seq);
        deleted += 1;
        count -= 1;
        total = total.saturating_sub(size);
        freed.add(source, size);
    }
    drop(rows);
    if let Some(last) = last {
        tx.prepare_cached(DROP_OLDEST_OF_SOURCE)?
            .execute(params![source, last])?;
        freed.keep(tx, -1)?;
    }
    Ok(deleted)
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
                flush_at: std::sync::atomic::AtomicUsize::new(FLUSH_AT),
                lost: Mutex::new(std::collections::BTreeMap::new()),
                writing: Mutex::new(()),
            }),
        }
    }

    /// Queues an event for the log (the bus's own copy: nothing is cloned).
    pub fn append(&self, event: Arc<Event>) -> Result<(), StateError> {
        let full = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(event);
            pending.len()
                >= self
                    .inner
                    .flush_at
                    .load(std::sync::atomic::Ordering::Relaxed)
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
        self.read(since_ms, limit, None, false)
    }

    /// As [`EventLog::since`], with sensitive payloads unsealed.
    pub fn since_revealed(&self, since_ms: i64, limit: u64) -> Result<Vec<Event>, StateError> {
        self.read(since_ms, limit, None, true)
    }

    /// As [`EventLog::since`] (or [`EventLog::since_revealed`] when
    /// `reveal`), only the events whose topic `pattern` matches: the newest
    /// `limit` of those, however many others came after them (filtering
    /// the newest `limit` events instead would show fewer, or none, while
    /// older matches exist).
    pub fn matching(
        &self,
        since_ms: i64,
        limit: u64,
        pattern: &lord_manifest::Topic,
        reveal: bool,
    ) -> Result<Vec<Event>, StateError> {
        self.read(since_ms, limit, Some(pattern), reveal)
    }

    /// Events stored after sequence number `after` (`0` for all), oldest
    /// first, at most `limit`, only those `pattern` matches when given: for
    /// following the log. By number, not time: a process stamps an event
    /// when it publishes it but stores it when it flushes, maybe much
    /// later, so a newer number can carry an older time. Also returns the
    /// number to follow from next: the last one looked at, matching or
    /// not, so a rare pattern does not make every poll read the same rows
    /// again. Numbers start over when retention empties the log; a log
    /// whose newest is below `after` is read from its start.
    pub fn after(
        &self,
        after: u64,
        limit: u64,
        pattern: Option<&lord_manifest::Topic>,
        reveal: bool,
    ) -> Result<(Vec<Event>, u64), StateError> {
        let _ = self.flush();
        let sealer = self.sealer(reveal)?;
        let conn = self.inner.store.db.conn()?;
        let newest: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?;
        let newest = u64::try_from(newest).unwrap_or(0);
        let from = if newest < after { 0 } else { after };
        // No row past the newest measured above: one stored meanwhile is
        // read on the next poll, not now and again then.
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at_ms, topic, source, propagation, payload, sensitive, sealed
             FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
        )?;
        let bound = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let rows = stmt.query([bound(from), bound(newest)])?;
        let events = collect(rows, limit, pattern, sealer.as_ref())?;
        // Everything up to the newest was looked at, unless `limit` cut
        // the reading short at the last event returned.
        let next = match events.last() {
            Some(last) if u64::try_from(events.len()).unwrap_or(u64::MAX) >= limit => last.seq,
            Some(_) | None => newest.max(from),
        };
        Ok((events, next))
    }

    /// The number of the newest event stored (`0` for none), queued ones
    /// written first: where following the log begins.
    pub fn newest_seq(&self) -> Result<u64, StateError> {
        let _ = self.flush();
        let conn = self.inner.store.db.conn()?;
        let newest: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(newest).unwrap_or(0))
    }

    fn sealer(&self, reveal: bool) -> Result<Option<crate::secrets::Sealer>, StateError> {
        Ok(match (&self.inner.store.secrets, reveal) {
            (Some(secrets), true) => Some(secrets.sealer()?),
            (Some(_) | None, true | false) => None,
        })
    }

    fn read(
        &self,
        since_ms: i64,
        limit: u64,
        pattern: Option<&lord_manifest::Topic>,
        reveal: bool,
    ) -> Result<Vec<Event>, StateError> {
        // What is queued is shown once written. A write that fails leaves
        // it queued and the read shows what is stored: one event that
        // cannot be written must not make every read fail too. The failure
        // is the command's own flush's to report, at its end.
        let _ = self.flush();
        let sealer = self.sealer(reveal)?;
        let conn = self.inner.store.db.conn()?;
        // Newest first, to `limit`. Every row is looked at, not only those
        // down to the first older than `since_ms`: an event is numbered
        // when its process flushes, which may be long after it was
        // published, so an old time can sit above newer ones stored by
        // other processes meanwhile.
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at_ms, topic, source, propagation, payload, sensitive, sealed
             FROM events WHERE at_ms >= ?1 ORDER BY seq DESC",
        )?;
        let rows = stmt.query([since_ms])?;
        let mut events = collect(rows, limit, pattern, sealer.as_ref())?;
        // In the order they were published, which a late flush makes
        // differ from the order they were stored.
        events.sort_by_key(|e| (e.at_ms, e.seq));
        Ok(events)
    }

    /// How many events of each source the log dropped, most first: older
    /// ones to keep it within its budget, and any let go because writes
    /// failed for longer than [`REQUEUE_AT_MOST`] events.
    pub fn dropped(&self) -> Result<Vec<Dropped>, StateError> {
        self.flush()?;
        let conn = self.inner.store.db.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT source, dropped FROM event_drops ORDER BY dropped DESC, source",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Dropped {
                source: r.get(0)?,
                dropped: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes what the retention policy no longer keeps; returns how many.
    pub fn prune(&self, now_ms: i64) -> Result<u64, StateError> {
        self.flush()?;
        prune(&self.inner.store.db, self.inner.store.retention, now_ms)
    }
}

/// Up to `limit` of `rows`, in their order, only those `pattern` matches;
/// the topic is read first, so an event that does not match is neither
/// decoded nor unsealed.
fn collect(
    mut rows: rusqlite::Rows<'_>,
    limit: u64,
    pattern: Option<&lord_manifest::Topic>,
    sealer: Option<&crate::secrets::Sealer>,
) -> Result<Vec<Event>, StateError> {
    let mut events = Vec::new();
    while u64::try_from(events.len()).unwrap_or(u64::MAX) < limit {
        let Some(row) = rows.next()? else { break };
        if let Some(pattern) = pattern
            && !pattern.matches(&row.get::<_, String>(2)?)
        {
            continue;
        }
        let at_ms: i64 = row.get(1)?;
        events.push(decode_row(row, at_ms, sealer)?);
    }
    Ok(events)
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
    // Both deletions in one transaction, like every write here.
    db.write(|tx| prune_in(tx, retention, now_ms))
}

/// [`prune`]'s deletions, in the caller's transaction.
fn prune_in(
    tx: &rusqlite::Transaction<'_>,
    retention: Retention,
    now_ms: i64,
) -> Result<u64, StateError> {
    let oldest = now_ms - i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    // Events are appended in time order, so the expired ones are the
    // oldest by sequence: the subquery walks the table from its start and
    // stops at the first event young enough, with no index on the time to
    // keep up on every append.
    let mut freed = Counts::default();
    let by_age = deleting(
        tx,
        "DELETE FROM events WHERE seq < COALESCE(
             (SELECT seq FROM events WHERE at_ms >= ?1 ORDER BY seq LIMIT 1),
             (SELECT MAX(seq) + 1 FROM events))
         RETURNING source, bytes",
        oldest,
        &mut freed,
    )?;
    let by_count = deleting(
        tx,
        "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?1
         RETURNING source, bytes",
        i64::try_from(retention.max_events).unwrap_or(i64::MAX),
        &mut freed,
    )?;
    freed.keep(tx, -1)?;
    Ok(by_age + by_count)
}

/// Runs a `DELETE ... RETURNING source, bytes` with one parameter,
/// counting what it deleted into `freed`; returns how many rows.
fn deleting(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    param: i64,
    freed: &mut Counts,
) -> Result<u64, StateError> {
    let mut statement = tx.prepare_cached(sql)?;
    let mut rows = statement.query([param])?;
    let mut deleted = 0;
    while let Some(row) = rows.next()? {
        let source: String = row.get(0)?;
        let bytes = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
        freed.add(&source, bytes);
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: &str, n: i64, at_ms: i64) -> Arc<Event> {
        Arc::new(Event {
            seq: 0,
            topic: "t.out".to_owned(),
            source: source.to_owned(),
            propagation: Propagation::Global,
            at_ms,
            payload: serde_json::json!(n),
            sensitive: false,
        })
    }

    /// An event published early but stored late (its process flushed
    /// long after) sits above newer events other processes stored: a
    /// read by time still finds those, and following by number misses
    /// none.
    #[test]
    fn a_late_flush_hides_no_other_process_events() {
        let home = tempfile::tempdir().expect("home");
        let early = EventLog::new(
            StateDb::open(home.path()).expect("db"),
            Retention::default(),
        );
        let other = EventLog::new(
            StateDb::open(home.path()).expect("db"),
            Retention::default(),
        );
        let now = crate::bus::now_ms();
        early
            .append(event("slow", 1, now - 3_600_000))
            .expect("append");
        other
            .append(event("quick", 2, now - 60_000))
            .expect("append");
        other.flush().expect("flush");
        early.flush().expect("flush");
        let recent: Vec<String> = other
            .since(now - 120_000, 100)
            .expect("since")
            .into_iter()
            .map(|e| e.source)
            .collect();
        assert_eq!(recent, ["quick"]);
        let (all, next) = other.after(0, 100, None, false).expect("after");
        let sources: Vec<&str> = all.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(sources, ["quick", "slow"]);
        assert_eq!(next, all[1].seq);
        let (first, next) = other.after(0, 1, None, false).expect("after");
        assert_eq!(next, first[0].seq);
        assert_eq!(
            other.after(next, 100, None, false).expect("after").0.len(),
            1
        );
        // Replay by time gives them in the order they were published.
        let replayed: Vec<String> = other
            .since(0, 100)
            .expect("since")
            .into_iter()
            .map(|e| e.source)
            .collect();
        assert_eq!(replayed, ["slow", "quick"]);
        // A pattern that matches nothing still moves the follower on.
        let nothing = lord_manifest::Topic::pattern("no.such").expect("pattern");
        let (none, next) = other.after(0, 100, Some(&nothing), false).expect("after");
        assert!(none.is_empty());
        assert_eq!(next, all[1].seq);
        // Numbers past the newest (the log emptied and started over) are
        // read from the start.
        assert_eq!(
            other
                .after(next + 50, 100, None, false)
                .expect("after")
                .0
                .len(),
            2
        );
    }

    /// The budget's lookups go through the index that leaves lord's own
    /// events out, and the name they leave out is lord's.
    #[test]
    fn budget_lookups_use_the_index_without_lords_events() {
        assert_eq!(lord_manifest::LORD, "lord");
        let home = tempfile::tempdir().expect("home");
        let db = StateDb::open(home.path()).expect("db");
        let log = EventLog::new(db.clone(), Retention::default());
        log.append(event("lord", 1, 1_000)).expect("append");
        log.flush().expect("flush");
        let conn = db.conn().expect("conn");
        for statement in [OLDEST_OF_SOURCE, DROP_OLDEST_OF_SOURCE] {
            let mut explain = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
                .expect("plan");
            let values: [&dyn rusqlite::ToSql; 2] = [&"noisy", &1];
            let bound = &values[..explain.parameter_count()];
            let plan: Vec<String> = explain
                .query_map(bound, |r| r.get::<_, String>(3))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(
                plan.iter()
                    .any(|step| step.contains("INDEX events_by_source")),
                "{statement}: {plan:?}"
            );
        }
        // A new database has the index as a migrated one does.
        let index: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 'events_by_source'",
                [],
                |r| r.get(0),
            )
            .expect("index");
        assert!(index.ends_with("WHERE source <> 'lord'"), "{index}");
    }

    type Totals = Vec<(String, i64, i64)>;

    /// The kept totals and the same figures counted from the rows.
    fn totals(db: &StateDb) -> (Totals, Totals) {
        let conn = db.conn().expect("conn");
        let read = |sql: &str| -> Totals {
            conn.prepare(sql)
                .expect("prepare")
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        (
            read("SELECT source, events, bytes FROM event_totals WHERE events > 0 ORDER BY source"),
            read("SELECT source, COUNT(*), SUM(bytes) FROM events GROUP BY source ORDER BY source"),
        )
    }

    /// A log holding one event, with its table then renamed away by another
    /// connection (returned, to rename it back), so every write fails.
    fn failing_log() -> (tempfile::TempDir, EventLog, rusqlite::Connection) {
        let home = tempfile::tempdir().expect("home");
        let db = StateDb::open(home.path()).expect("db");
        let log = EventLog::new(db, Retention::default());
        log.append(event("notes", 0, 1_000)).expect("append");
        log.flush().expect("flush");
        let other = rusqlite::Connection::open(home.path().join("state.db")).expect("open");
        other
            .execute_batch("ALTER TABLE events RENAME TO events_away")
            .expect("rename");
        (home, log, other)
    }

    /// A write that fails (here, its table renamed away by another
    /// connection) keeps the events queued, and the next write that can
    /// stores them all, in order.
    #[test]
    fn events_a_failed_write_could_not_store_are_written_by_the_next() {
        let (_home, log, other) = failing_log();
        for n in 1..=3 {
            log.append(event("notes", n, 1_000 + n)).expect("queued");
        }
        assert!(log.flush().is_err(), "the write had no table");
        other
            .execute_batch("ALTER TABLE events_away RENAME TO events")
            .expect("rename back");
        assert_eq!(log.flush().expect("flush"), 3);
        let kept: Vec<i64> = log
            .since(0, 100)
            .expect("read")
            .iter()
            .map(|e| e.at_ms)
            .collect();
        assert_eq!(kept, [1_000, 1_001, 1_002, 1_003]);
    }

    /// Writes that go on failing keep at most [`REQUEUE_AT_MOST`] events;
    /// the ones let go are counted with the drops by the next write that
    /// succeeds, so every event appended is either stored or counted.
    #[test]
    fn events_let_go_while_writes_fail_are_counted_as_dropped() {
        let (_home, log, other) = failing_log();
        let appended = REQUEUE_AT_MOST + 300;
        for n in 1..=appended {
            // Each full batch tries a write, which fails; the events stay
            // queued up to the cap.
            let n = i64::try_from(n).expect("small");
            let _ = log.append(event("notes", n, 1_000 + n));
        }
        assert!(log.flush().is_err(), "the write had no table");
        other
            .execute_batch("ALTER TABLE events_away RENAME TO events")
            .expect("rename back");
        log.flush().expect("flush");
        let stored = log.since(0, u64::MAX).expect("read").len();
        let dropped: u64 = log
            .dropped()
            .expect("drops")
            .iter()
            .map(|d| d.dropped)
            .sum();
        assert_eq!(stored, REQUEUE_AT_MOST + 1, "the cap and the first event");
        assert_eq!(
            stored as u64 + dropped,
            appended as u64 + 1,
            "{stored} stored and {dropped} counted as dropped"
        );
    }

    /// `matching` gives the newest matches however many other events came
    /// after them, oldest first, and only matches.
    #[test]
    fn matching_takes_its_limit_of_matches_not_of_events() {
        let home = tempfile::tempdir().expect("home");
        let db = StateDb::open(home.path()).expect("db");
        let log = EventLog::new(db, Retention::default());
        for n in 0..5 {
            let mut wanted = (*event("notes", n, 1_000 + n)).clone();
            wanted.topic = "notes.added".to_owned();
            log.append(Arc::new(wanted)).expect("append");
        }
        for n in 0..50 {
            log.append(event("noisy", n, 2_000 + n)).expect("append");
        }
        let pattern = lord_manifest::Topic::pattern("notes.*").expect("pattern");
        let found = log.matching(0, 3, &pattern, false).expect("read");
        let payloads: Vec<_> = found.iter().map(|e| e.payload.clone()).collect();
        assert_eq!(payloads, [2, 3, 4].map(|n| serde_json::json!(n)));
        assert!(found.iter().all(|e| e.topic == "notes.added"));
        // Unfiltered, the newest three are the noisy ones.
        assert!(
            log.since(0, 3)
                .expect("read")
                .iter()
                .all(|e| e.topic == "t.out")
        );
        // `since_ms` still bounds it.
        assert_eq!(
            log.matching(1_003, 10, &pattern, false)
                .expect("read")
                .len(),
            2
        );
    }

    /// A write that begins while another is still on its way to the
    /// database waits for it: the later event is stored after the earlier
    /// one, never before (reads that stop at the first event too old rely
    /// on the log's order being the order of publishing). The earlier
    /// batch is large, so that encoding it leaves a later write ample time
    /// to overtake.
    #[test]
    fn a_write_begun_later_is_stored_after_one_in_progress() {
        let home = tempfile::tempdir().expect("home");
        let db = StateDb::open(home.path()).expect("db");
        let retention = Retention {
            per_plugin: LogBudget {
                bytes: 64 << 20,
                events: 100,
            },
            ..Retention::default()
        };
        let log = EventLog::new(db, retention);
        let large = "x".repeat(2 << 20);
        let numbered = |n: i64, pad: &str| {
            let mut one = event("p", n, 1_000 + n);
            Arc::make_mut(&mut one).payload = serde_json::json!([n, pad]);
            one
        };
        for trial in 0..3 {
            let earlier = trial * 2;
            log.append(numbered(earlier, &large)).expect("append");
            std::thread::scope(|scope| {
                let writing = scope.spawn(|| log.flush());
                // Once that write has taken the queue, a later event,
                // flushed at once.
                while !log.inner.pending.lock().expect("queue").is_empty() {
                    std::thread::yield_now();
                }
                log.append(numbered(earlier + 1, "")).expect("append");
                log.flush().expect("flush");
                writing.join().expect("thread").expect("flush");
            });
        }
        let order: Vec<i64> = log
            .since(0, u64::MAX)
            .expect("read")
            .iter()
            .map(|e| e.payload[0].as_i64().expect("a number"))
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    }

    /// The budget check reads each source's totals instead of counting its
    /// rows: they must agree with the rows through appends, budget drops
    /// and retention by age and by count.
    #[test]
    fn the_kept_totals_follow_appends_drops_and_retention() {
        let home = tempfile::tempdir().expect("home");
        let db = StateDb::open(home.path()).expect("db");
        let retention = Retention {
            max_age: Duration::from_secs(60),
            max_events: 40,
            per_plugin: LogBudget {
                bytes: 1 << 20,
                events: 7,
            },
        };
        let log = EventLog::new(db.clone(), retention);
        for n in 0..30 {
            for source in ["noisy", "lord", "calm"] {
                if source != "calm" || n % 10 == 0 {
                    log.append(event(source, n, 1_000 + n)).expect("append");
                }
            }
            if n % 4 == 0 {
                log.flush().expect("flush");
            }
        }
        log.flush().expect("flush");
        let (kept, counted) = totals(&db);
        assert_eq!(kept, counted);
        assert!(
            kept.iter().any(|(s, n, _)| s == "noisy" && *n == 7),
            "{kept:?}"
        );

        // By count (40 in all) and then by age: everything is older than
        // a minute at 1 000 000 ms.
        log.prune(1_050).expect("prune");
        let (kept, counted) = totals(&db);
        assert_eq!(kept, counted);
        log.prune(1_000_000).expect("prune");
        let (kept, counted) = totals(&db);
        assert_eq!((kept.len(), counted.len()), (0, 0), "{kept:?}");
    }
}
