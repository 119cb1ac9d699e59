//! `lord --help` with 50 plugins installed against none: the built `lord`
//! binary spawned for real, because start-up (opening the store, reading the
//! command table, building the clap tree) is what a user waits for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail, ensure};
use lord_host::Framework;

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

pub(crate) const PLUGIN_COUNT: usize = 50;

/// The `lord` binary next to this one (`target/release/lord` when run by
/// `cargo xtask bench`). `cargo xtask bench` only builds this harness, so
/// `lord` is built here with `cargo build --release -p lord`: a no-op when it
/// is up to date, and it keeps a stale binary from being measured.
#[expect(
    clippy::disallowed_methods,
    reason = "a chore runner like xtask, not part of lord: it follows the cargo that started it"
)]
pub(crate) fn lord_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("could not find this program's path")?;
    let dir = exe.parent().context("this program's path has no folder")?;
    let lord = dir.join(format!("lord{}", std::env::consts::EXE_SUFFIX));
    let hint = "build it with `cargo build --release -p lord` (or run `cargo xtask bench`)";
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("lord-bench: cargo build --release -p lord");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "lord"])
        .current_dir(fixtures::workspace_root())
        // Cargo's own chatter goes to stderr; stdout stays for the report.
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => bail!(
            "`cargo build --release -p lord` failed ({status}); a stale `lord` is not \
             measured: fix the build (cargo's errors are above) and run again"
        ),
        Err(e) if lord.is_file() => {
            eprintln!(
                "lord-bench: could not run cargo ({e}); measuring the existing {}",
                lord.display()
            );
        }
        Err(e) => bail!(
            "{} is missing and cargo could not be run ({e}); {hint}",
            lord.display()
        ),
    }
    ensure!(
        lord.is_file(),
        "{} is missing after the build; {hint} with the same target folder as lord-bench",
        lord.display()
    );
    Ok(lord)
}

pub(crate) async fn measure(plugins: &Plugins, lord: &Path, plan: Plan) -> Result<Pair> {
    let scratch = tempfile::tempdir()?;
    let empty = fixtures::host_config(scratch.path(), "empty")?.home;
    let full_config = fixtures::host_config(scratch.path(), "full")?;
    let full = full_config.home.clone();
    eprintln!("lord-bench: help: installing {PLUGIN_COUNT} plugins ...");
    let dirs = fixtures::hello_copies(
        &plugins.hello(),
        &scratch.path().join("plugins"),
        PLUGIN_COUNT,
    )?;
    {
        // Dropped before timing so its engine's epoch thread is gone.
        let mut framework = Framework::open(full_config)?;
        fixtures::install(&mut framework, &dirs).await?;
    }

    // Untimed: both homes answer, and the full one lists every plugin
    // command while the empty one lists none.
    let full_help = help_text(lord, &full)?;
    let empty_help = help_text(lord, &empty)?;
    let listed = (1..=PLUGIN_COUNT)
        .filter(|n| full_help.contains(&format!("greet-{n} ")))
        .count();
    ensure!(
        listed == PLUGIN_COUNT && !empty_help.contains("greet-"),
        "`lord --help` lists {listed} of {PLUGIN_COUNT} installed plugin commands"
    );

    eprintln!("lord-bench: help: timing ...");
    timing::interleaved(
        plan,
        async || run_help(lord, &full),
        async || run_help(lord, &empty),
    )
    .await
}

fn help_command(lord: &Path, home: &Path) -> Command {
    let mut command = Command::new(lord);
    command
        .arg("--help")
        .env("LORD_HOME", home)
        .env_remove("LORD_FAILPOINT")
        .stdin(Stdio::null());
    command
}

/// One timed `lord --help`, output thrown away.
fn run_help(lord: &Path, home: &Path) -> Result<()> {
    let status = help_command(lord, home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {}", lord.display()))?;
    ensure!(status.success(), "`lord --help` exited with {status}");
    Ok(())
}

fn help_text(lord: &Path, home: &Path) -> Result<String> {
    let output = help_command(lord, home)
        .output()
        .with_context(|| format!("running {}", lord.display()))?;
    ensure!(
        output.status.success(),
        "`lord --help` with LORD_HOME={} exited with {}: {}",
        home.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
