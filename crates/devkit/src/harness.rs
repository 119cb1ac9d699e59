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
//! The same harness serves Rust authors from `cargo test`: see
//! [`assert_passes`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lord_host::{CaseKind, CommandArg, Failure, Framework, HostConfig, Target, TestCase};

use crate::probe::{self, Probe};
use lord_manifest::{Manifest, MicroId, Permission, PluginId};
use serde::Serialize;
use serde_json::Value;

use crate::DevkitError;

/// Which suite a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Unit,
    Integration,
    Security,
    Performance,
    Property,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Unit => "unit",
            Suite::Integration => "integration",
            Suite::Security => "security",
            Suite::Performance => "performance",
            Suite::Property => "property",
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed(String),
    /// Not run, and why (e.g. nothing to withhold).
    Skipped(String),
}

/// A performance case's measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Perf {
    pub iterations: u32,
    pub p50_ms: f64,
    pub max_ms: f64,
    pub peak_mib: f64,
    pub budget_ms: Option<u64>,
    pub budget_mib: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub suite: Suite,
    pub name: String,
    pub outcome: Outcome,
    #[serde(serialize_with = "millis")]
    pub took: Duration,
    pub perf: Option<Perf>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Everything one run found.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub plugin: PluginId,
    pub results: Vec<CaseResult>,
    #[serde(serialize_with = "millis")]
    pub took: Duration,
}

