//! Per-minute quotas that hold across processes: calls, CPU time, events
//! published, messages sent and HTTP requests of each plugin, counted in
//! fixed one-minute windows (minutes since the Unix epoch) kept in
//! `state.db`'s `quota_use`.
//!
//! A process counts in memory and adds its counts to the window in one
//! `BEGIN IMMEDIATE` transaction at most once per [`REFRESH`] (when a
//! plugin is next admitted or charged), sooner when its own count passes
//! an eighth of what is left of the window (so near the limit every count
//! is checked against the table), and when it exits ([`Quotas::flush`]);
//! on each such visit it also reads what every process has added. So a
//! call pays a write only near its plugin's limit, `state.db`'s
//! `synchronous = NORMAL` means no visit pays an fsync, and a reading
//! command that never calls a plugin touches nothing. Processes that start
//! together see what the others wrote once each spends an eighth of what
//! is left, so N of them spend at most about 1 + (N - 1)/8 quotas in a
//! window, not N.
//!
//! What is over a quota is refused ([`Throttle`], saying which quota, its
//! limit and when its window resets) and kept until the host takes it
//! ([`PluginQuota::take_throttles`]) to record it and judge the plugin.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use rusqlite::params;

use crate::db::StateDb;
use crate::error::StateError;

/// How long a process keeps its counts to itself, and trusts what it last
/// read of other processes'.
pub const REFRESH_MS: i64 = 1000;

/// The same, as a duration.
pub const REFRESH: std::time::Duration = std::time::Duration::from_millis(1000);

const MINUTE_MS: i64 = 60_000;

/// What part of a window's remaining quota a process counts alone before
/// it visits the table ([`PluginQuota::share_out`]).
const SHARE: u64 = 8;

/// What a per-minute quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// Calls into the plugin (commands, handlers, messages, micro calls;
    /// not its lifecycle hooks).
    Calls,
    /// Milliseconds its calls ran (guest and host time, hooks included).
    CpuMs,
    /// Events it published.
    Events,
    /// Messages and requests it sent.
    Messages,
    /// HTTP requests it made.
    HttpRequests,
}

impl QuotaKind {
    pub const ALL: [QuotaKind; 5] = [
        QuotaKind::Calls,
        QuotaKind::CpuMs,
        QuotaKind::Events,
        QuotaKind::Messages,
        QuotaKind::HttpRequests,
    ];

    /// The configuration key's last segment (`quota.<key>`), also the
    /// name stored in the window table.
    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::Calls => "calls-per-minute",
            QuotaKind::CpuMs => "cpu-ms-per-minute",
            QuotaKind::Events => "events-per-minute",
            QuotaKind::Messages => "messages-per-minute",
            QuotaKind::HttpRequests => "http-requests-per-minute",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            QuotaKind::CpuMs => " ms",
            QuotaKind::Calls
            | QuotaKind::Events
            | QuotaKind::Messages
            | QuotaKind::HttpRequests => "",
        }
    }

    fn index(self) -> usize {
        match self {
            QuotaKind::Calls => 0,
            QuotaKind::CpuMs => 1,
            QuotaKind::Events => 2,
            QuotaKind::Messages => 3,
            QuotaKind::HttpRequests => 4,
        }
    }
}

/// One plugin's limits per minute, by [`QuotaKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    per_minute: [u64; 5],
}

impl Default for QuotaLimits {
    /// Generous: a plugin doing honest work never meets them.
    fn default() -> Self {
        let mut limits = Self { per_minute: [0; 5] };
        limits.set(QuotaKind::Calls, 600_000);
        limits.set(QuotaKind::CpuMs, 60_000);
        limits.set(QuotaKind::Events, 60_000);
        limits.set(QuotaKind::Messages, 60_000);
        limits.set(QuotaKind::HttpRequests, 600);
        limits
    }
}

impl QuotaLimits {
    pub fn get(&self, kind: QuotaKind) -> u64 {
        self.per_minute[kind.index()]
    }

    pub fn set(&mut self, kind: QuotaKind, limit: u64) {
        self.per_minute[kind.index()] = limit;
    }
}

/// A refusal: what was over which quota, and when its window resets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub plugin: String,
    pub kind: QuotaKind,
    pub limit: u64,
    /// Milliseconds until the window resets.
    pub resets_in_ms: i64,
}

