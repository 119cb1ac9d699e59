//! The seed's `PluginValidationResult`: everything wrong with, risky about
//! or slow in a plugin folder or package, found before anything is
//! installed. Unlike the install check, which stops at the first refusal,
//! validation reports every finding, each with a stable code that SARIF
//! rules and scripts can key on.

use std::path::Path;
use std::time::Duration;

use lord_manifest::{Manifest, PermissionFamily, PluginId, RiskLevel};
use lord_sandbox::{ImportName, ImportUse, Limits};
use serde::Serialize;

use crate::framework::Framework;

/// Which of the seed's lists a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The plugin cannot be installed.
    Error,
    /// Worth fixing; does not block installation.
    Warning,
    /// Bears on what the plugin could do to the user.
    Security,
    /// Bears on how fast it starts or how much it holds.
    Performance,
    /// Would make it better; nothing is wrong.
    Suggestion,
}

/// How loudly a CI system should show a finding (SARIF's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Note,
    Warning,
    /// Blocks installation.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub category: Category,
    pub level: Level,
    /// A stable, short name for scripts and SARIF rules
    /// (e.g. `undeclared-import`).
    pub code: &'static str,
    pub message: String,
    /// The file the finding is about, relative to the plugin folder.
    pub file: String,
}

/// What validation measured on this machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measurements {
    pub component_bytes: u64,
    pub compile_ms: f64,
    pub start_ms: Option<f64>,
    /// Linear memory held right after start-up.
    pub start_memory_bytes: Option<u64>,
    /// What the manifest's `max-memory-mib` allows.
    pub declared_memory_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValidationReport {
    pub plugin: Option<PluginId>,
    pub risk: Option<RiskLevel>,
    pub findings: Vec<Finding>,
    pub measurements: Option<Measurements>,
}

impl ValidationReport {
    /// The seed's `isValid`: nothing blocks installation.
    pub fn is_ok(&self) -> bool {
        !self.findings.iter().any(|f| f.level == Level::Error)
    }

    fn push(
        &mut self,
        category: Category,
        level: Level,
        code: &'static str,
        file: &str,
        message: String,
    ) {
        self.findings.push(Finding {
            category,
            level,
            code,
            message,
            file: file.to_owned(),
        });
    }

    pub fn of(&self, category: Category) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.category == category)
    }
}

/// A component over this size is slow to download and to compile.
const LARGE_COMPONENT_BYTES: u64 = 8 * 1024 * 1024;
/// Instantiation is paid before every command; over this it is felt.
const SLOW_START: Duration = Duration::from_millis(50);
/// A memory budget is oversized when it is over this many times what the
/// plugin holds at start-up, and over the floor below.
const MEMORY_HEADROOM: u64 = 8;
const MEMORY_FLOOR_BYTES: u64 = 64 * 1024 * 1024;

const MANIFEST: &str = lord_manifest::MANIFEST_FILE;

impl Framework {
    /// Validates a plugin folder, or a package file (`.lordpkg`, with its
    /// `.sig` beside it). Nothing is installed and the user's compiled cache
    /// gains at most this component.
    pub async fn validate(&self, target: &Path) -> ValidationReport {
        if target.is_file() {
            return self.validate_package(target).await;
        }
        self.validate_dir(target).await
    }

    /// What a component is: its imports, exports, size and compile time.
    pub fn inspect(&self, wasm: &Path) -> Result<lord_sandbox::ComponentFacts, crate::HostError> {
        Ok(self.loader().sandbox()?.inspect(wasm)?)
    }

