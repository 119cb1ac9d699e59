//! Chores as code. `cargo xtask ci` runs exactly what CI runs.
//!
//! - `cargo xtask plugins`: builds every guest under `plugins/` for
//!   `wasm32-wasip2` and copies each component to the file its `plugin.toml`
//!   names.
//! - `cargo xtask bench [--json]`: builds the guests, then runs the benchmark
//!   harness in release mode; with `--json` it prints one JSON object.
//! - `cargo xtask load [--json] [--seconds N]`: two registry servers on one
//!   PostgreSQL and one S3 API (moto) under 100 reading and 4 publishing
//!   clients, in release mode (`crates/registry/examples/load.rs`).
//! - `cargo xtask tidy`: the layer rules of ARCHITECTURE.md, file and
//!   function sizes, and a `//!` comment on every file (see `tidy.rs`).
//! - `cargo xtask contract`: `wit/lord-plugin.wit` only grows within its
//!   line, against the released contract under `tests/compat/` (see
//!   `contract.rs`).
//! - `cargo xtask tuf-conformance`: the public TUF conformance suite against
//!   `lord-tuf-client` (see `tuf_conformance.rs`).
//! - `cargo xtask ci`: format check, tidy, contract, guests, clippy, tests,
//!   the TUF conformance suite.

mod contract;
mod tidy;
mod tuf_conformance;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const GUEST_TARGET: &str = "wasm32-wasip2";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("plugins") => build_plugins(&root),
        Some("bench") => {
            build_plugins(&root)?;
            // Both binaries: `cargo run` builds only the harness, and the
            // one-shot comparison runs the bare host beside it.
            run(cargo(&root).args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "lord-bench",
                "--bins",
            ]))?;
            let mut cmd = cargo(&root);
            cmd.args(["run", "--release", "--quiet", "-p", "lord-bench", "--"]);
            cmd.args(&args[1..]);
            run(&mut cmd)
        }
        Some("load") => {
            let mut cmd = cargo(&root);
            cmd.args(["run", "--release", "--quiet", "-p", "lord-registry"]);
            cmd.args(["--features", "cloud", "--example", "load", "--"]);
            cmd.args(&args[1..]);
            run(&mut cmd)
        }
        Some("ci") => ci(&root),
        Some("tidy") => tidy(&root),
        Some("contract") => contract::run(&root),
        Some("tuf-conformance") => tuf_conformance::run_suite(&root),
        _ => bail!(
            "usage: cargo xtask <plugins | bench [--json] | load [--json] [--seconds N] | tidy | \
             contract | tuf-conformance | ci>"
        ),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[expect(
    clippy::disallowed_methods,
    reason = "xtask is a chore runner, not part of lord; it follows the cargo that started it"
)]
fn cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir);
    cmd
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Builds all guests in one cargo invocation (they share a target folder),
/// then copies each component where its manifest says it lives.
fn build_plugins(root: &Path) -> Result<()> {
    let plugins = root.join("plugins");
    // Named, not left to `CARGO_TARGET_DIR`: the copy below reads from
    // here, and a target folder set for the host workspace (one per
    // worktree, say) would otherwise leave stale guests in place.
    let target = plugins.join("target");
    run(cargo(&plugins)
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(&target))?;
    let out = target.join(GUEST_TARGET).join("release");
    for dir in guest_dirs(&plugins)? {
        let crate_name = read_toml(&dir.join("Cargo.toml"))?
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .map(|n| n.replace('-', "_"))
            .with_context(|| format!("{}: no [package] name", dir.display()))?;
        let component = read_toml(&dir.join("plugin.toml"))?
            .get("plugin")
            .and_then(|p| p.get("component"))
            .and_then(|c| c.as_str())
            .map(str::to_owned)
            .with_context(|| format!("{}: no [plugin] component", dir.display()))?;
        let built = out.join(format!("{crate_name}.wasm"));
        let dest = dir.join(&component);
        std::fs::copy(&built, &dest)
            .with_context(|| format!("copying {} to {}", built.display(), dest.display()))?;
        // Progress goes to stderr: `cargo xtask bench --json` prints one JSON
        // object on stdout and nothing else.
        eprintln!(
            "built {}",
            dest.strip_prefix(root).unwrap_or(&dest).display()
        );
    }
    Ok(())
}

