//! `lord-scan`: security scanning of a plugin, by reading it, never by
//! running it.
//!
//! [`scan`] judges a [`Subject`] (a validated manifest and its component's
//! bytes) under a [`Policy`] and a list of OSV advisories, and returns a
//! [`Report`] of [`Finding`]s, each under a [`Rule`] with a [`Severity`]
//! and a [`Location`]:
//!
//! - imports against the permissions the manifest requests, from the same
//!   table the host's contract check reads (`permissions.rs`), and exports
//!   against the plugin worlds;
//! - URLs and secrets in the component's data segments, secrets redacted
//!   (`strings.rs`);
//! - memories with no maximum or over the manifest's budget, and an
//!   oversized component;
//! - advisories affecting the version (`lord_registry_api::Advisory`);
//! - the licence as an SPDX expression against allow and deny lists
//!   (`licence.rs`).
//!
//! [`sarif::log`] writes reports as SARIF 2.1.0. [`load`] reads a package
//! file or a plugin folder into a [`Subject`] (the crate's only I/O).
//!
//! Invariant: nothing here runs or compiles plugin code, and no finding's
//! message holds a secret whole.

mod component;
mod finding;
mod licence;
pub mod load;
mod permissions;
pub mod sarif;
mod strings;

pub use finding::{Finding, Location, Report, Rule, Severity};
pub use load::{Loaded, ScanError};

use lord_manifest::Manifest;
use lord_registry_api::Advisory;

/// What a scan judges: a plugin's manifest and its component.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub manifest: &'a Manifest,
    pub component: &'a [u8],
}

/// What a scan is told to allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Licence ids every licence must be among (empty: any not denied).
    pub licence_allow: Vec<String>,
    /// Licence ids no licence may need.
    pub licence_deny: Vec<String>,
    /// A component over this many bytes is reported.
    pub max_component_bytes: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            licence_allow: Vec::new(),
            licence_deny: Vec::new(),
            // Far above what lord's own plugins weigh (tens to hundreds of
            // KiB), below what a componentized Python runtime does (18 MB).
            max_component_bytes: 32 << 20,
        }
    }
}

/// Scans `subject` under `policy`, with the advisories that may affect it.
pub fn scan(subject: Subject<'_>, advisories: &[Advisory], policy: &Policy) -> Report {
    let manifest = subject.manifest;
    let path = manifest.plugin.component.clone();
    let mut findings = Vec::new();
    match component::read(subject.component) {
        Ok(anatomy) => {
            permissions::imports(manifest, &anatomy.imports, &mut findings);
            permissions::exports(&anatomy.exports, &mut findings);
            memories(manifest, &anatomy.memories, &path, &mut findings);
            strings::scan(subject.component, &anatomy.data, &path, &mut findings);
        }
        Err(reason) => findings.push(Finding {
            rule: Rule::UnreadableComponent,
            severity: Severity::Critical,
            message: format!("the component cannot be read: {reason}"),
            location: Location::File {
                path: path.clone(),
                offset: None,
                length: None,
            },
        }),
    }
    let size = subject.component.len() as u64;
    if size > policy.max_component_bytes {
        findings.push(Finding {
            rule: Rule::OversizedComponent,
            severity: Severity::Warning,
            message: format!(
                "the component is {size} bytes, over the {} the scan policy allows; every \
                 install downloads and compiles it",
                policy.max_component_bytes
            ),
            location: Location::File {
                path: path.clone(),
                offset: None,
                length: Some(size),
            },
        });
    }
    known_vulnerabilities(manifest, advisories, &mut findings);
    licence::check(
        manifest,
        &policy.licence_allow,
        &policy.licence_deny,
        &mut findings,
    );
    let mut report = Report {
        plugin: manifest.plugin.id.to_string(),
        version: manifest.plugin.version.to_string(),
        component: path,
        component_bytes: size,
        findings,
    };
    report.sort();
    report
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// Memories against `max-memory-mib`: the host enforces the budget
/// whatever the component declares, so no maximum is a note, a maximum
/// over it a warning (growth will fail there), and a start over it an
/// error (no instance can be made).
fn memories(
    manifest: &Manifest,
    memories: &[component::Memory],
    path: &str,
    out: &mut Vec<Finding>,
) {
    let budget = manifest.limits.max_memory_bytes();
    for memory in memories {
        let at = Location::File {
            path: path.to_owned(),
            offset: Some(memory.offset as u64),
            length: None,
        };
        let (rule, severity, message) = if memory.initial_bytes > budget {
            (
                Rule::MemoryOverBudget,
                Severity::Error,
                format!(
                    "a memory starts at {}, over `max-memory-mib` ({}): the plugin cannot \
                     start; raise the limit or shrink the memory",
                    mib(memory.initial_bytes),
                    mib(budget)
                ),
            )
        } else if let Some(maximum) = memory.maximum_bytes {
            if maximum <= budget {
                continue;
            }
            (
                Rule::MemoryOverBudget,
                Severity::Warning,
                format!(
                    "a memory may grow to {}, over `max-memory-mib` ({}): growth past the \
                     limit fails at run time",
                    mib(maximum),
                    mib(budget)
                ),
            )
        } else {
            (
                Rule::MemoryUnbounded,
                Severity::Note,
                format!(
                    "a memory declares no maximum; the host holds it to `max-memory-mib` ({})",
                    mib(budget)
                ),
            )
        };
        out.push(Finding {
            rule,
            severity,
            message,
            location: at,
        });
    }
}

/// The severity an advisory's own words map to; `error` when it says
/// none.
fn advisory_severity(advisory: &Advisory) -> Severity {
    match advisory
        .stated_severity()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("CRITICAL") => Severity::Critical,
        Some("MODERATE" | "MEDIUM") => Severity::Warning,
        Some("LOW") => Severity::Note,
        Some(_) | None => Severity::Error,
    }
}

fn known_vulnerabilities(manifest: &Manifest, advisories: &[Advisory], out: &mut Vec<Finding>) {
    let id = manifest.plugin.id.as_str();
    let version = &manifest.plugin.version;
    for advisory in advisories.iter().filter(|a| a.affects(id, version)) {
        let summary = advisory.summary.as_deref().unwrap_or("no summary given");
        let fixed: Vec<&str> = advisory
            .affected
            .iter()
            .flat_map(|a| &a.ranges)
            .flat_map(|r| &r.events)
            .filter_map(|e| e.fixed.as_deref())
            .collect();
        let way_out = if fixed.is_empty() {
            "no fixed version is known".to_owned()
        } else {
            format!("fixed in {}", fixed.join(", "))
        };
        out.push(Finding {
            rule: Rule::KnownVulnerability,
            severity: advisory_severity(advisory),
            message: format!(
                "{id} {version} is affected by {}: {summary} ({way_out})",
                advisory.id
            ),
            location: Location::Advisory {
                id: advisory.id.clone(),
            },
        });
    }
}
