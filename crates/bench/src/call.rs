//! Call overhead on a warm instance: `PluginInstance::run_command` (deadline
//! armed, timeout, output budget, denial check, argument conversion) against
//! the bare typed call, for a trivial command and for one doing about 10 µs
//! of guest work.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use lord_host::lord_perf::Recorder;
use lord_host::lord_state::{EventBus, PluginData, Scope, ScopeGrants, SharedState, StateDb};
use lord_sandbox::{CommandArg, Grants, Invocation, Limits, Links, PluginInstance, Sandbox};

use crate::bare::{self, Bare, BareInstance};
use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

/// How much guest work the "real work" call does.
const WORK_TARGET_NS: f64 = 10_000.0;

#[derive(Debug, Clone)]
pub(crate) struct CallResults {
    pub(crate) trivial: Pair,
    pub(crate) work: Pair,
    /// The `bench-work` count that makes about 10 µs of guest work.
    pub(crate) work_iterations: u64,
    /// What one round of `bench-work` costs, measured at start-up.
    pub(crate) ns_per_iteration: f64,
    /// `bench-shared` (set and get of a shared value, `SHARED_ROUNDS`
    /// times): through lord's granted, versioned shared state vs a bare
    /// host map.
    pub(crate) shared: Pair,
    /// The ~10 µs call with the performance monitor on (a recorder linked:
    /// call hook, host time by interface, a sample per call) against the
    /// same call with it off, both through lord.
    pub(crate) monitor: Pair,
}

/// Set-and-get rounds per `bench-shared` call: enough that the host calls,
/// not the command call around them, are what is measured.
pub(crate) const SHARED_ROUNDS: u64 = 100;

pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<CallResults> {
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::new(&scratch.path().join("cache"))?;
    let (manifest, compiled) = fixtures::bench_prepared(plugins, &sandbox)?;
    let wasm = plugins.bench().join(&manifest.plugin.component);
    let id = &manifest.plugin.id;
    // The plugin's channels, as the host wires them: its grants, a real
    // state database, shared values and a bus.
    let db = StateDb::open(scratch.path())?;
    let scope = Scope::new(
        id,
        ScopeGrants::from_permissions(&manifest.permissions, manifest.limits.max_data_bytes()),
        PluginData::new(db.clone()),
        SharedState::new(db),
        EventBus::new(),
    );
    let links = Links::default().with(scope);
    // The monitor off: the baseline of `monitor_overhead_ratio` only.
    let mut unmonitored = compiled
        .instantiate(
            &Grants::default(),
            Limits::from_manifest(&manifest.limits),
            &links,
        )
        .await?;
    // The monitor on, as `lord` and every embedder calls plugins: this is
    // the instance every other figure here measures.
    let recorder = Recorder::in_memory();
    let mut ours = compiled
        .instantiate(
            &Grants::default(),
            Limits::from_manifest(&manifest.limits),
            &links.clone().with(recorder.clone()),
        )
        .await?;

    let bare = Bare::new()?;
    let cwasm = bare.precompile(&wasm, scratch.path())?;
    let component = bare.load(&cwasm)?;
    let mut theirs = bare.instantiate(&component).await?;

    let (work_iterations, ns_per_iteration) = calibrate(&mut theirs).await?;
    eprintln!(
        "lord-bench: one bench-work round takes {ns_per_iteration:.2} ns; \
         {work_iterations} rounds make ~10 µs"
    );

    let mut results = Vec::new();
    for (command, iterations) in [
        ("bench-noop", None),
        ("bench-work", Some(work_iterations)),
        ("bench-shared", Some(SHARED_ROUNDS)),
    ] {
        let our_invocation = Invocation {
            command: command.to_owned(),
            args: iterations
                .map(|n| CommandArg {
                    name: "iterations".to_owned(),
                    values: vec![n.to_string()],
                })
                .into_iter()
                .collect(),
        };
        let bare_invocation = bare::invocation(command, iterations);
        let (our_text, _) = ours.run_command(&our_invocation).await?;
        let bare_text = theirs.run_command(&bare_invocation).await?;
        ensure!(
            our_text == bare_text,
            "`{command}` answered {our_text:?} through lord but {bare_text:?} bare"
        );
        eprintln!("lord-bench: call: {command} ...");
        let pair = timing::interleaved(
            plan,
            async || {
                ours.run_command(&our_invocation).await?;
                Ok(())
            },
            async || {
                theirs.run_command(&bare_invocation).await?;
                Ok(())
            },
        )
        .await?;
        results.push(pair);
    }
    let monitor = monitor_overhead(plan, &mut ours, &mut unmonitored, work_iterations).await?;
    ensure!(
        recorder
            .unwritten()
            .iter()
            .any(|(_, stats)| stats.calls > 0),
        "the monitored instance recorded no call"
    );
    let shared = results.pop().context("no shared-state measurement")?;
    let work = results.pop().context("no work measurement")?;
    let trivial = results.pop().context("no trivial measurement")?;
    Ok(CallResults {
        trivial,
        work,
        work_iterations,
        ns_per_iteration,
        shared,
        monitor,
    })
}

