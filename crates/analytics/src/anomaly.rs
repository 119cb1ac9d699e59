//! Anomalies in a plugin's latency and error rate, judged against the
//! plugin's own past with robust statistics (the monitor's median and
//! scaled MAD), never a fixed threshold: each entry point's newest
//! [`RECENT`] calls against the [`BASELINE`] calls before them.
//!
//! Latency: the recent calls' median against the medians of the baseline's
//! windows of [`RECENT`] calls (sliding by [`STEP`]): how many scaled MADs
//! of those medians it lies from their median. Comparing like with like
//! (a window's median with windows' medians) makes a real shift stand out
//! however noisy single calls are. Only a slowdown is an anomaly (a plugin
//! growing faster needs nobody's attention), and only one of at least
//! [`MIN_SHIFT`] of the baseline's median, so a very steady plugin (MAD
//! near zero) is not flagged for a few microseconds.
//!
//! Error rate: the recent calls' share of failures against the shares of
//! the baseline cut into runs of [`RECENT`] calls, with at least
//! [`MIN_ERRORS`] recent failures and [`MIN_RATE_RISE`] above the usual
//! share.

use std::collections::BTreeMap;

use lord_monitor::alert::{median, robust_z};
use lord_perf::CallRow;
use serde::Serialize;

use crate::usage::{ms, ran};

/// Calls in the recent window.
pub(crate) const RECENT: usize = 50;
/// How far the baseline's windows slide.
pub(crate) const STEP: usize = 10;
/// Calls before it that make the baseline (at most).
pub(crate) const BASELINE: usize = 500;
/// Fewer baseline calls than this and nothing is judged.
pub(crate) const MIN_BASELINE: usize = 100;
/// Scaled MADs from the baseline's median that make an anomaly: the
/// monitor's own threshold for its robust alerts.
pub(crate) const THRESHOLD: f64 = 3.5;
/// The smallest slowdown, as a share of the baseline's median, that counts.
pub(crate) const MIN_SHIFT: f64 = 0.2;
/// Recent failures needed before an error rate can be an anomaly.
pub(crate) const MIN_ERRORS: usize = 3;
/// How far above the baseline's usual share of failures the recent share
/// must be (0.2: twenty points). Failures are few and discrete, so their
/// shares' MAD is often zero and the score alone would flag a plugin that
/// fails 2 % of the time for five failures in fifty (one window in three
/// hundred, by chance alone); twenty points is eleven or more failures
/// in fifty at 2 %, which chance gives about once in a billion windows.
pub(crate) const MIN_RATE_RISE: f64 = 0.2;
/// What a score reads when the baseline had no spread at all.
const NO_SPREAD: f64 = 1000.0;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    Latency,
    ErrorRate,
}

impl Metric {
    pub const fn name(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::ErrorRate => "error-rate",
        }
    }
}

/// One entry point behaving unlike its own past.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub plugin: String,
    pub entry: String,
    pub metric: Metric,
    /// The baseline's median: ms for latency, a share (0..=1) for errors.
    pub baseline: f64,
    /// The recent window's: same units.
    pub recent: f64,
    /// Scaled MADs from the baseline's median ([`NO_SPREAD`] when the
    /// baseline did not vary at all).
    pub score: f64,
    /// When the recent window began, ms since the epoch.
    pub since_ms: u64,
    /// Calls in the recent window and in the baseline.
    pub recent_calls: usize,
    pub baseline_calls: usize,
}

impl Anomaly {
    /// What names this anomaly across reports: an event is published once
    /// per key until the anomaly clears.
    pub fn key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.plugin,
            self.entry,
            self.metric.name()
        )
    }
}

fn score(history: &[f64], value: f64) -> f64 {
    robust_z(history, value).min(NO_SPREAD)
}

/// Every anomaly in `rows` (oldest first), in plugin and entry order.
pub(crate) fn detect(rows: &[CallRow]) -> Vec<Anomaly> {
    let mut by_entry: BTreeMap<(&str, String), Vec<&CallRow>> = BTreeMap::new();
    for row in rows.iter().filter(|r| ran(r)) {
        by_entry
            .entry((row.plugin.as_str(), row.entry()))
            .or_default()
            .push(row);
    }
    let mut out = Vec::new();
    for ((plugin, entry), calls) in by_entry {
        if calls.len() < RECENT + MIN_BASELINE {
            continue;
        }
        let (before, recent) = calls.split_at(calls.len() - RECENT);
        let baseline = &before[before.len().saturating_sub(BASELINE)..];
        let found = |metric, baseline_value, recent_value, score| Anomaly {
            plugin: plugin.to_owned(),
            entry: entry.clone(),
            metric,
            baseline: baseline_value,
            recent: recent_value,
            score,
            since_ms: recent[0].at_ms,
            recent_calls: recent.len(),
            baseline_calls: baseline.len(),
        };
        if let Some((base, now, z)) = latency(baseline, recent) {
            out.push(found(Metric::Latency, base, now, z));
        }
        if let Some((base, now, z)) = error_rate(baseline, recent) {
            out.push(found(Metric::ErrorRate, base, now, z));
        }
    }
    out
}

