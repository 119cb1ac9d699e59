//! The recorder a host hands the sandbox: on the call path it only appends
//! a fixed-size sample to a buffer under an uncontended lock (no
//! allocation once an entry point has been seen, but for the first call
//! after a `flush`); full or stale buffers
//! are folded into histograms on a thread of their own; what is folded is
//! written to `perf.db` within [`WRITE_EVERY`], by one delayed write for
//! everything folded meanwhile (sooner when many usage-log rows wait).
//! `flush` does the rest before a process exits.
//!
//! Each call also becomes a row of the usage log (`calls.rs`) while
//! analytics is on; while the host has not yet said whether it is (its
//! configuration is read lazily), rows are held, up to [`HELD`], and
//! written once it says yes or dropped once it says no.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lord_manifest::PluginId;

use crate::calls::CallRow;
use crate::db::PerfDb;
use crate::error::PerfError;
use crate::sample::{EntryKind, Outcome, Sample};
use crate::stats::{EntryKey, EntryStats};

/// Samples held before a batch is folded off the call path.
const BATCH: usize = 4096;
/// A batch older than this is folded (and written) however small, so a
/// long-running process shows up in another's `lord plugin top`.
const STALE: Duration = Duration::from_secs(2);
/// How often (in samples) the call path looks at the clock for staleness.
const CLOCK_EVERY: usize = 64;
/// Usage-log rows held while nobody has said whether analytics is on: a
/// long-running process that never says keeps its latest calls only.
const HELD: usize = 50_000;
/// How long folded figures wait to be written to `perf.db`: a process
/// calling plugins in a tight loop fills a batch every few milliseconds,
/// and writing each one (opening the file, a transaction, its log) kept a
/// tenth of a second core busy here (`perf stat`: 1.10 CPUs against 1.01,
/// ten times the page faults). One delayed write takes everything folded
/// meanwhile; figures are at most this much older in another process's
/// `lord plugin top`, and `flush` writes everything whenever it is called.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Usage-log rows that are written at once rather than with the delayed
/// write, so that a busy process with analytics on drops none of them.
const ROWS_AT: usize = HELD / 2;

/// Whether calls go to the usage log.
const ANALYTICS_UNKNOWN: u8 = 0;
const ANALYTICS_ON: u8 = 1;
const ANALYTICS_OFF: u8 = 2;

/// Where one process's plugin calls are recorded. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The lord home whose `perf.db` receives the figures; `None` keeps
    /// them in memory only (benchmarks, tests).
    home: Option<PathBuf>,
    pending: Mutex<Pending>,
    /// Folded figures not yet written to `perf.db`.
    folded: Mutex<HashMap<EntryKey, EntryStats>>,
    /// Folds running on their own threads.
    folding: Mutex<Vec<JoinHandle<()>>>,
    /// One writer at a time per process.
    writing: Mutex<()>,
    /// `ANALYTICS_UNKNOWN`, `_ON` or `_OFF`.
    analytics: AtomicU8,
    /// This process's number in the usage log.
    session: u64,
    /// Usage-log rows not yet written.
    calls: Mutex<Held>,
    /// Whether a delayed write is waiting to run.
    delayed: AtomicBool,
    /// `perf.db` being opened ahead of the next write
    /// ([`Recorder::open_ahead`]), once per process.
    ahead: Mutex<Ahead>,
}

/// `perf.db` opened ahead of a write.
#[derive(Debug, Default)]
enum Ahead {
    /// Never asked for.
    #[default]
    No,
    /// Opening on a thread of its own.
    Opening(JoinHandle<Result<PerfDb, PerfError>>),
    /// Asked for once and used (or it could not be had): later writes
    /// open the file themselves.
    Used,
}

#[derive(Debug)]
struct Pending {
    keys: Vec<EntryKey>,
    /// Each call's entry point, when it ended (ms since the epoch; 0
    /// when analytics is off) and its figures.
    samples: Vec<(u32, u64, Sample)>,
    cache: Vec<(u32, bool)>,
    /// The key the last call used: a plugin called in a loop hits it.
    last: usize,
    since: Instant,
}

