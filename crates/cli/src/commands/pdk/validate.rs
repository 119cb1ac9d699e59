//! `lord pdk validate [TARGET]`: every finding about a plugin folder or
//! package, as text, JSON or SARIF (for CI code scanning), to standard
//! output or a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::report;
use lord_host::Framework;

use super::write_atomic;
use crate::cli::UsageError;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// A plugin folder or a .lordpkg file.
    #[arg(default_value = ".")]
    target: PathBuf,
    /// text, json or sarif (SARIF 2.1.0, for CI code scanning).
    #[arg(long, default_value = "text")]
    format: String,
    /// Write the report here instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug)]
pub(crate) struct Request {
    target: PathBuf,
    format: Format,
    /// A file to write, else standard output.
    output: Option<PathBuf>,
}

pub(crate) fn parse(cwd: &Path, args: ValidateArgs) -> Result<Request, UsageError> {
    let format = match args.format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        "sarif" => Format::Sarif,
        other => {
            return Err(UsageError(format!(
                "`{other}` is not a report format; use text, json or sarif"
            )));
        }
    };
    Ok(Request {
        target: cwd.join(args.target),
        format,
        output: args.output.map(|o| cwd.join(o)),
    })
}

pub(crate) async fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let target = &request.target;
    let validation = framework.validate(target).await;
    let text = match request.format {
        Format::Text => report::to_text(&validation),
        Format::Json => serde_json::to_string_pretty(&report::to_json(&validation))? + "\n",
        Format::Sarif => {
            // SARIF names files relative to the plugin's folder.
            let dir = if target.is_file() {
                target.parent().map(PathBuf::from).unwrap_or_default()
            } else {
                target.clone()
            };
            serde_json::to_string_pretty(&report::to_sarif(&validation, &dir))? + "\n"
        }
    };
    match &request.output {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None => out.text(&text)?,
    }
    Ok(if validation.is_ok() {
        ExitCode::SUCCESS
    } else {
        // As `lord plugin validate`: the input cannot be installed.
        ExitCode::from(2)
    })
}
