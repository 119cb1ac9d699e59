//! `lord state show`: the session's global state (who, where, which lord,
//! logger level and theme) and the command history recorded in the event
//! log by earlier runs (`lord.command.finished`).

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use lord_host::Framework;
use lord_manifest::Topic;
use serde_json::json;

use crate::render::{Output, foreign};

/// Commands of history shown.
const HISTORY: u64 = 20;

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// Print the session and the recent command history.
    Show {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(out: &Output, framework: &Framework, command: StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::Show { json } => {
            let global = framework.global();
            let log = framework
                .channels()
                .bus
                .log()
                .ok_or_else(|| anyhow!("this lord keeps no event log"))?;
            // The last commands however many events plugins published
            // since: the filter is applied before the limit.
            let finished = log.matching(
                0,
                10_000,
                &Topic::pattern("lord.command.finished").map_err(|e| anyhow!(e))?,
                false,
            )?;
            let errors = finished
                .iter()
                .filter(|e| e.payload["status"] != "ok")
                .count();
            let skip = finished.len().saturating_sub(usize::try_from(HISTORY)?);
            let history: Vec<_> = finished
                .iter()
                .skip(skip)
                .map(|e| {
                    json!({
                        "command": e.payload["command"],
                        "plugin": e.payload["plugin"],
                        "status": e.payload["status"],
                        "duration_ms": e.payload["duration_ms"],
                        "at_ms": e.at_ms,
                    })
                })
                .collect();
            if json {
                out.json_line(&json!({
                    "session": global.info(),
                    "log_level": global.log_level(),
                    "theme": global.theme(),
                    "commands_recorded": finished.len(),
                    "errors_recorded": errors,
                    "history": history,
                }))?;
            } else {
                let info = global.info();
                let mut text = format!("lord {} in {}\n", info.version, info.project.display());
                if let Some(user) = &info.user {
                    text.push_str(&format!("user: {user}\n"));
                }
                // Plugins can set the shared level and theme: foreign text.
                text.push_str(&format!(
                    "log level: {}, theme: {}\n",
                    foreign(&global.log_level()),
                    foreign(&global.theme())
                ));
                text.push_str(&format!(
                    "commands recorded: {} ({errors} failed); latest:\n",
                    finished.len()
                ));
                for h in &history {
                    text.push_str(&format!(
                        "  {} {} ({} ms)\n",
                        foreign(h["command"].as_str().unwrap_or("?")),
                        h["status"].as_str().unwrap_or("?"),
                        h["duration_ms"]
                    ));
                }
                out.text(&text)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
