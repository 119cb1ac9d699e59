//! `lord micro list`: the micro-plugins pipelines can use; `lord micro
//! routes`: the A/B splits and gradual rollouts ids are routed through
//! (plugins' `[[routes]]`, the configuration's `[[micro.routes]]`), and
//! whether each target is there.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_host::Framework;
use serde_json::json;

use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum MicroCommand {
    /// List the micro-plugins of enabled plugins, and lord's own.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The routes ids go through (plugins' `[[routes]]`, the
    /// configuration's `[[micro.routes]]`): A/B splits by weight and
    /// gradual rollouts, with their targets.
    Routes {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(out: &Output, framework: &Framework, command: MicroCommand) -> Result<ExitCode> {
    match command {
        MicroCommand::Routes { json } => routes(out, framework, json),
        MicroCommand::List { json } => {
            let manager = framework.micro_manager()?;
            let rows: Vec<_> = manager
                .ids()
                .into_iter()
                .filter_map(|id| manager.get(&id))
                .collect();
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|m| {
                        json!({
                            "id": m.id.as_str(),
                            "kind": m.kind.as_str(),
                            "isolation": m.security.isolation.as_str(),
                            "description": m.description,
                            "input_schema": m.input_schema,
                            "output_schema": m.output_schema,
                            "allowed": m.security.allowed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                out.json(&list)?;
            } else {
                let width = rows.iter().map(|m| m.id.as_str().len()).max().unwrap_or(2);
                let mut text = String::new();
                for m in &rows {
                    text.push_str(&format!(
                        "{:<width$}  {:<16}  {:<8}  {}\n",
                        m.id.as_str(),
                        m.kind.as_str(),
                        m.security.isolation.as_str(),
                        foreign(&m.description)
                    ));
                }
                out.text(&text)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The routes in force (declared by plugins, then configured), each with
/// where it comes from and its targets not registered (a missing one
/// fails the calls routed to it).
fn routes(out: &Output, framework: &Framework, json: bool) -> Result<ExitCode> {
    let routes = framework.micro_routes()?;
    let manager = framework.micro_manager()?;
    let rows: Vec<_> = routes
        .iter()
        .map(|(from, r)| {
            let missing: Vec<String> = r
                .targets()
                .into_iter()
                .filter(|t| manager.get(t).is_none())
                .map(ToString::to_string)
                .collect();
            let from = from
                .as_ref()
                .map_or("configuration".to_owned(), ToString::to_string);
            (from, r, missing)
        })
        .collect();
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|(from, r, missing)| json!({ "route": r, "from": from, "missing": missing }))
            .collect();
        out.json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out.status("no routes ([[micro.routes]] in the configuration)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for (from, r, missing) in &rows {
        let how = match &r.rollout {
            Some(roll) => {
                let steps: Vec<String> = roll.steps.iter().map(|s| format!("{s}%")).collect();
                format!(
                    "rollout {} -> {} ({})",
                    roll.old,
                    roll.new,
                    steps.join(" → ")
                )
            }
            None => {
                let parts: Vec<String> = r
                    .variants
                    .iter()
                    .map(|v| format!("{} {}={}", foreign(&v.name), v.target, v.weight))
                    .collect();
                format!("A/B {}", parts.join(", "))
            }
        };
        text.push_str(&format!("{}  {how}  [{from}]\n", r.id));
        if !missing.is_empty() {
            text.push_str(&format!("    not installed: {}\n", missing.join(", ")));
        }
    }
    out.text(&text)?;
    Ok(ExitCode::SUCCESS)
}
