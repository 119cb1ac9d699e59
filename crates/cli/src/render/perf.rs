//! `lord plugin perf` and `lord plugin top` as text: per-entry figures, the
//! bottlenecks with their evidence and suggestions, and the one-line-per-
//! plugin screen `top` refreshes. Plugin ids and entry names are foreign
//! text (they come from manifests) and are escaped.

use std::fmt::Write as _;

use lord_host::lord_perf::{PluginSummary, Report};

use super::foreign;

/// A time in nanoseconds, in the unit that reads best.
fn time(ns: u64) -> String {
    // Display only: the float's rounding is far below what is shown.
    let ns_f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns_f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns_f / 1e6)
    } else {
        format!("{:.2} s", ns_f / 1e9)
    }
}

fn bytes(n: u64) -> String {
    let n_f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n_f / 1024.0)
    } else {
        format!("{:.1} MiB", n_f / (1024.0 * 1024.0))
    }
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// Rows under a header, columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The full report: entry points, then bottlenecks.
pub(crate) fn perf_report(report: &Report) -> String {
    if report.entries.is_empty() {
        return "no plugin calls recorded yet; run a plugin command and look again\n".to_owned();
    }
    let rows: Vec<Vec<String>> = report
        .entries
        .iter()
        .map(|e| {
            let host = e
                .host
                .iter()
                .take(3)
                .map(|a| format!("{} {} ({}x)", a.area.name(), percent(a.share), a.calls))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                foreign(&e.plugin).to_string(),
                foreign(&e.entry).to_string(),
                e.calls.to_string(),
                e.failures.to_string(),
                time(e.wall_ns.p50),
                time(e.wall_ns.p95),
                time(e.wall_ns.p99),
                time(e.wall_ns.max),
                percent(e.guest_share),
                if host.is_empty() {
                    "-".to_owned()
                } else {
                    host
                },
                bytes(e.memory_bytes.max),
                bytes(e.output_bytes.max),
                e.cache_hit_rate.map_or_else(|| "-".to_owned(), percent),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "PLUGIN",
            "ENTRY",
            "CALLS",
            "FAILED",
            "P50",
            "P95",
            "P99",
            "MAX",
            "GUEST",
            "HOST",
            "MEMORY",
            "OUTPUT",
            "CACHE HITS",
        ],
        &rows,
    );
    if report.bottlenecks.is_empty() {
        out.push_str("\nno bottlenecks found\n");
    } else {
        out.push_str("\nbottlenecks:\n");
        for b in &report.bottlenecks {
            let area = b
                .area
                .map(|a| format!(" in `{}`", a.name()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} {}{area}: {}\n  suggestion: {}",
                foreign(&b.plugin),
                foreign(&b.entry),
                b.evidence,
                b.suggestion
            );
        }
    }
    out
}

/// One line per plugin, busiest first: what `lord plugin top` shows.
pub(crate) fn top_screen(plugins: &[PluginSummary]) -> String {
    if plugins.is_empty() {
        return "no plugin calls recorded yet\n".to_owned();
    }
    let mut sorted: Vec<&PluginSummary> = plugins.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.total_ns));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|p| {
            vec![
                foreign(&p.plugin).to_string(),
                p.calls.to_string(),
                p.failures.to_string(),
                time(p.total_ns),
                time(p.wall_ns.p50),
                time(p.wall_ns.p95),
                time(p.wall_ns.p99),
                time(p.wall_ns.max),
                p.top_area.map_or_else(
                    || "-".to_owned(),
                    |(area, share)| format!("{} {}", area.name(), percent(share)),
                ),
                bytes(p.peak_memory_bytes),
                p.cache_hit_rate.map_or_else(|| "-".to_owned(), percent),
            ]
        })
        .collect();
    table(
        &[
            "PLUGIN",
            "CALLS",
            "FAILED",
            "TOTAL",
            "P50",
            "P95",
            "P99",
            "MAX",
            "MOST HOST TIME",
            "MEMORY",
            "CACHE HITS",
        ],
        &rows,
    )
}
