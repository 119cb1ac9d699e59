//! `lord cache clear`: forget every answer the result cache keeps for
//! commands and micro handlers declared `pure`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_host::Framework;

use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Forget every cached answer (in memory and under $LORD_HOME/cache).
    Clear {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(out: &Output, framework: &Framework, command: CacheCommand) -> Result<ExitCode> {
    match command {
        CacheCommand::Clear { json } => {
            let cleared = framework.clear_results()?;
            if json {
                out.json(&serde_json::json!({ "cleared": cleared }))?;
            } else {
                out.line(format!("forgot {cleared} cached answers"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
