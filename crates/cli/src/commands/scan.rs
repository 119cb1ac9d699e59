//! `lord scan TARGET...`: a security scan of package files, plugin folders
//! or installed plugins (by id), by reading them (`lord-scan`), with the
//! advisories the configured registry serves for each, under the licence
//! policy of `scan.*` in the configuration. Text, `--json` or SARIF 2.1.0
//! (`--sarif`), to standard output or atomically to a file. Exit codes for
//! CI: 0 when nothing reaches `--fail-on` (default `scan.fail-on`, else
//! `error`), 1 when something does, 2 when a target could not be scanned.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use lord_host::Framework;
use lord_scan::{Loaded, Policy, Report, Severity};

use crate::context::Context;
use crate::render::{Output, foreign};

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Package files (.lordpkg), plugin folders, or installed plugins' ids.
    #[arg(required = true, value_name = "PLUGIN|PACKAGE")]
    targets: Vec<String>,
    #[arg(long, value_enum, conflicts_with_all = ["json", "sarif"])]
    format: Option<Format>,
    /// The same as `--format json`.
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// The same as `--format sarif` (SARIF 2.1.0).
    #[arg(long)]
    sarif: bool,
    /// Write the report to this file (replaced whole) instead of standard
    /// output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a finding is this severe or worse: note, warning,
    /// error or critical (default: `scan.fail-on`, which is `error`).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// The registry whose advisories to check (default: `registry.url`).
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// Check no advisories: scan without the network.
    #[arg(long, conflicts_with = "registry")]
    offline: bool,
}

/// A target that could not be scanned (exit code 2).
#[derive(Debug)]
pub(crate) struct CouldNotScan(pub(crate) String);

impl std::fmt::Display for CouldNotScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CouldNotScan {}

fn could_not(e: impl std::fmt::Display) -> anyhow::Error {
    CouldNotScan(e.to_string()).into()
}

/// Reads a target: a path that exists, else an installed plugin's id.
fn load(ctx: &Context, framework: &Framework, target: &str) -> Result<Loaded> {
    let path = ctx.cwd.join(target);
    if path.exists() {
        return lord_scan::load::load(&path).map_err(could_not);
    }
    let id: lord_manifest::PluginId = target.parse().map_err(|_| {
        could_not(format!(
            "`{target}` is neither a file, a folder nor an installed plugin's id"
        ))
    })?;
    let installed = framework.get(&id).map_err(|e| {
        could_not(format!(
            "`{target}` is neither a file, a folder nor an installed plugin ({e})"
        ))
    })?;
    lord_scan::load::folder(&installed.dir).map_err(could_not)
}

/// The licence lists and the failing severity from the configuration.
fn policy(framework: &Framework) -> Result<(Policy, Severity)> {
    let settings = framework.settings()?;
    let list = |key: &str| -> Vec<String> {
        settings
            .get(key)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let fail_on = settings
        .get("scan.fail-on")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(Severity::Error);
    Ok((
        Policy {
            licence_allow: list("scan.licence-allow"),
            licence_deny: list("scan.licence-deny"),
            ..Policy::default()
        },
        fail_on,
    ))
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: ScanArgs,
) -> Result<ExitCode> {
    let (policy, configured) = policy(framework)?;
    let fail_on = args.fail_on.unwrap_or(configured);
    let loaded = args
        .targets
        .iter()
        .map(|target| load(ctx, framework, target))
        .collect::<Result<Vec<_>>>()?;
    let client = if args.offline {
        None
    } else if args.registry.is_none() && framework.settings()?.get("registry.url").is_none() {
        out.note("no registry is configured, so no advisories were checked (pass --registry URL, or --offline to say so)");
        None
    } else {
        Some(super::registry_client(framework, args.registry.clone())?)
    };
    let mut reports = Vec::new();
    for plugin in &loaded {
        let advisories = match &client {
            Some(client) => client
                .advisories(plugin.manifest.plugin.id.as_str())
                .await
                .map_err(|e| could_not(format!("could not read the registry's advisories: {e}; pass --offline to scan without them")))?,
            None => Vec::new(),
        };
        reports.push(lord_scan::scan(plugin.subject(), &advisories, &policy));
    }
    let format = match (args.format, args.json, args.sarif) {
        (Some(format), _, _) => format,
        (None, true, _) => Format::Json,
        (None, false, true) => Format::Sarif,
        (None, false, false) => Format::Text,
    };
    let failed = reports.iter().any(|r| r.at_least(fail_on).next().is_some());
    let text = match format {
        Format::Text => text(&reports, fail_on),
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "reports": reports,
                "fail_on": fail_on,
                "failed": failed,
            }))? + "\n"
        }
        Format::Sarif => serde_json::to_string_pretty(&lord_scan::sarif::log(&reports))? + "\n",
    };
    match &args.output {
        Some(path) => {
            let path = ctx.cwd.join(path);
            lord_file::write_atomic(&path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("could not write {}: {e}", path.display()))?;
            out.status(format_args!("wrote the report to {}", path.display()));
        }
        None if format == Format::Text => out.text(&text)?,
        None => out.text(&lord_terminal::escape_json(&text))?,
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The reports for people: a line per plugin, then each finding (what
/// came from the component or the manifest shown escaped).
fn text(reports: &[Report], fail_on: Severity) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for report in reports {
        let at_or_above = report.at_least(fail_on).count();
        let _ = writeln!(
            text,
            "{} {}: {} finding(s), {at_or_above} at {fail_on} or worse ({}, {} bytes)",
            report.plugin,
            report.version,
            report.findings.len(),
            foreign(&report.component),
            report.component_bytes
        );
        for finding in &report.findings {
            let _ = writeln!(
                text,
                "  {:<8} {} at {}\n           {}",
                finding.severity,
                finding.rule,
                foreign(&finding.location.to_string()),
                foreign(&finding.message)
            );
        }
    }
    text
}