impl Throttle {
    /// The quota and its limit, as a reason names them:
    /// "its events-per-minute quota (600/min)".
    pub fn quota(&self) -> String {
        format!(
            "its {} quota ({}{}/min)",
            self.kind.key(),
            self.limit,
            self.kind.unit()
        )
    }
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = (self.resets_in_ms + 999) / 1000;
        write!(
            f,
            "plugin `{}` is over {}; the window resets in {secs} s (raise \
             `quota.{}` or `quota.plugins.{}.{}` to allow more)",
            self.plugin,
            self.quota(),
            self.kind.key(),
            self.plugin,
            self.kind.key()
        )
    }
}

/// Every plugin's per-minute counts in this process, and the window
/// table they are added to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Quotas {
    db: StateDb,
    tallies: Arc<Mutex<HashMap<String, Arc<Mutex<Tally>>>>>,
}

/// One plugin's counts in this process.
#[derive(Debug, Default)]
struct Tally {
    /// The window `seen` and `local` belong to.
    minute: i64,
    /// What the table held for this window at the last visit (this
    /// process's earlier counts included).
    seen: [u64; 5],
    /// What this process counted since, not yet in the table.
    local: [u64; 5],
    /// CPU time below a whole millisecond, carried to the next call.
    cpu_ns: u64,
    /// When the table was last visited (0: never).
    visited_ms: i64,
    /// Refusals not yet taken by the host.
    throttles: Vec<Throttle>,
}

impl Quotas {
    pub fn new(db: StateDb) -> Self {
        Self {
            db,
            tallies: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// `plugin`'s handle under `limits`; handles of one plugin share its
    /// counts.
    pub fn plugin(&self, plugin: &str, limits: QuotaLimits) -> PluginQuota {
        let tally = {
            let mut tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(tallies.entry(plugin.to_owned()).or_default())
        };
        PluginQuota {
            plugin: plugin.into(),
            limits,
            db: self.db.clone(),
            tally,
        }
    }

    /// Every plugin's refusals not yet taken, by plugin: for a host that
    /// ran plugin code outside a command (a pipeline's micro handlers) to
    /// judge them as a command's are.
    pub fn take_throttles(&self) -> Vec<(String, Vec<Throttle>)> {
        let tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        tallies
            .iter()
            .filter_map(|(plugin, tally)| {
                let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
                let taken = std::mem::take(&mut tally.throttles);
                (!taken.is_empty()).then(|| (plugin.clone(), taken))
            })
            .collect()
    }

    /// Adds every count this process holds to the table (at exit).
    pub fn flush(&self) -> Result<(), StateError> {
        let tallies: Vec<(String, Arc<Mutex<Tally>>)> = self
            .tallies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (plugin, tally) in tallies {
            let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
            if tally.local.iter().any(|n| *n != 0) {
                visit(&self.db, &plugin, &mut tally, crate::bus::now_ms())?;
            }
        }
        Ok(())
    }
}

/// One plugin's quotas: what its host interfaces and the host charge and
/// check. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PluginQuota {
    plugin: Arc<str>,
    limits: QuotaLimits,
    db: StateDb,
    tally: Arc<Mutex<Tally>>,
}

impl PluginQuota {
    pub fn limits(&self) -> &QuotaLimits {
        &self.limits
    }

    /// Before a call: refused when the window's calls or CPU time are used
    /// up. The refusal is kept for [`PluginQuota::take_throttles`] too.
    pub fn admit(&self) -> Result<(), Throttle> {
        self.admit_at(crate::bus::now_ms())
    }

    pub fn admit_at(&self, now_ms: i64) -> Result<(), Throttle> {
        let mut tally = self.tally();
        self.refresh(&mut tally, now_ms);
        match self.used_up(&tally) {
            Some(kind) => Err(self.refuse(&mut tally, kind, now_ms)),
            None => Ok(()),
        }
    }

    /// [`PluginQuota::admit`] for work another plugin asked for (an event
    /// it published, a message or request it sent): refused the same way,
    /// but the refusal is not kept for [`PluginQuota::take_throttles`],
    /// so it never counts as a strike against this plugin. Otherwise a
    /// plugin could flood another past its quota and have it disabled.
    pub fn check(&self) -> Result<(), Throttle> {
        let now_ms = crate::bus::now_ms();
        let mut tally = self.tally();
        self.refresh(&mut tally, now_ms);
        match self.used_up(&tally) {
            Some(kind) => Err(self.throttle(&tally, kind, now_ms)),
            None => Ok(()),
        }
    }

