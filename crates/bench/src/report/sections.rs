//! The report's sections without a bare baseline: the registry and the
//! resolver, plugin state under concurrency, and the terminal path; and
//! the reports of the modes that run only one of them.

use serde_json::{Map, Value, json};

use super::{RegistryOnly, RenderOnly, Row, goals, round, table_head};
use crate::graph;
use crate::registry::{self, RegistryResults};
use crate::render::{self, RenderResults};
use crate::timing::{Latencies, Samples};

/// A figure with no goal and no baseline, in milliseconds. No goal was set
/// for these: they are reported for tracking and always pass.
pub(super) fn tracked_ms(label: &'static str, key: &'static str, value_ms: f64) -> Row {
    let shown = if value_ms >= 10_000.0 {
        format!("{:.1} s", value_ms / 1e3)
    } else {
        format!("{value_ms:.2} ms")
    };
    Row {
        label,
        subject: shown.clone(),
        baseline: "-".to_owned(),
        key,
        value: value_ms,
        shown,
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        goal: "-",
    }
}

pub(super) fn latency_ms(latencies: &Latencies) -> f64 {
    latencies.median_ns() / 1e6
}

pub(super) fn registry_rows(registry: &RegistryResults, resolve: &Samples) -> Vec<Row> {
    let install = &registry.install;
    vec![
        tracked_ms(
            "registry: search over 10,000 plugins, p50",
            "search_p50_ms",
            latency_ms(&registry.search),
        ),
        tracked_ms(
            "registry: search over 10,000 plugins, p95",
            "search_p95_ms",
            registry.search.percentile_ns(95.0) / 1e6,
        ),
        tracked_ms(
            "registry: 10,000 publishes (Db::publish)",
            "registry_fill_10k_ms",
            registry.fill.as_secs_f64() * 1e3,
        ),
        tracked_ms(
            "resolve: 1,000-package graph",
            "resolve_1000_ms",
            resolve.median_ns() / 1e6,
        ),
        tracked_ms(
            "install: 2 MB plugin from a local registry",
            "install_2mb_ms",
            latency_ms(&install.total),
        ),
        tracked_ms(
            "  download",
            "install_2mb_download_ms",
            latency_ms(&install.download),
        ),
        tracked_ms(
            "  verify (digest, signature)",
            "install_2mb_verify_ms",
            latency_ms(&install.verify),
        ),
        tracked_ms(
            "  unpack",
            "install_2mb_unpack_ms",
            latency_ms(&install.unpack),
        ),
        tracked_ms(
            "  precompile (compile, contract, pre-link)",
            "install_2mb_precompile_ms",
            latency_ms(&install.precompile),
        ),
        tracked_ms(
            "signed index (TUF): refresh, nothing changed",
            "tuf_refresh_unchanged_ms",
            latency_ms(&registry.tuf_refresh),
        ),
        tracked_ms(
            "web: plugin page at 10,000 plugins, p95",
            "web_plugin_page_p95_ms",
            registry.web.plugin_page.percentile_ns(95.0) / 1e6,
        ),
        tracked_ms(
            "  the same plugin from the JSON API, p95",
            "web_plugin_api_p95_ms",
            registry.web.plugin_api.percentile_ns(95.0) / 1e6,
        ),
        tracked_ms(
            "web: search page at 10,000 plugins, p95",
            "web_search_page_p95_ms",
            registry.web.search_page.percentile_ns(95.0) / 1e6,
        ),
        tracked_ms(
            "  the same search from the JSON API, p95",
            "web_search_api_p95_ms",
            registry.web.search_api.percentile_ns(95.0) / 1e6,
        ),
    ]
}

