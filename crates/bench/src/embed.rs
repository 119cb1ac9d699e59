//! What an embedder gets through `lord-host`'s public API alone, against
//! bare wasmtime on the same component, both calling W1 (`bench-upper
//! "hello world"`, the smallest call carrying data both ways):
//!
//! - a kept instance (`Framework::load`, then `PluginInstance::run_command`
//!   repeatedly) against bare wasmtime's warm call: `embed_call_w1_ratio`;
//! - `Framework::run_command` (a fresh instance per call, its load and
//!   unload hooks, the command's events and history) against bare
//!   wasmtime's fresh instance from pre-linked code plus the call:
//!   `run_command_ratio`.

use anyhow::{Result, ensure};
use lord_host::{CommandArg, Framework, Invocation};

use crate::bare::{self, Bare};
use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

const W1_TEXT: &str = "hello world";
const W1_ANSWER: &str = "HELLO WORLD";

#[derive(Debug, Clone)]
pub(crate) struct EmbedResults {
    /// A kept instance through the public API vs bare's warm call.
    pub(crate) kept: Pair,
    /// `Framework::run_command` vs bare fresh instance + call.
    pub(crate) run_command: Pair,
    /// `Framework::load` and one call vs bare fresh instance + call: the
    /// instance's share of `run_command`'s difference.
    pub(crate) fresh_instance: Pair,
}

fn w1_args() -> Vec<CommandArg> {
    vec![CommandArg {
        name: "text".to_owned(),
        values: vec![W1_TEXT.to_owned()],
    }]
}

pub(crate) async fn measure(
    plugins: &Plugins,
    kept_plan: Plan,
    fresh_plan: Plan,
) -> Result<EmbedResults> {
    let scratch = tempfile::tempdir()?;
    let mut framework = Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, &[plugins.bench()]).await?;
    let id = fixtures::manifest_of(&plugins.bench())?.plugin.id;

    let bare = Bare::new()?;
    let cwasm = bare.precompile(&plugins.bench().join("plugin.wasm"), scratch.path())?;
    let component = bare.load(&cwasm)?;
    let pre = bare.pre_link(&component)?;
    let bare_invocation = bare::Invocation {
        command: "bench-upper".to_owned(),
        args: vec![bare::Arg {
            name: "text".to_owned(),
            values: vec![W1_TEXT.to_owned()],
        }],
    };

    // A kept instance.
    let mut ours = framework.load(&id).await?;
    let mut theirs = bare.instantiate_pre(&pre).await?;
    let invocation = Invocation {
        command: "bench-upper".to_owned(),
        args: w1_args(),
    };
    let (text, _) = ours.run_command(&invocation).await?;
    ensure!(text == W1_ANSWER, "W1 through lord-host answered {text:?}");
    ensure!(
        theirs.run_command(&bare_invocation).await? == W1_ANSWER,
        "W1 bare answered something else"
    );
    eprintln!("lord-bench: embed: kept instance ...");
    let kept = timing::interleaved(
        kept_plan,
        async || {
            ours.run_command(&invocation).await?;
            Ok(())
        },
        async || {
            theirs.run_command(&bare_invocation).await?;
            Ok(())
        },
    )
    .await?;
    drop(ours);

    // A fresh instance per call.
    let outcome = framework.run_command("bench-upper", w1_args()).await?;
    ensure!(
        outcome.text.trim_end() == W1_ANSWER,
        "Framework::run_command answered {:?}",
        outcome.text
    );
    eprintln!("lord-bench: embed: run_command ...");
    let run_command = timing::interleaved(
        fresh_plan,
        async || {
            framework.run_command("bench-upper", w1_args()).await?;
            Ok(())
        },
        async || {
            let mut fresh = bare.instantiate_pre(&pre).await?;
            fresh.run_command(&bare_invocation).await?;
            Ok(())
        },
    )
    .await?;
    // Where run_command's difference goes: a fresh instance through the
    // public API (`Framework::load`: the instance and its on-load hook),
    // the call, no dispatch around it.
    eprintln!("lord-bench: embed: fresh instance alone ...");
    let fresh_instance = timing::interleaved(
        fresh_plan,
        async || {
            let mut fresh = framework.load(&id).await?;
            fresh.run_command(&invocation).await?;
            Ok(())
        },
        async || {
            let mut fresh = bare.instantiate_pre(&pre).await?;
            fresh.run_command(&bare_invocation).await?;
            Ok(())
        },
    )
    .await?;
    Ok(EmbedResults {
        kept,
        run_command,
        fresh_instance,
    })
}

/// `--profile-embed`: W1 on an instance kept from `Framework::load`, ours
/// alone, for a profiler.
pub(crate) async fn profile(plugins: &Plugins, plan: Plan) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let mut framework = Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, &[plugins.bench()]).await?;
    let id = fixtures::manifest_of(&plugins.bench())?.plugin.id;
    let mut ours = framework.load(&id).await?;
    let invocation = Invocation {
        command: "bench-upper".to_owned(),
        args: w1_args(),
    };
    let samples = timing::single(plan, async || {
        ours.run_command(&invocation).await?;
        Ok(())
    })
    .await?;
    eprintln!(
        "lord-bench: W1 on a kept instance through lord-host: {:.0} ns",
        samples.median_ns()
    );
    Ok(())
}
