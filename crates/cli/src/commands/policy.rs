//! `lord policy list|validate|schema|check|sync`: the governance policies
//! in force. `sync` brings the policies a registry serves, signed, into
//! the user's or the machine's layer. `check PLUGIN [ACTION]` asks them about an installed plugin, a
//! plugin folder or a package file, and names the policy that decided
//! (exit 1 when the action would be refused); nothing is recorded.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_host::governance::{installed_facts, plan_facts};
use lord_host::lord_policy::{Action, PluginFacts, Scope};
use serde_json::json;

use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Every policy in force, by layer, with its effect and enforcement.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Read and check every policy file against the schema; exit 1 when
    /// one cannot be used.
    Validate,
    /// Print the Cedar schema policies are checked against.
    Schema,
    /// Fetch the policies the registry serves (through its signed index)
    /// into a policy layer: the user's, or with `--machine` the machine's
    /// (`/etc/lord/policies`, for an administrator). Refused text leaves
    /// the previous policies in force.
    Sync {
        /// The registry (URL or a name from `lord registry add`);
        /// default `registry.url`.
        #[arg(long)]
        registry: Option<String>,
        /// Into the machine's layer, which ordinary users cannot change.
        #[arg(long)]
        machine: bool,
        #[arg(long)]
        json: bool,
    },
    /// What the policies decide for PLUGIN (an installed plugin's id, a
    /// plugin folder or a package file) and ACTION (install, update,
    /// enable, grant, run, publish; default install), naming the policy
    /// that decided; exit 1 when the action would be refused.
    Check {
        plugin: String,
        #[arg(default_value = "install")]
        action: Action,
        /// For `grant`: the permission, e.g. `net(api.example.com)`.
        #[arg(long)]
        permission: Option<String>,
        /// For `run`: the command.
        #[arg(long)]
        command: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    out: &Output,
    framework: &Framework,
    command: PolicyCommand,
) -> Result<ExitCode> {
    match command {
        PolicyCommand::Sync {
            registry,
            machine,
            json,
        } => {
            let client = super::registry_client(framework, registry)?;
            let scope = if machine { Scope::Machine } else { Scope::User };
            let synced = framework
                .sync_registry_policies(&client, scope)
                .await
                .with_context(|| format!("syncing the policies of {}", client.base()))?;
            if json {
                out.json(&json!({
                    "registry": client.base(),
                    "layer": scope.as_str(),
                    "file": synced.file,
                    "policies": synced.policies,
                    "changed": synced.changed,
                }))?;
            } else {
                out.status(format_args!(
                    "{} {} polic{} from {} in {} ({})",
                    if synced.changed { "now" } else { "still" },
                    synced.policies,
                    if synced.policies == 1 { "y" } else { "ies" },
                    foreign(client.base()),
                    synced.file.display(),
                    scope.as_str()
                ));
            }
        }
        PolicyCommand::List { json } => {
            let policies = framework.policies()?.list();
            if json {
                out.json(&policies)?;
            } else if policies.is_empty() {
                out.line("no policies are in force (machine: /etc/lord/policies, user: $LORD_HOME/policies)")?;
            }
            if !json {
                for p in &policies {
                    out.line(format_args!(
                        "{:<8} {:<7} {:<7} {}  ({})",
                        p.scope,
                        p.effect,
                        p.enforcement.as_str(),
                        foreign(&p.name),
                        foreign(&p.file)
                    ))?;
                }
            }
        }
        PolicyCommand::Validate => match framework.policy_files() {
            Ok(files) => {
                out.line(format_args!(
                    "{} policy files read and checked",
                    files.len()
                ))?;
                for file in files {
                    out.line(format_args!("  {}", foreign(&file)))?;
                }
            }
            Err(e) => {
                out.error_line(e);
                return Ok(ExitCode::from(1));
            }
        },
        PolicyCommand::Schema => out.text(lord_host::lord_policy::SCHEMA)?,
        PolicyCommand::Check {
            plugin,
            action,
            permission,
            command,
            json,
        } => {
            let facts = facts(framework, &plugin)?;
            let permission = permission
                .map(|p| {
                    p.parse()
                        .with_context(|| format!("`{p}` is not a permission"))
                })
                .transpose()?;
            let id = facts.id.clone();
            let decision = framework.decide(action, facts, permission, command)?;
            if json {
                out.json(&json!({
                    "plugin": id.as_str(),
                    "action": action.as_str(),
                    "proceeds": decision.proceeds(),
                    "refusal": decision.refusal,
                    "verdicts": decision.verdicts,
                }))?;
            } else {
                let verdict = match decision.refusal {
                    None => "allowed".to_owned(),
                    Some(mode) => format!("refused ({})", mode.as_str()),
                };
                out.line(format_args!(
                    "{action} {}: {verdict}: {}",
                    id,
                    foreign(&decision.explain())
                ))?;
            }
            if !decision.proceeds() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What is known of PLUGIN: a path is planned (nothing stored), anything
/// else is an installed plugin's id.
fn facts(framework: &Framework, plugin: &str) -> Result<PluginFacts> {
    let path = Path::new(plugin);
    // A folder is planned as a replacement, so a plugin already installed
    // can be asked about its next build; a package's signature is checked
    // but an unsigned one is still asked about (as unsigned).
    if path.is_dir() {
        return Ok(plan_facts(&framework.plan_replace(path)?));
    }
    if path.is_file() {
        return Ok(plan_facts(&framework.plan_install_package(path, true)?));
    }
    let id = plugin.parse().with_context(|| {
        format!("`{plugin}` is neither an installed plugin, a folder nor a package file")
    })?;
    Ok(installed_facts(&framework.get(&id)?))
}