/// Usage-log rows not yet written, held compactly: a row names its entry
/// point by its index in `keys`, so holding a call copies no string; the
/// strings are copied when rows are written. The indexes are [`Pending`]'s, which only grows its
/// keys, so an index means the same entry point for the recorder's life.
#[derive(Debug, Default)]
struct Held {
    keys: Vec<EntryKey>,
    rows: VecDeque<HeldCall>,
}

#[derive(Debug, Clone, Copy)]
struct HeldCall {
    key: u32,
    at_ms: u64,
    outcome: Outcome,
    wall_ns: u64,
    input_bytes: u64,
}

impl Held {
    /// Adds a batch's calls (those with a time: none while analytics is
    /// off). Until the host says analytics is on, only the latest
    /// [`HELD`] are kept; once it is, none is dropped (they are written
    /// from [`ROWS_AT`] on, and a failed write keeps the latest `HELD`).
    fn add(&mut self, keys: &[EntryKey], samples: &[(u32, u64, Sample)], on: bool) {
        if let Some(new) = keys.get(self.keys.len()..) {
            self.keys.extend_from_slice(new);
        }
        self.rows.extend(held_calls(samples));
        if !on {
            self.keep_latest();
        }
    }

    fn keep_latest(&mut self) {
        let excess = self.rows.len().saturating_sub(HELD);
        self.rows.drain(..excess);
    }

    /// The rows as the usage log stores them.
    fn rows<'a>(&'a self, session: u64) -> impl Iterator<Item = CallRow> + 'a {
        self.rows
            .iter()
            .filter_map(move |call| call_row(&self.keys, session, call))
    }
}

/// A batch's calls with a time (none while analytics is off), as held.
fn held_calls(samples: &[(u32, u64, Sample)]) -> impl Iterator<Item = HeldCall> + '_ {
    samples
        .iter()
        .filter(|(_, at_ms, _)| *at_ms > 0)
        .map(|(key, at_ms, sample)| HeldCall {
            key: *key,
            at_ms: *at_ms,
            outcome: sample.outcome,
            wall_ns: sample.wall_ns,
            input_bytes: sample.input_bytes,
        })
}

