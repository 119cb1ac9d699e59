//! What the usage log says about use: executions, errors by kind and
//! latency per plugin, the commands that follow one another, the plugins
//! used together, latency over time and when in the week lord is used.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lord_perf::{CallRow, EntryKind};
use serde::Serialize;

/// Two calls further apart than this belong to different stretches of
/// work: no sequence links them and they were not used together.
pub(crate) const WORK_GAP_MS: u64 = 10 * 60 * 1000;
/// How many sequences and pairs a report lists.
const TOP: usize = 10;
/// How many time buckets the latency chart has.
pub(crate) const BUCKETS: usize = 48;

/// One plugin's calls in the window.
#[derive(Debug, Clone, Serialize)]
pub struct PluginUsage {
    pub plugin: String,
    /// Calls of the plugin's entry points (cached answers included).
    pub executions: u64,
    /// Failed calls, all kinds together.
    pub errors: u64,
    /// Failed calls by kind (`trap`, `time-limit`, `returned`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Wall-time quantiles of the calls that ran guest code, in ms.
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// A command followed by another within [`WORK_GAP_MS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    pub from: String,
    pub to: String,
    pub count: u64,
}

/// Two plugins called in the same stretch of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Together {
    pub plugins: [String; 2],
    /// Stretches of work that called both.
    pub count: u64,
}

/// The median latency of one plugin in one time bucket.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyPoint {
    pub plugin: String,
    /// The bucket's start, ms since the epoch.
    pub at_ms: u64,
    pub p50_ms: f64,
}

/// Calls in one hour of one weekday (UTC; 0 is Monday).
#[derive(Debug, Clone, Serialize)]
pub struct HeatCell {
    pub weekday: u8,
    pub hour: u8,
    pub calls: u64,
}

pub(crate) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The `q` quantile (0..=1) of sorted `values`, nearest rank.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Whether a call ran guest code (a cached answer did not).
pub(crate) fn ran(row: &CallRow) -> bool {
    row.outcome != lord_perf::Outcome::Cached
}

pub(crate) fn plugins(rows: &[CallRow]) -> Vec<PluginUsage> {
    let mut by_plugin: BTreeMap<&str, Vec<&CallRow>> = BTreeMap::new();
    for row in rows {
        by_plugin.entry(row.plugin.as_str()).or_default().push(row);
    }
    by_plugin
        .into_iter()
        .map(|(plugin, calls)| {
            let mut errors_by_kind = BTreeMap::new();
            for call in calls.iter().filter(|c| c.outcome.failed()) {
                *errors_by_kind
                    .entry(call.outcome.name().to_owned())
                    .or_insert(0) += 1;
            }
            let mut walls: Vec<f64> = calls
                .iter()
                .filter(|c| ran(c))
                .map(|c| ms(c.wall_ns))
                .collect();
            walls.sort_by(f64::total_cmp);
            PluginUsage {
                plugin: plugin.to_owned(),
                executions: calls.len() as u64,
                errors: errors_by_kind.values().sum(),
                errors_by_kind,
                p50_ms: quantile(&walls, 0.5),
                p95_ms: quantile(&walls, 0.95),
            }
        })
        .collect()
}

/// Command pairs in time order, most frequent first. `rows` are oldest
/// first.
pub(crate) fn sequences(rows: &[CallRow]) -> Vec<Sequence> {
    let mut counts: HashMap<(&str, &str), u64> = HashMap::new();
    let mut previous: Option<&CallRow> = None;
    for row in rows.iter().filter(|r| r.kind == EntryKind::Command) {
        if let Some(prev) = previous
            && row.at_ms.saturating_sub(prev.at_ms) <= WORK_GAP_MS
        {
            *counts
                .entry((prev.name.as_str(), row.name.as_str()))
                .or_insert(0) += 1;
        }
        previous = Some(row);
    }
    let mut out: Vec<Sequence> = counts
        .into_iter()
        .map(|((from, to), count)| Sequence {
            from: from.to_owned(),
            to: to.to_owned(),
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
    });
    out.truncate(TOP);
    out
}