impl TestReport {
    pub fn failed(&self) -> impl Iterator<Item = &CaseResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
    }

    pub fn passed(&self) -> bool {
        self.failed().next().is_none()
    }

    /// A readable report: each case, the performance table, a summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let ms = r.took.as_secs_f64() * 1000.0;
            match &r.outcome {
                Outcome::Passed => {
                    out.push_str(&format!(
                        "ok    {:<11} {} ({ms:.1} ms)\n",
                        r.suite.as_str(),
                        r.name
                    ));
                }
                Outcome::Failed(reason) => {
                    out.push_str(&format!(
                        "FAIL  {:<11} {}\n      {reason}\n",
                        r.suite.as_str(),
                        r.name
                    ));
                }
                Outcome::Skipped(why) => {
                    out.push_str(&format!(
                        "skip  {:<11} {} ({why})\n",
                        r.suite.as_str(),
                        r.name
                    ));
                }
            }
        }
        let perf: Vec<&CaseResult> = self.results.iter().filter(|r| r.perf.is_some()).collect();
        if !perf.is_empty() {
            out.push_str(
                "\nperformance        calls   p50 ms   max ms  budget ms  peak MiB  budget MiB\n",
            );
            for r in perf {
                if let Some(p) = &r.perf {
                    let budget =
                        |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| b.to_string());
                    out.push_str(&format!(
                        "{:<18} {:>5} {:>8.2} {:>8.2} {:>10} {:>9.2} {:>11}\n",
                        truncate(&r.name, 18),
                        p.iterations,
                        p.p50_ms,
                        p.max_ms,
                        budget(p.budget_ms),
                        p.peak_mib,
                        budget(p.budget_mib)
                    ));
                }
            }
        }
        let count =
            |want: fn(&Outcome) -> bool| self.results.iter().filter(|r| want(&r.outcome)).count();
        let failed = count(|o| matches!(o, Outcome::Failed(_)));
        out.push_str(&format!(
            "\n{}: {} passed, {failed} failed, {} skipped in {:.1} s\n",
            self.plugin,
            count(|o| matches!(o, Outcome::Passed)),
            count(|o| matches!(o, Outcome::Skipped(_))),
            self.took.as_secs_f64()
        ));
        if failed > 0 {
            let names: Vec<String> = self
                .failed()
                .map(|r| format!("{}: {}", r.suite.as_str(), r.name))
                .collect();
            out.push_str(&format!("failed: {}\n", names.join("; ")));
        }
        out
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width - 1).collect();
    short.push('…');
    short
}

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
    _home: tempfile::TempDir,
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
        let manifest = crate::read_built(dir)?;
        let cases = lord_host::read_cases(dir)?;
        std::fs::create_dir_all(scratch).map_err(DevkitError::io("create", scratch))?;
        let home = tempfile::Builder::new()
            .prefix("lord-pdk-test-")
            .tempdir_in(scratch)
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
        let framework = Framework::open(config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            cases,
            framework,
            granted: None,
            others: Vec::new(),
            _home: home,
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
        if self.framework.get(&id).is_ok() {
            self.framework.unregister(&id)?;
        }
        let mut plan = self.framework.plan_install(&self.dir)?;
        plan.permissions = grants.to_vec();
        let registration = self.framework.install(plan).await?;
        self.granted = Some(grants.to_vec());
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
            Err(reason) => Outcome::Failed(reason),
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

    async fn prepare_integration(&mut self, case: &TestCase) -> Result<(), DevkitError> {
        for other in &case.plugins {
            let dir = self.dir.join(other);
            if self.others.contains(&dir) {
                continue;
            }
            let plan = self.framework.plan_install(&dir).map_err(|e| {
                DevkitError::Usage(format!(
                    "case `{}`: the plugin at `{}` cannot be installed: {e}",
                    case.name,
                    dir.display()
                ))
            })?;
            self.framework.install(plan).await?;
            self.others.push(dir);
        }
        for (key, value) in &case.shared {
            self.framework
                .channels()
                .shared
                .set(key, value.as_bytes().to_vec());
        }
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
                    Outcome::Failed(format!("call {} of {iterations}: {reason}", i + 1)),
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

    /// Everything the plugin can be called through.
    pub(crate) fn targets(&self) -> Vec<Callable> {
        let mut out: Vec<Callable> = self
            .manifest
            .commands
            .iter()
            .map(|c| Callable::Command {
                name: c.name.as_str().to_owned(),
                args: c.args.iter().map(|a| a.name.as_str().to_owned()).collect(),
            })
            .collect();
        out.extend(self.manifest.micro.iter().map(|m| Callable::Micro {
            id: m.id.as_str().to_owned(),
            input_schema: m.input_schema.clone(),
            output_schema: m.output_schema.clone(),
        }));
        out
    }

    fn security_cases(&self, declared: &[TestCase]) -> Vec<Generated> {
        let mut out = Vec::new();
        let output_limit = self.manifest.limits.max_output_bytes();
        for target in self.targets() {
            let label = target.label();
            out.push(Generated {
                name: format!("{label} survives malformed input"),
                case: target.case_with(
                    &[
                        "\u{0}\u{1b}[2J\u{202e}'; DROP TABLE x; --\u{7f}",
                        "{\"unclosed\": [",
                        "\u{fffd}\u{10ffff}",
                    ],
                    true,
                ),
                kind: SecurityKind::Contained,
                withheld: None,
            });
            out.push(Generated {
                name: format!("{label} survives a 1 MiB input"),
                case: target.case_with(&[&"x".repeat(1 << 20)], false),
                kind: SecurityKind::Contained,
                withheld: None,
            });
            let flood = usize::try_from(output_limit)
                .unwrap_or(usize::MAX)
                .saturating_add(4096);
            out.push(Generated {
                name: format!("{label} cannot flood past its output budget"),
                case: target.case_with(&[&"y".repeat(flood)], false),
                kind: SecurityKind::Flood(output_limit),
                withheld: None,
            });
        }
        // Each requested permission withheld in turn, over every declared
        // unit case (or, with none, one plain call per target).
        let mut runs: Vec<TestCase> = declared
            .iter()
            .filter(|c| c.kind == CaseKind::Unit && c.grants.is_none())
            .cloned()
            .collect();
        if runs.is_empty() {
            runs = self
                .targets()
                .iter()
                .map(|t| t.case_with(&["sample"], false))
                .collect();
        }
        for permission in &self.manifest.permissions {
            for case in &runs {
                out.push(Generated {
                    name: format!("`{}` without {permission}", case.name),
                    case: case.clone(),
                    kind: SecurityKind::Contained,
                    withheld: Some(permission.clone()),
                });
            }
        }
        out
    }

    async fn run_security(&mut self, generated: &Generated) -> CaseResult {
        let started = Instant::now();
        let outcome = match self.security_outcome(generated).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        CaseResult {
            suite: Suite::Security,
            name: generated.name.clone(),
            outcome,
            took: started.elapsed(),
            perf: None,
        }
    }

    async fn security_outcome(&mut self, generated: &Generated) -> Result<Outcome, DevkitError> {
        let grants: Vec<Permission> = self
            .manifest
            .permissions
            .iter()
            .filter(|p| Some(*p) != generated.withheld.as_ref())
            .cloned()
            .collect();
        let probe = match self.install_with(&grants).await {
            Ok(()) => self.call(&generated.case).await,
            Err(e) => Err(e),
        };
        let probe = match probe {
            Ok(probe) => probe,
            // Without any grant of a family whose interface the component
            // imports, the host refuses to link it at all: contained.
            Err(DevkitError::Host(lord_host::HostError::Sandbox(
                lord_sandbox::SandboxError::Contract { .. },
            ))) if generated.withheld.is_some() => return Ok(Outcome::Passed),
            Err(e) => return Err(e),
        };
        if let Some(reason) = crashed(&probe.outcome) {
            return Ok(Outcome::Failed(reason));
        }
        if let Some(withheld) = &generated.withheld {
            let wrong: Vec<String> = probe
                .denials
                .iter()
                .filter(|d| {
                    d.needs
                        .as_deref()
                        .is_some_and(|n| n != withheld.to_string())
                })
                .map(|d| d.access.clone())
                .collect();
            if !wrong.is_empty() {
                return Ok(Outcome::Failed(format!(
                    "with only {withheld} withheld, the host also refused: {}",
                    wrong.join(", ")
                )));
            }
        }
        match generated.kind {
            SecurityKind::Contained => Ok(Outcome::Passed),
            SecurityKind::Flood(limit) => {
                let written = probe.output_bytes as u64
                    + probe.outcome.as_ref().map_or(0, |text| text.len() as u64);
                if written > limit {
                    Ok(Outcome::Failed(format!(
                        "it wrote {written} bytes past a {limit}-byte output budget"
                    )))
                } else {
                    Ok(Outcome::Passed)
                }
            }
        }
    }

    async fn run_property(
        &mut self,
        target: &Callable,
        name: &str,
        options: &HarnessOptions,
    ) -> CaseResult {
        let started = Instant::now();
        let outcome = match self.property_outcome(target, options).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        CaseResult {
            suite: Suite::Property,
            name: name.to_owned(),
            outcome,
            took: started.elapsed(),
            perf: None,
        }
    }

    async fn property_outcome(
        &mut self,
        target: &Callable,
        options: &HarnessOptions,
    ) -> Result<Outcome, DevkitError> {
        let grants = self.manifest.permissions.clone();
        self.install_with(&grants).await?;
        let mut rng = Rng::new(options.seed ^ hash(&target.label()));
        for run in 0..options.property_runs {
            let (case, shown) = match target {
                Callable::Command { args, .. } => {
                    let values: Vec<String> = args.iter().map(|_| rng.text(40)).collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    (target.case_with(&refs, false), format!("{values:?}"))
                }
                Callable::Micro { input_schema, .. } => {
                    let input = rng.value(input_schema.as_ref().unwrap_or(&Value::Null), 0);
                    let mut case = target.case_with(&[], false);
                    case.input = Some(input.clone());
                    (case, input.to_string())
                }
            };
            let probe = self.call(&case).await?;
            if let Some(reason) = crashed(&probe.outcome) {
                return Ok(Outcome::Failed(format!(
                    "input #{run} {}: {reason}",
                    clip(&shown)
                )));
            }
            if let (
                Callable::Micro {
                    output_schema: Some(schema),
                    ..
                },
                Ok(text),
            ) = (target, &probe.outcome)
            {
                let output: Value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        return Ok(Outcome::Failed(format!(
                            "input #{run} {}: the output {} is not JSON: {e}",
                            clip(&shown),
                            clip(text)
                        )));
                    }
                };
                if let Err(problem) = check_schema(schema, &output) {
                    return Ok(Outcome::Failed(format!(
                        "input #{run} {}: the output {} breaks the output schema: {problem}",
                        clip(&shown),
                        clip(text)
                    )));
                }
            }
        }
        Ok(Outcome::Passed)
    }
}

