//! `lord pdk test`: a plugin's declared cases and generated ones, run
//! through the real host in a throwaway lord home, so a test run never
//! touches the author's installed plugins, data or secrets.
//!
//! Suites:
//! - **unit**: declared cases, one call each under the grants they name;
//! - **integration**: declared cases with other plugins installed, shared
//!   values set and published topics checked;
//! - **security**: generated for every plugin: malformed, oversized and
//!   flooding inputs, and every case again with each requested permission
//!   withheld (the host must refuse exactly that permission, and the plugin
//!   must fail cleanly, not crash or hang);
//! - **performance**: declared cases repeated under a time and memory
//!   budget, reported as a table;
//! - **property**: inputs generated from each micro-plugin's input schema
//!   (and random arguments for commands), checked against the output
//!   schema.
//!
//! A plugin with `[dependencies]` is installed after them: the harness
//! installs each (and its own, first) from the plugin folders the cases
//! name in `plugins`, and a dependency none of them holds fails the case
//! saying where to name it.
//!
//! The same harness serves Rust authors from `cargo test`: see
//! [`assert_passes`].
//!
//! `report.rs` shapes the results; `generated.rs` makes the security and
//! property cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lord_host::{CaseKind, CommandArg, Failure, Framework, HostConfig, Target, TestCase};

use crate::probe::{self, Probe};
use lord_manifest::{Manifest, MicroId, Permission, PluginId};
use serde_json::Value;

use crate::DevkitError;

mod generated;
mod report;

pub use report::{CaseResult, Outcome, Perf, Suite, TestReport};

use generated::as_result;

/// What to run.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// Run the generated security and property cases.
    pub generated: bool,
    /// Inputs per property case.
    pub property_runs: u32,
    /// Seed for generated inputs: the same seed, the same inputs.
    pub seed: u64,
    /// Only cases whose name contains this.
    pub filter: Option<String>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self {
            generated: true,
            property_runs: 32,
            seed: 0x5eed,
            filter: None,
        }
    }
}

/// A plugin under test, installed in a lord home of its own.
pub struct Harness {
    dir: PathBuf,
    manifest: Manifest,
    cases: Vec<TestCase>,
    framework: Framework,
    /// What the installed build holds now, to reinstall only on a change.
    granted: Option<Vec<Permission>>,
    others: Vec<PathBuf>,
    home: tempfile::TempDir,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("dir", &self.dir)
            .field("plugin", &self.manifest.plugin.id)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Opens the plugin folder `dir` (built: its component must exist) in
    /// a fresh lord home made under `scratch` and removed on drop.
    pub fn open(dir: &Path, scratch: &Path) -> Result<Self, DevkitError> {
        Self::open_with_path(dir, scratch, None)
    }

