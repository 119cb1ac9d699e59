//! History: the figures of each sample `lord monitor watch` takes, kept in
//! `monitor.db` at three resolutions. Raw samples are kept for an hour;
//! older ones are folded into one-minute buckets (mean, minimum, maximum
//! and how many samples each holds), kept for a week; those into hourly
//! buckets, kept for 90 days; older ones are dropped. Folding merges into
//! a bucket that already exists (weighted by count), so compacting often
//! and compacting late give the same buckets.
//!
//! A report over a window gives each series' last value, minimum,
//! median, mean, 95th percentile and maximum, and the points that lie
//! more than [`ANOMALY_Z`] robust deviations from the window's median.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::alert::robust_z;
use crate::error::MonitorError;
use crate::snapshot::Snapshot;

/// A resolution: bucket width in milliseconds (0 is raw) and how long
/// points at it are kept.
const TIERS: [(u64, u64); 3] = [
    (0, 3_600_000),
    (60_000, 7 * 86_400_000),
    (3_600_000, 90 * 86_400_000),
];

/// How far from the median, in scaled MADs, a point must lie to be
/// reported as an anomaly.
pub const ANOMALY_Z: f64 = 3.5;

/// The history in `monitor.db`.
#[derive(Debug)]
pub struct History {
    db: Connection,
}

fn db_error(e: rusqlite::Error) -> MonitorError {
    MonitorError::Log(e.to_string())
}

/// The series a snapshot adds to the history, named as alert rules name
/// them.
pub fn series(s: &Snapshot) -> Vec<(String, f64)> {
    let mut out = vec![
        ("cpu.percent".to_owned(), f64::from(s.cpu.percent)),
        ("load.1m".to_owned(), s.host.load[0]),
        ("processes".to_owned(), s.processes.len() as f64),
    ];
    let m = &s.memory;
    if m.total > 0 {
        out.push((
            "memory.used_percent".to_owned(),
            m.used as f64 / m.total as f64 * 100.0,
        ));
    }
    if m.swap_total > 0 {
        out.push((
            "swap.used_percent".to_owned(),
            m.swap_used as f64 / m.swap_total as f64 * 100.0,
        ));
    }
    for fs in s.filesystems.iter().filter(|f| f.total > 0) {
        let used = fs.total - fs.available.min(fs.total);
        out.push((
            format!("filesystem:{}.used_percent", fs.mount),
            used as f64 / fs.total as f64 * 100.0,
        ));
    }
    for i in &s.networks {
        out.push((
            format!("network:{}.received_per_second", i.name),
            i.received_per_second,
        ));
        out.push((
            format!("network:{}.transmitted_per_second", i.name),
            i.transmitted_per_second,
        ));
    }
    for c in &s.containers {
        if let Some(memory) = c.memory {
            out.push((format!("container:{}.memory", c.cgroup), memory as f64));
        }
    }
    out
}

/// One series over a report's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    pub series: String,
    pub samples: u64,
    pub last: f64,
    pub min: f64,
    /// The median and 95th percentile of the window's samples. A span
    /// already folded into a minute or an hour counts as its samples, each
    /// at the span's mean: a spike shorter than the span shows in `max`,
    /// not here.
    pub median: f64,
    pub mean: f64,
    pub p95: f64,
    pub max: f64,
    /// Points far from the window's median: time and value.
    pub anomalies: Vec<(u64, f64)>,
}

/// What the history holds over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since_ms: u64,
    pub until_ms: u64,
    pub series: Vec<SeriesReport>,
}

impl History {
    pub fn open(path: &Path) -> Result<Self, MonitorError> {
        let db = Connection::open(path).map_err(db_error)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS points (
                 series TEXT NOT NULL, resolution INTEGER NOT NULL, at_ms INTEGER NOT NULL,
                 value REAL NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
                 PRIMARY KEY (series, resolution, at_ms));",
        )
        .map_err(db_error)?;
        Ok(Self { db })
    }

    /// Adds a snapshot's series as raw points, then compacts, in one
    /// transaction.
    pub fn record(&mut self, snapshot: &Snapshot) -> Result<(), MonitorError> {
        let tx = self.db.transaction().map_err(db_error)?;
        for (name, value) in series(snapshot) {
            tx.execute(
                "INSERT OR REPLACE INTO points VALUES (?1, 0, ?2, ?3, 1, ?3, ?3)",
                params![name, snapshot.taken_at_ms as i64, value],
            )
            .map_err(db_error)?;
        }
        compact(&tx, snapshot.taken_at_ms)?;
        tx.commit().map_err(db_error)
    }

    /// Each series over `since_ms..=until_ms`, oldest first: (time, mean,
    /// min, max, count).
    fn points(
        &self,
        since_ms: u64,
        until_ms: u64,
    ) -> Result<BTreeMap<String, Vec<Point>>, MonitorError> {
        let mut statement = self
            .db
            .prepare(
                "SELECT series, at_ms, value, min, max, count FROM points
                 WHERE at_ms >= ?1 AND at_ms <= ?2 ORDER BY series, at_ms",
            )
            .map_err(db_error)?;
        let rows = statement
            .query_map([clamp(since_ms), clamp(until_ms)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    Point {
                        at_ms: row.get::<_, i64>(1)? as u64,
                        value: row.get(2)?,
                        min: row.get(3)?,
                        max: row.get(4)?,
                        count: row.get::<_, i64>(5)? as u64,
                    },
                ))
            })
            .map_err(db_error)?;
        let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for row in rows {
            let (name, point) = row.map_err(db_error)?;
            out.entry(name).or_default().push(point);
        }
        Ok(out)
    }

    /// The report over `since_ms..=until_ms`.
    pub fn report(&self, since_ms: u64, until_ms: u64) -> Result<Report, MonitorError> {
        let series = self
            .points(since_ms, until_ms)?
            .into_iter()
            .filter_map(|(name, points)| summarise(name, &points))
            .collect();
        Ok(Report {
            since_ms,
            until_ms,
            series,
        })
    }

    /// How many points each resolution holds (for tests and `--json`).
    pub fn counts(&self) -> Result<Vec<(u64, u64)>, MonitorError> {
        let mut statement = self
            .db
            .prepare("SELECT resolution, count(*) FROM points GROUP BY resolution ORDER BY 1")
            .map_err(db_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
            })
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    at_ms: u64,
    value: f64,
    min: f64,
    max: f64,
    count: u64,
}