    /// The quota a call may not start past, if one is used up: calls need
    /// room for this one; CPU time is known only after a call, so a call
    /// starts while any is left.
    fn used_up(&self, tally: &Tally) -> Option<QuotaKind> {
        [QuotaKind::Calls, QuotaKind::CpuMs]
            .into_iter()
            .find(|&kind| tally.used(kind) >= self.limits.get(kind))
    }

    /// The refusal of `kind` at `now_ms`, saying when its window resets.
    fn throttle(&self, tally: &Tally, kind: QuotaKind, now_ms: i64) -> Throttle {
        Throttle {
            plugin: self.plugin.to_string(),
            kind,
            limit: self.limits.get(kind),
            resets_in_ms: (tally.minute + 1) * MINUTE_MS - now_ms,
        }
    }

    /// Counts `n` events, messages or requests, or refuses them all when
    /// they would pass the quota (kept for the host too).
    pub fn take(&self, kind: QuotaKind, n: u64) -> Result<(), Throttle> {
        self.take_at(kind, n, crate::bus::now_ms())
    }

    pub fn take_at(&self, kind: QuotaKind, n: u64, now_ms: i64) -> Result<(), Throttle> {
        let mut tally = self.tally();
        self.refresh(&mut tally, now_ms);
        self.share_out(&mut tally, kind, n, now_ms);
        if tally.used(kind).saturating_add(n) > self.limits.get(kind) {
            return Err(self.refuse(&mut tally, kind, now_ms));
        }
        tally.local[kind.index()] += n;
        Ok(())
    }

    /// After a call: counts it (unless it was a lifecycle hook) and the
    /// time it ran, as the call's figures measured it.
    pub fn charge_call(&self, counts_as_call: bool, wall_ns: u64) {
        self.charge_call_at(counts_as_call, wall_ns, crate::bus::now_ms());
    }

    pub fn charge_call_at(&self, counts_as_call: bool, wall_ns: u64, now_ms: i64) {
        let mut tally = self.tally();
        self.refresh(&mut tally, now_ms);
        if counts_as_call {
            tally.local[QuotaKind::Calls.index()] += 1;
        }
        let ns = tally.cpu_ns.saturating_add(wall_ns);
        tally.local[QuotaKind::CpuMs.index()] += ns / 1_000_000;
        tally.cpu_ns = ns % 1_000_000;
        self.share_out(&mut tally, QuotaKind::Calls, 0, now_ms);
        self.share_out(&mut tally, QuotaKind::CpuMs, 0, now_ms);
    }

    /// Visits the table now, whatever [`REFRESH`] says, when this
    /// process's own count of `kind` (with `n` more) would pass its share
    /// of what is left of the window: an eighth, at least one. Processes
    /// started together thus cannot each spend the whole quota before any
    /// of them writes; near the limit every count is checked against the
    /// table. A table that cannot be reached leaves the counts in memory.
    fn share_out(&self, tally: &mut Tally, kind: QuotaKind, n: u64, now_ms: i64) {
        let i = kind.index();
        let left = self.limits.get(kind).saturating_sub(tally.seen[i]);
        if tally.local[i].saturating_add(n) > (left / SHARE).max(1) {
            let _ = visit(&self.db, &self.plugin, tally, now_ms);
        }
    }

    /// The refusals since the last time they were taken.
    pub fn take_throttles(&self) -> Vec<Throttle> {
        std::mem::take(&mut self.tally().throttles)
    }

    /// What the plugin used of `kind` in the current window, as far as
    /// this process knows.
    pub fn used(&self, kind: QuotaKind) -> u64 {
        self.tally().used(kind)
    }

    /// Adds this plugin's counts to the table now.
    pub fn flush(&self) -> Result<(), StateError> {
        self.flush_at(crate::bus::now_ms())
    }

