//! `lord analytics report`: local usage analytics (executions, errors by
//! kind, latency, command sequences, plugins used together), the latency
//! predictor with its held-out error, anomalies and ecosystem health, as a
//! table, JSON or one self-contained HTML page.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use lord_host::Framework;
use lord_host::lord_analytics::html;

use crate::cli::UsageError;
use crate::render::{self, Output};

#[derive(Debug, Subcommand)]
pub(crate) enum AnalyticsCommand {
    /// What the usage log on this machine says: per plugin calls, errors
    /// by kind and p50/p95, command sequences, plugins used together, the
    /// latency predictor, anomalies and ecosystem health.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Only calls this recent (`30m`, `1d`, `7d`); default: all that is
    /// kept (90 days).
    #[arg(long, value_name = "DUR")]
    since: Option<String>,
    #[arg(long)]
    json: bool,
    /// Also write the report as one self-contained HTML page with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Debug)]
pub(crate) struct ReportRequest {
    since: Option<Duration>,
    json: bool,
    html: Option<PathBuf>,
}

pub(crate) fn parse(args: ReportArgs) -> Result<ReportRequest, UsageError> {
    let since = args
        .since
        .map(|text| crate::commands::monitor::parse_span(&text).map_err(UsageError))
        .transpose()?;
    Ok(ReportRequest {
        since,
        json: args.json,
        html: args.html,
    })
}

pub(crate) fn run(
    out: &Output,
    framework: &mut Framework,
    command: AnalyticsCommand,
) -> Result<ExitCode> {
    match command {
        AnalyticsCommand::Report(args) => report(out, framework, parse(args)?),
    }
}

fn report(out: &Output, framework: &mut Framework, request: ReportRequest) -> Result<ExitCode> {
    if !framework.analytics_enabled() {
        // Off means nothing is recorded and what was is gone: say so
        // rather than print an empty report.
        let deleted = framework.apply_analytics()?;
        let deleted = if deleted > 0 {
            format!(" and {deleted} recorded calls were deleted")
        } else {
            String::new()
        };
        return Err(UsageError(format!(
            "usage analytics is off (`analytics.enabled = false`), so nothing is recorded{deleted}; \
             turn it on with `lord config set analytics.enabled true`"
        ))
        .into());
    }
    let report = framework.analytics_report(request.since)?;
    if let Some(path) = &request.html {
        let page = html::render(&report)?;
        lord_file::write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    if request.json {
        out.json(&report)?;
    } else {
        out.text(&render::analytics_report(&report))?;
        if let Some(path) = &request.html {
            out.note(format_args!("wrote {}", path.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