    async fn validate_package(&self, package: &Path) -> ValidationReport {
        let mut report = ValidationReport::default();
        let name = package
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = self.loader().tmp_root();
        let staging = match crate::scratch::scratch_dir(root, "validate") {
            Ok(dir) => dir,
            Err(e) => {
                report.push(
                    Category::Error,
                    Level::Error,
                    "unreadable",
                    &name,
                    format!("no scratch folder to unpack into: {e}"),
                );
                return report;
            }
        };
        let trusted = match lord_package::Keys::new(self.home()).trusted() {
            Ok(keys) => keys,
            Err(e) => {
                report.push(
                    Category::Error,
                    Level::Error,
                    "unreadable",
                    &name,
                    e.to_string(),
                );
                return report;
            }
        };
        let opened = lord_package::open(
            package,
            staging.path(),
            &trusted,
            true,
            &lord_package::Limits::default(),
        );
        match opened {
            Ok(opened) => {
                let mut inner = self.validate_dir(staging.path()).await;
                match opened.provenance {
                    lord_package::Provenance::Signed(_) => {}
                    lord_package::Provenance::AllowedUnsigned => inner.push(
                        Category::Security,
                        Level::Error,
                        "missing-signature",
                        &name,
                        format!(
                            "the package has no signature beside it ({name}.sig); sign it with \
                             `lord pdk sign {name}`, as installs refuse unsigned packages"
                        ),
                    ),
                }
                inner
            }
            Err(e) => {
                use lord_package::PackageError as E;
                let (category, code) = match &e {
                    E::Unsigned(_) => (Category::Security, "missing-signature"),
                    E::DigestMismatch { .. }
                    | E::UntrustedKey(_)
                    | E::BadSignature(_)
                    | E::ReleaseMismatch { .. }
                    | E::SignatureFormat { .. } => (Category::Security, "bad-signature"),
                    E::Io { .. }
                    | E::Manifest(_)
                    | E::Unpackable { .. }
                    | E::Refused(_)
                    | E::Malformed(_)
                    | E::NoSuchKey(_)
                    | E::KeyExists(_)
                    | E::KeyFormat { .. } => (Category::Error, "bad-package"),
                };
                report.push(category, Level::Error, code, &name, e.to_string());
                report
            }
        }
    }

    async fn validate_dir(&self, dir: &Path) -> ValidationReport {
        let mut report = ValidationReport::default();
        let candidate = match crate::install::Candidate::read(dir) {
            Ok(c) => c,
            Err(e) => {
                report.push(
                    Category::Error,
                    Level::Error,
                    "unreadable",
                    MANIFEST,
                    e.to_string(),
                );
                return report;
            }
        };
        let manifest = &candidate.manifest;
        report.plugin = Some(manifest.plugin.id.clone());
        report.risk = Some(manifest.risk_level());
        if let Err(e) = crate::install::check_host_fit(manifest) {
            report.push(
                Category::Error,
                Level::Error,
                "host-fit",
                MANIFEST,
                e.to_string(),
            );
        }
        check_manifest(&mut report, manifest);
        let component_file = manifest.plugin.component.clone();
        let sandbox = match self.loader().sandbox() {
            Ok(sandbox) => sandbox,
            Err(e) => {
                report.push(
                    Category::Error,
                    Level::Error,
                    "engine",
                    MANIFEST,
                    e.to_string(),
                );
                return report;
            }
        };
        match sandbox.inspect(&candidate.component) {
            Ok(facts) => {
                let before = report.findings.len();
                check_imports(&mut report, manifest, &facts.imports, &component_file);
                let import_findings = report.findings.len() > before;
                // The install check covers what the classification above
                // does not (the exported API version, linking); its refusal
                // is reported only when nothing above explained it.
                if let Err(e) = sandbox.install_check(
                    &manifest.plugin.id,
                    &candidate.component,
                    &manifest.permissions,
                ) && !import_findings
                {
                    report.push(
                        Category::Error,
                        Level::Error,
                        "contract",
                        &component_file,
                        e.to_string(),
                    );
                }
                let mut measured = Measurements {
                    component_bytes: facts.size_bytes,
                    compile_ms: facts.compile.as_secs_f64() * 1000.0,
                    start_ms: None,
                    start_memory_bytes: None,
                    declared_memory_bytes: manifest.limits.max_memory_bytes(),
                };
                // Measured even when the imports are refused: the component
                // starts with nothing granted, and the author wants every
                // finding at once. A start-up failure is news only when
                // nothing above explains it.
                let explained = !report.is_ok();
                self.measure(
                    &mut report,
                    &mut measured,
                    manifest,
                    &candidate.component,
                    explained,
                )
                .await;
                check_performance(&mut report, &measured, &component_file);
                report.measurements = Some(measured);
            }
            Err(e) => report.push(
                Category::Error,
                Level::Error,
                "unreadable",
                &component_file,
                e.to_string(),
            ),
        }
        suggest(&mut report, dir, manifest);
        report
    }

