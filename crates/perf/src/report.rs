//! The figures as a person or a script reads them: per entry point, the
//! quantiles of wall and guest time, memory and output, where host time
//! went, how calls ended and how often the cache answered; per plugin, a
//! summary; and the bottlenecks, each naming plugin, entry point and host
//! interface with the evidence and what to change.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sample::{Area, EntryKind, Outcome};
use crate::stats::{EntryKey, EntryStats};

/// Time or size quantiles, in nanoseconds or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl Quantiles {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                p50: 0,
                p95: 0,
                p99: 0,
                max: 0,
                mean: 0.0,
            };
        }
        Self {
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// One host interface's part of an entry point's time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaReport {
    pub area: Area,
    pub calls: u64,
    pub total_ns: u64,
    /// Its share of the entry point's total wall time, 0 to 1.
    pub share: f64,
}

/// One plugin entry point's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryReport {
    pub plugin: String,
    pub kind: EntryKind,
    pub name: String,
    /// `command:greet`, `event`, `hook:on-load`.
    pub entry: String,
    pub calls: u64,
    pub failures: u64,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub wall_ns: Quantiles,
    pub guest_ns: Quantiles,
    /// The guest's share of the total wall time, 0 to 1.
    pub guest_share: f64,
    pub memory_bytes: Quantiles,
    pub output_bytes: Quantiles,
    /// Host interfaces that were called, most time first.
    pub host: Vec<AreaReport>,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Hits over lookups, when the entry point is cached.
    pub cache_hit_rate: Option<f64>,
    pub first_ms: u64,
    pub last_ms: u64,
}

/// A plugin's figures in one line: what another view (`lord monitor`'s
/// plugins) shows per plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginSummary {
    pub plugin: String,
    pub calls: u64,
    pub failures: u64,
    /// Over all its entry points.
    pub wall_ns: Quantiles,
    /// Total time in its calls, in nanoseconds.
    pub total_ns: u64,
    /// The host interface where most of its time went, and that share.
    pub top_area: Option<(Area, f64)>,
    pub peak_memory_bytes: u64,
    pub cache_hit_rate: Option<f64>,
    pub last_ms: u64,
}

/// Something worth changing, with the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    pub plugin: String,
    pub entry: String,
    /// The host interface responsible, when it is one.
    pub area: Option<Area>,
    pub evidence: String,
    pub suggestion: String,
}

/// What `lord plugin perf` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub entries: Vec<EntryReport>,
    pub plugins: Vec<PluginSummary>,
    pub bottlenecks: Vec<Bottleneck>,
}

/// A host interface must take at least this share of an entry point's
/// time to be named its bottleneck.
const AREA_SHARE: f64 = 0.5;
/// Slow enough to be worth a suggestion: a p95 of 10 ms.
const SLOW_NS: u64 = 10_000_000;

impl Report {
    /// Builds the report from figures (several rows of one key add up).
    pub fn new(rows: Vec<(EntryKey, EntryStats)>) -> Self {
        let mut merged: BTreeMap<EntryKey, EntryStats> = BTreeMap::new();
        for (key, stats) in rows {
            merged.entry(key).or_default().merge(&stats);
        }
        let mut plugins: BTreeMap<String, EntryStats> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut bottlenecks = Vec::new();
        for (key, stats) in &merged {
            plugins
                .entry(key.plugin.to_string())
                .or_default()
                .merge(stats);
            let entry = entry_report(key, stats);
            bottlenecks.extend(find_bottlenecks(&entry));
            entries.push(entry);
        }
        let plugins = plugins
            .into_iter()
            .map(|(plugin, stats)| summary(plugin, &stats))
            .collect();
        Self {
            entries,
            plugins,
            bottlenecks,
        }
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Nanosecond totals stay far below 2^53 for any real history.
        part as f64 / whole as f64
    }
}

/// The total wall time of the calls, from the histogram's mean.
fn total_ns(stats: &EntryStats) -> u64 {
    // The mean times the count is the histogram's total within its 1 %.
    (stats.wall_ns.mean() * stats.wall_ns.len() as f64) as u64
}

fn hit_rate(stats: &EntryStats) -> Option<f64> {
    let lookups = stats.cache_hits + stats.cache_misses;
    (lookups > 0).then(|| share(stats.cache_hits, lookups))
}