    pub fn flush_at(&self, now_ms: i64) -> Result<(), StateError> {
        let mut tally = self.tally();
        visit(&self.db, &self.plugin, &mut tally, now_ms)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Visits the table when the window moved on or the last visit is
    /// older than [`REFRESH_MS`]. A table that cannot be reached leaves
    /// the counts in memory: quotas then hold within this process, and a
    /// plugin is never failed for lord's bookkeeping.
    fn refresh(&self, tally: &mut Tally, now_ms: i64) {
        if tally.visited_ms != 0
            && now_ms.div_euclid(MINUTE_MS) == tally.minute
            && now_ms - tally.visited_ms < REFRESH_MS
        {
            return;
        }
        if visit(&self.db, &self.plugin, tally, now_ms).is_err() {
            tally.visited_ms = now_ms;
            roll(tally, now_ms);
        }
    }

    fn refuse(&self, tally: &mut Tally, kind: QuotaKind, now_ms: i64) -> Throttle {
        let throttle = self.throttle(tally, kind, now_ms);
        // One refusal of a kind per visit is enough to judge the plugin by:
        // a guest retrying in a loop must not fill the host's memory.
        if !tally.throttles.iter().any(|t| t.kind == kind) {
            tally.throttles.push(throttle.clone());
        }
        throttle
    }
}

impl Tally {
    fn used(&self, kind: QuotaKind) -> u64 {
        self.seen[kind.index()].saturating_add(self.local[kind.index()])
    }
}

/// Starts a new window when `now_ms` is past the tally's, keeping nothing
/// of the old one's counts but what still has to be written.
fn roll(tally: &mut Tally, now_ms: i64) {
    let minute = now_ms.div_euclid(MINUTE_MS);
    if minute != tally.minute {
        tally.minute = minute;
        tally.seen = [0; 5];
        tally.local = [0; 5];
    }
}

/// One visit to the table: this process's counts added to the window they
/// were counted in and windows older than the last one deleted (one
/// transaction, only when there is something to add), then the current
/// window read back. A visit with nothing to add takes no write lock.
fn visit(db: &StateDb, plugin: &str, tally: &mut Tally, now_ms: i64) -> Result<(), StateError> {
    let minute = now_ms.div_euclid(MINUTE_MS);
    if tally.local.iter().any(|n| *n != 0) {
        db.write(|tx| {
            let mut add = tx.prepare_cached(
                "INSERT INTO quota_use (plugin, quota, minute, used) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin, quota, minute) DO UPDATE SET used = used + excluded.used",
            )?;
            for kind in QuotaKind::ALL {
                let n = tally.local[kind.index()];
                if n != 0 {
                    add.execute(params![
                        plugin,
                        kind.key(),
                        tally.minute,
                        i64::try_from(n).unwrap_or(i64::MAX)
                    ])?;
                }
            }
            tx.prepare_cached("DELETE FROM quota_use WHERE plugin = ?1 AND minute < ?2")?
                .execute(params![plugin, minute - 1])?;
            Ok(())
        })?;
        tally.local = [0; 5];
    }
    let mut seen = [0u64; 5];
    {
        let conn = db.conn()?;
        let mut read = conn.prepare_cached(
            "SELECT quota, used FROM quota_use WHERE plugin = ?1 AND minute = ?2",
        )?;
        let rows = read.query_map(params![plugin, minute], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (name, used) = row?;
            if let Some(kind) = QuotaKind::ALL.into_iter().find(|k| k.key() == name) {
                seen[kind.index()] = u64::try_from(used).unwrap_or(0);
            }
        }
    }
    tally.minute = minute;
    tally.seen = seen;
    tally.visited_ms = now_ms;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(kind: QuotaKind, limit: u64) -> QuotaLimits {
        let mut limits = QuotaLimits::default();
        limits.set(kind, limit);
        limits
    }

    /// Two handles on one home, each with its own connection, stand for
    /// two processes: what one counted holds for the other once it is in
    /// the table, and a new window starts from nothing.
    #[test]
    fn a_window_holds_across_connections_and_resets_each_minute() {
        let home = tempfile::tempdir().unwrap();
        let one =
            Quotas::new(StateDb::at(home.path())).plugin("flood", limits(QuotaKind::Events, 10));
        let two =
            Quotas::new(StateDb::at(home.path())).plugin("flood", limits(QuotaKind::Events, 10));
        let t0 = 7 * MINUTE_MS + 1_000;
        one.take_at(QuotaKind::Events, 6, t0).unwrap();
        // The first process's counts are its own until it visits again.
        one.flush_at(t0).unwrap();
        two.take_at(QuotaKind::Events, 4, t0 + 10).unwrap();
        let refused = two.take_at(QuotaKind::Events, 1, t0 + 20).unwrap_err();
        assert_eq!(refused.kind, QuotaKind::Events);
        assert_eq!(refused.limit, 10);
        assert_eq!(refused.resets_in_ms, MINUTE_MS - 1_020);
        let text = refused.to_string();
        assert!(text.contains("events-per-minute quota (10/min)"), "{text}");
        assert!(text.contains("resets in 59 s"), "{text}");
        assert_eq!(two.take_throttles(), vec![refused]);
        assert!(two.take_throttles().is_empty());
        // Written at its next visit, the second's four reach the first.
        two.flush_at(t0 + 30).unwrap();
        assert!(
            one.take_at(QuotaKind::Events, 1, t0 + REFRESH_MS + 1)
                .is_err()
        );
        // The next minute is a new window, for both.
        one.take_at(QuotaKind::Events, 10, 8 * MINUTE_MS).unwrap();
        assert!(two.take_at(QuotaKind::Events, 1, 8 * MINUTE_MS + 5).is_ok());
    }

    #[test]
    fn calls_and_cpu_time_are_checked_before_a_call() {
        let home = tempfile::tempdir().unwrap();
        let mut both = limits(QuotaKind::Calls, 2);
        both.set(QuotaKind::CpuMs, 100);
        let quota = Quotas::new(StateDb::at(home.path())).plugin("busy", both);
        let t0 = 3 * MINUTE_MS;
        quota.admit_at(t0).unwrap();
        // A hook's time counts; the hook is no call.
        quota.charge_call_at(false, 400_000, t0);
        quota.charge_call_at(true, 700_000, t0);
        assert_eq!(quota.used(QuotaKind::CpuMs), 1);
        quota.admit_at(t0 + 1).unwrap();
        quota.charge_call_at(true, 1_000_000, t0 + 1);
        let refused = quota.admit_at(t0 + 2).unwrap_err();
        assert_eq!(refused.kind, QuotaKind::Calls);
        // Another window, and CPU time runs out first.
        let t1 = t0 + MINUTE_MS;
        quota.admit_at(t1).unwrap();
        quota.charge_call_at(true, 150_000_000, t1);
        assert_eq!(quota.admit_at(t1 + 1).unwrap_err().kind, QuotaKind::CpuMs);
    }

    /// Processes that start together each see an empty table: counting
    /// alone until the next refresh, each could spend the whole quota. A
    /// process that spends its share of what is left visits the table
    /// first, so together they stay within the limit.
    #[test]
    fn processes_started_together_share_one_quota() {
        let home = tempfile::tempdir().unwrap();
        let limit = 80;
        let handles: Vec<PluginQuota> = (0..4)
            .map(|_| {
                Quotas::new(StateDb::at(home.path()))
                    .plugin("flood", limits(QuotaKind::HttpRequests, limit))
            })
            .collect();
        let t0 = 11 * MINUTE_MS + 1_000;
        let mut taken = 0;
        // Round after round, all within one refresh period.
        for round in 0..limit {
            for handle in &handles {
                if handle
                    .take_at(
                        QuotaKind::HttpRequests,
                        1,
                        t0 + i64::try_from(round).unwrap(),
                    )
                    .is_ok()
                {
                    taken += 1;
                }
            }
        }
        assert!(
            (limit..=limit + 4).contains(&taken),
            "{taken} requests taken under a quota of {limit}"
        );
    }

    /// Windows older than the one before are deleted as the table is
    /// visited, so it holds at most two minutes per plugin and quota.
    #[test]
    fn old_windows_are_deleted() {
        let home = tempfile::tempdir().unwrap();
        let db = StateDb::at(home.path());
        let quota = Quotas::new(db.clone()).plugin("old", QuotaLimits::default());
        for minute in 0..5 {
            quota
                .take_at(QuotaKind::Events, 1, minute * MINUTE_MS)
                .unwrap();
            quota.flush_at(minute * MINUTE_MS).unwrap();
        }
        let rows: i64 = db
            .conn()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM quota_use", [], |r| r.get(0))
            .unwrap();
        assert!(rows <= 2, "{rows} windows kept");
    }
}
