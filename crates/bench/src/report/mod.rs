//! The results, as a table for people or as one JSON object for scripts,
//! each figure next to its goal.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::call::CallResults;
use crate::events;
use crate::help::PLUGIN_COUNT;
use crate::load::LoadResults;
use crate::micro::{CHAIN, MicroResults};
use crate::registry::RegistryResults;
use crate::render::RenderResults;
use crate::timing::{Pair, Samples};

mod ai;
mod db;
mod policy;
mod sections;
pub(crate) use ai::AiOnly;
use ai::{ai_keys, ai_rows};
pub(crate) use db::DbOnly;
use db::{db_keys, db_rows};
pub(crate) use policy::PolicyOnly;
use policy::{policy_keys, policy_rows};
pub(crate) use sections::state_json;
use sections::{
    registry_keys, registry_note, registry_rows, render_keys, render_rows, state_keys, state_rows,
};

/// Everything one run measured.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    pub(crate) load: LoadResults,
    pub(crate) calls: CallResults,
    pub(crate) help: Pair,
    pub(crate) micro: MicroResults,
    /// Bursts of `events::BURST` events to a native subscriber.
    pub(crate) events: Samples,
    /// Bursts of `events::WASM_BURST` events to a WASM subscriber.
    pub(crate) events_wasm: Samples,
    pub(crate) registry: RegistryResults,
    /// One resolution of the `graph::PACKAGES`-package graph.
    pub(crate) resolve: Samples,
    pub(crate) render: RenderResults,
    /// Time to the first streamed token through lord-ai vs reqwest.
    pub(crate) ai: crate::ai::AiResults,
    /// A one-row SELECT through `lord db query`'s machinery and through a
    /// plugin, against the bare pooled session.
    pub(crate) db: crate::db::DbResults,
    /// One install decision against a machine's and a user's policies.
    pub(crate) policy: crate::policy::PolicyResults,
    /// Size of the release `lord` binary, as `cargo install` ships it.
    pub(crate) binary_bytes: u64,
    /// Load of a plugin frozen for the released contract against the
    /// same plugin rebuilt.
    pub(crate) compat: Pair,
    /// Checking the cache tag of the largest plugin's compiled code.
    pub(crate) cache_verify: crate::load::CacheVerify,
    /// `lord hello World` in a fresh process vs the bare one-shot host.
    pub(crate) oneshot: Pair,
    /// W1 through `lord-host`'s public API vs bare wasmtime.
    pub(crate) embed: crate::embed::EmbedResults,
    /// `git --version` through a plugin vs spawned directly.
    pub(crate) exec: Pair,
    /// A 1 KiB loopback `GET` through a plugin vs reqwest directly.
    pub(crate) http: Pair,
    /// Persistent compare-and-swap from one process.
    pub(crate) data_cas: Samples,
    /// 100 `lord note` processes at once.
    pub(crate) notes: crate::state::NoteRun,
    pub(crate) batches: usize,
    pub(crate) elapsed: Duration,
}

/// The most the installed `lord` may weigh.
const BINARY_GOAL_BYTES: f64 = 60_000_000.0;

/// What `--registry-only` measured: the figures without a baseline.
#[derive(Debug, Clone)]
pub(crate) struct RegistryOnly {
    pub(crate) registry: RegistryResults,
    pub(crate) resolve: Samples,
    pub(crate) batches: usize,
    pub(crate) elapsed: Duration,
}

/// What `--render-only` measured.
#[derive(Debug, Clone)]
pub(crate) struct RenderOnly {
    pub(crate) render: RenderResults,
    pub(crate) batches: usize,
    pub(crate) elapsed: Duration,
}

/// One compared figure and its goal (the figure must be at most `max`).
struct Row {
    label: &'static str,
    subject: String,
    baseline: String,
    key: &'static str,
    value: f64,
    shown: String,
    /// The goal: the figure must lie in `min..=max`.
    min: f64,
    max: f64,
    goal: &'static str,
}

impl Row {
    fn pass(&self) -> bool {
        self.value >= self.min && self.value <= self.max
    }
}

fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1e3)
}

fn ms(ns: f64) -> String {
    format!("{:.2} ms", ns / 1e6)
}

fn ns(ns: f64) -> String {
    format!("{ns:.0} ns")
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

impl Results {
    fn compat_row(&self) -> Row {
        Row {
            label: "load: plugin frozen at the released contract / rebuilt",
            subject: us(self.compat.subject.median_ns()),
            baseline: us(self.compat.baseline.median_ns()),
            key: "compat_load_ratio",
            value: self.compat.ratio(),
            shown: format!("{:.2}x", self.compat.ratio()),
            min: f64::NEG_INFINITY,
            max: 1.05,
            goal: "<= 1.05x",
        }
    }

    /// The performance monitor's cost on the ~10 µs call: on / off.
    fn monitor_row(&self) -> Row {
        let monitor = &self.calls.monitor;
        Row {
            label: "monitor: ~10 µs call, on / off",
            subject: ns(monitor.subject.median_ns()),
            baseline: ns(monitor.baseline.median_ns()),
            key: "monitor_overhead_ratio",
            value: monitor.ratio(),
            shown: format!("{:.3}x", monitor.ratio()),
            min: f64::NEG_INFINITY,
            max: 1.03,
            goal: "<= 1.03x",
        }
    }

    fn rows(&self) -> Vec<Row> {
        let calls = &self.calls;
        let load = &self.load.cold;
        let mut rows = vec![
            Row {
                label: "load: installed plugin to end of first call",
                subject: us(load.subject.median_ns()),
                baseline: us(load.baseline.median_ns()),
                key: "load_ratio",
                value: load.ratio(),
                shown: format!("{:.2}x", load.ratio()),
                min: f64::NEG_INFINITY,
                max: 2.0,
                goal: "<= 2x",
            },
            Row {
                label: "load, loaded form reused (no deserialise)",
                subject: us(self.load.reused.subject.median_ns()),
                baseline: us(self.load.reused.baseline.median_ns()),
                key: "load_reused_ratio",
                value: self.load.reused.ratio(),
                shown: format!("{:.2}x", self.load.reused.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.5,
                goal: "<= 1.5x",
            },
            self.compat_row(),
            Row {
                label: "call: trivial command, ours / bare",
                subject: ns(calls.trivial.subject.median_ns()),
                baseline: ns(calls.trivial.baseline.median_ns()),
                key: "call_trivial_ratio",
                value: calls.trivial.ratio(),
                shown: format!("{:.2}x", calls.trivial.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.2,
                goal: "<= 1.2x",
            },
            Row {
                label: "call overhead: trivial command",
                subject: ns(calls.trivial.subject.median_ns()),
                baseline: ns(calls.trivial.baseline.median_ns()),
                key: "call_overhead_trivial_ns",
                value: calls.trivial.difference_ns(),
                shown: format!("+{:.0} ns", calls.trivial.difference_ns()),
                min: f64::NEG_INFINITY,
                max: 1000.0,
                goal: "<= +1000 ns",
            },
            Row {
                label: "call overhead: ~10 µs of guest work",
                subject: ns(calls.work.subject.median_ns()),
                baseline: ns(calls.work.baseline.median_ns()),
                key: "call_overhead_10us_ratio",
                value: calls.work.ratio(),
                shown: format!("{:.3}x", calls.work.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.05,
                goal: "<= 1.05x",
            },
            self.monitor_row(),
            Row {
                label: "lord --help: 50 plugins vs none",
                subject: ms(self.help.subject.median_ns()),
                baseline: ms(self.help.baseline.median_ns()),
                key: "help_50_ratio",
                value: self.help.ratio(),
                shown: format!("{:.3}x", self.help.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.2,
                goal: "<= 1.2x",
            },
            Row {
                label: "micro: chain of 10 vs 10 bare calls",
                subject: ns(self.micro.chain10.subject.median_ns()),
                baseline: ns(self.micro.chain10.baseline.median_ns()),
                key: "chain10_ratio",
                value: self.micro.chain10.ratio(),
                shown: format!("{:.2}x", self.micro.chain10.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.2,
                goal: "<= 1.2x",
            },
            Row {
                label: "micro: native call vs direct Rust call",
                subject: ns(self.micro.native.subject.median_ns()),
                baseline: ns(self.micro.native.baseline.median_ns()),
                key: "native_micro_overhead_ns",
                value: self.micro.native.difference_ns(),
                shown: format!("+{:.0} ns", self.micro.native.difference_ns()),
                // No goal was set; reported for tracking.
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
                goal: "-",
            },
            Row {
                label: "state: shared set+get via host interface",
                subject: ns(calls.shared.subject.median_ns()),
                baseline: ns(calls.shared.baseline.median_ns()),
                key: "shared_state_ratio",
                value: calls.shared.ratio(),
                shown: format!("{:.2}x", calls.shared.ratio()),
                // No goal was set; reported for tracking.
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
                goal: "-",
            },
        ];
        rows.extend(self.embedding_rows());
        rows.extend(state_rows(&self.data_cas, &self.notes));
        rows.extend(self.throughput_rows());
        rows.push(self.binary_row());
        rows.extend(registry_rows(&self.registry, &self.resolve));
        rows.extend(render_rows(&self.render));
        rows.extend(ai_rows(&self.ai));
        rows.extend(db_rows(&self.db));
        rows.extend(policy_rows(&self.policy));
        rows
    }

    /// What a user and an embedder get: a command in a fresh process, and
    /// the public API's kept and fresh-instance paths.
    fn embedding_rows(&self) -> Vec<Row> {
        let (kept, fresh) = (&self.embed.kept, &self.embed.run_command);
        vec![
            Row {
                label: "one-shot: `lord hello World` / bare host process",
                subject: ms(self.oneshot.subject.median_ns()),
                baseline: ms(self.oneshot.baseline.median_ns()),
                key: "oneshot_ratio",
                value: self.oneshot.ratio(),
                shown: format!("{:.2}x", self.oneshot.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.5,
                goal: "<= 1.5x",
            },
            Row {
                label: "embed: W1 on a kept instance (lord-host API)",
                subject: ns(kept.subject.median_ns()),
                baseline: ns(kept.baseline.median_ns()),
                key: "embed_call_w1_ratio",
                value: kept.ratio(),
                shown: format!("{:.2}x", kept.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.3,
                goal: "<= 1.3x",
            },
            Row {
                label: "embed: Framework::run_command / fresh instance + call",
                subject: us(fresh.subject.median_ns()),
                baseline: us(fresh.baseline.median_ns()),
                key: "run_command_ratio",
                value: fresh.ratio(),
                shown: format!("{:.2}x", fresh.ratio()),
                min: f64::NEG_INFINITY,
                max: 1.5,
                goal: "<= 1.5x",
            },
            Row {
                label: "exec: git --version through a plugin / spawned directly",
                subject: ms(self.exec.subject.median_ns()),
                baseline: ms(self.exec.baseline.median_ns()),
                key: "exec_overhead_ms",
                value: self.exec.difference_ns() / 1e6,
                shown: format!("+{:.2} ms", self.exec.difference_ns() / 1e6),
                // No goal yet: the first runs set the baseline to hold.
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
                goal: "(reported)",
            },
            Row {
                label: "http: 1 KiB loopback GET through a plugin / reqwest",
                subject: us(self.http.subject.median_ns()),
                baseline: us(self.http.baseline.median_ns()),
                key: "http_get_overhead_ratio",
                value: self.http.ratio(),
                shown: format!("{:.2}x", self.http.ratio()),
                // No goal yet: the first runs set the baseline to hold.
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
                goal: "(reported)",
            },
        ]
    }

    /// The size of what `cargo install` ships.
    fn binary_row(&self) -> Row {
        Row {
            label: "installed lord binary",
            subject: format!("{:.1} MB", self.binary_bytes as f64 / 1e6),
            baseline: "-".to_owned(),
            key: "binary_bytes",
            value: self.binary_bytes as f64,
            shown: format!("{:.1} MB", self.binary_bytes as f64 / 1e6),
            min: f64::NEG_INFINITY,
            max: BINARY_GOAL_BYTES,
            goal: "< 60 MB",
        }
    }

    /// Figures without a bare baseline: events per second.
    fn throughput_rows(&self) -> Vec<Row> {
        vec![
            Row {
                label: "events: publish to a native subscriber",
                subject: format!("{:.2} M/s", events::per_second(&self.events) / 1e6),
                baseline: "-".to_owned(),
                key: "events_native_per_s",
                value: events::per_second(&self.events),
                shown: format!("{:.2} M/s", events::per_second(&self.events) / 1e6),
                min: 1e6,
                max: f64::INFINITY,
                goal: ">= 1 M/s",
            },
            Row {
                label: "events: delivered to a WASM subscriber",
                subject: format!(
                    "{:.0} k/s",
                    events::wasm_per_second(&self.events_wasm) / 1e3
                ),
                baseline: "-".to_owned(),
                key: "events_wasm_per_s",
                value: events::wasm_per_second(&self.events_wasm),
                shown: format!(
                    "{:.0} k/s",
                    events::wasm_per_second(&self.events_wasm) / 1e3
                ),
                min: 1e5,
                max: f64::INFINITY,
                goal: ">= 100 k/s",
            },
        ]
    }

    /// The table printed by default.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "lord-bench: medians over {} batches per side; ours vs bare wasmtime \
             (for --help: {PLUGIN_COUNT} plugins vs none)\n\n",
            self.batches
        );
        out.push_str(&table_head());
        for row in self.rows() {
            out.push_str(&row.line());
        }
        out.push_str(&format!(
            "cache tag check: {:.1} µs for {} ({} KB component)\n",
            self.cache_verify.median.as_secs_f64() * 1e6,
            self.cache_verify.plugin,
            self.cache_verify.component_bytes / 1024
        ));
        out.push_str(&registry_note(&self.registry));
        out.push_str(&format!(
            "bench-work: {:.2} ns per round, {} rounds for ~10 µs\n",
            self.calls.ns_per_iteration, self.calls.work_iterations
        ));
        out.push_str("spread (fastest..slowest batch, per iteration):\n");
        for (name, samples, unit) in self.spreads() {
            let (low, high) = samples.range_ns();
            let (low, high) = (low / unit.1, high / unit.1);
            out.push_str(&format!(
                "  {name:<20} {low:.2}..{high:.2} {} ({} iterations per batch)\n",
                unit.0, samples.iterations
            ));
        }
        out.push_str(&format!(
            "total time: {:.1} s\n",
            self.elapsed.as_secs_f64()
        ));
        out
    }

    fn spreads(&self) -> [(&'static str, &Samples, (&'static str, f64)); 19] {
        let us = ("µs", 1e3);
        let ns = ("ns", 1.0);
        let ms = ("ms", 1e6);
        [
            ("load ours", &self.load.cold.subject, us),
            ("load bare", &self.load.cold.baseline, us),
            ("load reused ours", &self.load.reused.subject, us),
            ("load reused bare", &self.load.reused.baseline, us),
            ("call trivial ours", &self.calls.trivial.subject, ns),
            ("call trivial bare", &self.calls.trivial.baseline, ns),
            ("call 10us ours", &self.calls.work.subject, ns),
            ("call 10us bare", &self.calls.work.baseline, ns),
            ("help 50 plugins", &self.help.subject, ms),
            ("help 0 plugins", &self.help.baseline, ms),
            ("chain10 ours", &self.micro.chain10.subject, ns),
            ("chain10 bare", &self.micro.chain10.baseline, ns),
            ("native micro ours", &self.micro.native.subject, ns),
            ("native micro direct", &self.micro.native.baseline, ns),
            ("shared state ours", &self.calls.shared.subject, ns),
            ("shared state bare", &self.calls.shared.baseline, ns),
            ("events burst", &self.events, ns),
            ("events wasm burst", &self.events_wasm, ns),
            ("resolve 1000", &self.resolve, ms),
        ]
    }

    /// The keys of the compiled-cache check.
    fn cache_verify_keys(&self) -> Map<String, Value> {
        let mut keys = Map::new();
        keys.insert(
            "cache_verify_us".to_owned(),
            json!(round(self.cache_verify.median.as_secs_f64() * 1e6, 2)),
        );
        keys.insert(
            "cache_verify_plugin".to_owned(),
            json!(self.cache_verify.plugin),
        );
        keys.insert(
            "cache_verify_component_bytes".to_owned(),
            json!(self.cache_verify.component_bytes),
        );
        keys
    }

    /// The single JSON object printed with `--json`.
    pub(crate) fn json(&self) -> Value {
        let calls = &self.calls;
        let load = &self.load.cold;
        let reused = &self.load.reused;
        let (goals, all_pass) = goals(&self.rows());
        let mut spread = Map::new();
        for (name, samples, (unit, scale)) in self.spreads() {
            let (low, high) = samples.range_ns();
            spread.insert(
                // ASCII keys, for scripts.
                format!("{}_{}", name.replace(' ', "_"), unit.replace('µ', "u")),
                json!({
                    "min": round(low / scale, 3),
                    "max": round(high / scale, 3),
                    "iterations_per_batch": samples.iterations,
                }),
            );
        }
        let mut object = json!({
            "load_ratio": round(load.ratio(), 3),
            "load_ours_us": round(load.subject.median_ns() / 1e3, 2),
            "load_bare_us": round(load.baseline.median_ns() / 1e3, 2),
            "load_reused_ratio": round(reused.ratio(), 3),
            "load_reused_ours_us": round(reused.subject.median_ns() / 1e3, 2),
            "load_reused_bare_us": round(reused.baseline.median_ns() / 1e3, 2),
            "compat_load_ratio": round(self.compat.ratio(), 3),
            "call_trivial_ratio": round(calls.trivial.ratio(), 3),
            "call_overhead_trivial_ns": round(calls.trivial.difference_ns(), 1),
            "call_trivial_ours_ns": round(calls.trivial.subject.median_ns(), 1),
            "call_trivial_bare_ns": round(calls.trivial.baseline.median_ns(), 1),
            "call_overhead_10us_ratio": round(calls.work.ratio(), 4),
            "call_10us_ours_ns": round(calls.work.subject.median_ns(), 1),
            "call_10us_bare_ns": round(calls.work.baseline.median_ns(), 1),
            "work_iterations": calls.work_iterations,
            "work_ns_per_iteration": round(calls.ns_per_iteration, 3),
            "help_50_ratio": round(self.help.ratio(), 3),
            "help_0_ms": round(self.help.baseline.median_ns() / 1e6, 3),
            "help_50_ms": round(self.help.subject.median_ns() / 1e6, 3),
            "help_plugins": PLUGIN_COUNT,
            "chain10_ratio": round(self.micro.chain10.ratio(), 3),
            "chain10_ours_ns": round(self.micro.chain10.subject.median_ns(), 1),
            "chain10_bare_ns": round(self.micro.chain10.baseline.median_ns(), 1),
            "chain_length": CHAIN,
            "native_micro_overhead_ns": round(self.micro.native.difference_ns(), 1),
            "native_micro_ours_ns": round(self.micro.native.subject.median_ns(), 1),
            "native_direct_ns": round(self.micro.native.baseline.median_ns(), 1),
            "shared_state_ratio": round(calls.shared.ratio(), 3),
            "shared_state_ours_ns": round(calls.shared.subject.median_ns(), 1),
            "shared_state_bare_ns": round(calls.shared.baseline.median_ns(), 1),
            "shared_state_rounds": crate::call::SHARED_ROUNDS,
            "events_native_per_s": round(events::per_second(&self.events), 0),
            "events_burst": events::BURST,
            "events_wasm_per_s": round(events::wasm_per_second(&self.events_wasm), 0),
            "events_wasm_burst": events::WASM_BURST,
            "binary_bytes": self.binary_bytes,
            "goals": goals,
            "all_pass": all_pass,
            "batches": self.batches,
            "spread": spread,
            "elapsed_s": round(self.elapsed.as_secs_f64(), 1),
        });
        if let Some(object) = object.as_object_mut() {
            let (oneshot, kept, fresh) = (&self.oneshot, &self.embed.kept, &self.embed.run_command);
            for (key, value) in [
                ("oneshot_ratio", round(oneshot.ratio(), 3)),
                (
                    "oneshot_lord_ms",
                    round(oneshot.subject.median_ns() / 1e6, 3),
                ),
                (
                    "oneshot_bare_ms",
                    round(oneshot.baseline.median_ns() / 1e6, 3),
                ),
                ("embed_call_w1_ratio", round(kept.ratio(), 3)),
                ("embed_call_w1_ours_ns", round(kept.subject.median_ns(), 1)),
                ("embed_call_w1_bare_ns", round(kept.baseline.median_ns(), 1)),
                ("run_command_ratio", round(fresh.ratio(), 3)),
                ("http_get_overhead_ratio", round(self.http.ratio(), 3)),
                ("monitor_overhead_ratio", round(calls.monitor.ratio(), 4)),
                (
                    "exec_overhead_ms",
                    round(self.exec.difference_ns() / 1e6, 3),
                ),
                (
                    "exec_ours_ms",
                    round(self.exec.subject.median_ns() / 1e6, 3),
                ),
                (
                    "exec_direct_ms",
                    round(self.exec.baseline.median_ns() / 1e6, 3),
                ),
                (
                    "run_command_ours_us",
                    round(fresh.subject.median_ns() / 1e3, 2),
                ),
                (
                    "run_command_bare_us",
                    round(fresh.baseline.median_ns() / 1e3, 2),
                ),
                (
                    "fresh_instance_ratio",
                    round(self.embed.fresh_instance.ratio(), 3),
                ),
            ] {
                object.insert(key.to_owned(), json!(value));
            }
            object.extend(self.cache_verify_keys());
            object.extend(registry_keys(&self.registry, &self.resolve));
            object.extend(render_keys(&self.render));
            object.extend(ai_keys(&self.ai));
            object.extend(db_keys(&self.db));
            object.extend(policy_keys(&self.policy));
            object.extend(state_keys(&self.data_cas, &self.notes));
        }
        object
    }
}

impl Row {
    /// The row as a line of the table.
    fn line(&self) -> String {
        format!(
            "{:<44} {:>12} {:>12} {:>10} {:>12}  {}\n",
            self.label,
            self.subject,
            self.baseline,
            self.shown,
            self.goal,
            if self.pass() { "pass" } else { "FAIL" }
        )
    }
}

fn table_head() -> String {
    format!(
        "{:<44} {:>12} {:>12} {:>10} {:>12}  {}\n",
        "measure", "ours", "bare", "result", "goal", "pass"
    )
}

/// Each row's figure against its goal, and whether all pass.
/// A section's JSON when it runs alone: its keys, its goals, whether all
/// pass, and the time it took.
fn alone_json(rows: &[Row], mut object: Map<String, Value>, elapsed: Duration) -> Value {
    let (goals, all_pass) = goals(rows);
    object.extend([
        ("goals".to_owned(), Value::Object(goals)),
        ("all_pass".to_owned(), json!(all_pass)),
        (
            "elapsed_s".to_owned(),
            json!(round(elapsed.as_secs_f64(), 1)),
        ),
    ]);
    Value::Object(object)
}

fn goals(rows: &[Row]) -> (Map<String, Value>, bool) {
    let mut goals = Map::new();
    let mut all_pass = true;
    for row in rows {
        all_pass &= row.pass();
        goals.insert(
            row.key.to_owned(),
            json!({
                "min": row.min.is_finite().then_some(row.min),
                "max": row.max.is_finite().then_some(row.max),
                "value": round(row.value, 3),
                "pass": row.pass(),
            }),
        );
    }
    (goals, all_pass)
}
