//! `lord analytics report` as text: a table per section (plugins, the
//! latency predictor with its held-out error, anomalies, ecosystem
//! health, command sequences, plugins used together). Plugin ids, entry
//! names and findings are foreign text (they come from manifests) and are
//! escaped.

use std::fmt::Write as _;

use lord_host::lord_analytics::{Report, html::timestamp};

use super::foreign;
use super::perf::table;

fn ms(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} µs", value * 1000.0)
    } else {
        format!("{value:.1} ms")
    }
}

fn section(out: &mut String, title: &str, empty: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  {empty}");
    } else {
        out.push_str(&table(header, &rows));
    }
}

/// The whole report.
pub(crate) fn analytics_report(report: &Report) -> String {
    let mut out = format!(
        "{} plugin calls from {} to {} (recorded on this machine only)\n",
        report.calls,
        timestamp(report.since_ms),
        timestamp(report.until_ms)
    );
    let plugins = report
        .plugins
        .iter()
        .map(|p| {
            let kinds: Vec<String> = p
                .errors_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            vec![
                foreign(&p.plugin).to_string(),
                p.executions.to_string(),
                p.errors.to_string(),
                if kinds.is_empty() {
                    "-".to_owned()
                } else {
                    kinds.join(", ")
                },
                ms(p.p50_ms),
                ms(p.p95_ms),
            ]
        })
        .collect();
    section(
        &mut out,
        "PLUGINS",
        "no plugin calls recorded in this window",
        &["PLUGIN", "CALLS", "FAILED", "ERRORS BY KIND", "P50", "P95"],
        plugins,
    );
    models(&mut out, report);
    anomalies(&mut out, report);
    health_and_habits(&mut out, report);
    out
}

/// The latency predictor per entry point, with its held-out error.
fn models(out: &mut String, report: &Report) {
    let models = report
        .models
        .iter()
        .map(|m| {
            vec![
                foreign(&m.plugin).to_string(),
                foreign(&m.entry).to_string(),
                format!("{} B", m.typical_input_bytes),
                ms(m.typical_prediction_ms),
                format!("± {} ({:.1} %)", ms(m.mae_ms), m.mape_percent),
                format!("{:.4} ms/KiB", m.ms_per_kib),
                format!("{}/{}", m.fitted_on, m.held_out),
            ]
        })
        .collect();
    section(
        out,
        "PREDICTED LATENCY (least squares on input size; error measured on held-out calls)",
        "no entry point has enough completed calls for a model yet",
        &[
            "PLUGIN",
            "ENTRY",
            "TYPICAL INPUT",
            "PREDICTED",
            "HELD-OUT ERROR",
            "SLOPE",
            "FITTED/HELD OUT",
        ],
        models,
    );
}

/// Entry points behaving unlike their own past.
fn anomalies(out: &mut String, report: &Report) {
    let anomalies = report
        .anomalies
        .iter()
        .map(|a| {
            let (usual, recent) = match a.metric {
                lord_host::lord_analytics::Metric::Latency => (ms(a.baseline), ms(a.recent)),
                lord_host::lord_analytics::Metric::ErrorRate => (
                    format!("{:.0} % failed", a.baseline * 100.0),
                    format!("{:.0} % failed", a.recent * 100.0),
                ),
            };
            vec![
                foreign(&a.plugin).to_string(),
                foreign(&a.entry).to_string(),
                a.metric.name().to_owned(),
                usual,
                recent,
                format!("{:.1}", a.score),
                timestamp(a.since_ms),
            ]
        })
        .collect();
    section(
        out,
        "ANOMALIES (recent calls against the plugin's own past, median and MAD)",
        "no plugin behaves unlike its own past",
        &[
            "PLUGIN", "ENTRY", "WHAT", "USUAL", "RECENT", "SCORE", "SINCE",
        ],
        anomalies,
    );
}

/// Ecosystem health, then the habits: command sequences and plugins used
/// together.
fn health_and_habits(out: &mut String, report: &Report) {
    let health = report
        .health
        .iter()
        .map(|f| {
            vec![
                foreign(&f.plugin).to_string(),
                f.check.name().to_owned(),
                foreign(&f.detail).to_string(),
            ]
        })
        .collect();
    section(
        out,
        "ECOSYSTEM HEALTH",
        "no problems found with the installed plugins",
        &["PLUGIN", "CHECK", "FINDING"],
        health,
    );
    let sequences = report
        .sequences
        .iter()
        .map(|s| {
            vec![
                foreign(&s.from).to_string(),
                foreign(&s.to).to_string(),
                s.count.to_string(),
            ]
        })
        .collect();
    section(
        out,
        "COMMAND SEQUENCES",
        "no command was followed by another",
        &["COMMAND", "THEN", "TIMES"],
        sequences,
    );
    let together = report
        .together
        .iter()
        .map(|t| {
            vec![
                format!("{} + {}", foreign(&t.plugins[0]), foreign(&t.plugins[1])),
                t.count.to_string(),
            ]
        })
        .collect();
    section(
        out,
        "PLUGINS USED TOGETHER",
        "no two plugins were used together",
        &["PLUGINS", "STRETCHES OF WORK"],
        together,
    );
}
