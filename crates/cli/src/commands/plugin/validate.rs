//! `lord plugin validate PATH`: every finding about a plugin folder or
//! package without installing it; exit code 2 when it could not be
//! installed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;

use crate::render::{self, Output};

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    path: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    path: PathBuf,
    json: bool,
}

pub(crate) fn parse(args: ValidateArgs) -> Request {
    Request {
        path: args.path,
        json: args.json,
    }
}

pub(crate) async fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let report = framework.validate(&request.path).await;
    if request.json {
        out.json(&report)?;
    } else {
        out.text(&render::validation(&report, out.paints_stdout()))?;
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
