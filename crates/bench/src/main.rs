//! `lord-bench`: lord's plugin paths measured side by side with bare wasmtime
//! on the same component, `lord --help` with 50 plugins installed against
//! none, and micro-plugin chains and native calls, all in one run (see `TESTING.md`, "Measuring speed"). Every figure is
//! a median over batches, the two sides of a comparison measured in
//! alternating batches.
//!
//! It also times the registry paths, which have no baseline: search over
//! 10,000 published plugins (median and p95 of single requests), resolving
//! a 1,000-package graph, and installing a 2 MB plugin from a local
//! registry split into its steps (`registry.rs`, `graph.rs`).
//!
//! And how fast a plugin's output is neutralised on its way to a terminal,
//! against writing it as it is (`render.rs`); plugin state under
//! concurrency: persistent compare-and-swap per second, and what 100
//! `lord note` processes started at once lost (`state.rs`); what an
//! embedder gets through `lord-host`'s public API (`embed.rs`); and a
//! command in a fresh process, `lord hello World` against
//! `lord-bare-oneshot` (`oneshot.rs`); and, only with `--monitor`, the
//! monitor collector's own CPU use at a 1 s interval over a minute
//! (`monitor.rs`); and what lord's AI client adds to the time to a
//! streamed reply's first token, against plain reqwest (`ai.rs`); and, only
//! with `--index-size`, the signed metadata a client downloads to resolve
//! one plugin from an index of 100,000 versions (`index_size.rs`).
//!
//! Run it with `cargo xtask bench [--json]`, which builds the guest plugins
//! first; the harness builds `lord` itself (`cargo build --release -p lord`).
//! Progress goes to stderr; stdout carries only the table, or with `--json`
//! exactly one JSON object. Before and after a run it says on stderr how
//! busy other work kept the CPUs, so runs on a busy machine are known as
//! such (`machine.rs`).
//!
//! Boundary exception: this crate names wasmtime (in `bare.rs`), because bare
//! wasmtime is the baseline it measures lord against. lord itself still
//! reaches wasmtime only through lord-sandbox.

// The report's one `json!` object has grown past serde_json's default
// macro depth (each figure is a nested expansion).
#![recursion_limit = "256"]

mod ai;
mod bare;
mod call;
mod db;
mod embed;
mod events;
mod exec;
mod fixtures;
mod graph;
mod help;
mod http;
mod index_size;
mod load;
mod machine;
mod micro;
mod monitor;
mod oneshot;
mod policy;
mod registry;
mod render;
mod report;
mod state;
mod synth;
mod timing;
mod web;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::fixtures::Plugins;
use crate::report::{AiOnly, RegistryOnly, RenderOnly, Results};
use crate::timing::Plan;

const USAGE: &str =
    "usage: lord-bench [--json] [--batches N] [--profile-micro | --registry-only | --load-and-call |
                   --embed-only | --profile-embed | --render-only | --state-only | --monitor
                   | --ai-only | --policy-only
                   | --index-size | --db-only | --profile-db]

  --json            print one JSON object on stdout instead of a table
  --batches N       batches per side for each figure (default 31)
  --profile-micro   run only the micro-plugin chain, ours alone, for a profiler
  --registry-only   run only the registry, resolve and install figures
                    (no `lord` build, no comparisons)
  --load-and-call   run only the load, call, exec and HTTP comparisons, for quick
                    iteration on the hot paths (no `lord` build)
  --embed-only      run only embed_call_w1_ratio and run_command_ratio, the
                    paths through lord-host's public API, as JSON
  --render-only     run only plugin output through the terminal path
                    against the raw write (no plugins, no `lord` build)
  --state-only      run only persistent compare-and-swap and 100 concurrent
                    `lord note` processes, as JSON
  --profile-load    run only `run_command` on a loaded plugin, ours alone,
                    for a profiler
  --profile-call    run only the trivial call on a warm instance, ours
                    alone, for a profiler
  --profile-embed   run only W1 on an instance kept from `Framework::load`,
                    ours alone, for a profiler
  --profile-db      run only the one-row SELECT through the `benchdb`
                    plugin's kept instance, then natively, each alone, for a
                    profiler
  --oneshot         run only `lord hello World` against the bare one-shot
                    host, fresh processes both
  --monitor         run only monitor_cpu_percent: the collector's own CPU
                    use sampling every second for a minute, as JSON
  --ai-only         run only the AI client's time to the first streamed
                    token against plain reqwest (no plugins, no `lord` build)
  --policy-only     run only one install decision against a machine's and a
                    user's Cedar policies (no `lord` build)
  --db-only         run only db_query_overhead_ratio and db_wasm_query_ratio:
                    a one-row SELECT on SQLite through `lord db query`'s
                    machinery and through a plugin, against the bare
                    pooled session (no `lord` build)
  --index-size      run only targets_metadata_bytes_100k: the signed metadata
                    a client downloads to resolve one plugin from an index of
                    100,000 versions, as JSON";

