//! `lord plugin outdated|update|rollback|prune`: newer versions from the
//! registry, updates that test the new build and switch back on a failure,
//! and the earlier builds kept for rollback. An update first returns from
//! any version a staged rollout withdrew (by rollback).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::{Framework, Outdated, UpdateOutcome};
use lord_manifest::PluginId;
use serde_json::json;

use super::parse_id;
use crate::cli::UsageError;
use crate::consent::{Consent, Subject};
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct OutdatedArgs {
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
    /// Write the result for update notices (the daily background check).
    #[arg(long, hide = true)]
    record: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    id: Option<String>,
    #[arg(long)]
    registry: Option<String>,
    /// Grant newly requested permissions without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Update even when plugins that depend on it do not accept the new
    /// version: they (and those depending on them) are disabled.
    #[arg(long)]
    force: bool,
    /// Take a build signed by another trusted key than the installed
    /// build's (a new publisher, or a publisher's new key); without it,
    /// lord asks, even with --yes.
    #[arg(long)]
    allow_new_signer: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    id: String,
    /// Roll back even when plugins that depend on it do not accept the
    /// previous version: they (and those depending on them) are disabled.
    #[arg(long)]
    force: bool,
}

/// A rollback: which plugin, and whether dependents that refuse it are
/// disabled rather than refusing it.
#[derive(Debug)]
pub(crate) struct RollbackRequest {
    id: PluginId,
    force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    id: Option<String>,
}

/// How `outdated` reports: for people, for scripts, or into the file the
/// update notices read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Report {
    Text,
    Json,
    Record,
}

#[derive(Debug)]
pub(crate) struct OutdatedRequest {
    registry: Option<String>,
    report: Report,
}

pub(crate) fn parse_outdated(args: OutdatedArgs) -> OutdatedRequest {
    OutdatedRequest {
        registry: args.registry,
        report: match (args.record, args.json) {
            (true, true | false) => Report::Record,
            (false, true) => Report::Json,
            (false, false) => Report::Text,
        },
    }
}

pub(crate) async fn outdated(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    request: OutdatedRequest,
) -> Result<ExitCode> {
    let client = crate::commands::registry_client(framework, request.registry)?;
    let report = framework.outdated(&client).await?;
    match request.report {
        Report::Record => {
            let path = crate::updates::record_path(&ctx.home);
            lord_file::write_atomic(&path, record(&report).to_string().as_bytes())?;
        }
        Report::Json => {
            let rows: Vec<_> = report
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id.as_str(),
                        "installed": o.installed.to_string(),
                        "latest": o.latest.as_ref().map(ToString::to_string),
                        "note": o.note,
                    })
                })
                .collect();
            out.json(&rows)?;
        }
        Report::Text => out.text(&outdated_text(&report))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What the update notice needs: the plugins with a newer version.
fn record(report: &[Outdated]) -> serde_json::Value {
    let updates: Vec<_> = report
        .iter()
        .filter_map(|o| {
            o.latest.as_ref().map(|latest| {
                json!({
                    "id": o.id.as_str(),
                    "installed": o.installed.to_string(),
                    "latest": latest.to_string(),
                })
            })
        })
        .collect();
    json!({
        "checked_at_ms": lord_host::lord_state::now_ms(),
        "updates": updates,
    })
}

fn outdated_text(report: &[Outdated]) -> String {
    let mut text = String::new();
    for o in report {
        if let Some(latest) = &o.latest {
            text.push_str(&format!("{:<24} {} -> {latest}\n", o.id, o.installed));
        } else if let Some(note) = &o.note {
            text.push_str(&format!(
                "{:<24} {} (a newer version cannot be used)\n",
                o.id, o.installed
            ));
            for line in note.lines().filter(|l| !l.trim().is_empty()) {
                text.push_str(&format!("    {}\n", foreign(line)));
            }
        }
    }
    if text.is_empty() {
        text.push_str("every plugin from the registry is up to date\n");
    }
    text
}

#[derive(Debug)]
pub(crate) struct UpdateRequest {
    /// One plugin, or every outdated one.
    id: Option<PluginId>,
    registry: Option<String>,
    yes: bool,
    force: bool,
    allow_new_signer: bool,
}

pub(crate) fn parse_update(args: UpdateArgs) -> Result<UpdateRequest, UsageError> {
    Ok(UpdateRequest {
        id: args.id.as_deref().map(parse_id).transpose()?,
        registry: args.registry,
        yes: args.yes,
        force: args.force,
        allow_new_signer: args.allow_new_signer,
    })
}

