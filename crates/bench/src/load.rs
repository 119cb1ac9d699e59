//! `load`: an installed plugin, compiled cache warm, to the end of its first
//! call, as in a fresh `lord` process. Ours is `Framework::run_command`
//! (command lookup in the store, lifecycle check, cached code deserialised,
//! contract check, pre-link, fresh instance, on-load, the command,
//! on-unload); bare is deserialise, instantiate and one call.
//!
//! The framework keeps a plugin's loaded form for the rest of the process,
//! so each timed iteration first `unload`s it: otherwise every iteration
//! after the first would skip the deserialise and pre-link that a new
//! process pays. The reuse path is measured too ("reused"), against bare
//! wasmtime instantiating from a pre-linked component it kept.

use anyhow::{Result, ensure};
use lord_host::Framework;
use lord_manifest::PluginId;

use crate::bare::{self, Bare};
use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

const COMMAND: &str = "bench-noop";

#[derive(Debug, Clone)]
pub(crate) struct LoadResults {
    /// From the compiled cache on disk, as a new process loads.
    pub(crate) cold: Pair,
    /// With the loaded form already in memory, as later calls in one
    /// process run.
    pub(crate) reused: Pair,
}

pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<LoadResults> {
    let scratch = tempfile::tempdir()?;
    let mut framework = Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, &[plugins.bench()]).await?;
    let id: PluginId = "bench".parse()?;

    let bare = Bare::new()?;
    let cwasm = bare.precompile(&plugins.bench().join("plugin.wasm"), scratch.path())?;
    let invocation = bare::invocation(COMMAND, None);

    // One call each, checked, before anything is timed: this also starts
    // our engine, so the timed iterations find it running.
    let ours = framework.run_command(COMMAND, Vec::new()).await?;
    let theirs = bare.load_and_call(&cwasm, &invocation).await?;
    ensure!(
        ours.text.is_empty() && theirs.is_empty(),
        "`{COMMAND}` should print nothing; got {:?} and {:?}",
        ours.text,
        theirs
    );
    ensure!(
        framework.unload(&id),
        "the framework did not keep `{id}` loaded after a call"
    );

    eprintln!("lord-bench: load: from the compiled cache ...");
    let cold = timing::interleaved(
        plan,
        async || {
            framework.unload(&id);
            framework.run_command(COMMAND, Vec::new()).await?;
            Ok(())
        },
        async || {
            bare.load_and_call(&cwasm, &invocation).await?;
            Ok(())
        },
    )
    .await?;

    eprintln!("lord-bench: load: loaded form reused ...");
    let pre = bare.pre_link(&bare.load(&cwasm)?)?;
    let reused = timing::interleaved(
        plan,
        async || {
            framework.run_command(COMMAND, Vec::new()).await?;
            Ok(())
        },
        async || {
            bare.instantiate_pre(&pre)
                .await?
                .run_command(&invocation)
                .await?;
            Ok(())
        },
    )
    .await?;
    Ok(LoadResults { cold, reused })
}

/// `run_command` on a loaded plugin, ours alone and for a while, so a
/// profiler sees where the per-command work goes.
pub(crate) async fn profile(plugins: &Plugins, plan: Plan) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let mut framework = Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, &[plugins.bench()]).await?;
    let samples = timing::single(plan, async || {
        framework.run_command(COMMAND, Vec::new()).await?;
        Ok(())
    })
    .await?;
    eprintln!(
        "lord-bench: run_command, loaded form reused: {:.1} µs",
        samples.median_ns() / 1e3
    );
    Ok(())
}

/// What checking a cache entry's tag costs before it is loaded, for the
/// largest plugin component in `plugins/` (the entry is compiled into a
/// scratch cache first). Median over repeated checks.
pub(crate) fn cache_verify(plugins: &Plugins, plan: Plan) -> Result<CacheVerify> {
    let largest = plugins.largest_component()?;
    let scratch = tempfile::tempdir()?;
    let sandbox = lord_sandbox::Sandbox::new(&scratch.path().join("cache"))?;
    let manifest = fixtures::manifest_of(&largest)?;
    let (sha, _) = sandbox.install_check(
        &manifest.plugin.id,
        &largest.join(&manifest.plugin.component),
        &manifest.permissions,
    )?;
    let (ok, _) = sandbox.check_cached(&sha);
    ensure!(ok, "the freshly written cache entry failed its own tag");
    let mut durations = Vec::new();
    let deadline = std::time::Instant::now() + plan.batch_time * u32::try_from(plan.batches)?;
    while durations.len() < 25 || std::time::Instant::now() < deadline {
        durations.push(sandbox.check_cached(&sha).1);
        if durations.len() >= 1000 {
            break;
        }
    }
    durations.sort();
    let bytes = std::fs::metadata(largest.join(&manifest.plugin.component))?.len();
    Ok(CacheVerify {
        median: durations[durations.len() / 2],
        plugin: manifest.plugin.id.to_string(),
        component_bytes: bytes,
    })
}

/// The figure `cache_verify` reports.
#[derive(Debug, Clone)]
pub(crate) struct CacheVerify {
    pub(crate) median: std::time::Duration,
    pub(crate) plugin: String,
    pub(crate) component_bytes: u64,
}

/// Load to the end of the first call of `hello` as frozen for the newest
/// released contract (`tests/compat/<version>/plugins/hello`, built once and
/// never rebuilt) against the same plugin rebuilt for the current contract,
/// each in its own home, interleaved. A ratio near 1 means an old plugin
/// pays nothing for running on a newer lord.
pub(crate) async fn compat(plugins: &Plugins, plan: Plan) -> Result<Pair> {
    let frozen = fixtures::newest_frozen("hello")?;
    let scratch = tempfile::tempdir()?;
    let mut old = Framework::open(fixtures::host_config(scratch.path(), "frozen")?)?;
    fixtures::install(&mut old, &[frozen]).await?;
    let mut new = Framework::open(fixtures::host_config(scratch.path(), "rebuilt")?)?;
    fixtures::install(&mut new, &[plugins.hello()]).await?;
    let id: PluginId = "hello".parse()?;
    let (a, b) = (
        old.run_command("hello", Vec::new()).await?,
        new.run_command("hello", Vec::new()).await?,
    );
    ensure!(
        a.text == b.text,
        "the frozen and rebuilt hello disagree: {:?} and {:?}",
        a.text,
        b.text
    );
    eprintln!("lord-bench: load: frozen plugin against rebuilt ...");
    timing::interleaved(
        plan,
        async || {
            old.unload(&id);
            old.run_command("hello", Vec::new()).await?;
            Ok(())
        },
        async || {
            new.unload(&id);
            new.run_command("hello", Vec::new()).await?;
            Ok(())
        },
    )
    .await
}