/// One held call as a usage-log row; `None` for an index no key has,
/// which [`Held::add`] never lets happen.
fn call_row(keys: &[EntryKey], session: u64, call: &HeldCall) -> Option<CallRow> {
    let key = keys.get(call.key as usize)?;
    Some(CallRow {
        at_ms: call.at_ms,
        session,
        plugin: key.plugin.clone(),
        kind: key.kind,
        name: key.name.clone(),
        outcome: call.outcome,
        wall_ns: call.wall_ns,
        input_bytes: call.input_bytes,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves counts, never a broken
    // invariant: keep going.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A batch handed from the call path to a fold.
struct Batch {
    keys: Vec<EntryKey>,
    samples: Vec<(u32, u64, Sample)>,
    cache: Vec<(u32, bool)>,
}

impl Pending {
    fn key_index(&mut self, plugin: &PluginId, kind: EntryKind, name: &str) -> u32 {
        let same = |k: &EntryKey| k.kind == kind && k.name == name && k.plugin == *plugin;
        let index = match self.keys.get(self.last) {
            Some(k) if same(k) => self.last,
            _ => match self.keys.iter().position(same) {
                Some(i) => i,
                None => {
                    self.keys.push(EntryKey {
                        plugin: plugin.clone(),
                        kind,
                        name: name.to_owned(),
                    });
                    self.keys.len() - 1
                }
            },
        };
        self.last = index;
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// The samples so far. `refill`: the call path goes on filling the
    /// buffer (a full batch), so a full-sized one takes its place and no
    /// call allocates; a flush (at exit, mostly) leaves an empty one, since
    /// allocating a batch's worth (~800 KB) for a process about to end
    /// costs it more than all its figures.
    fn take(&mut self, refill: bool) -> Batch {
        self.since = Instant::now();
        let empty = if refill {
            Vec::with_capacity(BATCH)
        } else {
            Vec::new()
        };
        Batch {
            keys: self.keys.clone(),
            samples: std::mem::replace(&mut self.samples, empty),
            cache: std::mem::take(&mut self.cache),
        }
    }

    fn due(&self) -> bool {
        let len = self.samples.len() + self.cache.len();
        len >= BATCH || (len.is_multiple_of(CLOCK_EVERY) && self.since.elapsed() >= STALE)
    }
}

impl Recorder {
    /// A recorder writing to `home`'s `perf.db`.
    pub fn new(home: PathBuf) -> Self {
        Self::with_home(Some(home))
    }

    /// A recorder that keeps its figures in memory only.
    pub fn in_memory() -> Self {
        Self::with_home(None)
    }

    fn with_home(home: Option<PathBuf>) -> Self {
        // In memory there is no usage log to keep: off from the start, so
        // a benchmark pays no clock read for it.
        let analytics = if home.is_some() {
            ANALYTICS_UNKNOWN
        } else {
            ANALYTICS_OFF
        };
        Self {
            inner: Arc::new(Inner {
                home,
                pending: Mutex::new(Pending {
                    keys: Vec::new(),
                    samples: Vec::with_capacity(256),
                    cache: Vec::new(),
                    last: 0,
                    since: Instant::now(),
                }),
                folded: Mutex::new(HashMap::new()),
                folding: Mutex::new(Vec::new()),
                writing: Mutex::new(()),
                analytics: AtomicU8::new(analytics),
                session: session_number(),
                calls: Mutex::new(Held::default()),
                delayed: AtomicBool::new(false),
                ahead: Mutex::new(Ahead::No),
            }),
        }
    }

    /// Records one call of `plugin`'s entry point. The hot path: a lock
    /// nobody else holds, a comparison with the last entry point, a copy.
    pub fn record(&self, plugin: &PluginId, kind: EntryKind, name: &str, sample: &Sample) {
        // One read of the real-time clock (a vDSO call) for the usage log.
        let at_ms = match self.inner.analytics.load(Ordering::Relaxed) {
            ANALYTICS_OFF => 0,
            _ => now_ms(),
        };
        self.record_at(plugin, kind, name, sample, at_ms);
    }

    /// [`Recorder::record`] for a caller that read the real-time clock
    /// already (ms since the epoch): the call path reads it once for the
    /// recorder and the quotas together.
    pub fn record_at(
        &self,
        plugin: &PluginId,
        kind: EntryKind,
        name: &str,
        sample: &Sample,
        at_ms: u64,
    ) {
        let batch = {
            let mut pending = lock(&self.inner.pending);
            let index = pending.key_index(plugin, kind, name);
            pending.samples.push((index, at_ms, *sample));
            pending.due().then(|| pending.take(true))
        };
        if let Some(batch) = batch {
            self.fold_elsewhere(batch);
        }
    }

    /// Records a result-cache lookup for `plugin`'s entry point.
    pub fn record_cache(&self, plugin: &PluginId, kind: EntryKind, name: &str, hit: bool) {
        let batch = {
            let mut pending = lock(&self.inner.pending);
            let index = pending.key_index(plugin, kind, name);
            pending.cache.push((index, hit));
            pending.due().then(|| pending.take(true))
        };
        if let Some(batch) = batch {
            self.fold_elsewhere(batch);
        }
    }

    /// Says whether calls go to the usage log (`analytics.enabled`). Off
    /// drops what is held; the host deletes what was written.
    pub fn set_analytics(&self, on: bool) {
        let state = if on { ANALYTICS_ON } else { ANALYTICS_OFF };
        self.inner.analytics.store(state, Ordering::Relaxed);
        if !on {
            lock(&self.inner.calls).rows.clear();
        }
    }

    /// Whether no call has been recorded in this process: a process that
    /// ran no plugin has nothing for the usage log.
    pub fn is_idle(&self) -> bool {
        lock(&self.inner.pending).keys.is_empty()
    }

    /// Begins opening `perf.db` on a thread of its own, for a process
    /// about to record calls and write them soon (a one-shot command):
    /// the connection, its log and index files and the schema check are
    /// then ready when the figures are written at exit, instead of being
    /// made on the exit path. Only once per process, and not for a
    /// recorder that keeps its figures in memory.
    pub fn open_ahead(&self) {
        let Some(home) = &self.inner.home else {
            return;
        };
        let mut ahead = lock(&self.inner.ahead);
        if !matches!(*ahead, Ahead::No) {
            return;
        }
        let home = home.clone();
        *ahead = std::thread::Builder::new()
            .name("lord-perf-open".to_owned())
            .spawn(move || PerfDb::open(&home))
            .map_or(Ahead::Used, Ahead::Opening);
    }

    /// This process's number in the usage log.
    pub fn session(&self) -> u64 {
        self.inner.session
    }

    /// This process's usage-log rows not yet written, pending calls
    /// included; none while analytics is off.
    pub fn unwritten_calls(&self) -> Vec<CallRow> {
        if self.inner.analytics.load(Ordering::Relaxed) == ANALYTICS_OFF {
            return Vec::new();
        }
        let session = self.inner.session;
        let pending = lock(&self.inner.pending);
        let held = lock(&self.inner.calls);
        let mut rows: Vec<CallRow> = held.rows(session).collect();
        rows.extend(
            held_calls(&pending.samples).filter_map(|call| call_row(&pending.keys, session, &call)),
        );
        rows
    }

    fn fold_elsewhere(&self, batch: Batch) {
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("lord-perf".to_owned())
            .spawn(move || {
                // A long-running process keeps `perf.db` current without
                // ever writing on a call's path.
                if fold(&inner, batch) >= ROWS_AT {
                    let _ = write(&inner);
                } else {
                    write_later(&inner);
                }
            });
        // No thread to be had: the batch was moved into the closure and is
        // lost with it; figures are advisory, calls are not.
        if let Ok(handle) = spawned {
            let mut folding = lock(&self.inner.folding);
            folding.retain(|h| !h.is_finished());
            folding.push(handle);
        }
    }

    /// Folds everything pending and writes it to `perf.db`. For a process
    /// about to exit, and for readers that want this process's latest.
    pub fn flush(&self) -> Result<(), PerfError> {
        let batch = lock(&self.inner.pending).take(false);
        fold(&self.inner, batch);
        let handles = std::mem::take(&mut *lock(&self.inner.folding));
        for handle in handles {
            let _ = handle.join();
        }
        write(&self.inner)
    }

    /// This process's figures not yet in `perf.db` (all of them, for an
    /// in-memory recorder), pending samples included.
    pub fn unwritten(&self) -> Vec<(EntryKey, EntryStats)> {
        let batch = {
            let pending = lock(&self.inner.pending);
            Batch {
                keys: pending.keys.clone(),
                samples: pending.samples.clone(),
                cache: pending.cache.clone(),
            }
        };
        let mut map = lock(&self.inner.folded).clone();
        fold_into(&mut map, batch);
        let mut out: Vec<_> = map.into_iter().collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Folds `batch` into the figures and the held usage-log rows; returns how
/// many rows wait to be written (none while analytics is not known to be
/// on: those are held, not written).
fn fold(inner: &Inner, batch: Batch) -> usize {
    if batch.samples.is_empty() && batch.cache.is_empty() {
        return 0;
    }
    let analytics = inner.analytics.load(Ordering::Relaxed);
    let held = if analytics == ANALYTICS_OFF {
        0
    } else {
        let on = analytics == ANALYTICS_ON;
        let mut calls = lock(&inner.calls);
        calls.add(&batch.keys, &batch.samples, on);
        if on { calls.rows.len() } else { 0 }
    };
    let mut folded = lock(&inner.folded);
    fold_into(&mut folded, batch);
    held
}

/// A number for this process: its id and the time it started, mixed, so
/// two processes (even of the same id, years apart) get different ones.
fn session_number() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id())).rotate_left(40)
}

fn fold_into(map: &mut HashMap<EntryKey, EntryStats>, batch: Batch) {
    let at = now_ms();
    // Folded by the batch's own key indexes first, then merged once per
    // entry point: hashing and copying the key for each sample cost more
    // than the sample's histograms. Boxed: a process that has seen many
    // entry points pays a pointer for each one this batch did not call.
    let mut each: Vec<Option<Box<EntryStats>>> = vec![None; batch.keys.len()];
    for (index, _, sample) in &batch.samples {
        if let Some(slot) = each.get_mut(*index as usize) {
            slot.get_or_insert_default().add_sample(sample, at);
        }
    }
    for (index, hit) in &batch.cache {
        if let Some(slot) = each.get_mut(*index as usize) {
            slot.get_or_insert_default().add_cache(*hit, at);
        }
    }
    for (key, stats) in batch.keys.iter().zip(each) {
        let Some(stats) = stats else { continue };
        match map.get_mut(key) {
            Some(folded) => folded.merge(&stats),
            None => {
                map.insert(key.clone(), *stats);
            }
        }
    }
}

/// Writes what is folded [`WRITE_EVERY`] from now, on a thread of its own
/// that `flush` does not wait for, unless such a write is already waiting
/// (it will take this fold too: it clears the flag before writing). The
/// thread holds the recorder weakly, so a recorder dropped meanwhile
/// (flushed as it went) is not kept alive for it.
fn write_later(inner: &Arc<Inner>) {
    if inner.home.is_none() || inner.delayed.swap(true, Ordering::SeqCst) {
        return;
    }
    let weak = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("lord-perf-write".to_owned())
        .spawn(move || {
            std::thread::sleep(WRITE_EVERY);
            if let Some(inner) = weak.upgrade() {
                inner.delayed.store(false, Ordering::SeqCst);
                let _ = write(&inner);
            }
        });
    if spawned.is_err() {
        // No thread to be had: the next fold, or `flush`, writes it.
        inner.delayed.store(false, Ordering::SeqCst);
    }
}

/// Writes the folded figures to `perf.db`; on failure they are kept for the
/// next write.
fn write(inner: &Inner) -> Result<(), PerfError> {
    let Some(home) = &inner.home else {
        return Ok(());
    };
    let _writer = lock(&inner.writing);
    // Usage-log rows only once analytics is known to be on; their strings
    // are copied after the folds' lock is let go.
    let (held, keys) = if inner.analytics.load(Ordering::Relaxed) == ANALYTICS_ON {
        let mut calls = lock(&inner.calls);
        (std::mem::take(&mut calls.rows), calls.keys.clone())
    } else {
        (VecDeque::new(), Vec::new())
    };
    let rows: Vec<CallRow> = held
        .iter()
        .filter_map(|call| call_row(&keys, inner.session, call))
        .collect();
    let deltas: Vec<(EntryKey, EntryStats)> = lock(&inner.folded).drain().collect();
    if rows.is_empty() && deltas.is_empty() {
        return Ok(());
    }
    // One connection for both: opening `perf.db` (its log and index
    // files, the schema check) cost a one-shot command more than writing,
    // so it may have been opened ahead (`open_ahead`).
    let opening = {
        let mut ahead = lock(&inner.ahead);
        match std::mem::take(&mut *ahead) {
            Ahead::Opening(handle) => {
                *ahead = Ahead::Used;
                Some(handle)
            }
            other @ (Ahead::No | Ahead::Used) => {
                *ahead = other;
                None
            }
        }
    };
    // A thread that failed to open it leaves the error to this open.
    let db = match opening.and_then(|handle| handle.join().ok()?.ok()) {
        Some(db) => Ok(db),
        None => PerfDb::open(home),
    };
    let mut db = match db {
        Ok(db) => db,
        Err(e) => {
            keep_calls(inner, held);
            keep_figures(inner, deltas);
            return Err(e);
        }
    };
    let calls_written = if rows.is_empty() {
        Ok(())
    } else {
        db.add_calls(&rows, now_ms())
            .inspect_err(|_| keep_calls(inner, held))
    };
    let figures_written = if deltas.is_empty() {
        Ok(())
    } else {
        let written = db.add(&deltas);
        if written.is_err() {
            keep_figures(inner, deltas);
        }
        written
    };
    figures_written.and(calls_written)
}

/// Usage-log rows that could not be written, kept (oldest first) for the
/// next write.
fn keep_calls(inner: &Inner, mut rows: VecDeque<HeldCall>) {
    let mut calls = lock(&inner.calls);
    rows.append(&mut calls.rows);
    calls.rows = rows;
    calls.keep_latest();
}

/// Figures that could not be written, merged back for the next write.
fn keep_figures(inner: &Inner, deltas: Vec<(EntryKey, EntryStats)>) {
    let mut folded = lock(&inner.folded);
    for (key, stats) in deltas {
        folded.entry(key).or_default().merge(&stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{AREAS, Area, Outcome};

    fn sample(wall: u64) -> Sample {
        let mut host_ns = [0; AREAS];
        host_ns[Area::Shared.index()] = wall / 2;
        Sample {
            wall_ns: wall,
            host_ns,
            host_calls: [1; AREAS],
            peak_memory_bytes: 65536,
            output_bytes: 3,
            input_bytes: 0,
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn the_log_stays_short_across_many_one_shot_processes() {
        // Each process that opens perf.db first reads its whole
        // write-ahead log again, so the log must not grow with the number
        // of commands run: 200 one-shot flushes, each from a recorder of
        // its own as a `lord CMD` process makes, would leave ~2.4 MB.
        let home = tempfile::tempdir().expect("temp dir");
        let plugin = PluginId::new("p").expect("id");
        for i in 0..200u64 {
            let recorder = Recorder::new(home.path().to_owned());
            recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000 + i));
            recorder.flush().expect("flush");
        }
        let wal = std::fs::metadata(home.path().join("perf.db-wal")).map_or(0, |m| m.len());
        // What is kept, and one flush's frames more: a few 4 KiB pages,
        // each with its 24-byte header.
        let most = crate::db::WAL_KEPT + 8 * 4120;
        assert!(wal <= most, "the log grew to {wal} bytes, past {most}");
        let db = PerfDb::open(home.path()).expect("db");
        let rows = db.read(Some(&plugin)).expect("read");
        assert_eq!(rows[0].1.calls, 200, "no flush was lost to a checkpoint");
    }

    #[test]
    fn figures_written_through_a_database_opened_ahead_are_all_there() {
        let home = tempfile::tempdir().expect("temp dir");
        let plugin = PluginId::new("p").expect("id");
        // Opened ahead, then the calls, then two writes: the first uses
        // the connection opened ahead, the second opens its own.
        let recorder = Recorder::new(home.path().to_owned());
        recorder.open_ahead();
        recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000));
        recorder.flush().expect("first flush");
        recorder.open_ahead();
        recorder.record(&plugin, EntryKind::Command, "go", &sample(2_000));
        recorder.flush().expect("second flush");
        // Opened ahead and never written to: nothing is lost or held.
        let idle = Recorder::new(home.path().to_owned());
        idle.open_ahead();
        idle.flush().expect("idle flush");
        let rows = PerfDb::open(home.path())
            .expect("db")
            .read(Some(&plugin))
            .expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.calls, 2);
    }

    #[test]
    fn calls_reach_the_database_through_batches_and_the_final_flush() {
        let home = tempfile::tempdir().expect("temp dir");
        let recorder = Recorder::new(home.path().to_owned());
        let plugin = PluginId::new("p").expect("id");
        // More than one batch, so a fold thread writes some of them.
        for i in 0..(BATCH + 10) as u64 {
            recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000 + i));
        }
        recorder.record_cache(&plugin, EntryKind::Command, "go", true);
        recorder.flush().expect("flush");
        let db = PerfDb::open(home.path()).expect("db");
        let rows = db.read(Some(&plugin)).expect("read");
        assert_eq!(rows.len(), 1);
        let (key, stats) = &rows[0];
        assert_eq!(key.label(), "command:go");
        assert_eq!(stats.calls, (BATCH + 10) as u64);
        assert_eq!(stats.cache_hits, 1);
        assert_eq!(stats.host_calls[Area::Wasi.index()], (BATCH + 10) as u64);
        assert!(recorder.unwritten().is_empty());
        // A second process's calls add to the first's.
        let other = Recorder::new(home.path().to_owned());
        other.record(&plugin, EntryKind::Command, "go", &sample(5));
        other.flush().expect("flush");
        let rows = db.read(None).expect("read");
        assert_eq!(rows[0].1.calls, (BATCH + 11) as u64);
    }

    /// Joins the folds running on their own threads.
    fn folds_done(recorder: &Recorder) {
        for handle in std::mem::take(&mut *lock(&recorder.inner.folding)) {
            handle.join().expect("fold");
        }
    }

    #[test]
    fn interleaved_entry_points_are_folded_each_to_its_own_figures() {
        let recorder = Recorder::in_memory();
        let p = PluginId::new("p").expect("id");
        let q = PluginId::new("q").expect("id");
        // Over two batches, so folds merge into figures already there.
        let calls = 2 * BATCH as u64 + 5;
        for i in 0..calls {
            let (plugin, name) = match i % 3 {
                0 => (&p, "go"),
                1 => (&p, "stop"),
                _ => (&q, "go"),
            };
            recorder.record(plugin, EntryKind::Command, name, &sample(1_000 + i));
        }
        recorder.record_cache(&q, EntryKind::Command, "go", false);
        folds_done(&recorder);
        let figures = recorder.unwritten();
        let last = |residue: u64| (0..calls).rev().find(|i| i % 3 == residue).unwrap() + 1_000;
        let per = |residue: u64| (0..calls).filter(|i| i % 3 == residue).count() as u64;
        // Each entry point's slowest call is its last, to the histogram's
        // precision.
        let found: Vec<(String, String, u64, bool, u64)> = figures
            .iter()
            .zip([0, 1, 2])
            .map(|((key, stats), residue)| {
                (
                    key.plugin.to_string(),
                    key.label(),
                    stats.calls,
                    stats.wall_ns.equivalent(stats.wall_ns.max(), last(residue)),
                    stats.cache_misses,
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("p".into(), "command:go".into(), per(0), true, 0),
                ("p".into(), "command:stop".into(), per(1), true, 0),
                ("q".into(), "command:go".into(), per(2), true, 1),
            ]
        );
    }

    #[test]
    fn held_calls_keep_the_latest_and_name_their_entry_points() {
        let home = tempfile::tempdir().expect("temp dir");
        let recorder = Recorder::new(home.path().to_owned());
        let p = PluginId::new("p").expect("id");
        // Nobody says whether analytics is on while more than `HELD` calls
        // are made, over two entry points.
        let calls = (HELD + 2 * BATCH) as u64;
        for i in 0..calls {
            let name = if i % 2 == 0 { "even" } else { "odd" };
            let mut s = sample(i);
            s.input_bytes = i;
            recorder.record(&p, EntryKind::Command, name, &s);
        }
        folds_done(&recorder);
        recorder.set_analytics(true);
        recorder.flush().expect("flush");
        let rows = PerfDb::open(home.path())
            .expect("db")
            .read_calls(0)
            .expect("read");
        // The folded batches were cut to the latest HELD while nobody had
        // said; the calls still pending were folded once analytics was on.
        let pending = calls as usize % BATCH;
        assert_eq!(rows.len(), HELD + pending, "the latest calls are written");
        // Batches fold on threads of their own, in any order, so which
        // ones the cap cut is not fixed; the calls folded last are kept.
        let kept: std::collections::HashSet<u64> = rows.iter().map(|r| r.input_bytes).collect();
        assert!(
            (calls - pending as u64..calls).all(|i| kept.contains(&i)),
            "the latest calls are all kept"
        );
        for row in &rows {
            let name = if row.input_bytes % 2 == 0 {
                "even"
            } else {
                "odd"
            };
            assert_eq!(row.entry(), format!("command:{name}"));
            assert_eq!(row.wall_ns, row.input_bytes);
        }
    }

    #[test]
    fn folds_wait_for_one_delayed_write_and_flush_writes_them_all() {
        let home = tempfile::tempdir().expect("temp dir");
        let recorder = Recorder::new(home.path().to_owned());
        let plugin = PluginId::new("p").expect("id");
        // A delayed write is already waiting (it never comes: the flag is
        // set by hand): the folds of the next full batches do not write.
        recorder.inner.delayed.store(true, Ordering::SeqCst);
        for i in 0..(2 * BATCH) as u64 {
            recorder.record(&plugin, EntryKind::Command, "go", &sample(i));
        }
        folds_done(&recorder);
        assert!(!home.path().join("perf.db").exists(), "no write yet");
        assert_eq!(recorder.unwritten()[0].1.calls, (2 * BATCH) as u64);
        recorder.flush().expect("flush");
        let rows = PerfDb::open(home.path())
            .expect("db")
            .read(Some(&plugin))
            .expect("read");
        assert_eq!(rows[0].1.calls, (2 * BATCH) as u64);
        assert!(recorder.unwritten().is_empty());
    }

    #[test]
    fn figures_folded_when_calls_stop_are_written_without_a_flush() {
        let home = tempfile::tempdir().expect("temp dir");
        let recorder = Recorder::new(home.path().to_owned());
        let plugin = PluginId::new("p").expect("id");
        // One full batch, folded on its own thread, then no more calls and
        // no flush: a process that went idle.
        for i in 0..BATCH as u64 {
            recorder.record(&plugin, EntryKind::Command, "go", &sample(i));
        }
        folds_done(&recorder);
        // The delayed write comes after `WRITE_EVERY`; a slow machine gets
        // ten times that.
        let until = Instant::now() + 10 * WRITE_EVERY;
        let written = loop {
            let calls = PerfDb::open(home.path())
                .ok()
                .and_then(|db| db.read(Some(&plugin)).ok())
                .and_then(|rows| rows.first().map(|(_, stats)| stats.calls));
            if calls.is_some() || Instant::now() > until {
                break calls;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(written, Some(BATCH as u64));
    }

    #[test]
    fn a_busy_process_with_analytics_on_writes_every_call() {
        let home = tempfile::tempdir().expect("temp dir");
        let recorder = Recorder::new(home.path().to_owned());
        recorder.set_analytics(true);
        let plugin = PluginId::new("p").expect("id");
        // More calls than `HELD`, as fast as they can be made.
        let calls = (HELD + 2 * BATCH) as u64;
        for i in 0..calls {
            let mut s = sample(i);
            s.input_bytes = i;
            recorder.record(&plugin, EntryKind::Command, "go", &s);
        }
        recorder.flush().expect("flush");
        let mut seen: Vec<u64> = PerfDb::open(home.path())
            .expect("db")
            .read_calls(0)
            .expect("read")
            .iter()
            .map(|row| row.input_bytes)
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..calls).collect::<Vec<_>>(), "none dropped");
    }

    #[test]
    fn the_usage_log_waits_for_analytics_to_be_on_and_forgets_when_off() {
        let home = tempfile::tempdir().expect("temp dir");
        let plugin = PluginId::new("p").expect("id");
        let mut big = sample(7_000);
        big.input_bytes = 123;

        let on = Recorder::new(home.path().to_owned());
        on.record(&plugin, EntryKind::Command, "go", &big);
        // Nobody has said yet: the row is held, not written.
        on.flush().expect("flush");
        let db = PerfDb::open(home.path()).expect("db");
        assert!(db.read_calls(0).expect("read").is_empty());
        assert_eq!(on.unwritten_calls().len(), 1);
        on.set_analytics(true);
        on.flush().expect("flush");
        let rows = db.read_calls(0).expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].wall_ns, rows[0].input_bytes), (7_000, 123));
        assert_eq!(rows[0].session, on.session());
        assert_eq!(rows[0].entry(), "command:go");

        let off = Recorder::new(home.path().to_owned());
        off.record(&plugin, EntryKind::Command, "go", &big);
        off.set_analytics(false);
        off.record(&plugin, EntryKind::Command, "go", &big);
        off.flush().expect("flush");
        assert!(off.unwritten_calls().is_empty());
        assert_eq!(
            db.read_calls(0).expect("read").len(),
            1,
            "only the first process's call"
        );
        // The histograms still count every call.
        assert_eq!(db.read(None).expect("read")[0].1.calls, 3);
    }
}