    /// Starts the component once with nothing granted, under the host's
    /// largest memory budget so that what it needs shows even when the
    /// manifest allows too little.
    async fn measure(
        &self,
        report: &mut ValidationReport,
        measured: &mut Measurements,
        manifest: &Manifest,
        component: &Path,
        explained: bool,
    ) {
        let Ok(sandbox) = self.loader().sandbox() else {
            return;
        };
        let mut limits = Limits::from_manifest(&manifest.limits);
        limits.memory_bytes = lord_manifest::Limits::MEMORY_MIB_RANGE
            .end()
            .saturating_mul(1024 * 1024);
        match sandbox
            .measure_start(&manifest.plugin.id, component, limits)
            .await
        {
            Ok(start) => {
                measured.start_ms = Some(start.instantiate.as_secs_f64() * 1000.0);
                measured.start_memory_bytes = Some(start.memory_bytes);
            }
            Err(_) if explained => {}
            Err(e) => report.push(
                Category::Error,
                Level::Error,
                "start-up",
                &manifest.plugin.component,
                e.to_string(),
            ),
        }
    }
}

/// What the manifest alone says: its warnings, and each high-risk
/// permission in plain words.
fn check_manifest(report: &mut ValidationReport, manifest: &Manifest) {
    for warning in manifest.warnings() {
        report.push(
            Category::Warning,
            Level::Warning,
            "manifest",
            MANIFEST,
            warning,
        );
    }
    for permission in &manifest.permissions {
        let risk = permission.risk();
        if risk >= RiskLevel::High {
            report.push(
                Category::Security,
                Level::Warning,
                "high-risk-permission",
                MANIFEST,
                format!(
                    "requests `{permission}`, a {risk}-risk permission: {}",
                    permission.describe()
                ),
            );
        }
    }
}

fn check_imports(
    report: &mut ValidationReport,
    manifest: &Manifest,
    imports: &[String],
    file: &str,
) {
    let mut used: Vec<PermissionFamily> = Vec::new();
    // Undeclared imports, grouped by the family they need: one finding
    // per missing permission, naming every import it would cover.
    let mut undeclared: Vec<(PermissionFamily, Vec<String>)> = Vec::new();
    for raw in imports {
        let name: ImportName = match raw.parse() {
            Ok(name) => name,
            Err(e) => {
                report.push(Category::Error, Level::Error, "unknown-import", file, e);
                continue;
            }
        };
        match lord_sandbox::import_use(&name.path) {
            ImportUse::Baseline => {}
            ImportUse::Needs(family) => {
                if !used.contains(&family) {
                    used.push(family);
                }
                if !manifest.permissions.iter().any(|p| p.family() == family) {
                    match undeclared.iter_mut().find(|(f, _)| *f == family) {
                        Some((_, names)) => names.push(name.to_string()),
                        None => undeclared.push((family, vec![name.to_string()])),
                    }
                }
            }
            ImportUse::Unknown => report.push(
                Category::Error,
                Level::Error,
                "unknown-import",
                file,
                format!(
                    "the component imports `{name}`, an interface this host does not provide to \
                     plugins; build with the WIT lord ships (`lord pdk build` does)"
                ),
            ),
        }
    }
    for (family, names) in undeclared {
        report.push(
            Category::Security,
            Level::Error,
            "undeclared-import",
            file,
            format!(
                "the component imports {}, which needs a `{}` permission that {MANIFEST} does \
                 not request; add one to [permissions] request or remove the import",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                family.as_str()
            ),
        );
    }
    for permission in &manifest.permissions {
        let family = permission.family();
        if family.meaning().visible_in_imports() && !used.contains(&family) {
            report.push(
                Category::Security,
                Level::Warning,
                "unused-permission",
                MANIFEST,
                format!(
                    "requests `{permission}` but the component never imports a `{}` interface; \
                     remove the request",
                    family.as_str()
                ),
            );
        }
    }
}

