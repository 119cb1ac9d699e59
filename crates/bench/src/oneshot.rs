//! A plugin command in a fresh process, as a CLI is used: `lord hello
//! World` against `lord-bare-oneshot`, the smallest wasmtime host that
//! loads the same component compiled ahead of time and makes the same
//! call. Both are real processes started from here, alternated in
//! batches, output thrown away; the figure is what a user waits for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, ensure};
use lord_host::Framework;

use crate::bare::Bare;
use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

/// The bare one-shot host, built beside this program (same package).
fn bare_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("could not find this program's path")?;
    let path = exe
        .parent()
        .context("this program's path has no folder")?
        .join(format!("lord-bare-oneshot{}", std::env::consts::EXE_SUFFIX));
    ensure!(
        path.is_file(),
        "{} is missing; build it with `cargo build --release -p lord-bench`",
        path.display()
    );
    Ok(path)
}

pub(crate) async fn measure(plugins: &Plugins, lord: &Path, plan: Plan) -> Result<Pair> {
    let scratch = tempfile::tempdir()?;
    let config = fixtures::host_config(scratch.path(), "home")?;
    let home = config.home.clone();
    let project = config.project_dir.clone();
    {
        // Dropped before timing, so its engine's epoch thread is gone.
        let mut framework = Framework::open(config)?;
        fixtures::install(&mut framework, &[plugins.hello()]).await?;
    }
    let cwasm = Bare::new()?.precompile(&plugins.hello().join("plugin.wasm"), scratch.path())?;
    let bare = bare_binary()?;

    let lord_command = || {
        let mut command = Command::new(lord);
        command
            .args(["hello", "World"])
            .env("LORD_HOME", &home)
            .env_remove("LORD_FAILPOINT")
            .current_dir(&project)
            .stdin(Stdio::null());
        command
    };
    let bare_command = || {
        let mut command = Command::new(&bare);
        command
            .arg(&cwasm)
            .args(["hello", "name=World"])
            .current_dir(&project)
            .stdin(Stdio::null());
        command
    };

    // Untimed: both print the same greeting. The compiled-cache entry is
    // sealed by a load that finds it untouched for a while, as it is on a
    // machine where the plugin was installed earlier; wait for that.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for (name, mut command) in [("lord", lord_command()), ("bare", bare_command())] {
        let output = command
            .output()
            .with_context(|| format!("running {name}"))?;
        ensure!(
            output.status.success() && String::from_utf8_lossy(&output.stdout) == "Hello, World!\n",
            "{name} one-shot printed {:?} (exit {}): {}",
            String::from_utf8_lossy(&output.stdout),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }

    timing::interleaved(
        plan,
        async || quiet(lord_command()),
        async || quiet(bare_command()),
    )
    .await
}

fn quiet(mut command: Command) -> Result<()> {
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("starting a one-shot process")?;
    ensure!(status.success(), "a one-shot process exited with {status}");
    Ok(())
}
