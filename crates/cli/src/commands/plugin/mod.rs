//! `lord plugin ...`: install, inspect, update, enable, disable and remove
//! plugins. This file holds the subcommands and sends each, parsed, to its
//! file; each file parses its arguments into a plain request, calls one
//! framework operation and renders the result.

mod info;
mod install;
mod lifecycle;
mod list;
mod perf;
mod recommend;
mod regrant;
mod review;
mod search;
mod update;
mod validate;

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_host::Framework;
use lord_manifest::PluginId;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

pub(crate) use install::{
    earn_receipts, install_steps, progress as plan_progress, receipt_subjects,
};
pub(crate) use review::token as account_token;

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Install a plugin: ID[@RANGE] from the registry (with its
    /// dependencies), a package file (`.lordpkg`, verified against its
    /// `.sig`), or a folder holding plugin.toml and its component.
    Install(install::InstallArgs),
    /// Show installed plugins that the registry has newer versions of.
    Outdated(update::OutdatedArgs),
    /// Update one plugin (or every one) from the registry: shows what new
    /// permissions it asks for (and asks again), runs its declared test
    /// cases on the new build, and switches back if one fails.
    Update(update::UpdateArgs),
    /// Return a plugin to its previous build at once (again to undo).
    Rollback(update::RollbackArgs),
    /// Delete the earlier builds kept for rollback (of one plugin, or all).
    Prune(update::PruneArgs),
    /// Record again the file each of a plugin's `exec(PROGRAM)` grants
    /// runs, as it resolves on your PATH now (shown, then asked).
    Regrant(regrant::RegrantArgs),
    /// Search the registry (`registry.url`, or --registry).
    Search(search::SearchArgs),
    /// List installed plugins.
    List(list::ListArgs),
    /// Show one plugin: version, state, grants, risk, limits, last error.
    Info(info::InfoArgs),
    /// Enable a plugin (runs its on-enable hook).
    Enable(lifecycle::IdArgs),
    /// Disable a plugin (runs its on-disable hook). Refused while other
    /// plugins depend on it, unless --force.
    Disable(lifecycle::ForceArgs),
    /// Remove a plugin. Runs no plugin code. Refused while other plugins
    /// depend on it, unless --force.
    Remove(lifecycle::ForceArgs),
    /// Check a plugin folder without installing it.
    Validate(validate::ValidateArgs),
    /// Rate the installed version of a plugin on the registry (1 to 5), as
    /// the account whose token is in LORD_REGISTRY_TOKEN.
    Rate(review::RateArgs),
    /// Review the installed version of a plugin on the registry, as the
    /// account whose token is in LORD_REGISTRY_TOKEN.
    Review(review::ReviewArgs),
    /// Plugins the registry suggests for what is installed here.
    Recommend(recommend::RecommendArgs),
    /// What each plugin's calls cost (p50/p95/p99/max, guest and host time
    /// by interface, memory, output, failures, cache hits) and the
    /// bottlenecks found, with what to change.
    Perf(perf::PerfArgs),
    /// Plugins by the time their calls take, refreshed on a terminal (one
    /// screen when piped).
    Top(perf::TopArgs),
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    command: PluginCommand,
) -> Result<ExitCode> {
    use lifecycle::Change;
    match command {
        PluginCommand::Install(args) => {
            install::run(ctx, out, framework, install::parse(ctx, args)).await
        }
        PluginCommand::Outdated(args) => {
            update::outdated(ctx, out, framework, update::parse_outdated(args)).await
        }
        PluginCommand::Update(args) => {
            update::update(ctx, out, framework, update::parse_update(args)?).await
        }
        PluginCommand::Rollback(args) => {
            update::rollback(out, framework, update::parse_rollback(args)?).await
        }
        PluginCommand::Prune(args) => update::prune(out, framework, update::parse_prune(args)?),
        PluginCommand::Regrant(args) => regrant::run(ctx, out, framework, regrant::parse(args)?),
        PluginCommand::Search(args) => search::run(out, framework, search::parse(args)?).await,
        PluginCommand::List(args) => list::run(out, framework, list::parse(args)?),
        PluginCommand::Info(args) => info::run(out, framework, info::parse(args)?),
        PluginCommand::Enable(args) => {
            lifecycle::run(out, framework, lifecycle::parse(Change::Enable, args)?).await
        }
        PluginCommand::Disable(args) => {
            lifecycle::run(
                out,
                framework,
                lifecycle::parse_forced(Change::Disable, args)?,
            )
            .await
        }
        PluginCommand::Remove(args) => {
            lifecycle::run(
                out,
                framework,
                lifecycle::parse_forced(Change::Remove, args)?,
            )
            .await
        }
        PluginCommand::Validate(args) => validate::run(out, framework, validate::parse(args)).await,
        PluginCommand::Rate(args) => {
            review::run(out, framework, review::parse_rate(ctx, args)?).await
        }
        PluginCommand::Recommend(args) => recommend::run(out, framework, args).await,
        PluginCommand::Perf(args) => perf::perf(out, framework, perf::parse_perf(args)?),
        PluginCommand::Top(args) => perf::top(ctx, out, framework, perf::parse_top(args)?).await,
        PluginCommand::Review(args) => {
            review::run(out, framework, review::parse_review(ctx, args)?).await
        }
    }
}

/// A plugin id given on the command line.
fn parse_id(id: &str) -> Result<PluginId, UsageError> {
    id.parse::<PluginId>()
        .map_err(|e| UsageError(format!("`{id}` is not a plugin id: {e}")))
}
