//! Runs a plugin command: its arguments from the matches, one framework
//! call, and what the plugin wrote, through the renderer.

use std::process::ExitCode;

use anyhow::Result;
use clap::ArgMatches;
use lord_host::{CommandRecord, Framework};

use crate::cli::plugin_args;
use crate::render::Output;

pub(crate) async fn run(
    out: &Output,
    framework: &mut Framework,
    record: &CommandRecord,
    matches: &ArgMatches,
) -> Result<ExitCode> {
    let outcome = framework
        .run_command(&record.name, plugin_args(record, matches))
        .await?;
    out.plugin_outcome(&outcome)?;
    Ok(ExitCode::SUCCESS)
}
