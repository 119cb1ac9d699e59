//! What the benchmarks run against: the guest plugins built by
//! `cargo xtask plugins`, and throwaway `$LORD_HOME`s with plugins installed
//! through the framework API.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use lord_host::{Framework, HostConfig};

/// Where the workspace's guest plugins live.
#[derive(Debug, Clone)]
pub(crate) struct Plugins {
    root: PathBuf,
}

impl Plugins {
    /// The `plugins/` folder of the workspace this binary was built from;
    /// fails with the command to run when a component is missing.
    pub(crate) fn locate() -> Result<Self> {
        let root = workspace_root().join("plugins");
        let plugins = Self { root };
        for dir in [
            plugins.bench(),
            plugins.benchexec(),
            plugins.benchdb(),
            plugins.httpget(),
            plugins.hello(),
            plugins.notes(),
            plugins.micro_text(),
        ] {
            let wasm = dir.join("plugin.wasm");
            if !wasm.is_file() {
                bail!(
                    "{} is missing; build the guest plugins with `cargo xtask plugins` \
                     (or run the benchmarks with `cargo xtask bench`)",
                    wasm.display()
                );
            }
        }
        Ok(plugins)
    }

    /// The benchmark fixture (`bench-noop`, `bench-work ITERATIONS`).
    pub(crate) fn bench(&self) -> PathBuf {
        self.root.join("bench")
    }

    /// The plugin that runs `git --version` through `lord:plugin/exec`.
    pub(crate) fn benchdb(&self) -> PathBuf {
        self.root.join("benchdb")
    }

    pub(crate) fn benchexec(&self) -> PathBuf {
        self.root.join("benchexec")
    }

    /// The hostile `httpget` fixture, whose `GET` the HTTP benchmark times.
    pub(crate) fn httpget(&self) -> PathBuf {
        self.root.join("hostile/httpget")
    }

    /// The greeting plugin copied 50 times for the `--help` benchmark.
    pub(crate) fn hello(&self) -> PathBuf {
        self.root.join("hello")
    }

    /// Notes, which many `lord note` processes write at once.
    pub(crate) fn notes(&self) -> PathBuf {
        self.root.join("notes")
    }

    pub(crate) fn micro_text(&self) -> PathBuf {
        self.root.join("micro").join("text")
    }

    /// The plugin folder (one or two levels under `plugins/`) whose built
    /// component is the largest.
    pub(crate) fn largest_component(&self) -> Result<PathBuf> {
        let mut best: Option<(u64, PathBuf)> = None;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if !path.is_dir() || path.ends_with("target") {
                    continue;
                }
                let wasm = path.join("plugin.wasm");
                match std::fs::metadata(&wasm) {
                    Ok(meta) if path.join("plugin.toml").is_file() => {
                        if best.as_ref().is_none_or(|(size, _)| meta.len() > *size) {
                            best = Some((meta.len(), path));
                        }
                    }
                    Ok(_) | Err(_) => stack.push(path),
                }
            }
        }
        best.map(|(_, path)| path)
            .context("no built plugin under plugins/; run `cargo xtask plugins`")
    }
}