#[derive(Debug)]
struct Options {
    json: bool,
    batches: usize,
    profile_micro: bool,
    registry_only: bool,
    load_and_call: bool,
    embed_only: bool,
    profile_embed: bool,
    profile_db: bool,
    render_only: bool,
    state_only: bool,
    profile_load: bool,
    profile_call: bool,
    oneshot_only: bool,
    monitor_only: bool,
    ai_only: bool,
    policy_only: bool,
    index_size: bool,
    db_only: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lord-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Option<Options>> {
    let mut options = Options {
        json: false,
        profile_micro: false,
        registry_only: false,
        load_and_call: false,
        embed_only: false,
        profile_embed: false,
        profile_db: false,
        render_only: false,
        state_only: false,
        profile_load: false,
        profile_call: false,
        oneshot_only: false,
        monitor_only: false,
        ai_only: false,
        policy_only: false,
        index_size: false,
        db_only: false,
        // Many short batches rather than a few long ones: on a shared
        // machine, load comes in bursts, and finer alternation spreads a
        // burst over both sides. Odd, so the median is a measured batch.
        batches: 31,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => options.json = true,
            "--profile-micro" => options.profile_micro = true,
            "--registry-only" => options.registry_only = true,
            "--load-and-call" => options.load_and_call = true,
            "--embed-only" => options.embed_only = true,
            "--profile-embed" => options.profile_embed = true,
            "--profile-db" => options.profile_db = true,
            "--render-only" => options.render_only = true,
            "--state-only" => options.state_only = true,
            "--profile-load" => options.profile_load = true,
            "--profile-call" => options.profile_call = true,
            "--oneshot" => options.oneshot_only = true,
            "--monitor" => options.monitor_only = true,
            "--ai-only" => options.ai_only = true,
            "--policy-only" => options.policy_only = true,
            "--index-size" => options.index_size = true,
            "--db-only" => options.db_only = true,
            "--batches" => {
                let value = args.next().context("--batches needs a number")?;
                options.batches =
                    value.parse().ok().filter(|&n| n > 0).with_context(|| {
                        format!("--batches wants a positive number, not `{value}`")
                    })?;
            }
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(Some(options))
}

/// `--load-and-call`: the load and call figures alone, as JSON.
fn load_and_call(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    plan: impl Fn(u64) -> Plan,
) -> Result<()> {
    let load = runtime.block_on(load::measure(plugins, plan(100)))?;
    let calls = runtime.block_on(call::measure(plugins, plan(25)))?;
    let compat = runtime.block_on(load::compat(plugins, plan(50)))?;
    let embed = runtime.block_on(embed::measure(plugins, plan(25), plan(50)))?;
    let exec = runtime.block_on(exec::measure(plugins, plan(100)))?;
    let http = runtime.block_on(http::measure(plugins, plan(100)))?;
    let figures = serde_json::json!({
        "http_get_overhead_ratio": http.ratio(),
        "http_get_ours_us": http.subject.median_ns() / 1e3,
        "http_get_reqwest_us": http.baseline.median_ns() / 1e3,
        "exec_overhead_ms": exec.difference_ns() / 1e6,
        "exec_ours_ms": exec.subject.median_ns() / 1e6,
        "exec_direct_ms": exec.baseline.median_ns() / 1e6,
        "embed_call_w1_ratio": embed.kept.ratio(),
        "embed_call_w1_ours_ns": embed.kept.subject.median_ns(),
        "embed_call_w1_bare_ns": embed.kept.baseline.median_ns(),
        "run_command_ratio": embed.run_command.ratio(),
        "run_command_ours_us": embed.run_command.subject.median_ns() / 1e3,
        "run_command_bare_us": embed.run_command.baseline.median_ns() / 1e3,
        "load_ratio": load.cold.ratio(),
        "load_reused_ratio": load.reused.ratio(),
        "load_reused_ours_us": load.reused.subject.median_ns() / 1e3,
        "load_reused_bare_us": load.reused.baseline.median_ns() / 1e3,
        "compat_load_ratio": compat.ratio(),
        "call_trivial_ratio": calls.trivial.ratio(),
        "call_trivial_ours_ns": calls.trivial.subject.median_ns(),
        "call_trivial_bare_ns": calls.trivial.baseline.median_ns(),
        "call_overhead_10us_ratio": calls.work.ratio(),
        "monitor_overhead_ratio": calls.monitor.ratio(),
        "shared_state_ratio": calls.shared.ratio(),
        "shared_state_ours_ns": calls.shared.subject.median_ns(),
        "shared_state_bare_ns": calls.shared.baseline.median_ns(),
        "cache_verify_us": load::cache_verify(plugins, plan(20))?.median.as_secs_f64() * 1e6,
    });
    println!("{figures:#}");
    Ok(())
}

/// `--embed-only`: the two paths through lord-host's public API alone, as
/// JSON, for quick iteration on them.
fn embed_only(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    plan: impl Fn(u64) -> Plan,
) -> Result<()> {
    let embed = runtime.block_on(embed::measure(plugins, plan(25), plan(50)))?;
    let figures = serde_json::json!({
        "embed_call_w1_ratio": embed.kept.ratio(),
        "embed_call_w1_ours_ns": embed.kept.subject.median_ns(),
        "embed_call_w1_bare_ns": embed.kept.baseline.median_ns(),
        "run_command_ratio": embed.run_command.ratio(),
        "run_command_ours_us": embed.run_command.subject.median_ns() / 1e3,
        "run_command_bare_us": embed.run_command.baseline.median_ns() / 1e3,
        "fresh_instance_ratio": embed.fresh_instance.ratio(),
        "fresh_instance_ours_us": embed.fresh_instance.subject.median_ns() / 1e3,
        "fresh_instance_bare_us": embed.fresh_instance.baseline.median_ns() / 1e3,
    });
    println!("{figures:#}");
    Ok(())
}

/// `--state-only`: persistent compare-and-swap and concurrent `lord note`
/// alone, as JSON.
fn state_only(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    lord: &std::path::Path,
    plan: Plan,
) -> Result<()> {
    let (data_cas, notes) = runtime.block_on(state::measure(plugins, lord, plan))?;
    println!("{:#}", report::state_json(&data_cas, &notes));
    Ok(())
}

/// `--registry-only`: the registry's figures alone.
fn registry_only(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    options: &Options,
    plan: Plan,
    started: Instant,
) -> Result<()> {
    let (registry, resolve) = measure_registry(runtime, plugins, plan)?;
    let results = RegistryOnly {
        registry,
        resolve,
        batches: options.batches,
        elapsed: started.elapsed(),
    };
    if options.json {
        println!("{}", results.json());
    } else {
        print!("{}", results.table());
    }
    Ok(())
}

fn run() -> Result<()> {
    let Some(options) = parse_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    machine::report("before the run");
    let outcome = measure(options);
    machine::report("after the run");
    outcome
}

/// Runs what `options` ask for and prints it.
fn measure(options: Options) -> Result<()> {
    let started = Instant::now();
    if options.monitor_only {
        return monitor_only();
    }

    // The runtime `lord` itself runs plugins on (crates/cli/src/main.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let plan = |batch_ms: u64| Plan {
        batches: options.batches,
        batch_time: Duration::from_millis(batch_ms),
    };

    if options.render_only {
        return render_only(&runtime, &options, plan(50), started);
    }
    if options.ai_only {
        return ai_only(&runtime, &options, started);
    }
    if options.index_size {
        return index_size::report(&runtime);
    }
    let plugins = Plugins::locate()?;

    if options.policy_only {
        return policy_only(&plugins, &options, started);
    }
    if options.db_only {
        let results = report::DbOnly {
            db: runtime.block_on(db::measure(&plugins, plan(25)))?,
            batches: options.batches,
            elapsed: started.elapsed(),
        };
        if options.json {
            println!("{}", results.json());
        } else {
            print!("{}", results.table());
        }
        return Ok(());
    }
    if options.registry_only {
        return registry_only(&runtime, &plugins, &options, plan(100), started);
    }

    if options.profile_call {
        return runtime.block_on(call::profile(&plugins, plan(1000)));
    }
    if options.profile_load {
        return runtime.block_on(load::profile(&plugins, plan(1000)));
    }
    if options.profile_db {
        return runtime.block_on(db::profile(&plugins, plan(1000)));
    }
    if options.profile_embed {
        return runtime.block_on(embed::profile(&plugins, plan(1000)));
    }
    if options.load_and_call {
        return load_and_call(&runtime, &plugins, plan);
    }
    if options.embed_only {
        return embed_only(&runtime, &plugins, plan);
    }

    // Before any measuring, so that a missing or unbuildable `lord` fails
    // before the minutes of measuring.
    let lord = help::lord_binary()?;

    if options.profile_micro {
        return runtime.block_on(micro::profile(&plugins, plan(1000)));
    }
    if options.oneshot_only {
        return oneshot_only(&runtime, &plugins, &lord, plan(200));
    }
    if options.state_only {
        return state_only(&runtime, &plugins, &lord, plan(25));
    }

    full_run(&runtime, &plugins, &lord, &options, started)
}

/// Every figure, the comparisons in one run.
fn full_run(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    lord: &std::path::Path,
    options: &Options,
    started: Instant,
) -> Result<()> {
    let plan = |batch_ms: u64| Plan {
        batches: options.batches,
        batch_time: Duration::from_millis(batch_ms),
    };
    // Each phase owns (and drops) its engines, so no epoch thread from one
    // phase runs during the next.
    eprintln!("lord-bench: load ...");
    let load = runtime.block_on(load::measure(plugins, plan(100)))?;
    let cache_verify = load::cache_verify(plugins, plan(20))?;
    let compat = runtime.block_on(load::compat(plugins, plan(50)))?;
    eprintln!("lord-bench: call overhead ...");
    let calls = runtime.block_on(call::measure(plugins, plan(25)))?;
    eprintln!("lord-bench: embedding ...");
    let embed = runtime.block_on(embed::measure(plugins, plan(25), plan(50)))?;
    let exec = runtime.block_on(exec::measure(plugins, plan(100)))?;
    eprintln!("lord-bench: http ...");
    let http = runtime.block_on(http::measure(plugins, plan(100)))?;
    eprintln!("lord-bench: one-shot command ...");
    let oneshot = runtime.block_on(oneshot::measure(plugins, lord, plan(200)))?;
    let (data_cas, notes) = runtime.block_on(state::measure(plugins, lord, plan(25)))?;
    eprintln!("lord-bench: lord --help ...");
    let help = runtime.block_on(help::measure(plugins, lord, plan(50)))?;
    eprintln!("lord-bench: micro-plugins ...");
    let micro = runtime.block_on(micro::measure(plugins, plan(25)))?;
    eprintln!("lord-bench: events ...");
    let events = runtime.block_on(events::measure(plan(25)))?;
    let events_wasm = runtime.block_on(events::measure_wasm(plugins, plan(25)))?;
    let (registry, resolve) = measure_registry(runtime, plugins, plan(100))?;
    eprintln!("lord-bench: plugin output to a terminal ...");
    let render = runtime.block_on(render::measure(plan(50)))?;
    let ai = runtime.block_on(ai::measure())?;
    eprintln!("lord-bench: databases ...");
    let db = runtime.block_on(db::measure(plugins, plan(25)))?;
    let policy = policy::measure(plugins)?;

    let binary_bytes = std::fs::metadata(lord)
        .with_context(|| format!("reading the size of {}", lord.display()))?
        .len();
    let results = Results {
        binary_bytes,
        cache_verify,
        compat,
        data_cas,
        notes,
        load,
        calls,
        oneshot,
        embed,
        exec,
        http,
        help,
        micro,
        events,
        events_wasm,
        registry,
        resolve,
        render,
        ai,
        db,
        policy,
        batches: options.batches,
        elapsed: started.elapsed(),
    };
    if options.json {
        println!("{}", results.json());
    } else {
        print!("{}", results.table());
    }
    Ok(())
}

/// `--monitor`: the collector's own CPU use, as JSON.
fn monitor_only() -> Result<()> {
    eprintln!("lord-bench: sampling the machine every second for a minute ...");
    let cost = monitor::measure(Duration::from_secs(1), Duration::from_secs(60))?;
    println!("{:#}", cost.json());
    Ok(())
}

/// `--render-only`: the terminal path alone.
fn render_only(
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    plan: Plan,
    started: Instant,
) -> Result<()> {
    let results = RenderOnly {
        render: runtime.block_on(render::measure(plan))?,
        batches: options.batches,
        elapsed: started.elapsed(),
    };
    if options.json {
        println!("{}", results.json());
    } else {
        print!("{}", results.table());
    }
    Ok(())
}

/// `--policy-only`: one install decision alone.
fn policy_only(plugins: &Plugins, options: &Options, started: Instant) -> Result<()> {
    let results = report::PolicyOnly {
        policy: policy::measure(plugins)?,
        elapsed: started.elapsed(),
    };
    if options.json {
        println!("{}", results.json());
    } else {
        print!("{}", results.table());
    }
    Ok(())
}

/// `--ai-only`: the AI client's figures alone.
fn ai_only(runtime: &tokio::runtime::Runtime, options: &Options, started: Instant) -> Result<()> {
    let results = AiOnly {
        ai: runtime.block_on(ai::measure())?,
        elapsed: started.elapsed(),
    };
    if options.json {
        println!("{}", results.json());
    } else {
        print!("{}", results.table());
    }
    Ok(())
}

/// `--oneshot`: the one-shot pair alone, as JSON.
fn oneshot_only(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    lord: &std::path::Path,
    plan: Plan,
) -> Result<()> {
    let pair = runtime.block_on(oneshot::measure(plugins, lord, plan))?;
    println!(
        "{:#}",
        serde_json::json!({
            "oneshot_ratio": pair.ratio(),
            "oneshot_lord_ms": pair.subject.median_ns() / 1e6,
            "oneshot_bare_ms": pair.baseline.median_ns() / 1e6,
        })
    );
    Ok(())
}

/// The figures without a baseline: the registry (fill, search, install)
/// and the resolver.
fn measure_registry(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
    plan: Plan,
) -> Result<(registry::RegistryResults, timing::Samples)> {
    eprintln!("lord-bench: registry ...");
    let registry = registry::measure(runtime, plugins)?;
    eprintln!("lord-bench: resolve ...");
    let resolve = runtime.block_on(graph::measure(plan))?;
    Ok((registry, resolve))
}