pub(crate) async fn update(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: UpdateRequest,
) -> Result<ExitCode> {
    let client = crate::commands::registry_client(framework, request.registry)?;
    let _lock = framework.install_lock()?;
    let consent = Consent::new(ctx, out, request.yes);
    // Versions a staged rollout withdrew go back first, by rollback.
    let returned = retreat(out, &consent, framework, &client, request.id.as_ref()).await?;
    let ids = match request.id {
        Some(id) => vec![id],
        None => framework
            .outdated(&client)
            .await?
            .into_iter()
            .filter(|o| o.latest.is_some())
            .map(|o| o.id)
            .collect(),
    };
    let mut code = ExitCode::SUCCESS;
    let mut updated = 0;
    for id in ids {
        let spinner = out.spinner("");
        let planned = framework
            .plan_update(&client, &id, &mut |p| {
                spinner.say(&super::install::progress(p));
            })
            .await;
        spinner.done();
        let Some(step) = planned? else {
            out.status(format_args!("{id} is up to date"));
            continue;
        };
        out.status(format_args!("{id}: {} -> {}", step.from, step.to));
        if !request.force {
            // Said before the permission prompt, not after it.
            framework.check_update(&step)?;
        }
        let diff = step.plan.diff();
        consent.show_changes(&diff);
        if diff.needs_consent() {
            consent.obtain(Subject::Update(&id))?;
        }
        // Any key the user trusts verifies a package, so a build signed by
        // another one is another publisher's as far as lord can tell: said,
        // and asked even under --yes.
        if let Some((old, new)) = step.plan.signer_change() {
            out.warning(format_args!(
                "{id} {} is signed by key {new}, but key {old} signed the installed build: \
                 another publisher, or the same one with a new key; check with its publisher",
                step.to
            ));
            if !request.allow_new_signer {
                consent.ask(Subject::Signer(&id))?;
            }
        }
        let cases = step.plan.cases.len();
        let (from, to) = (step.from.clone(), step.to.clone());
        let digest = match &step.plan.source {
            lord_host::InstallSource::Package { digest, .. } => Some(digest.to_string()),
            lord_host::InstallSource::Folder => None,
        };
        let (outcome, disabled) = if request.force {
            framework.apply_update_forced(step).await?
        } else {
            (framework.apply_update(step).await?, Vec::new())
        };
        report_disabled(out, &id, &disabled);
        match outcome {
            UpdateOutcome::Updated => {
                updated += 1;
                // The new version is installed: with an account's token it
                // earns its own receipt, as an install does.
                if let Some(digest) = digest {
                    super::earn_receipts(
                        out,
                        framework,
                        &client,
                        super::account_token(ctx).as_deref(),
                        &[(id.to_string(), to.to_string(), digest)],
                    )
                    .await;
                }
                out.status(format_args!(
                    "updated {id} {from} -> {to} ({cases} test cases passed)"
                ));
            }
            UpdateOutcome::RolledBack { case, reason } => {
                out.status(format_args!(
                    "{id} {to} failed its test case `{case}`: {reason}; switched back to {from}"
                ));
                code = ExitCode::from(3);
            }
        }
    }
    if updated == 0 && returned == 0 && code == ExitCode::SUCCESS {
        out.status("nothing to update");
    }
    Ok(code)
}

/// Rolls back each installed version (of `only`, or of every plugin) a
/// staged rollout withdrew, once the user agrees (the list of rollouts is
/// not signed, so it never changes what is installed unasked); returns
/// how many went back. One left where it is is a warning, not a failed
/// update.
async fn retreat(
    out: &Output,
    consent: &Consent<'_>,
    framework: &mut Framework,
    client: &lord_registry_client::Client,
    only: Option<&PluginId>,
) -> Result<usize> {
    let retreats = framework.retreats(client, only).await?;
    let mut returned = 0;
    for r in &retreats {
        out.status(format_args!(
            "rollout {} withdrew {} {}: {}; the version before it is {}",
            foreign(&r.rollout),
            r.id,
            r.from,
            foreign(&r.reason),
            r.to
        ));
        if let Err(e) = consent.obtain(Subject::Retreat(&r.id)) {
            out.warning(format_args!("{e:#}; {} stays at {}", r.id, r.from));
            continue;
        }
        framework.retreat(r).await?;
        out.status(format_args!("{} rolled back to {}", r.id, r.to));
        returned += 1;
    }
    Ok(returned)
}

pub(crate) fn parse_rollback(args: RollbackArgs) -> Result<RollbackRequest, UsageError> {
    Ok(RollbackRequest {
        id: parse_id(&args.id)?,
        force: args.force,
    })
}

pub(crate) async fn rollback(
    out: &Output,
    framework: &mut Framework,
    request: RollbackRequest,
) -> Result<ExitCode> {
    let id = request.id;
    let from = framework.get(&id)?.manifest.plugin.version.clone();
    let (registration, disabled) = if request.force {
        framework.rollback_forced(&id).await?
    } else {
        (framework.rollback(&id).await?, Vec::new())
    };
    let to = &registration.plugin.manifest.plugin.version;
    out.status(format_args!("rolled {id} back from {from} to {to}"));
    report_disabled(out, &id, &disabled);
    if let Some(error) = registration.enable_error {
        out.status(format_args!("but enabling it failed: {error}"));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// Names the dependents a forced change disabled.
fn report_disabled(out: &Output, id: &PluginId, disabled: &[PluginId]) {
    if disabled.is_empty() {
        return;
    }
    let names: Vec<String> = disabled.iter().map(|p| format!("`{p}`")).collect();
    out.status(format_args!(
        "disabled {}: they do not accept this version of {id} (or depend on one that does not)",
        names.join(", ")
    ));
}

/// One plugin's earlier builds, or every plugin's.
pub(crate) fn parse_prune(args: PruneArgs) -> Result<Option<PluginId>, UsageError> {
    args.id.as_deref().map(parse_id).transpose()
}

pub(crate) fn prune(
    out: &Output,
    framework: &mut Framework,
    id: Option<PluginId>,
) -> Result<ExitCode> {
    let dropped = framework.prune(id.as_ref())?;
    out.status(format_args!("deleted {dropped} earlier builds"));
    Ok(ExitCode::SUCCESS)
}