/// Folds each tier's points older than its keep into the next tier's
/// buckets, and drops the last tier's.
fn compact(tx: &rusqlite::Transaction<'_>, now_ms: u64) -> Result<(), MonitorError> {
    for pair in TIERS.windows(2) {
        let ((from, keep), (to, _)) = (pair[0], pair[1]);
        let cutoff = now_ms.saturating_sub(keep) as i64;
        tx.execute(
            "INSERT INTO points (series, resolution, at_ms, value, count, min, max)
             SELECT series, ?2, (at_ms / ?2) * ?2, sum(value * count) / sum(count), sum(count),
                    min(min), max(max)
             FROM points WHERE resolution = ?1 AND at_ms < ?3
             GROUP BY series, (at_ms / ?2) * ?2
             ON CONFLICT (series, resolution, at_ms) DO UPDATE SET
                 value = (value * count + excluded.value * excluded.count)
                         / (count + excluded.count),
                 count = count + excluded.count,
                 min = min(min, excluded.min),
                 max = max(max, excluded.max)",
            params![from as i64, to as i64, cutoff],
        )
        .map_err(db_error)?;
        tx.execute(
            "DELETE FROM points WHERE resolution = ?1 AND at_ms < ?2",
            params![from as i64, cutoff],
        )
        .map_err(db_error)?;
    }
    let (last, keep) = TIERS[TIERS.len() - 1];
    tx.execute(
        "DELETE FROM points WHERE resolution = ?1 AND at_ms < ?2",
        params![last as i64, now_ms.saturating_sub(keep) as i64],
    )
    .map_err(db_error)?;
    Ok(())
}

