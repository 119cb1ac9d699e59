//! `lord plugin enable|disable|remove ID`: move a plugin through its
//! lifecycle. Enabling and disabling run its hooks; removing runs none of
//! its code.

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
}

pub(crate) fn parse(change: Change, args: IdArgs) -> Result<Request, UsageError> {
    Ok(Request {
        change,
        id: parse_id(&args.id)?,
    })
}

pub(crate) async fn run(
    out: &Output,
    framework: &mut Framework,
    request: Request,
) -> Result<ExitCode> {
    let id = &request.id;
    let done = match request.change {
        Change::Enable => {
            framework.enable(id).await?;
            "enabled"
        }
        Change::Disable => {
            framework.disable(id).await?;
            "disabled"
        }
        Change::Remove => {
            framework.unregister(id)?;
            "removed"
        }
    };
    out.status(format_args!("{done} {id}"));
    Ok(ExitCode::SUCCESS)
}