fn clip(text: &str) -> String {
    truncate(text, 80)
}

fn check_schema(schema: &Value, value: &Value) -> Result<(), String> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    match validator.iter_errors(value).next() {
        Some(error) => Err(error.to_string()),
        None => Ok(()),
    }
}

/// The call result as a case judges it.
fn as_result(outcome: &Result<String, Failure>) -> Result<String, String> {
    outcome.clone().map_err(|failure| failure.to_string())
}

/// Why an outcome counts as the plugin falling over rather than failing
/// cleanly: a crash, a hang or runaway recursion. Refusals, the plugin's
/// own errors and the host's memory and output limits are clean.
fn crashed(outcome: &Result<String, Failure>) -> Option<String> {
    match outcome {
        Ok(_) => None,
        Err(failure) => match failure {
            Failure::Trap { .. }
            | Failure::TimeLimit { .. }
            | Failure::StackLimit
            | Failure::Poisoned => Some(format!("the plugin {failure}")),
            Failure::Setup { .. } => Some(format!("the host could not run it: {failure}")),
            Failure::MemoryLimit { .. }
            | Failure::OutputLimit { .. }
            | Failure::Denied { .. }
            | Failure::Returned { .. } => None,
        },
    }
}

/// What a generated security case checks beyond "did not crash".
#[derive(Debug, Clone, Copy)]
enum SecurityKind {
    Contained,
    /// Output stays within this many bytes.
    Flood(u64),
}