/// The ~10 µs call with the monitor on (`ours`) against the same call
/// with it off, interleaved.
async fn monitor_overhead(
    plan: Plan,
    ours: &mut PluginInstance,
    unmonitored: &mut PluginInstance,
    work_iterations: u64,
) -> Result<Pair> {
    let work_invocation = Invocation {
        command: "bench-work".to_owned(),
        args: vec![CommandArg {
            name: "iterations".to_owned(),
            values: vec![work_iterations.to_string()],
        }],
    };
    eprintln!("lord-bench: call: bench-work, monitor on vs off ...");
    timing::interleaved(
        plan,
        async || {
            ours.run_command(&work_invocation).await?;
            Ok(())
        },
        async || {
            unmonitored.run_command(&work_invocation).await?;
            Ok(())
        },
    )
    .await
}

/// Finds the cost of one `bench-work` round from two counts (so the call's
/// own cost cancels out) and the count that makes about 10 µs.
async fn calibrate(instance: &mut BareInstance) -> Result<(u64, f64)> {
    const SMALL: u64 = 1_000;
    const LARGE: u64 = 200_000;
    let plan = Plan {
        batches: 5,
        batch_time: Duration::from_millis(20),
    };
    let mut median = async |count: u64| -> Result<f64> {
        let invocation = bare::invocation("bench-work", Some(count));
        let samples = timing::single(plan, async || {
            instance.run_command(&invocation).await?;
            Ok(())
        })
        .await?;
        Ok(samples.median_ns())
    };
    let small = median(SMALL).await?;
    let large = median(LARGE).await?;
    // The counts are small integers, exactly representable.
    let per_round = (large - small) / (LARGE - SMALL) as f64;
    ensure!(
        per_round.is_finite() && per_round > 0.0,
        "could not time a bench-work round: {small:.0} ns for {SMALL}, {large:.0} ns for {LARGE}"
    );
    let rounds = (WORK_TARGET_NS / per_round).round().max(1.0);
    // `rounds` is a positive whole number far below 2^53.
    Ok((rounds as u64, per_round))
}

/// The trivial call on a warm instance, ours alone and for a while, so a
/// profiler sees the call guard's own work.
pub(crate) async fn profile(plugins: &Plugins, plan: Plan) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::new(&scratch.path().join("cache"))?;
    let (manifest, compiled) = fixtures::bench_prepared(plugins, &sandbox)?;
    let mut ours = compiled
        .instantiate(
            &Grants::default(),
            Limits::from_manifest(&manifest.limits),
            &Links::default(),
        )
        .await?;
    let invocation = Invocation {
        command: "bench-noop".to_owned(),
        args: Vec::new(),
    };
    let samples = timing::single(plan, async || {
        ours.run_command(&invocation).await?;
        Ok(())
    })
    .await?;
    eprintln!(
        "lord-bench: trivial call on a warm instance: {:.0} ns",
        samples.median_ns()
    );
    Ok(())
}
