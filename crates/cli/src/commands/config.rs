//! `lord config get|set|show|validate`: the layered configuration
//! (defaults < system < user < project `lord.toml` < `LORD_*` < `--set`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_config::{Config, Reload, Watcher, set_checked};
use lord_host::{Framework, HostError};
use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::render::Output;

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
    /// Watch the files: print each change applied (and the keys it
    /// changed) or rejected (and why; the previous configuration stays).
    Watch {
        /// How often to look, in milliseconds.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
        /// Stop after this many changes (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
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

pub(crate) async fn run(
    out: &Output,
    framework: &Framework,
    command: ConfigCommand,
) -> Result<ExitCode> {
    match command {
        ConfigCommand::Get { key, json } => {
            let config = framework.settings()?;
            let Some(value) = config.get(&key) else {
                return Err(
                    UsageError(format!("`{key}` is not set; see `lord config show`")).into(),
                );
            };
            if json {
                out.line(value)?;
            } else {
                out.line(plain(&value))?;
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
            // The whole configuration must still hold with the new value,
            // plugin schemas too, before the file is replaced.
            let checked = set_checked(sources, &path, &key, &value, |config| {
                match framework.check_plugin_configs(config) {
                    Ok(problems) => problems.first().map_or(Ok(()), |p| Err(p.to_string())),
                    Err(e) => Err(e.to_string()),
                }
            })
            .map_err(HostError::from)?;
            let config = match checked {
                Ok(config) => config,
                Err(problem) => {
                    return Err(UsageError(format!(
                        "not set: {problem}; `{}` is unchanged",
                        path.display()
                    ))
                    .into());
                }
            };
            let analytics_off = config
                .get(lord_host::analytics::ENABLED_KEY)
                .and_then(|v| v.as_bool())
                == Some(false);
            out.status(format_args!("set `{key}` in {}", path.display()));
            if analytics_off {
                // Off means gone: what was recorded is deleted now, not at
                // the next command.
                let deleted = framework.delete_analytics()?;
                if deleted > 0 {
                    out.status(format_args!("deleted {deleted} recorded plugin calls"));
                }
            }
        }
        ConfigCommand::Show { origin, json } => show(out, framework, origin, json)?,
        ConfigCommand::Watch {
            interval_ms,
            count,
            json,
        } => watch(out, framework, interval_ms, count, json).await?,
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
                out.json_line(&json!({ "valid": problems.is_empty(), "problems": problems }))?;
            } else if problems.is_empty() {
                out.line("configuration is valid")?;
            } else {
                for problem in &problems {
                    out.line(problem)?;
                }
            }
            if !problems.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints each reload the watcher sees until `count` changes (or forever).
async fn watch(
    out: &Output,
    framework: &Framework,
    interval_ms: u64,
    count: Option<u64>,
    json: bool,
) -> Result<()> {
    let schemas: Vec<(String, Value)> = framework
        .list(&lord_host::PluginFilter::default())?
        .into_iter()
        .filter_map(|p| {
            let schema = p.manifest.config_schema.clone()?;
            Some((p.id().to_string(), schema))
        })
        .collect();
    let watcher = Watcher::new(framework.config_sources().clone(), move |config| {
        let problems = config.check_plugins(schemas.iter().map(|(id, s)| (id.as_str(), s)));
        match problems.first() {
            Some(problem) => Err(problem.to_string()),
            None => Ok(()),
        }
    })
    .map_err(UsageError)?;
    let files: Vec<String> = framework
        .config_sources()
        .files()
        .iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    if json {
        out.json_line(&json!({ "watching": files }))?;
    } else {
        out.line(format_args!("watching {}", files.join(", ")))?;
    }
    let mut seen = 0u64;
    watcher
        .run(
            std::time::Duration::from_millis(interval_ms.max(10)),
            |outcome| {
                let shown = match (outcome, json) {
                    (Reload::Applied { changed }, true) => {
                        out.json_line(&json!({ "applied": changed }))
                    }
                    (Reload::Applied { changed }, false) => {
                        out.line(format_args!("applied: {}", changed.join(", ")))
                    }
                    (Reload::Rejected { reason }, true) => {
                        out.json_line(&json!({ "rejected": reason }))
                    }
                    (Reload::Rejected { reason }, false) => out.line(format_args!(
                        "rejected (the previous configuration stays): {reason}"
                    )),
                    (Reload::Unchanged, true | false) => return true,
                };
                // Nobody is reading any more (the pipe closed): stop.
                if shown.is_err() {
                    return false;
                }
                seen += 1;
                count.is_none_or(|n| seen < n)
            },
        )
        .await;
    Ok(())
}

/// Every value, optionally with the layer it came from.
fn show(out: &Output, framework: &Framework, origin: bool, json: bool) -> Result<()> {
    let config = framework.settings()?;
    if json {
        let shown = if origin {
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
        out.line(shown)?;
    } else {
        let mut text = String::new();
        if let Some(profile) = config.profile() {
            text.push_str(&format!("# profile: {profile}\n"));
        }
        for (key, value, from) in config.entries() {
            if origin {
                text.push_str(&format!("{key} = {value}    # {from}\n"));
            } else {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        out.text(&text)?;
    }
    Ok(())
}