#[derive(Debug, Clone)]
struct Generated {
    name: String,
    case: TestCase,
    kind: SecurityKind,
    withheld: Option<Permission>,
}

/// A way into the plugin.
#[derive(Debug, Clone)]
pub(crate) enum Callable {
    Command {
        name: String,
        args: Vec<String>,
    },
    Micro {
        id: String,
        input_schema: Option<Value>,
        output_schema: Option<Value>,
    },
}

impl Callable {
    pub(crate) fn label(&self) -> String {
        match self {
            Callable::Command { name, .. } => format!("command `{name}`"),
            Callable::Micro { id, .. } => format!("micro-plugin `{id}`"),
        }
    }

    /// A case calling this target with `values`: each argument of a command
    /// gets the values in turn (or all of them, with `every`); a
    /// micro-plugin gets the first as a JSON string, or with `every` the
    /// raw text of each joined (deliberately not JSON).
    pub(crate) fn case_with(&self, values: &[&str], every: bool) -> TestCase {
        match self {
            Callable::Command { name, args } => {
                let mut map = BTreeMap::new();
                for (i, arg) in args.iter().enumerate() {
                    let chosen: Vec<String> = if every {
                        values.iter().map(|v| (*v).to_owned()).collect()
                    } else {
                        values
                            .get(i % values.len().max(1))
                            .map(|v| vec![(*v).to_owned()])
                            .unwrap_or_default()
                    };
                    map.insert(arg.clone(), chosen);
                }
                TestCase::command("generated", name, map)
            }
            Callable::Micro { id, .. } => {
                let input = if every {
                    // Not JSON at all: the guest's own parser must cope.
                    Value::String(values.join(""))
                } else {
                    values
                        .first()
                        .map_or(Value::Null, |v| Value::String((*v).to_owned()))
                };
                TestCase::micro("generated", id, input)
            }
        }
    }
}

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A small, seeded generator (xorshift64*): the same seed gives the same
/// inputs, so a failure names an input that reproduces.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// Text mixing ASCII, white space, digits, accents, CJK and emoji.
    fn text(&mut self, max: u64) -> String {
        const POOL: &[&str] = &[
            "a", "Z", " ", "  ", "\t", "\n", "7", "-", "é", "ß", "中", "😀", "\"", "\\", "<", "{",
            ".",
        ];
        let len = self.below(max + 1);
        (0..len)
            .map(|_| POOL[usize::try_from(self.below(POOL.len() as u64)).unwrap_or(0)])
            .collect()
    }

    /// A value that fits `schema` (the common keywords: type, enum, const,
    /// min/max lengths and values, items, properties, required, anyOf and
    /// oneOf). An empty or unknown schema gives any JSON.
    fn value(&mut self, schema: &Value, depth: u32) -> Value {
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(choices) = schema
            .get("enum")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
        {
            let at = usize::try_from(self.below(choices.len() as u64)).unwrap_or(0);
            return choices[at].clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = schema
                .get(key)
                .and_then(Value::as_array)
                .filter(|o| !o.is_empty())
            {
                let at = usize::try_from(self.below(options.len() as u64)).unwrap_or(0);
                return self.value(&options[at], depth);
            }
        }
        let ty = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(types)) if !types.is_empty() => {
                let at = usize::try_from(self.below(types.len() as u64)).unwrap_or(0);
                types[at].as_str().unwrap_or("null").to_owned()
            }
            Some(_) | None => ["string", "integer", "boolean", "null", "array", "object"]
                [usize::try_from(self.below(if depth > 2 { 4 } else { 6 })).unwrap_or(0)]
            .to_owned(),
        };
        let num = |key: &str| schema.get(key).and_then(Value::as_i64);
        match ty.as_str() {
            "string" => {
                let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(64)
                    .min(256)
                    .max(min);
                let mut text = self.text(max);
                while (text.chars().count() as u64) < min {
                    text.push('a');
                }
                let text: String = text
                    .chars()
                    .take(usize::try_from(max).unwrap_or(256))
                    .collect();
                Value::String(text)
            }
            "integer" | "number" => {
                let low = num("minimum").unwrap_or(-1_000_000);
                let high = num("maximum").unwrap_or(1_000_000).max(low);
                let span = u64::try_from(high.saturating_sub(low))
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                let n = low.saturating_add(i64::try_from(self.below(span)).unwrap_or(0));
                Value::from(n)
            }
            "boolean" => Value::Bool(self.below(2) == 1),
            "array" => {
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(5)
                    .min(16)
                    .max(min);
                let len = min + self.below(max - min + 1);
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                Value::Array((0..len).map(|_| self.value(&items, depth + 1)).collect())
            }
            "object" => {
                let mut map = serde_json::Map::new();
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for (key, sub) in props {
                        if required.contains(&key.as_str()) || self.below(2) == 1 {
                            map.insert(key.clone(), self.value(sub, depth + 1));
                        }
                    }
                }
                Value::Object(map)
            }
            _ => Value::Null,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_fit_their_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "minLength": 2, "maxLength": 5 },
                "n": { "type": "integer", "minimum": 3, "maximum": 9 },
                "tags": { "type": "array", "items": { "enum": ["a", "b"] }, "maxItems": 3 },
                "mode": { "const": "fast" }
            },
            "required": ["name", "n"]
        });
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let value = rng.value(&schema, 0);
            check_schema(&schema, &value).unwrap_or_else(|e| panic!("{value}: {e}"));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let schema = serde_json::json!({ "type": "string" });
        let a: Vec<Value> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.value(&schema, 0)).collect()
        };
        let b: Vec<Value> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.value(&schema, 0)).collect()
        };
        assert_eq!(a, b);
    }
}
