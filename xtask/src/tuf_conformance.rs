//! `cargo xtask tuf-conformance`: the public TUF conformance suite against
//! `lord-tuf-client`. Creates the suite's Python venv if it is missing (the
//! four packages pinned in the suite's `SOURCE.md`, from PyPI), copies the
//! suite to a scratch folder (it writes beside itself), builds the client,
//! runs pytest, prints the suite's own summary line, and fails on any
//! failure. No `.xfails` file is written: every test must pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{capture, cargo, run};

/// What the suite needs, pinned as its `pyproject.toml` pins it.
const PACKAGES: [&str; 4] = [
    "securesystemslib[crypto]==1.4.0",
    "tuf==7.0.0",
    "pytest==9.1.1",
    "pytest-json-report==1.5.0",
];

pub(crate) fn run_suite(root: &Path) -> Result<()> {
    let suite = suite_dir(root)?;
    if Command::new("faketime").arg("--version").output().is_err() {
        bail!("the suite needs `faketime` (Debian package `faketime`; `.ci/run` installs it)");
    }
    let target = target_dir(root)?;
    let work = target.join("tuf-conformance");
    let venv = work.join("venv");
    let pytest = venv.join("bin/pytest");
    if !pytest.is_file() {
        eprintln!("tuf-conformance: creating {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES))?;
    }
    let scratch = work.join("suite");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    copy_tree(&suite, &scratch)?;
    run(cargo(root).args([
        "build",
        "-p",
        "lord-registry-client",
        "--bin",
        "lord-tuf-client",
    ]))?;
    let client = target.join("debug/lord-tuf-client");
    let output = Command::new(&pytest)
        .current_dir(&scratch)
        .arg("tuf_conformance")
        .arg("--entrypoint")
        .arg(&client)
        .args(["-q", "-rfE", "-p", "no:cacheprovider"])
        .output()
        .with_context(|| format!("could not start {}", pytest.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))
        .unwrap_or("(no summary line)");
    println!("tuf-conformance: {summary}");
    if !output.status.success() {
        bail!("the TUF conformance suite failed against lord-tuf-client");
    }
    Ok(())
}

/// The suite: `$LORD_TUF_CONFORMANCE`, or `../shared/tuf-conformance`
/// beside the repository.
#[expect(
    clippy::disallowed_methods,
    reason = "xtask is a chore runner, not part of lord; CI may point it elsewhere"
)]
fn suite_dir(root: &Path) -> Result<PathBuf> {
    let dir = std::env::var_os("LORD_TUF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/tuf-conformance"));
    if !dir.join("tuf_conformance").is_dir() {
        bail!(
            "no TUF conformance suite at {}; set LORD_TUF_CONFORMANCE to a copy of \
             github.com/theupdateframework/tuf-conformance",
            dir.display()
        );
    }
    Ok(dir)
}

/// Where cargo builds (it honours `CARGO_TARGET_DIR`).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let metadata = capture(cargo(root).args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("reading `cargo metadata`")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` names no target directory")
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}
