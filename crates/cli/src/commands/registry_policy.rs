//! `lord registry policy set FILE`: the registry operator sets the Cedar
//! policies the registry serves to its users' lord (`lord policy sync`),
//! checked against lord's policy schema and signed into the registry's
//! index; an empty file withdraws them.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::json;

use super::registry_database::DatabaseArgs;
use crate::context::Context;
use crate::render::Output;
use lord_host::Framework;

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryPolicyCommand {
    /// Serve FILE (Cedar, checked against `lord policy schema`) as the
    /// registry's policies, signed into its index, replacing the ones it
    /// served; an empty file withdraws them.
    Set {
        file: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: RegistryPolicyCommand,
) -> Result<()> {
    match command {
        RegistryPolicyCommand::Set {
            file,
            data,
            database,
            json,
        } => {
            let path = ctx.cwd.join(&file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the policies {}", path.display()))?;
            let registry = super::registry::open_operator(ctx, out, framework, data, &database)?;
            let signed = registry
                .set_policies(&text)
                .await
                .map_err(|e| crate::cli::UsageError(format!("{}: {e}", path.display())))?;
            if json {
                out.json(&json!({
                    "policies": signed.policies,
                    "digest": signed.digest,
                    "length": signed.length,
                }))?;
            } else {
                out.status(format_args!(
                    "the registry now serves {} polic{} (sha256 {}), signed into its index; \
                     users apply them with `lord policy sync`",
                    signed.policies,
                    if signed.policies == 1 { "y" } else { "ies" },
                    signed.digest
                ));
            }
        }
    }
    Ok(())
}
