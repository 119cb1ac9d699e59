//! `lord pdk new NAME`: make a plugin project (Rust, TypeScript or
//! JavaScript; a command, an event handler or a micro-plugin) that builds
//! and passes its tests unedited.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::template::NewProject;
use serde_json::json;

use super::devkit;
use crate::cli::UsageError;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The plugin id, also its folder and (for commands) its command.
    name: String,
    /// command, event-handler, or a micro-plugin kind: transformer,
    /// validator, formatter, hook, command-enhancer, utility.
    #[arg(long = "type", default_value = "command")]
    kind: String,
    /// rust, typescript or javascript.
    #[arg(long, default_value = "rust")]
    lang: String,
    /// Where to make it (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Do not mark a case as a documented example.
    #[arg(long)]
    no_examples: bool,
    /// Do not write tests/cases.toml.
    #[arg(long)]
    no_tests: bool,
    /// Do not write README.md.
    #[arg(long)]
    no_docs: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    name: String,
    project: NewProject,
    dir: PathBuf,
    json: bool,
}

pub(crate) fn parse(cwd: &Path, args: NewArgs) -> Result<Request, UsageError> {
    let name = args.name;
    let id: lord_manifest::PluginId = name
        .parse()
        .map_err(|e| UsageError(format!("`{name}` cannot be a plugin id: {e}")))?;
    let project = NewProject {
        kind: args.kind.parse().map_err(UsageError)?,
        lang: args.lang.parse().map_err(UsageError)?,
        id,
        examples: !args.no_examples,
        tests: !args.no_tests,
        docs: !args.no_docs,
    };
    let dir = cwd.join(args.dir.unwrap_or_else(|| PathBuf::from(&name)));
    Ok(Request {
        name,
        project,
        dir,
        json: args.json,
    })
}

pub(crate) fn run(out: &Output, request: Request) -> Result<ExitCode> {
    let Request {
        name,
        project,
        dir,
        json,
    } = request;
    project.create(&dir).map_err(devkit)?;
    if json {
        out.line(
            json!({"dir": dir, "id": name, "type": project.kind.as_str(), "lang": project.lang.as_str()}),
        )?;
    } else {
        out.status(format_args!(
            "made {} ({} {}) in {}",
            name,
            project.lang,
            project.kind,
            dir.display()
        ));
        out.status(format_args!(
            "next: cd {} && lord pdk build && lord pdk test",
            dir.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