/// What the registry figures were measured over, for the table.
pub(super) fn registry_note(registry: &RegistryResults) -> String {
    format!(
        "\nsearch: {} single requests over HTTP, {} found a plugin; install: medians over {} \
         runs of a {:.2} MiB package (the total is the median of the sums); signed index: \
         median of {} refreshes, {} HTTP requests each\n",
        registry.search.len(),
        registry.search_found,
        registry.install.total.len(),
        registry.install.package_bytes as f64 / f64::from(1 << 20),
        registry.tuf_refresh.len(),
        registry.tuf_requests
    )
}

/// The JSON keys of the registry figures: each row's figure, and what it
/// was measured over.
pub(super) fn registry_keys(registry: &RegistryResults, resolve: &Samples) -> Map<String, Value> {
    let mut keys = Map::new();
    for row in registry_rows(registry, resolve) {
        keys.insert(row.key.to_owned(), json!(round(row.value, 3)));
    }
    let install = &registry.install;
    keys.extend([
        ("search_plugins".to_owned(), json!(registry::PLUGINS)),
        ("search_queries".to_owned(), json!(registry.search.len())),
        ("search_found".to_owned(), json!(registry.search_found)),
        (
            "web_pages".to_owned(),
            json!(registry.web.plugin_page.len()),
        ),
        (
            "web_plugin_page_largest_bytes".to_owned(),
            json!(registry.web.largest_plugin_page),
        ),
        (
            "web_plugin_page_vs_api_p95_ratio".to_owned(),
            json!(round(
                registry.web.plugin_page.percentile_ns(95.0)
                    / registry.web.plugin_api.percentile_ns(95.0).max(1.0),
                3
            )),
        ),
        (
            "web_search_page_vs_api_p95_ratio".to_owned(),
            json!(round(
                registry.web.search_page.percentile_ns(95.0)
                    / registry.web.search_api.percentile_ns(95.0).max(1.0),
                3
            )),
        ),
        ("resolve_packages".to_owned(), json!(graph::PACKAGES)),
        (
            "install_2mb_package_bytes".to_owned(),
            json!(install.package_bytes),
        ),
        ("install_2mb_runs".to_owned(), json!(install.total.len())),
        (
            "tuf_refresh_unchanged_requests".to_owned(),
            json!(registry.tuf_requests),
        ),
        (
            "tuf_refresh_unchanged_runs".to_owned(),
            json!(registry.tuf_refresh.len()),
        ),
    ]);
    keys
}

impl RegistryOnly {
    fn rows(&self) -> Vec<Row> {
        registry_rows(&self.registry, &self.resolve)
    }

    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "lord-bench: registry figures only; resolve is a median over {} batches\n\n",
            self.batches
        );
        out.push_str(&table_head());
        for row in self.rows() {
            out.push_str(&row.line());
        }
        out.push_str(&registry_note(&self.registry));
        out.push_str(&format!(
            "total time: {:.1} s\n",
            self.elapsed.as_secs_f64()
        ));
        out
    }

    pub(crate) fn json(&self) -> Value {
        let (goals, all_pass) = goals(&self.rows());
        let mut object = registry_keys(&self.registry, &self.resolve);
        object.extend([
            ("goals".to_owned(), Value::Object(goals)),
            ("all_pass".to_owned(), json!(all_pass)),
            ("batches".to_owned(), json!(self.batches)),
            (
                "elapsed_s".to_owned(),
                json!(round(self.elapsed.as_secs_f64(), 1)),
            ),
        ]);
        Value::Object(object)
    }
}

/// Plugin output through the terminal path against the raw write.
/// Persistent compare-and-swap per second from one process (median batch).
pub(super) fn cas_per_s(data_cas: &Samples) -> f64 {
    1e9 / data_cas.median_ns()
}

