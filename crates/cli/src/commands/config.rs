//! `lord config get|set|show|validate`: the layered configuration
//! (defaults < system < user < project `lord.toml` < `LORD_*` < `--set`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_config::{Config, restore_file, set_in_file};
use lord_host::{Framework, HostError};
use serde_json::{Value, json};

use crate::cli::UsageError;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print one value (or table) by dotted key.
    Get {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a value in the user file (default) or the project's lord.toml.
    /// Checked before it is kept: an invalid value leaves the file as it was.
    Set {
        key: String,
        /// TOML (`5`, `true`, `"text"`, `[1, 2]`) or plain text.
        value: String,
        #[arg(long, conflicts_with = "user")]
        project: bool,
        #[arg(long)]
        user: bool,
    },
    /// Print every value; with --origin, which layer each came from.
    Show {
        #[arg(long)]
        origin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check every layer, and each plugin's table against its schema.
    Validate {
        #[arg(long)]
        json: bool,
    },
}

fn plain(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_owned(),
        None => value.to_string(),
    }
}

pub(crate) fn run(framework: &Framework, command: ConfigCommand) -> Result<ExitCode> {
    match command {
        ConfigCommand::Get { key, json } => {
            let config = framework.settings()?;
            let Some(value) = config.get(&key) else {
                return Err(
                    UsageError(format!("`{key}` is not set; see `lord config show`")).into(),
                );
            };
            if json {
                println!("{value}");
            } else {
                println!("{}", plain(&value));
            }
        }
        ConfigCommand::Set {
            key,
            value,
            project,
            user: _,
        } => {
            let sources = framework.config_sources();
            let path = if project {
                sources.project.clone()
            } else {
                sources.user.clone()
            }
            .ok_or_else(|| UsageError("no configuration file to write to".to_owned()))?;
            let old = set_in_file(&path, &key, &value).map_err(HostError::from)?;
            // The whole configuration must still hold, plugin schemas too;
            // otherwise the file goes back to what it was.
            let problem = match Config::load(sources) {
                Err(e) => Some(e.to_string()),
                Ok(config) => framework
                    .check_plugin_configs(&config)?
                    .first()
                    .map(ToString::to_string),
            };
            if let Some(problem) = problem {
                restore_file(&path, old.as_deref()).map_err(HostError::from)?;
                return Err(UsageError(format!(
                    "not set: {problem}; `{}` is unchanged",
                    path.display()
                ))
                .into());
            }
            eprintln!("set `{key}` in {}", path.display());
        }
        ConfigCommand::Show { origin, json } => {
            let config = framework.settings()?;
            if json {
                let out = if origin {
                    Value::Array(
                        config
                            .entries()
                            .map(|(k, v, o)| {
                                json!({
                                    "key": k,
                                    "value": v,
                                    "layer": o.layer.as_str(),
                                    "source": o.to_string(),
                                })
                            })
                            .collect(),
                    )
                } else {
                    config.to_json()
                };
                println!("{out}");
            } else {
                if let Some(profile) = config.profile() {
                    println!("# profile: {profile}");
                }
                for (key, value, from) in config.entries() {
                    if origin {
                        println!("{key} = {value}    # {from}");
                    } else {
                        println!("{key} = {value}");
                    }
                }
            }
        }
        ConfigCommand::Validate { json } => {
            let problems: Vec<String> = match Config::load(framework.config_sources()) {
                Err(e) => vec![e.to_string()],
                Ok(config) => framework
                    .check_plugin_configs(&config)?
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            };
            if json {
                println!(
                    "{}",
                    json!({ "valid": problems.is_empty(), "problems": problems })
                );
            } else if problems.is_empty() {
                println!("configuration is valid");
            } else {
                for problem in &problems {
                    println!("{problem}");
                }
            }
            if !problems.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
