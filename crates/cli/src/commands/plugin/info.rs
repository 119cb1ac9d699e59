//! `lord plugin info ID`: one plugin (or first-party provider) in full,
//! with its recent audit history and whether lord ever neutralised its
//! output on a terminal.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use lord_manifest::PluginId;

use super::parse_id;
use crate::cli::UsageError;
use crate::render::{self, Output};

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    id: PluginId,
    json: bool,
}

pub(crate) fn parse(args: InfoArgs) -> Result<Request, UsageError> {
    Ok(Request {
        id: parse_id(&args.id)?,
        json: args.json,
    })
}

pub(crate) fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let id = &request.id;
    if let Some(native) = framework.native(id)? {
        let history = framework.audit_log(id)?;
        if request.json {
            let mut value = render::native_json(&native);
            value["history"] = serde_json::to_value(history)?;
            out.json(&value)?;
        } else {
            out.text(&render::native_info(&native))?;
            out.text(&render::history(&history))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plugin = framework.get(id)?;
    let history = framework.audit_log(id)?;
    let project = framework.project_of(&plugin);
    let neutralised = render::last_neutralised(&history);
    if request.json {
        let mut value = render::plugin_json(&plugin);
        if let Some(folder) = project {
            value["project"] = serde_json::to_value(folder)?;
        }
        value["output_neutralised"] = neutralised.is_some().into();
        value["history"] = serde_json::to_value(&history)?;
        out.json(&value)?;
    } else {
        out.text(&render::plugin_info(&plugin, project, neutralised))?;
        out.text(&render::history(&history))?;
    }
    Ok(ExitCode::SUCCESS)
}