fn areas(stats: &EntryStats, total: u64) -> Vec<AreaReport> {
    let mut host: Vec<AreaReport> = Area::ALL
        .iter()
        .filter(|a| stats.host_calls[a.index()] > 0)
        .map(|a| AreaReport {
            area: *a,
            calls: stats.host_calls[a.index()],
            total_ns: stats.host_ns[a.index()],
            share: share(stats.host_ns[a.index()], total).min(1.0),
        })
        .collect();
    host.sort_by_key(|a| std::cmp::Reverse(a.total_ns));
    host
}

fn entry_report(key: &EntryKey, stats: &EntryStats) -> EntryReport {
    let total = total_ns(stats);
    let guest_total = (stats.guest_ns.mean() * stats.guest_ns.len() as f64) as u64;
    EntryReport {
        plugin: key.plugin.to_string(),
        kind: key.kind,
        name: key.name.clone(),
        entry: key.label(),
        calls: stats.calls,
        failures: stats.failures(),
        outcomes: Outcome::ALL
            .iter()
            .filter(|o| stats.outcome(**o) > 0)
            .map(|o| (o.name(), stats.outcome(*o)))
            .collect(),
        wall_ns: Quantiles::of(&stats.wall_ns),
        guest_ns: Quantiles::of(&stats.guest_ns),
        guest_share: share(guest_total, total).min(1.0),
        memory_bytes: Quantiles::of(&stats.memory_bytes),
        output_bytes: Quantiles::of(&stats.output_bytes),
        host: areas(stats, total),
        cache_hits: stats.cache_hits,
        cache_misses: stats.cache_misses,
        cache_hit_rate: hit_rate(stats),
        first_ms: stats.first_ms,
        last_ms: stats.last_ms,
    }
}

fn summary(plugin: String, stats: &EntryStats) -> PluginSummary {
    let total = total_ns(stats);
    let top_area = areas(stats, total).first().map(|a| (a.area, a.share));
    PluginSummary {
        plugin,
        calls: stats.calls,
        failures: stats.failures(),
        wall_ns: Quantiles::of(&stats.wall_ns),
        total_ns: total,
        top_area,
        peak_memory_bytes: stats.memory_bytes.max(),
        cache_hit_rate: hit_rate(stats),
        last_ms: stats.last_ms,
    }
}

/// What to change when `area` dominates a call's time.
fn area_suggestion(area: Area, kind: EntryKind) -> &'static str {
    match area {
        Area::Wasi => {
            "the time is spent waiting in WASI (sleeps, clocks, files, sockets, streams): \
             look for sleeps or blocking reads in the plugin, and read files once per call"
        }
        Area::Shared => {
            "read each shared value once per call and keep it, or keep plugin-private \
             values under `data` instead of `shared`"
        }
        Area::Data => "batch data reads and writes: each persistent write is a transaction",
        Area::Exec => {
            "the program it runs dominates: run it less often, or do the work in the plugin"
        }
        Area::Messaging => {
            "the plugin it asks answers slowly: look at that plugin's own figures, or send \
             instead of waiting for a reply"
        }
        Area::Events => "publish fewer, larger events",
        Area::Log => match kind {
            EntryKind::Event | EntryKind::Message => {
                "it logs heavily while handling deliveries: log less, or at debug level"
            }
            EntryKind::Hook | EntryKind::Command | EntryKind::Micro | EntryKind::Validate => {
                "log less, or at debug level"
            }
        },
        Area::Secrets => "read each secret once per call",
        Area::Config => "read the configuration once per call",
        Area::Delivery => "ask for the event's level once per call",
        Area::Metrics => {
            "read the machine's figures once per call, and processes only when needed: \
             a process sample walks every process on the machine"
        }
        Area::Db => {
            "the database dominates: batch statements into one `sql.batch`, ask for fewer \
             rows, and index what the queries filter on"
        }
        Area::Ai => {
            "the model's replies dominate: ask for fewer tokens, use a smaller model, or \
             stream the reply and stop reading once it has what it needs"
        }
    }
}

