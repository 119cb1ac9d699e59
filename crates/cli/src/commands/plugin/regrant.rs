//! `lord plugin regrant ID`: record again the file each of a plugin's
//! `exec(PROGRAM)` grants runs. The file is fixed when the program is
//! granted and never searched for again, so when it moves (or was granted
//! by a lord that did not record it) the plugin's runs are refused until
//! the user looks at the new file and grants it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use lord_manifest::PluginId;

use super::parse_id;
use crate::cli::UsageError;
use crate::consent::{Consent, Subject};
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct RegrantArgs {
    id: String,
    /// Grant the programs as they resolve now without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    id: PluginId,
    yes: bool,
}

pub(crate) fn parse(args: RegrantArgs) -> Result<Request, UsageError> {
    Ok(Request {
        id: parse_id(&args.id)?,
        yes: args.yes,
    })
}

pub(crate) fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: Request,
) -> Result<ExitCode> {
    let id = &request.id;
    let programs = framework.programs_now(id)?;
    if programs.is_empty() {
        out.status(format_args!("{id} is granted no program; nothing to do"));
        return Ok(ExitCode::SUCCESS);
    }
    let consent = Consent::new(ctx, out, request.yes);
    consent.show_regrant(&programs);
    consent.obtain(Subject::Regrant(id))?;
    framework.regrant_programs(id)?;
    out.status(format_args!("recorded {id}'s programs as shown"));
    Ok(ExitCode::SUCCESS)
}