/// Plugin pairs called in the same stretch of work (calls no more than
/// [`WORK_GAP_MS`] apart, whichever process made them), most frequent
/// first. `rows` are oldest first.
pub(crate) fn together(rows: &[CallRow]) -> Vec<Together> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut stretch: BTreeSet<&str> = BTreeSet::new();
    let mut close = |stretch: &mut BTreeSet<&str>| {
        let plugins: Vec<&str> = stretch.iter().copied().collect();
        for (i, a) in plugins.iter().enumerate() {
            for b in &plugins[i + 1..] {
                *counts
                    .entry(((*a).to_owned(), (*b).to_owned()))
                    .or_insert(0) += 1;
            }
        }
        stretch.clear();
    };
    let mut last_ms = None;
    for row in rows {
        if last_ms.is_some_and(|last: u64| row.at_ms.saturating_sub(last) > WORK_GAP_MS) {
            close(&mut stretch);
        }
        stretch.insert(row.plugin.as_str());
        last_ms = Some(row.at_ms);
    }
    close(&mut stretch);
    let mut out: Vec<Together> = counts
        .into_iter()
        .map(|((a, b), count)| Together {
            plugins: [a, b],
            count,
        })
        .collect();
    out.sort_by_key(|t| std::cmp::Reverse(t.count));
    out.truncate(TOP);
    out
}

/// Each plugin's median latency in [`BUCKETS`] equal slices of the time
/// from the window's first call to `until_ms` (slices without calls have
/// no point). From the first call, not the window's start: a week of use
/// in a 90-day window is drawn across the chart, not squeezed into a
/// corner of it.
pub(crate) fn latency_over_time(
    rows: &[CallRow],
    since_ms: u64,
    until_ms: u64,
) -> Vec<LatencyPoint> {
    let since_ms = rows
        .iter()
        .filter(|r| ran(r))
        .map(|r| r.at_ms)
        .min()
        .unwrap_or(since_ms)
        .max(since_ms);
    let span = until_ms.saturating_sub(since_ms).max(1);
    let width = span.div_ceil(BUCKETS as u64).max(1);
    let mut buckets: BTreeMap<(&str, u64), Vec<f64>> = BTreeMap::new();
    for row in rows.iter().filter(|r| ran(r) && r.at_ms >= since_ms) {
        let bucket = (row.at_ms - since_ms) / width;
        buckets
            .entry((row.plugin.as_str(), bucket))
            .or_default()
            .push(ms(row.wall_ns));
    }
    buckets
        .into_iter()
        .map(|((plugin, bucket), mut walls)| LatencyPoint {
            plugin: plugin.to_owned(),
            at_ms: since_ms + bucket * width,
            p50_ms: lord_monitor::alert::median(&mut walls),
        })
        .collect()
}

/// Calls per weekday and hour (UTC), every cell present.
pub(crate) fn heat(rows: &[CallRow]) -> Vec<HeatCell> {
    let mut counts = [[0u64; 24]; 7];
    for row in rows {
        let hours = row.at_ms / 3_600_000;
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = ((hours / 24 + 3) % 7) as usize;
        counts[weekday][(hours % 24) as usize] += 1;
    }
    let mut out = Vec::with_capacity(7 * 24);
    for (weekday, hours) in counts.iter().enumerate() {
        for (hour, calls) in hours.iter().enumerate() {
            out.push(HeatCell {
                weekday: weekday as u8,
                hour: hour as u8,
                calls: *calls,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use lord_manifest::PluginId;
    use lord_perf::Outcome;

    use super::*;

    fn call(at_ms: u64, plugin: &str, command: &str, outcome: Outcome) -> CallRow {
        CallRow {
            at_ms,
            session: 1,
            plugin: PluginId::new(plugin).expect("id"),
            kind: EntryKind::Command,
            name: command.to_owned(),
            outcome,
            wall_ns: 2_000_000,
            input_bytes: 10,
        }
    }

    #[test]
    fn sequences_and_pairs_stay_within_a_stretch_of_work() {
        let hour = 3_600_000;
        let rows = vec![
            call(0, "git", "status", Outcome::Ok),
            call(1_000, "git", "commit", Outcome::Ok),
            call(2_000, "notes", "add", Outcome::Trap),
            // An hour later: no link to what came before.
            call(hour, "git", "status", Outcome::Ok),
            call(hour + 1_000, "git", "commit", Outcome::Ok),
        ];
        let seq = sequences(&rows);
        assert_eq!(
            seq[0],
            Sequence {
                from: "status".into(),
                to: "commit".into(),
                count: 2
            }
        );
        assert_eq!(seq.len(), 2, "{seq:?}");
        let pairs = together(&rows);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].plugins, ["git".to_owned(), "notes".to_owned()]);
        assert_eq!(pairs[0].count, 1);
        let usage = plugins(&rows);
        assert_eq!(usage[1].plugin, "notes");
        assert_eq!(usage[1].errors_by_kind.get("trap"), Some(&1));
        assert_eq!(usage[0].p50_ms, 2.0);
        let cells = heat(&rows);
        assert_eq!(cells.len(), 168);
        // 1970-01-01T00:00Z was a Thursday.
        assert_eq!(cells[3 * 24].calls, 3);
        assert_eq!(cells[3 * 24 + 1].calls, 2);
    }
}