/// State across processes: compare-and-swap throughput beside
/// `shared_state_ratio`, and what 100 concurrent `lord note` lost.
pub(super) fn state_rows(data_cas: &Samples, notes: &crate::state::NoteRun) -> Vec<Row> {
    vec![
        Row {
            label: "state: persistent data compare-and-swap",
            subject: format!("{:.0} k/s", cas_per_s(data_cas) / 1e3),
            baseline: "-".to_owned(),
            key: "data_cas_per_s",
            value: cas_per_s(data_cas),
            shown: format!("{:.0} k/s", cas_per_s(data_cas) / 1e3),
            // No goal was set; reported for tracking.
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
            goal: "-",
        },
        Row {
            label: "state: notes lost by 100 concurrent `lord note`",
            subject: format!("{} of {}", notes.loss(), crate::state::CONCURRENT_NOTES),
            baseline: "-".to_owned(),
            key: "concurrent_note_loss",
            value: notes.loss() as f64,
            shown: notes.loss().to_string(),
            min: 0.0,
            max: 0.0,
            goal: "0",
        },
    ]
}

/// `--state-only`: the state figures alone.
pub(crate) fn state_json(data_cas: &Samples, notes: &crate::state::NoteRun) -> Value {
    Value::Object(state_keys(data_cas, notes))
}

pub(super) fn state_keys(data_cas: &Samples, notes: &crate::state::NoteRun) -> Map<String, Value> {
    Map::from_iter([
        (
            "data_cas_per_s".to_owned(),
            json!(round(cas_per_s(data_cas), 0)),
        ),
        ("concurrent_note_loss".to_owned(), json!(notes.loss())),
        (
            "concurrent_notes".to_owned(),
            json!(crate::state::CONCURRENT_NOTES),
        ),
        ("concurrent_notes_listed".to_owned(), json!(notes.listed)),
        ("concurrent_notes_counted".to_owned(), json!(notes.counted)),
        ("concurrent_notes_failed".to_owned(), json!(notes.failed)),
        (
            "concurrent_notes_wall_ms".to_owned(),
            json!(round(notes.wall.as_secs_f64() * 1e3, 0)),
        ),
    ])
}

pub(super) fn render_rows(render: &RenderResults) -> Vec<Row> {
    let mb = |v: f64| format!("{v:.0} MB/s");
    vec![Row {
        label: "render: 1 MiB plugin output to a terminal",
        subject: mb(render.sanitise_mb_per_s()),
        baseline: mb(render.raw_mb_per_s()),
        key: "render_sanitise_mb_per_s",
        value: render.sanitise_mb_per_s(),
        shown: mb(render.sanitise_mb_per_s()),
        min: 200.0,
        max: f64::INFINITY,
        goal: ">= 200 MB/s",
    }]
}

pub(super) fn render_keys(render: &RenderResults) -> Map<String, Value> {
    Map::from_iter([
        (
            "render_sanitise_mb_per_s".to_owned(),
            json!(round(render.sanitise_mb_per_s(), 1)),
        ),
        (
            "render_raw_write_mb_per_s".to_owned(),
            json!(round(render.raw_mb_per_s(), 1)),
        ),
        ("render_bytes".to_owned(), json!(render::BYTES)),
    ])
}

impl RenderOnly {
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "lord-bench: plugin output only; medians over {} batches per side; ours is the \
             terminal path, bare the raw write\n\n",
            self.batches
        );
        out.push_str(&table_head());
        for row in render_rows(&self.render) {
            out.push_str(&row.line());
        }
        out.push_str(&format!(
            "total time: {:.1} s\n",
            self.elapsed.as_secs_f64()
        ));
        out
    }

    pub(crate) fn json(&self) -> Value {
        let (goals, all_pass) = goals(&render_rows(&self.render));
        let mut object = render_keys(&self.render);
        object.extend([
            ("goals".to_owned(), Value::Object(goals)),
            ("all_pass".to_owned(), json!(all_pass)),
            ("batches".to_owned(), json!(self.batches)),
            (
                "elapsed_s".to_owned(),
                json!(round(self.elapsed.as_secs_f64(), 1)),
            ),
        ]);
        Value::Object(object)
    }
}