/// A time in ms as SQLite's integer (`u64::MAX`, "no end", is its largest).
fn clamp(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn summarise(series: String, points: &[Point]) -> Option<SeriesReport> {
    let last = points.last()?;
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    // Each point weighs as many samples as it holds: a folded minute is
    // six samples, not one beside the raw ones.
    let mut sorted: Vec<(f64, u64)> = points.iter().map(|p| (p.value, p.count.max(1))).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let samples: u64 = points.iter().map(|p| p.count).sum();
    let mean = points.iter().map(|p| p.value * p.count as f64).sum::<f64>() / samples as f64;
    let weight: u64 = sorted.iter().map(|&(_, n)| n).sum();
    let rank = |q: f64| {
        // The sample at rank ⌈q·n⌉ (1-based), found by cumulative weight.
        let wanted = ((weight as f64 * q).ceil() as u64).clamp(1, weight);
        let mut seen = 0;
        sorted
            .iter()
            .find(|&&(_, n)| {
                seen += n;
                seen >= wanted
            })
            .map_or(last.value, |&(value, _)| value)
    };
    let anomalies = if values.len() >= 10 {
        points
            .iter()
            .filter(|p| robust_z(&values, p.value) > ANOMALY_Z)
            .map(|p| (p.at_ms, p.value))
            .collect()
    } else {
        Vec::new()
    };
    Some(SeriesReport {
        series,
        samples,
        last: last.value,
        min: points.iter().map(|p| p.min).fold(f64::INFINITY, f64::min),
        median: rank(0.5),
        mean,
        p95: rank(0.95),
        max: points
            .iter()
            .map(|p| p.max)
            .fold(f64::NEG_INFINITY, f64::max),
        anomalies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Cpu, Host, Memory};

    fn at(ms: u64, cpu: f32) -> Snapshot {
        Snapshot {
            taken_at_ms: ms,
            window_ms: 1000,
            host: Host {
                name: None,
                uptime_seconds: 1,
                load: [0.0; 3],
            },
            cpu: Cpu {
                percent: cpu,
                cores: Vec::new(),
            },
            memory: Memory {
                total: 0,
                used: 0,
                available: 0,
                free: 0,
                swap_total: 0,
                swap_used: 0,
            },
            filesystems: Vec::new(),
            networks: Vec::new(),
            processes: Vec::new(),
            containers: Vec::new(),
            plugins: Vec::new(),
        }
    }

    #[test]
    fn old_samples_fold_into_minutes_then_hours_and_then_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::open(&dir.path().join("monitor.db")).unwrap();
        // Two hours at 10 s: the first hour becomes 60 one-minute buckets
        // of 6 samples each.
        let start = 1_000 * 3_600_000;
        for i in 0..720u64 {
            history
                .record(&at(start + i * 10_000, (i % 6) as f32))
                .unwrap();
        }
        let per_tier = |h: &History| {
            let mut cpu_only = BTreeMap::new();
            for (res, n) in h.counts().unwrap() {
                cpu_only.insert(res, n / 3);
            }
            cpu_only
        };
        let counts = per_tier(&history);
        // Raw: the last hour (at or after now - 1 h), 361 samples.
        assert_eq!(counts.get(&0), Some(&361), "{counts:?}");
        assert_eq!(counts.get(&60_000), Some(&60), "{counts:?}");
        let report = history.report(start, start + 7_200_000).unwrap();
        let cpu = report
            .series
            .iter()
            .find(|s| s.series == "cpu.percent")
            .unwrap();
        // Nothing is lost in folding: every sample counts once, the mean
        // and extremes survive.
        assert_eq!(cpu.samples, 720);
        assert!((cpu.mean - 2.5).abs() < 1e-9, "{cpu:?}");
        assert_eq!((cpu.min, cpu.max), (0.0, 5.0));
        // A week and a day later, the minutes are hours; 91 days later
        // they are gone, and only the day-8 sample remains (as an hour).
        history.record(&at(start + 8 * 86_400_000, 1.0)).unwrap();
        let counts = per_tier(&history);
        assert_eq!(counts.get(&60_000), None, "{counts:?}");
        assert_eq!(counts.get(&3_600_000), Some(&2), "{counts:?}");
        history.record(&at(start + 91 * 86_400_000, 1.0)).unwrap();
        let counts = per_tier(&history);
        assert_eq!(counts.get(&3_600_000), Some(&1), "{counts:?}");
        let all = history.report(0, u64::MAX).unwrap();
        let cpu = all
            .series
            .iter()
            .find(|s| s.series == "cpu.percent")
            .unwrap();
        assert_eq!(cpu.samples, 2);
    }

    /// Folded spans weigh their samples in the median and p95, and a
    /// report ends where it is asked to.
    #[test]
    fn percentiles_weigh_folded_spans_by_their_samples_and_the_window_ends_at_until() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::open(&dir.path().join("monitor.db")).unwrap();
        // 90 minutes at 50 %, then an hour at 1 %, every 10 s: the first
        // 90 minutes fold into 90 one-minute points of 6 samples each,
        // beside 360 raw points. Counted as points, 1 % would be the median.
        let start = 1_000 * 3_600_000;
        for i in 0..900u64 {
            let cpu = if i < 540 { 50.0 } else { 1.0 };
            history.record(&at(start + i * 10_000, cpu)).unwrap();
        }
        let cpu = |report: Report| {
            report
                .series
                .into_iter()
                .find(|s| s.series == "cpu.percent")
                .unwrap()
        };
        let all = cpu(history.report(start, u64::MAX).unwrap());
        assert_eq!(all.samples, 900);
        assert_eq!((all.median, all.p95), (50.0, 50.0), "{all:?}");
        // The last hour alone: 1 % throughout.
        let late = cpu(history.report(start + 5_400_000, u64::MAX).unwrap());
        assert_eq!((late.median, late.p95, late.samples), (1.0, 1.0, 360));
        // The first half hour alone: nothing after `until` counts.
        let early = cpu(history.report(start, start + 1_800_000 - 1).unwrap());
        assert_eq!((early.samples, early.max, early.last), (180, 50.0, 50.0));
    }

    #[test]
    fn a_report_names_the_spike_and_not_the_noise() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::open(&dir.path().join("monitor.db")).unwrap();
        for i in 0..30u64 {
            let cpu = if i == 20 { 97.0 } else { 10.0 + (i % 4) as f32 };
            history.record(&at(1_000_000 + i * 1000, cpu)).unwrap();
        }
        let report = history.report(0, 2_000_000).unwrap();
        let cpu = report
            .series
            .iter()
            .find(|s| s.series == "cpu.percent")
            .unwrap();
        assert_eq!(cpu.anomalies, [(1_020_000, 97.0)]);
        assert_eq!(cpu.max, 97.0);
        assert_eq!(cpu.last, 11.0);
    }
}