    /// [`open`](Self::open), with the `PATH` the host resolves `exec`
    /// grants from (the author's, passed by the CLI; no other variable of
    /// the author's reaches a test).
    pub fn open_with_path(
        dir: &Path,
        scratch: &Path,
        path: Option<&str>,
    ) -> Result<Self, DevkitError> {
        let manifest = crate::read_built(dir)?;
        let cases = lord_host::read_cases(dir)?;
        std::fs::create_dir_all(scratch).map_err(DevkitError::io("create", scratch))?;
        // Named after this process, so a killed run's home is swept by the
        // next process that makes one.
        let home = lord_host::scratch_dir(scratch, "lord-pdk-test")
            .map_err(DevkitError::io("create a folder in", scratch))?;
        let project = home.path().join("project");
        std::fs::create_dir_all(&project).map_err(DevkitError::io("create", &project))?;
        let lord_home = home.path().join("home");
        std::fs::create_dir_all(&lord_home).map_err(DevkitError::io("create", &lord_home))?;
        // Secrets a test stores stay in the throwaway home, never in the
        // author's keyring.
        let settings = lord_home.join("config.toml");
        std::fs::write(&settings, "[secrets]\nbackend = \"file\"\n")
            .map_err(DevkitError::io("write", &settings))?;
        let mut config = HostConfig::new(lord_home, project);
        // The author's own configuration files must not leak into a test.
        config.config.system = None;
        if let Some(path) = path {
            config.env = vec![("PATH".to_owned(), path.to_owned())];
        }
        let framework = Framework::open(config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            cases,
            framework,
            granted: None,
            others: Vec::new(),
            home,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn cases(&self) -> &[TestCase] {
        &self.cases
    }

    /// The host itself, for embedders that want to look at state.
    pub fn framework(&mut self) -> &mut Framework {
        &mut self.framework
    }

    fn id(&self) -> PluginId {
        self.manifest.plugin.id.clone()
    }

    /// (Re)installs the plugin holding exactly `grants`.
    pub async fn install_with(&mut self, grants: &[Permission]) -> Result<(), DevkitError> {
        if self.granted.as_deref() == Some(grants) {
            return Ok(());
        }
        // Whatever was there goes, even a build whose install failed half
        // way (stored, but refused at enable).
        let id = self.id();
        self.granted = None;
        // Plugins a case installed that depend on this one are disabled
        // while it is replaced, and come back once it is.
        let mut dependents = Vec::new();
        if self.framework.get(&id).is_ok() {
            dependents = self.framework.unregister_forced(&id)?;
        }
        // Its dependencies go in first: the host refuses a plugin whose
        // dependencies are not installed.
        let manifest = self.manifest.clone();
        self.install_dependencies(&manifest, &mut Vec::new())
            .await?;
        let mut plan = self.framework.plan_install(&self.dir)?;
        plan.permissions = grants.to_vec();
        let registration = self.framework.install(plan).await?;
        self.granted = Some(grants.to_vec());
        // Furthest dependents were disabled first; enable them nearest first.
        for dependent in dependents.iter().rev() {
            self.framework.enable(dependent).await?;
        }
        if let Some(error) = registration.enable_error {
            return Err(DevkitError::Usage(format!(
                "the plugin installed but its on-enable hook failed: {error}"
            )));
        }
        Ok(())
    }

    /// The grants a case asks for, each one requested by the manifest.
    fn grants_of(&self, case: &TestCase) -> Result<Vec<Permission>, String> {
        let Some(named) = &case.grants else {
            return Ok(self.manifest.permissions.clone());
        };
        named
            .iter()
            .map(|text| {
                let permission: Permission = text
                    .parse()
                    .map_err(|e| format!("grant `{text}` is not a permission: {e}"))?;
                if self.manifest.permissions.contains(&permission) {
                    Ok(permission)
                } else {
                    Err(format!(
                        "grant `{text}` is not requested in plugin.toml; a test cannot grant \
                         more than users would be asked for"
                    ))
                }
            })
            .collect()
    }

    pub(crate) async fn call(&mut self, case: &TestCase) -> Result<Probe, DevkitError> {
        let id = self.id();
        match case.target() {
            Target::Command(command) => {
                let args = case
                    .args
                    .iter()
                    .map(|(name, values)| CommandArg {
                        name: name.clone(),
                        values: values.clone(),
                    })
                    .collect();
                Ok(probe::probe_command(&mut self.framework, &id, command, args).await?)
            }
            Target::Micro(micro) => {
                let micro: MicroId = micro
                    .parse()
                    .map_err(|e| DevkitError::Usage(format!("case `{}`: {e}", case.name)))?;
                let input = case.input.clone().unwrap_or(Value::Null).to_string();
                Ok(probe::probe_micro(&self.framework, &id, &micro, &input).await?)
            }
        }
    }

    /// Runs one declared case.
    pub async fn run_case(&mut self, case: &TestCase) -> CaseResult {
        let started = Instant::now();
        let suite = match case.kind {
            CaseKind::Unit => Suite::Unit,
            CaseKind::Integration => Suite::Integration,
            CaseKind::Performance => Suite::Performance,
        };
        let (outcome, perf) = match self.run_declared(case).await {
            Ok((outcome, perf)) => (outcome, perf),
            Err(e) => (Outcome::Failed(e.to_string()), None),
        };
        CaseResult {
            suite,
            name: case.name.clone(),
            outcome,
            took: started.elapsed(),
            perf,
        }
    }

    async fn run_declared(
        &mut self,
        case: &TestCase,
    ) -> Result<(Outcome, Option<Perf>), DevkitError> {
        let grants = match self.grants_of(case) {
            Ok(grants) => grants,
            Err(reason) => return Ok((Outcome::Failed(reason), None)),
        };
        self.install_with(&grants).await?;
        if let Some(project) = &case.project {
            self.use_project(&case.name, project)?;
        }
        if case.kind == CaseKind::Integration {
            self.prepare_integration(case).await?;
        }
        let mut listener = if case.publishes.is_empty() {
            None
        } else {
            let everything: Permission = "events-subscribe(**)"
                .parse()
                .map_err(|e| DevkitError::Usage(format!("{e}")))?;
            let Permission::EventsSubscribe(pattern) = everything else {
                return Err(DevkitError::Usage(
                    "internal: not a subscription".to_owned(),
                ));
            };
            Some(
                self.framework
                    .channels()
                    .bus
                    .subscribe("lord-pdk-test", &pattern, None, 1024),
            )
        };
        if case.kind == CaseKind::Performance {
            return self.run_performance(case).await;
        }
        let probe = self.call(case).await?;
        let judged = case.judge(&as_result(&probe.outcome));
        let mut outcome = match judged {
            Ok(()) => Outcome::Passed,
            Err(reason) => Outcome::Failed(probe.explain(reason)),
        };
        if let (Outcome::Passed, Some(listener)) = (&outcome, listener.as_mut()) {
            let mut seen = Vec::new();
            while let Some(event) = listener.try_recv() {
                seen.push(event.topic.clone());
            }
            if let Some(missing) = case.publishes.iter().find(|t| !seen.contains(t)) {
                outcome = Outcome::Failed(format!(
                    "it did not publish on `{missing}` (it published on: {})",
                    if seen.is_empty() {
                        "nothing".to_owned()
                    } else {
                        seen.join(", ")
                    }
                ));
            }
        }
        Ok((outcome, None))
    }

    /// Makes the project folder a copy of `from` (relative to the plugin's
    /// folder), emptied first so no earlier case's files remain.
    fn use_project(&self, case: &str, from: &str) -> Result<(), DevkitError> {
        let source = self.dir.join(from);
        if !source.is_dir() {
            return Err(DevkitError::Usage(format!(
                "case `{case}`: its project `{}` is not a folder",
                source.display()
            )));
        }
        let project = self.home.path().join("project");
        std::fs::remove_dir_all(&project).map_err(DevkitError::io("remove", &project))?;
        copy_tree(&source, &project)
    }

    async fn prepare_integration(&mut self, case: &TestCase) -> Result<(), DevkitError> {
        for other in &case.plugins {
            let dir = self.dir.join(other);
            if self.others.contains(&dir) {
                continue;
            }
            let manifest = crate::read_built(&dir).map_err(|e| {
                DevkitError::Usage(format!(
                    "case `{}`: the plugin at `{}` cannot be read: {e}",
                    case.name,
                    dir.display()
                ))
            })?;
            if self.framework.get(&manifest.plugin.id).is_ok() {
                // Installed already, as a dependency of another plugin.
                self.others.push(dir);
                continue;
            }
            self.install_dependencies(&manifest, &mut Vec::new())
                .await?;
            self.install_other(&dir).await?;
        }
        for (key, value) in &case.shared {
            self.framework
                .channels()
                .shared
                .set(key, value.as_bytes().to_vec())
                .map_err(lord_host::HostError::from)?;
        }
        Ok(())
    }

    /// Every plugin folder the cases name, relative paths resolved.
    fn provided(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for case in &self.cases {
            for other in &case.plugins {
                let dir = self.dir.join(other);
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        dirs
    }

    /// Installs the dependencies of `manifest` that are not installed at a
    /// fitting version, each after its own, from the plugin folders the
    /// cases name; a dependency none of them provides is an error that
    /// says where to name it. `chain` holds the plugins being installed
    /// further up, to report a cycle instead of recursing forever.
    async fn install_dependencies(
        &mut self,
        manifest: &Manifest,
        chain: &mut Vec<PluginId>,
    ) -> Result<(), DevkitError> {
        let plugin = &manifest.plugin.id;
        chain.push(plugin.clone());
        for (dependency, wants) in &manifest.dependencies {
            if let Ok(installed) = self.framework.get(dependency)
                && wants.matches(&installed.manifest.plugin.version)
            {
                continue;
            }
            if chain.contains(dependency) {
                return Err(DevkitError::Usage(format!(
                    "plugins depend on each other in a cycle: {} -> {dependency}",
                    chain
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" -> ")
                )));
            }
            let mut found = None;
            for dir in self.provided() {
                let Ok(candidate) = crate::read_built(&dir) else {
                    continue;
                };
                if &candidate.plugin.id == dependency && wants.matches(&candidate.plugin.version) {
                    found = Some((dir, candidate));
                    break;
                }
            }
            let Some((dir, candidate)) = found else {
                return Err(DevkitError::Usage(format!(
                    "`{plugin}` depends on `{dependency}` {wants}, and no case names a built \
                     plugin folder holding it at a fitting version; add its folder (relative \
                     to the plugin's) to a case's `plugins = [...]` in tests/cases.toml"
                )));
            };
            Box::pin(self.install_dependencies(&candidate, chain)).await?;
            self.install_other(&dir).await?;
        }
        chain.pop();
        Ok(())
    }

    /// Installs another plugin a case needs, with every permission it asks.
    async fn install_other(&mut self, dir: &Path) -> Result<(), DevkitError> {
        let plan = self.framework.plan_install(dir).map_err(|e| {
            DevkitError::Usage(format!(
                "the plugin at `{}` cannot be installed: {e}",
                dir.display()
            ))
        })?;
        self.framework.install(plan).await?;
        self.others.push(dir.to_path_buf());
        Ok(())
    }

    async fn run_performance(
        &mut self,
        case: &TestCase,
    ) -> Result<(Outcome, Option<Perf>), DevkitError> {
        let iterations = case.iterations.unwrap_or(20).max(1);
        let mut times = Vec::new();
        let mut peak = 0u64;
        for i in 0..iterations {
            let probe = self.call(case).await?;
            if let Err(reason) = case.judge(&as_result(&probe.outcome)) {
                return Ok((
                    Outcome::Failed(
                        probe.explain(format!("call {} of {iterations}: {reason}", i + 1)),
                    ),
                    None,
                ));
            }
            times.push(probe.took.as_secs_f64() * 1000.0);
            peak = peak.max(probe.peak_memory_bytes);
        }
        times.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        let perf = Perf {
            iterations,
            p50_ms: times[times.len() / 2],
            max_ms: times[times.len() - 1],
            peak_mib: peak as f64 / (1024.0 * 1024.0),
            budget_ms: case.budget_ms,
            budget_mib: case.budget_mib,
        };
        let mut over = Vec::new();
        if let Some(budget) = case.budget_ms {
            #[allow(clippy::cast_precision_loss)]
            if perf.max_ms > budget as f64 {
                over.push(format!(
                    "its slowest call took {:.2} ms, over the {budget} ms budget",
                    perf.max_ms
                ));
            }
        }
        if let Some(budget) = case.budget_mib {
            #[allow(clippy::cast_precision_loss)]
            if perf.peak_mib > budget as f64 {
                over.push(format!(
                    "it held {:.2} MiB, over the {budget} MiB budget",
                    perf.peak_mib
                ));
            }
        }
        let outcome = if over.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(over.join("; "))
        };
        Ok((outcome, Some(perf)))
    }

    /// Runs every declared case, then the generated ones.
    pub async fn run(&mut self, options: &HarnessOptions) -> Result<TestReport, DevkitError> {
        let started = Instant::now();
        let mut results = Vec::new();
        let wanted = |name: &str| options.filter.as_deref().is_none_or(|f| name.contains(f));
        let cases = self.cases.clone();
        for case in cases.iter().filter(|c| wanted(&c.name)) {
            results.push(self.run_case(case).await);
        }
        if options.generated {
            for generated in self.security_cases(&cases) {
                if wanted(&generated.name) {
                    results.push(self.run_security(&generated).await);
                }
            }
            for target in self.targets() {
                let name = format!("{} takes generated inputs", target.label());
                if wanted(&name) {
                    results.push(self.run_property(&target, &name, options).await);
                }
            }
        }
        Ok(TestReport {
            plugin: self.id(),
            results,
            took: started.elapsed(),
        })
    }
}

/// For Rust authors: runs the harness on the built plugin folder `dir`
/// from a `#[test]` and panics with the readable report if any case fails.
///
/// ```no_run
/// #[test]
/// fn plugin_passes_its_cases() {
///     lord_devkit::harness::assert_passes(env!("CARGO_MANIFEST_DIR"));
/// }
/// ```
#[allow(
    clippy::disallowed_methods,
    reason = "inside `cargo test` there is no lord home; the system's temporary folder is the scratch space"
)]
pub fn assert_passes(dir: impl AsRef<Path>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("no async runtime: {e}"));
    let report = runtime.block_on(async {
        let mut harness =
            Harness::open(dir.as_ref(), &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"));
        harness
            .run(&HarnessOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    assert!(report.passed(), "{}", report.to_text());
}
/// Copies the folders and regular files under `from` to `to` (links are
/// left out: a case's project is plain files).
fn copy_tree(from: &Path, to: &Path) -> Result<(), DevkitError> {
    std::fs::create_dir_all(to).map_err(DevkitError::io("create", to))?;
    for entry in std::fs::read_dir(from).map_err(DevkitError::io("read", from))? {
        let entry = entry.map_err(DevkitError::io("read", from))?;
        let kind = entry
            .file_type()
            .map_err(DevkitError::io("read", &entry.path()))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(DevkitError::io("copy", &target))?;
        }
    }
    Ok(())
}
