//! `lord registry workflow set FILE`: the registry operator sets the
//! approval workflow of a plugin (or `*`, for every plugin without one of
//! its own) in the registry's database, replacing the one it had: its
//! steps in order, each with its reviewers, quorum and criteria, and how
//! long a request may stay undecided. Requests already submitted keep
//! the workflow they were submitted under.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;

use super::registry_database::DatabaseArgs;
use crate::context::Context;
use crate::render::{Output, foreign};
use lord_host::Framework;

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// Set a workflow from its JSON: `{"plugin": "*", "timeout_secs":
    /// 86400, "steps": [{"name": "security", "quorum": 2, "reviewers":
    /// ["sam"], "criteria": {"scan_below": "error", "signed": true,
    /// "no_advisories": true}}, ...]}`.
    Set {
        /// The workflow's JSON file.
        file: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub(crate) fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: WorkflowCommand,
) -> Result<()> {
    match command {
        WorkflowCommand::Set {
            file,
            data,
            database,
        } => {
            let path = ctx.cwd.join(&file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the workflow {}", path.display()))?;
            let registry = super::registry::open_operator(ctx, out, framework, data, &database)?;
            let (plugin, replaced) = lord_registry::set_workflow(&registry.db, &text)
                .map_err(|e| crate::cli::UsageError(format!("{}: {e}", path.display())))?;
            out.status(format_args!(
                "{} the approval workflow of {}; new requests follow it",
                if replaced { "replaced" } else { "set" },
                if plugin == "*" {
                    "every plugin without its own".to_owned()
                } else {
                    foreign(&plugin).to_string()
                }
            ));
        }
    }
    Ok(())
}