/// (baseline median, recent median, score) when latency rose.
fn latency(baseline: &[&CallRow], recent: &[&CallRow]) -> Option<(f64, f64, f64)> {
    let walls: Vec<f64> = baseline.iter().map(|c| ms(c.wall_ns)).collect();
    let history: Vec<f64> = (0..=walls.len().saturating_sub(RECENT))
        .step_by(STEP)
        .map(|start| median(&mut walls[start..(start + RECENT).min(walls.len())].to_vec()))
        .collect();
    let mut now: Vec<f64> = recent.iter().map(|c| ms(c.wall_ns)).collect();
    let now = median(&mut now);
    let base = median(&mut history.clone());
    let z = score(&history, now);
    (now > base && now - base >= MIN_SHIFT * base && z > THRESHOLD).then_some((base, now, z))
}

/// (baseline median share, recent share, score) when failures rose.
fn error_rate(baseline: &[&CallRow], recent: &[&CallRow]) -> Option<(f64, f64, f64)> {
    let share = |calls: &[&CallRow]| {
        calls.iter().filter(|c| c.outcome.failed()).count() as f64 / calls.len() as f64
    };
    let errors = recent.iter().filter(|c| c.outcome.failed()).count();
    let history: Vec<f64> = baseline.chunks(RECENT).map(share).collect();
    let now = share(recent);
    let base = median(&mut history.clone());
    let z = score(&history, now);
    (errors >= MIN_ERRORS && now - base >= MIN_RATE_RISE && z > THRESHOLD).then_some((base, now, z))
}

#[cfg(test)]
mod tests {
    use lord_manifest::PluginId;
    use lord_perf::{EntryKind, Outcome};

    use super::*;

    /// A deterministic stand-in for noise: a 64-bit LCG, so a failure
    /// reproduces exactly.
    struct Noise(u64);

    impl Noise {
        /// Uniform in [0, 1).
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn call(i: usize, wall_ms: f64, outcome: Outcome) -> CallRow {
        CallRow {
            at_ms: 1_000_000 + i as u64 * 1_000,
            session: 7,
            plugin: PluginId::new("steady").expect("id"),
            kind: EntryKind::Command,
            name: "go".to_owned(),
            outcome,
            wall_ns: (wall_ms * 1e6) as u64,
            input_bytes: 64,
        }
    }

    /// `n` calls of about 5 ms, ±30 % uniform jitter and an occasional
    /// 3x outlier, with 2 % failures spread at random.
    fn steady(n: usize, seed: u64) -> Vec<CallRow> {
        let mut noise = Noise(seed);
        (0..n)
            .map(|i| {
                let mut wall = 5.0 * (0.7 + 0.6 * noise.next());
                if noise.next() < 0.01 {
                    wall *= 3.0;
                }
                let outcome = if noise.next() < 0.02 {
                    Outcome::Returned
                } else {
                    Outcome::Ok
                };
                call(i, wall, outcome)
            })
            .collect()
    }

    #[test]
    fn a_steady_plugin_is_never_flagged_over_1000_calls() {
        for seed in 1..=20 {
            let rows = steady(1_000, seed);
            // Judged every seventh call, as reports drawn at any moment
            // would be (each call would only slow the test down).
            for end in ((RECENT + MIN_BASELINE)..=rows.len()).step_by(7) {
                let found = detect(&rows[..end]);
                assert!(
                    found.is_empty(),
                    "seed {seed}, after {end} calls: {found:?}"
                );
            }
        }
    }

    #[test]
    fn an_injected_latency_shift_is_flagged() {
        let mut rows = steady(1_000, 42);
        let mut noise = Noise(99);
        // The last 40 calls take twice as long.
        for row in rows.iter_mut().skip(960) {
            row.wall_ns = (10.0 * (0.7 + 0.6 * noise.next()) * 1e6) as u64;
        }
        let found = detect(&rows);
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(
            (a.metric, a.plugin.as_str(), a.entry.as_str()),
            (Metric::Latency, "steady", "command:go")
        );
        assert!(a.recent > 1.5 * a.baseline && a.score > THRESHOLD, "{a:?}");
        // Before the shift nothing was wrong.
        assert!(detect(&rows[..960]).is_empty());
    }

    #[test]
    fn an_injected_error_burst_is_flagged_and_a_speedup_is_not() {
        let mut rows = steady(1_000, 7);
        // Two in five of the last 40 calls trap.
        for row in rows.iter_mut().skip(960).step_by(5) {
            row.outcome = Outcome::Trap;
        }
        for row in rows.iter_mut().skip(962).step_by(5) {
            row.outcome = Outcome::Trap;
        }
        let found = detect(&rows);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].metric, Metric::ErrorRate);
        assert!(found[0].recent >= 0.3, "{found:?}");

        let mut faster = steady(1_000, 8);
        for row in faster.iter_mut().skip(950) {
            row.wall_ns /= 3;
        }
        assert!(detect(&faster).is_empty());
    }
}
