//! `lord plugin perf [ID]`: what each plugin's calls cost, where their time
//! went and what to change; `lord plugin top`: the same per plugin,
//! refreshed on a terminal, once when piped.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use lord_manifest::PluginId;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{self, Output};

#[derive(Debug, Args)]
pub(crate) struct PerfArgs {
    /// Only this plugin.
    id: Option<String>,
    #[arg(long)]
    json: bool,
    /// Forget the figures (of ID, or of every plugin) instead.
    #[arg(long)]
    clear: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// Milliseconds between refreshes.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Show one screen and stop (what a pipe always gets).
    #[arg(long)]
    once: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct PerfRequest {
    plugin: Option<PluginId>,
    json: bool,
    clear: bool,
}

#[derive(Debug)]
pub(crate) struct TopRequest {
    interval: Duration,
    once: bool,
    json: bool,
}

pub(crate) fn parse_perf(args: PerfArgs) -> Result<PerfRequest, UsageError> {
    let plugin = args
        .id
        .map(|id| PluginId::new(id).map_err(|e| UsageError(e.to_string())))
        .transpose()?;
    Ok(PerfRequest {
        plugin,
        json: args.json,
        clear: args.clear,
    })
}

pub(crate) fn parse_top(args: TopArgs) -> Result<TopRequest, UsageError> {
    if args.interval_ms < 100 {
        return Err(UsageError(
            "--interval-ms must be at least 100 (each refresh reads the figures database)"
                .to_owned(),
        ));
    }
    Ok(TopRequest {
        interval: Duration::from_millis(args.interval_ms),
        once: args.once,
        json: args.json,
    })
}

pub(crate) fn perf(out: &Output, framework: &Framework, request: PerfRequest) -> Result<ExitCode> {
    if request.clear {
        let cleared = framework.clear_perf(request.plugin.as_ref())?;
        if request.json {
            out.json(&serde_json::json!({ "cleared": cleared }))?;
        } else {
            out.line(format!("forgot the figures of {cleared} entry points"))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = framework.perf_report(request.plugin.as_ref())?;
    if request.json {
        out.json(&report)?;
    } else {
        out.text(&render::perf_report(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn top(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    request: TopRequest,
) -> Result<ExitCode> {
    // Refreshing is for a person watching; a script or a pipe gets one
    // screen (or one JSON document) and the command ends.
    let live = ctx.terminal.stdout && !request.once && !request.json;
    loop {
        let plugins = framework.plugin_summaries()?;
        if request.json {
            out.json(&plugins)?;
        } else {
            out.screen(&render::top_screen(&plugins))?;
        }
        if !live {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(request.interval).await;
    }
}