fn find_bottlenecks(entry: &EntryReport) -> Vec<Bottleneck> {
    let mut found = Vec::new();
    let pct = |s: f64| s * 100.0;
    if let Some(top) = entry.host.first()
        && top.share >= AREA_SHARE
    {
        found.push(Bottleneck {
            plugin: entry.plugin.clone(),
            entry: entry.entry.clone(),
            area: Some(top.area),
            evidence: format!(
                "{:.0} % of its time is in `{}` ({} calls over {} runs, {:.1} ms in all)",
                pct(top.share),
                top.area.name(),
                top.calls,
                entry.calls,
                top.total_ns as f64 / 1e6
            ),
            suggestion: area_suggestion(top.area, entry.kind).to_owned(),
        });
    }
    let cacheable = matches!(entry.kind, EntryKind::Micro | EntryKind::Command);
    if entry.guest_share >= 0.8 && entry.wall_ns.p95 >= SLOW_NS {
        found.push(Bottleneck {
            plugin: entry.plugin.clone(),
            entry: entry.entry.clone(),
            area: None,
            evidence: format!(
                "{:.0} % of its time is its own code; p95 {:.1} ms",
                pct(entry.guest_share),
                entry.wall_ns.p95 as f64 / 1e6
            ),
            suggestion: if cacheable && entry.cache_hit_rate.is_none() {
                "if its answer depends only on its input, declare it `pure` in the manifest \
                 to allow caching"
                    .to_owned()
            } else {
                "profile the plugin's own code (`lord pdk test --kind performance`)".to_owned()
            },
        });
    }
    if entry.calls >= 10
        && entry.wall_ns.p99 > entry.wall_ns.p50.saturating_mul(10)
        && entry.wall_ns.p99 >= SLOW_NS
    {
        found.push(Bottleneck {
            plugin: entry.plugin.clone(),
            entry: entry.entry.clone(),
            area: None,
            evidence: format!(
                "p99 {:.1} ms is more than ten times p50 {:.1} ms",
                entry.wall_ns.p99 as f64 / 1e6,
                entry.wall_ns.p50 as f64 / 1e6
            ),
            suggestion: "some calls take far longer than most: look for work done only \
                         sometimes (first-call set-up, retries, large inputs)"
                .to_owned(),
        });
    }
    if entry.calls >= 10 && share(entry.failures, entry.calls) >= 0.1 {
        found.push(Bottleneck {
            plugin: entry.plugin.clone(),
            entry: entry.entry.clone(),
            area: None,
            evidence: format!(
                "{} of {} calls failed ({})",
                entry.failures,
                entry.calls,
                entry
                    .outcomes
                    .iter()
                    .filter(|(name, _)| **name != "ok" && **name != "cached")
                    .map(|(name, n)| format!("{name}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            suggestion: "a failing call costs a fresh instance; see `lord plugin info` and \
                         the audit log for why"
                .to_owned(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use lord_manifest::PluginId;

    use super::*;
    use crate::sample::{AREAS, Sample};

    #[test]
    fn time_waiting_in_a_host_interface_is_named_with_its_evidence() {
        let key = EntryKey {
            plugin: PluginId::new("slow").expect("id"),
            kind: EntryKind::Command,
            name: "nap".to_owned(),
        };
        let mut stats = EntryStats::default();
        for _ in 0..20 {
            let mut host_ns = [0; AREAS];
            host_ns[Area::Wasi.index()] = 90_000_000;
            let mut host_calls = [0; AREAS];
            host_calls[Area::Wasi.index()] = 2;
            host_calls[Area::Log.index()] = 1;
            stats.add_sample(
                &Sample {
                    wall_ns: 100_000_000,
                    host_ns,
                    host_calls,
                    peak_memory_bytes: 1 << 20,
                    output_bytes: 0,
                    input_bytes: 0,
                    outcome: Outcome::Ok,
                },
                1,
            );
        }
        let report = Report::new(vec![(key, stats)]);
        let entry = &report.entries[0];
        assert_eq!(entry.host[0].area, Area::Wasi);
        assert!((0.85..0.95).contains(&entry.host[0].share), "{entry:?}");
        let b = &report.bottlenecks[0];
        assert_eq!(
            (b.plugin.as_str(), b.entry.as_str(), b.area),
            ("slow", "command:nap", Some(Area::Wasi))
        );
        assert!(b.evidence.contains("`wasi`"), "{}", b.evidence);
        assert_eq!(report.plugins[0].top_area.map(|(a, _)| a), Some(Area::Wasi));
    }

    #[test]
    fn a_steady_quick_plugin_has_no_bottleneck() {
        let key = EntryKey {
            plugin: PluginId::new("quick").expect("id"),
            kind: EntryKind::Micro,
            name: "m".to_owned(),
        };
        let mut stats = EntryStats::default();
        for _ in 0..100 {
            stats.add_sample(
                &Sample {
                    wall_ns: 20_000,
                    host_ns: [0; AREAS],
                    host_calls: [0; AREAS],
                    peak_memory_bytes: 1 << 20,
                    output_bytes: 5,
                    input_bytes: 0,
                    outcome: Outcome::Ok,
                },
                1,
            );
        }
        assert!(Report::new(vec![(key, stats)]).bottlenecks.is_empty());
    }
}