/// Every folder under `plugins/` (one level, or two for `hostile/`) that
/// holds both a `Cargo.toml` and a `plugin.toml`.
fn guest_dirs(plugins: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    let mut stack = vec![plugins.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if !path.is_dir() || path.ends_with("target") {
                continue;
            }
            if path.join("plugin.toml").is_file() && path.join("Cargo.toml").is_file() {
                dirs.push(path);
            } else {
                stack.push(path);
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn read_toml(path: &Path) -> Result<toml::Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("parsing {}", path.display()))
}

fn ci(root: &Path) -> Result<()> {
    run(cargo(root).args(["fmt", "--all", "--check"]))?;
    run(cargo(&root.join("plugins")).args(["fmt", "--all", "--check"]))?;
    tidy(root)?;
    contract::run(root)?;
    build_plugins(root)?;
    run(cargo(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    test_with_summary(root)?;
    tuf_conformance::run_suite(root)
}

/// Checks the code map and the house rules; prints the largest files and
/// functions whatever the outcome, and fails naming every break.
fn tidy(root: &Path) -> Result<()> {
    let architecture =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("reading ARCHITECTURE.md")?;
    let rules = tidy::parse_rules(&architecture)?;
    let metadata = capture(cargo(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("reading `cargo metadata`")?;
    let mut breaks = tidy::check_layers(&rules, &tidy::direct_dependencies(&metadata));
    for krate in rules.never.keys() {
        let tree = capture(cargo(root).args([
            "tree",
            "-p",
            krate,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ]))?;
        let reached: Vec<String> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        breaks.extend(tidy::check_never(&rules, krate, &reached));
    }
    let sizes = tidy::measure(root)?;
    eprintln!(
        "tidy: largest files (limit {} lines before tests):",
        tidy::MAX_FILE_LINES
    );
    for f in &sizes.largest_files {
        eprintln!("  {:>5}  {}", f.lines, f.file.display());
    }
    eprintln!(
        "tidy: largest functions (limit {} lines):",
        tidy::MAX_FN_LINES
    );
    for f in &sizes.largest_functions {
        eprintln!(
            "  {:>5}  {}:{} {}",
            f.lines,
            f.file.display(),
            f.line,
            f.name
        );
    }
    let mut problems: Vec<String> = breaks.iter().map(ToString::to_string).collect();
    problems.extend(sizes.long_files.iter().map(|f| {
        format!(
            "{} has {} lines; split it (limit {})",
            f.file.display(),
            f.lines,
            tidy::MAX_FILE_LINES
        )
    }));
    problems.extend(sizes.long_functions.iter().map(|f| {
        format!(
            "{}:{} `{}` has {} lines; split it (limit {})",
            f.file.display(),
            f.line,
            f.name,
            f.lines,
            tidy::MAX_FN_LINES
        )
    }));
    problems.extend(sizes.undocumented.iter().map(|f| {
        format!(
            "{} does not start with a `//!` comment saying what it is for",
            f.display()
        )
    }));
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        bail!("tidy found {} problem(s)", problems.len());
    }
    eprintln!("tidy: the layer rules hold; every file is documented and within its limits");
    Ok(())
}

/// Runs `cmd` and returns its standard output.
fn capture(cmd: &mut Command) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{cmd:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("command output is not UTF-8")
}

/// Runs the workspace tests, passing their output through, and ends with one
/// `N passed, N failed` line over every test binary (cargo prints one result
/// line per binary, the last of which is often an empty doc-test run).
fn test_with_summary(root: &Path) -> Result<()> {
    use std::io::{BufRead, BufReader};
    let mut child = cargo(root)
        .args(["test", "--workspace", "--no-fail-fast"])
        // A failure's message is what a reader of CI's log needs; a
        // backtrace inherited from the runner's environment pushes it out
        // of the excerpt that gets shown.
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("could not start cargo test")?;
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += count(rest, " passed");
            failed += count(rest, " failed");
        }
    }
    let status = child.wait()?;
    println!("{passed} passed, {failed} failed");
    if !status.success() {
        bail!("cargo test failed with {status}");
    }
    Ok(())
}

/// The number before `label` in a cargo test result line.
fn count(line: &str, label: &str) -> u64 {
    line.split(';')
        .find_map(|part| part.trim().strip_suffix(label.trim()))
        .and_then(|n| n.trim().rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_come_from_cargo_result_lines() {
        let line =
            "FAILED. 30 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 3.30s";
        assert_eq!(count(line, " passed"), 30);
        assert_eq!(count(line, " failed"), 2);
        assert_eq!(count("ok. 0 passed; 0 failed;", " passed"), 0);
    }
}
