//! `lord pipe`: run a pipeline of micro-plugins over standard input, or
//! `--check` it: its problems and its effective authority, before anything
//! runs.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use lord_host::Framework;
use lord_host::lord_micro::{CallContext, ChainReport, MicroError, Pipeline};
use serde_json::Value;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct PipeArgs {
    /// The pipeline, e.g. 'trim | validate.email | lower' (see `lord micro list`).
    pipeline: Option<String>,
    /// Read the pipeline from a TOML file instead.
    #[arg(long, short = 'f', conflicts_with = "pipeline")]
    file: Option<PathBuf>,
    /// Only check the pipeline: unknown ids, schema mismatches, authority.
    #[arg(long)]
    check: bool,
    /// Parse standard input as JSON (default: it is one JSON string).
    #[arg(long)]
    json_input: bool,
    /// Print the result as JSON even when it is a string.
    #[arg(long)]
    json: bool,
    /// Routing key for A/B variants (user, session or machine).
    #[arg(long)]
    key: Option<String>,
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: PipeArgs,
    raw: bool,
) -> Result<ExitCode> {
    let pipeline = match (&args.pipeline, &args.file) {
        (Some(text), None) => Pipeline::parse(text).map_err(|e| UsageError(e.to_string()))?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read `{}`", path.display()))?;
            Pipeline::from_toml(&text)
                .map_err(|e| UsageError(format!("{}: {e}", path.display())))?
        }
        (None, None) | (Some(_), Some(_)) => bail!(UsageError(
            "give a pipeline, e.g. `lord pipe 'trim | upper'`, or --file PIPELINE.toml".into()
        )),
    };
    // Steps that succeed may still have logged or warned: shown as they
    // end, as `lord run` shows a command's (a copy of the renderer, which
    // holds only settings).
    let shown = *out;
    let manager = framework.micro_manager_reporting(std::sync::Arc::new(move |id, captured| {
        shown.micro_wrote(id.as_str(), captured)
    }))?;
    let report = manager.validate(&pipeline);
    if args.check {
        if args.json {
            out.json(&report)?;
        } else {
            out.text(&describe(&pipeline, &report))?;
        }
        return Ok(if report.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    if let Some(problem) = report.findings.first() {
        bail!(UsageError(format!(
            "the pipeline cannot run: {problem} (see `lord pipe --check`)"
        )));
    }
    if !report.authority.is_empty() && ctx.terminal.stderr {
        out.status(format_args!(
            "pipeline authority: {}",
            report.authority.join(", ")
        ));
    }
    let input = read_input(args.json_input)?;
    let call = CallContext { key: args.key };
    let output = match manager.run(&pipeline, input, &call).await {
        Ok(output) => output,
        Err(error) => {
            // What the failed step wrote comes first, as `lord run` shows
            // a failed command's: its diagnostics explain the error.
            if let MicroError::Failed { id, wrote, .. } = &error {
                out.plugin_wrote(id.as_str(), wrote)?;
            }
            return Err(PipelineFailed(error).into());
        }
    };
    if let (Value::String(text), false) = (&output, args.json) {
        // A pipeline's result is several plugins' work: only `--raw` or
        // `output.raw` (not one plugin's `output.raw-plugins`) lets it
        // reach a terminal as written.
        let raw = raw
            || framework
                .settings()
                .is_ok_and(|s| s.get("output.raw").and_then(|v| v.as_bool()) == Some(true));
        out.plugin_text(text, raw)?;
    } else {
        out.json(&output)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A pipeline that failed, with how: the exit code follows the failure's
/// kind (a micro-plugin at fault: 3; input a handler does not take: 2;
/// the host: 1).
#[derive(Debug)]
pub(crate) struct PipelineFailed(pub(crate) lord_host::lord_micro::MicroError);

impl PipelineFailed {
    pub(crate) fn exit_code(&self) -> u8 {
        if self.0.is_handler_fault() {
            3
        } else if self.0.is_user_error() {
            2
        } else {
            1
        }
    }
}

impl std::fmt::Display for PipelineFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PipelineFailed {}

fn read_input(json: bool) -> Result<Value> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("could not read standard input")?;
    if json {
        serde_json::from_str(&text)
            .map_err(|e| UsageError(format!("standard input is not JSON: {e}")).into())
    } else {
        // A trailing newline is how text arrives from a shell, not content.
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(Value::String(text))
    }
}

fn describe(pipeline: &Pipeline, report: &ChainReport) -> String {
    let mut out = format!("pipeline: {pipeline}\n");
    for (id, isolation) in &report.isolation {
        out.push_str(&format!("  {id}: isolation {isolation}\n"));
    }
    if report.authority.is_empty() {
        out.push_str("authority: none (pure computation)\n");
    } else {
        out.push_str(&format!("authority: {}\n", report.authority.join(", ")));
    }
    for finding in &report.findings {
        out.push_str(&format!("error: {finding}\n"));
    }
    if report.is_ok() {
        out.push_str("ok\n");
    }
    out
}
