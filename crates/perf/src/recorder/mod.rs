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

use std::collections::HashMap;
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

mod held;

use held::{HELD, Held};

/// Samples held before a batch is folded off the call path.
const BATCH: usize = 4096;
/// A batch older than this is folded (and written) however small, so a
/// long-running process shows up in another's `lord plugin top`.
const STALE: Duration = Duration::from_secs(2);
/// How often (in samples) the call path looks at the clock for staleness.
const CLOCK_EVERY: usize = 64;
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
        // A hit is still a use of the plugin: the usage log counts it (as
        // `cached`), which needs its time.
        let at_ms = match self.inner.analytics.load(Ordering::Relaxed) {
            ANALYTICS_OFF => 0,
            _ if hit => now_ms(),
            _ => 0,
        };
        let batch = {
            let mut pending = lock(&self.inner.pending);
            let index = pending.key_index(plugin, kind, name);
            pending.cache.push((index, hit));
            if at_ms > 0 {
                pending.samples.push((index, at_ms, Sample::cached()));
            }
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
            lock(&self.inner.calls).clear();
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
        rows.extend(held::pending_rows(&pending.keys, &pending.samples, session));
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
        if on { calls.len() } else { 0 }
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
        // A cached answer is in the usage log; here it is a cache hit.
        if sample.outcome == Outcome::Cached {
            continue;
        }
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
    let held = if inner.analytics.load(Ordering::Relaxed) == ANALYTICS_ON {
        lock(&inner.calls).take()
    } else {
        Held::default()
    };
    let rows: Vec<CallRow> = held.rows(inner.session).collect();
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
fn keep_calls(inner: &Inner, rows: Held) {
    lock(&inner.calls).put_back(rows);
}

/// Figures that could not be written, merged back for the next write.
fn keep_figures(inner: &Inner, deltas: Vec<(EntryKey, EntryStats)>) {
    let mut folded = lock(&inner.folded);
    for (key, stats) in deltas {
        folded.entry(key).or_default().merge(&stats);
    }
}

#[cfg(test)]
mod tests;
