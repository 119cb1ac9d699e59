//! What running a program through `lord:plugin/exec` costs: `git --version`
//! through a plugin's kept instance (the guest's call, the host's checks,
//! the spawn in its own process group, the output read back) against the
//! same program spawned directly with `std::process::Command`, in
//! alternating batches of one run: `exec_overhead_ms`, the difference of
//! the medians.

use anyhow::{Context as _, Result, ensure};
use lord_host::{Framework, Invocation};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

/// `git --version` through a plugin against spawned directly.
#[expect(
    clippy::disallowed_methods,
    reason = "the bench is its own binary; it hands the host the PATH it was started with, as lord does"
)]
pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<Pair> {
    let scratch = tempfile::tempdir()?;
    let mut config = fixtures::host_config(scratch.path(), "home")?;
    // The host resolves `exec(git)` from the `PATH` it is given, as `lord`
    // does from its own.
    let path = std::env::var("PATH").context("the bench needs PATH to find git")?;
    config.env = vec![("PATH".to_owned(), path)];
    let mut framework = Framework::open(config)?;
    let dir = plugins.benchexec();
    fixtures::install(&mut framework, std::slice::from_ref(&dir)).await?;
    let id = fixtures::manifest_of(&dir)?.plugin.id;
    let mut ours = framework.load(&id).await?;
    let invocation = Invocation {
        command: "benchexec-git".to_owned(),
        args: Vec::new(),
    };
    let (text, _) = ours.run_command(&invocation).await?;
    let direct = || {
        std::process::Command::new("git")
            .arg("--version")
            .output()
            .context("spawning git")
    };
    let expected = direct()?;
    ensure!(
        text.as_bytes() == expected.stdout,
        "git --version through the plugin answered {text:?}"
    );
    eprintln!("lord-bench: exec: git --version ...");
    timing::interleaved(
        plan,
        async || {
            ours.run_command(&invocation).await?;
            Ok(())
        },
        async || {
            direct()?;
            Ok(())
        },
    )
    .await
}
