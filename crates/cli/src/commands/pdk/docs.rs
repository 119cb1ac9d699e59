//! `lord pdk docs [DIR]`: reference docs (Markdown or a static HTML site)
//! from the manifest, the example cases, the component's imports and the
//! WIT.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::docs::{self, Format};
use lord_host::Framework;
use serde_json::json;

use super::{devkit, plugin_facts};
use crate::cli::UsageError;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct DocsArgs {
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// markdown or html.
    #[arg(long, default_value = "markdown")]
    format: String,
    /// The output folder (default: DIR/docs).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    dir: PathBuf,
    format: Format,
    out: PathBuf,
    json: bool,
}

pub(crate) fn parse(cwd: &Path, args: DocsArgs) -> Result<Request, UsageError> {
    let dir = cwd.join(args.dir);
    Ok(Request {
        format: args.format.parse().map_err(UsageError)?,
        out: args.out.map_or_else(|| dir.join("docs"), |o| cwd.join(o)),
        dir,
        json: args.json,
    })
}

pub(crate) fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let facts = plugin_facts(framework, &request.dir)?;
    let files = docs::render(
        &facts.manifest,
        &facts.cases,
        &facts.imports,
        request.format,
    )
    .map_err(devkit)?;
    let written = docs::write(&request.out, &files).map_err(devkit)?;
    if request.json {
        out.json_line(&json!({ "files": written }))?;
    } else {
        for path in written {
            out.status(format_args!("wrote {}", path.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