/// The manifest of the plugin folder `dir`.
pub(crate) fn manifest_of(dir: &Path) -> Result<lord_manifest::Manifest> {
    let path = dir.join(lord_manifest::MANIFEST_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    lord_manifest::parse(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A plugin as frozen for the newest released contract
/// (`tests/compat/<version>/plugins/<name>`).
pub(crate) fn newest_frozen(name: &str) -> Result<PathBuf> {
    let compat = workspace_root().join("tests").join("compat");
    let mut versions: Vec<(semver::Version, PathBuf)> = std::fs::read_dir(&compat)
        .with_context(|| format!("reading {}", compat.display()))?
        .flatten()
        .filter_map(|e| {
            let version = semver::Version::parse(e.file_name().to_str()?).ok()?;
            Some((version, e.path()))
        })
        .collect();
    versions.sort();
    let (_, dir) = versions
        .pop()
        .context("no released contract under tests/compat")?;
    Ok(dir.join("plugins").join(name))
}

/// The workspace root, known at compile time.
pub(crate) fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate_dir.to_path_buf())
}

/// A host configuration whose home, project folder and `$TMP` root all sit
/// under `scratch`, so a run leaves nothing behind.
/// The bench plugin compiled as lord installs it: its manifest, and its
/// component checked and in `sandbox`'s compiled cache.
pub(crate) fn bench_prepared(
    plugins: &Plugins,
    sandbox: &lord_sandbox::Sandbox,
) -> Result<(lord_manifest::Manifest, lord_sandbox::Compiled)> {
    let dir = plugins.bench();
    let manifest_path = dir.join(lord_manifest::MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = lord_manifest::parse(&manifest_path.display().to_string(), &text)?;
    let wasm = dir.join(&manifest.plugin.component);
    let id = &manifest.plugin.id;
    // Fills the compiled cache, so `prepare` deserialises as it does for an
    // installed plugin.
    let (sha256, _) = sandbox.install_check(id, &wasm, &manifest.permissions)?;
    let compiled = sandbox.prepare(id, &wasm, &sha256, &manifest.permissions)?;
    Ok((manifest, compiled))
}

pub(crate) fn host_config(scratch: &Path, home: &str) -> Result<HostConfig> {
    let project = scratch.join("project");
    let tmp = scratch.join("tmp");
    for dir in [&project, &tmp] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // The bench calls a plugin millions of times a minute, far past the
    // per-minute quotas that stop a runaway plugin; the accounting still
    // runs on every call, so its cost is measured, but nothing is refused.
    let home = scratch.join(home);
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    let high = 1_000_000_000u64;
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[quota]\ncalls-per-minute = {high}\ncpu-ms-per-minute = {high}\n\
             events-per-minute = {high}\nmessages-per-minute = {high}\n\
             http-requests-per-minute = {high}\n"
        ),
    )
    .with_context(|| format!("writing the quotas of {}", home.display()))?;
    let mut config = HostConfig::new(home, project);
    config.tmp_root = tmp;
    Ok(config)
}

/// Installs (and so enables) each plugin folder, as `lord plugin install
/// --yes` would.
pub(crate) async fn install(framework: &mut Framework, dirs: &[PathBuf]) -> Result<()> {
    for dir in dirs {
        let plan = framework
            .plan_install(dir)
            .with_context(|| format!("planning the install of {}", dir.display()))?;
        let registration = framework
            .install(plan)
            .await
            .with_context(|| format!("installing {}", dir.display()))?;
        if let Some(error) = registration.enable_error {
            bail!("{} installed but did not enable: {error}", dir.display());
        }
    }
    Ok(())
}

/// Writes `count` plugin folders under `dir`, each the hello component under
/// a manifest of its own: id `hello-N`, one command `greet-N`.
pub(crate) fn hello_copies(hello: &Path, dir: &Path, count: usize) -> Result<Vec<PathBuf>> {
    let wasm = hello.join("plugin.wasm");
    let mut dirs = Vec::with_capacity(count);
    for n in 1..=count {
        let plugin = dir.join(format!("hello-{n}"));
        std::fs::create_dir_all(&plugin)
            .with_context(|| format!("creating {}", plugin.display()))?;
        std::fs::copy(&wasm, plugin.join("plugin.wasm"))
            .with_context(|| format!("copying {}", wasm.display()))?;
        std::fs::write(plugin.join("plugin.toml"), hello_manifest(n))
            .with_context(|| format!("writing {}/plugin.toml", plugin.display()))?;
        dirs.push(plugin);
    }
    Ok(dirs)
}

/// `plugins/hello/plugin.toml` with the id and command numbered.
fn hello_manifest(n: usize) -> String {
    format!(
        r#"[plugin]
id = "hello-{n}"
name = "Hello {n}"
version = "0.1.0"
description = "Greets whoever you name (benchmark copy {n})."
authors = ["lord-commander developers"]
license = "MIT OR Apache-2.0"
category = "utility"
keywords = ["greeting", "example"]
host-api = "^0.2"
component = "plugin.wasm"

[permissions]
request = []

[limits]
max-execution-ms = 1000
max-memory-mib = 16

[[commands]]
name = "greet-{n}"
about = "Greet someone by name"

[[commands.args]]
name = "name"
help = "Who to greet (default: world)"
required = false
"#
    )
}
