//! `lord registry advisory add FILE`: the registry operator adds a
//! security advisory (an OSV JSON document naming plugins of the `lord`
//! ecosystem) to the registry's database, or replaces the one of the same
//! id. `lord scan` reads advisories from the registry, and every publish
//! is scanned against them.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;

use super::registry_database::DatabaseArgs;
use crate::context::Context;
use crate::render::Output;
use lord_host::Framework;

#[derive(Debug, Subcommand)]
pub(crate) enum AdvisoryCommand {
    /// Add an OSV advisory (JSON) naming plugins as
    /// `{"ecosystem": "lord", "name": "ID"}`; one with the same id is
    /// replaced.
    Add {
        /// The advisory's OSV JSON file.
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
    command: AdvisoryCommand,
) -> Result<()> {
    match command {
        AdvisoryCommand::Add {
            file,
            data,
            database,
        } => {
            let path = ctx.cwd.join(&file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the advisory {}", path.display()))?;
            let registry = super::registry::open_operator(ctx, out, framework, data, &database)?;
            let (id, replaced) = lord_registry::add_advisory(&registry.db, &text)
                .map_err(|e| crate::cli::UsageError(format!("{}: {e}", path.display())))?;
            out.status(format_args!(
                "{} advisory {id}; `lord scan` and every publish now check it",
                if replaced { "replaced" } else { "added" }
            ));
        }
    }
    Ok(())
}
