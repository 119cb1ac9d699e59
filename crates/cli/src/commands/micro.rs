//! `lord micro list`: the micro-plugins pipelines can use.

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
}

pub(crate) fn run(out: &Output, framework: &Framework, command: MicroCommand) -> Result<ExitCode> {
    match command {
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
