//! `lord plugin enable|disable|remove ID`: move a plugin through its
//! lifecycle. Enabling and disabling run its hooks; removing runs none of
//! its code. Disabling or removing a plugin others depend on is refused,
//! naming them, unless `--force`, which disables them too.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use lord_manifest::PluginId;

use super::parse_id;
use crate::cli::UsageError;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ForceArgs {
    id: String,
    /// Disable the plugins that depend on this one too (all at once),
    /// instead of refusing.
    #[arg(long)]
    force: bool,
}

/// Which way the plugin moves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    Enable,
    Disable,
    Remove,
}

#[derive(Debug)]
pub(crate) struct Request {
    change: Change,
    id: PluginId,
    force: bool,
}

pub(crate) fn parse(change: Change, args: IdArgs) -> Result<Request, UsageError> {
    Ok(Request {
        change,
        id: parse_id(&args.id)?,
        force: false,
    })
}

pub(crate) fn parse_forced(change: Change, args: ForceArgs) -> Result<Request, UsageError> {
    Ok(Request {
        change,
        id: parse_id(&args.id)?,
        force: args.force,
    })
}

pub(crate) async fn run(
    out: &Output,
    framework: &mut Framework,
    request: Request,
) -> Result<ExitCode> {
    let id = &request.id;
    let (done, also) = match (request.change, request.force) {
        (Change::Enable, _) => {
            framework.enable(id).await?;
            ("enabled", Vec::new())
        }
        (Change::Disable, false) => {
            framework.disable(id).await?;
            ("disabled", Vec::new())
        }
        (Change::Disable, true) => ("disabled", framework.disable_forced(id).await?),
        (Change::Remove, false) => {
            framework.unregister(id)?;
            ("removed", Vec::new())
        }
        (Change::Remove, true) => ("removed", framework.unregister_forced(id)?),
    };
    out.status(format_args!("{done} {id}"));
    if !also.is_empty() {
        let names: Vec<String> = also.iter().map(|p| format!("`{p}`")).collect();
        let verb = if also.len() == 1 { "depends" } else { "depend" };
        out.status(format_args!(
            "also disabled {}, which {verb} on {id}",
            names.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}