fn check_performance(report: &mut ValidationReport, m: &Measurements, file: &str) {
    const MIB: f64 = 1024.0 * 1024.0;
    #[allow(clippy::cast_precision_loss)]
    let mib = |bytes: u64| bytes as f64 / MIB;
    if m.component_bytes > LARGE_COMPONENT_BYTES {
        report.push(
            Category::Performance,
            Level::Warning,
            "large-component",
            file,
            format!(
                "the component is {:.1} MiB; users download and compile all of it. Build \
                 JavaScript with QuickJS (the default) rather than SpiderMonkey, and Rust with \
                 `opt-level = \"s\"` and `strip = true`",
                mib(m.component_bytes)
            ),
        );
    }
    if let Some(start) = m.start_ms
        && start > SLOW_START.as_secs_f64() * 1000.0
    {
        report.push(
            Category::Performance,
            Level::Warning,
            "slow-start",
            file,
            format!(
                "starting the component took {start:.1} ms, paid before every command; move \
                 work out of start-up code"
            ),
        );
    }
    if let Some(needed) = m.start_memory_bytes {
        if needed > m.declared_memory_bytes {
            report.push(
                Category::Error,
                Level::Error,
                "memory-budget-too-small",
                MANIFEST,
                format!(
                    "the component holds {:.1} MiB at start-up but max-memory-mib allows {:.1}; \
                     it cannot start. Raise max-memory-mib to at least {}",
                    mib(needed),
                    mib(m.declared_memory_bytes),
                    suggested_mib(needed)
                ),
            );
        } else if m.declared_memory_bytes > MEMORY_FLOOR_BYTES.max(needed * MEMORY_HEADROOM) {
            report.push(
                Category::Performance,
                Level::Warning,
                "oversized-memory-budget",
                MANIFEST,
                format!(
                    "max-memory-mib allows {:.0} MiB but the component holds {:.1} MiB at \
                     start-up; a budget this loose hides leaks and lets a bug take the user's \
                     memory. Try max-memory-mib = {} and run `lord pdk test` to check",
                    mib(m.declared_memory_bytes),
                    mib(needed),
                    suggested_mib(needed)
                ),
            );
        }
    }
}

/// Four times what start-up holds, rounded up to a power of two, at least 16.
fn suggested_mib(needed: u64) -> u64 {
    let mib = (needed * 4).div_ceil(1024 * 1024);
    mib.next_power_of_two().max(16)
}

fn suggest(report: &mut ValidationReport, dir: &Path, manifest: &Manifest) {
    let unexplained: Vec<String> = manifest
        .permissions
        .iter()
        .filter(|p| manifest.reason_for(p).is_none())
        .map(|p| format!("`{p}`"))
        .collect();
    if !unexplained.is_empty() {
        report.push(
            Category::Suggestion,
            Level::Note,
            "unexplained-permission",
            MANIFEST,
            format!(
                "say why the plugin needs {} in [permissions] reasons; users see it when they \
                 install, and the docs show it",
                unexplained.join(", ")
            ),
        );
    }
    if !dir.join(crate::cases::CASES_FILE).is_file() {
        report.push(
            Category::Suggestion,
            Level::Note,
            "no-test-cases",
            MANIFEST,
            format!(
                "there is no {}; declare a few cases so `lord pdk test` and `lord plugin \
                 update` can check each build",
                crate::cases::CASES_FILE
            ),
        );
    }
    if !dir.join("README.md").is_file() {
        report.push(
            Category::Suggestion,
            Level::Note,
            "no-readme",
            MANIFEST,
            "there is no README.md; `lord pdk docs` writes reference pages, but users also \
             want to know why to install it"
                .to_owned(),
        );
    }
}
