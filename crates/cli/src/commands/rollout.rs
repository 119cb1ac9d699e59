//! `lord rollout start|status|promote|abort`: a plugin version taken by
//! rising rings of machines, promoted by a gate on the error rate and p95
//! latency the machines report, and rolled back by itself when the gate
//! fails. Starting and moving one needs a token whose scope covers the
//! plugin, from `LORD_REGISTRY_TOKEN` (never argv), as publishing does.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use lord_host::Framework;
use lord_registry_client::{Gate, RolloutInfo, RolloutStart};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutCommand {
    /// Start rolling VERSION of PLUGIN out, ring by ring.
    Start(StartArgs),
    /// Where the rollouts stand, with what the machines reported.
    Status {
        /// Only this plugin's.
        plugin: Option<String>,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Move a rollout to its next ring now, whatever its gate says.
    Promote(MoveArgs),
    /// Stop a rollout: no machine takes its version any more, and those
    /// that took it return to the previous one at their next update.
    Abort(MoveArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    plugin: String,
    /// The version to roll out (published already).
    #[arg(value_name = "VERSION")]
    release: String,
    /// Rising percentages of machines, the last 100.
    #[arg(long, value_delimiter = ',', default_value = "5,25,100")]
    rings: Vec<u32>,
    /// Runs of the new version in a ring before its gate decides.
    #[arg(long, default_value_t = Gate::default().min_runs)]
    min_runs: u64,
    /// Roll back above this error rate (0.05 = 5%).
    #[arg(long)]
    max_error_rate: Option<f64>,
    /// Roll back when the error rate exceeds the previous version's by
    /// more than this (0.05 = five points; the default).
    #[arg(long)]
    max_error_increase: Option<f64>,
    /// Roll back above this p95 latency, in milliseconds.
    #[arg(long)]
    max_p95_ms: Option<f64>,
    /// Roll back when the p95 latency is above the previous version's
    /// times this (1.5 by default).
    #[arg(long)]
    max_p95_ratio: Option<f64>,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The rollout's id (`lord rollout status` lists them).
    id: String,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

/// The gate the flags ask for: the default thresholds unless any is given,
/// then only those given.
fn gate(args: &StartArgs) -> Gate {
    let chosen = [
        args.max_error_rate,
        args.max_error_increase,
        args.max_p95_ms,
        args.max_p95_ratio,
    ];
    if chosen.iter().all(Option::is_none) {
        return Gate {
            min_runs: args.min_runs,
            ..Gate::default()
        };
    }
    Gate {
        min_runs: args.min_runs,
        max_error_rate: args.max_error_rate,
        max_error_increase: args.max_error_increase,
        max_p95_ms: args.max_p95_ms,
        max_p95_ratio: args.max_p95_ratio,
    }
}

fn token(ctx: &Context) -> Result<String, UsageError> {
    ctx.env
        .iter()
        .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            UsageError(
                "set LORD_REGISTRY_TOKEN to a token whose scope covers the plugin (`lord \
                 registry token create --scope publish:PLUGIN` on the registry's machine)"
                    .to_owned(),
            )
        })
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: RolloutCommand,
) -> Result<ExitCode> {
    match command {
        RolloutCommand::Start(args) => {
            let token = token(ctx)?;
            lord_registry_client::check_rings(&args.rings).map_err(UsageError)?;
            let client = super::registry_client(framework, args.registry.clone())?;
            let start = RolloutStart {
                plugin: args.plugin.clone(),
                version: args.release.clone(),
                rings: args.rings.clone(),
                gate: gate(&args),
            };
            start.gate.check().map_err(UsageError)?;
            let rollout = client.start_rollout(&token, &start).await?;
            render(out, &[rollout], args.json, "started")?;
        }
        RolloutCommand::Status {
            plugin,
            registry,
            json,
        } => {
            let client = super::registry_client(framework, registry)?;
            let rollouts = client.rollouts(plugin.as_deref()).await?;
            render(out, &rollouts, json, "")?;
        }
        RolloutCommand::Promote(args) => {
            let client = super::registry_client(framework, args.registry)?;
            let rollout = client.promote_rollout(&token(ctx)?, &args.id).await?;
            render(out, &[rollout], args.json, "promoted")?;
        }
        RolloutCommand::Abort(args) => {
            let client = super::registry_client(framework, args.registry)?;
            let rollout = client.abort_rollout(&token(ctx)?, &args.id).await?;
            render(out, &[rollout], args.json, "aborted")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(out: &Output, rollouts: &[RolloutInfo], json: bool, done: &str) -> Result<()> {
    if json {
        return match (done.is_empty(), rollouts) {
            (false, [one]) => out.json(one),
            _ => out.json(&rollouts),
        };
    }
    if rollouts.is_empty() {
        out.status("no rollouts");
        return Ok(());
    }
    let mut text = String::new();
    for r in rollouts {
        let rings: Vec<String> = r.rings.iter().map(|p| format!("{p}%")).collect();
        text.push_str(&format!(
            "{}  {} {} (from {})  {}  ring {}/{} ({}% of machines: {})\n",
            foreign(&r.id),
            foreign(&r.plugin),
            foreign(&r.version),
            foreign(r.previous.as_deref().unwrap_or("nothing")),
            r.state.as_str(),
            r.ring + 1,
            r.rings.len(),
            r.share(),
            rings.join(" → "),
        ));
        for (name, h) in [("new", &r.canary), ("previous", &r.baseline)] {
            let p95 = h.p95_us.map_or("no p95".to_owned(), |p| {
                format!("p95 {:.1} ms", p as f64 / 1000.0)
            });
            text.push_str(&format!(
                "    {name:<9} {} machines, {} runs, {} errors ({:.1}%), {p95}\n",
                h.machines,
                h.runs,
                h.errors,
                h.error_rate() * 100.0
            ));
        }
        if let Some(reason) = &r.reason {
            text.push_str(&format!("    why: {}\n", foreign(reason)));
        }
    }
    if !done.is_empty() {
        out.status(format_args!("{done} rollout {}", foreign(&rollouts[0].id)));
    }
    out.text(&text)?;
    Ok(())
}
