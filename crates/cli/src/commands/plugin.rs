//! `lord plugin ...`: install, list, info, enable, disable, remove, validate.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use lord_host::{Framework, InstallPlan, InstallSource, PluginFilter, PluginState};
use lord_manifest::{PluginId, RiskLevel};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render;

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Install a plugin from a package file (`.lordpkg`, verified against
    /// its `.sig`) or from a folder holding plugin.toml and its component.
    Install {
        /// The package file or plugin folder.
        path: PathBuf,
        /// Grant the requested permissions without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Install a package that has no signature (recorded in the audit
        /// log). A signature that exists must verify regardless.
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// List installed plugins.
    List {
        #[arg(long)]
        json: bool,
        /// Only plugins in this state (installed, enabled, disabled, failed).
        #[arg(long)]
        state: Option<String>,
        /// Only plugins at or above this risk (low, medium, high, critical).
        #[arg(long)]
        min_risk: Option<String>,
    },
    /// Show one plugin: version, state, grants, risk, limits, last error.
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a plugin (runs its on-enable hook).
    Enable { id: String },
    /// Disable a plugin (runs its on-disable hook).
    Disable { id: String },
    /// Remove a plugin. Runs no plugin code.
    Remove { id: String },
    /// Check a plugin folder without installing it.
    Validate {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    ctx: &Context,
    framework: &mut Framework,
    command: PluginCommand,
) -> Result<ExitCode> {
    match command {
        PluginCommand::Install {
            path,
            yes,
            allow_unsigned,
        } => install(ctx, framework, &path, yes, allow_unsigned).await,
        PluginCommand::List {
            json,
            state,
            min_risk,
        } => {
            let filter = PluginFilter {
                state: state
                    .map(|s| s.parse::<PluginState>().map_err(UsageError))
                    .transpose()?,
                min_risk: min_risk
                    .map(|r| {
                        r.parse::<RiskLevel>()
                            .map_err(|e| UsageError(e.to_string()))
                    })
                    .transpose()?,
                category: None,
            };
            let plugins = framework.list(&filter)?;
            if json {
                let list: Vec<_> = plugins.iter().map(render::plugin_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", render::plugin_table(&plugins));
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Info { id, json } => {
            let id = parse_id(&id)?;
            let plugin = framework.get(&id)?;
            let history = framework.audit_log(&id)?;
            if json {
                let mut value = render::plugin_json(&plugin);
                value["history"] = serde_json::to_value(&history)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", render::plugin_info(&plugin));
                print!("{}", render::history(&history));
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Enable { id } => {
            let id = parse_id(&id)?;
            framework.enable(&id).await?;
            eprintln!("enabled {id}");
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Disable { id } => {
            let id = parse_id(&id)?;
            framework.disable(&id).await?;
            eprintln!("disabled {id}");
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Remove { id } => {
            let id = parse_id(&id)?;
            framework.unregister(&id)?;
            eprintln!("removed {id}");
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Validate { path, json } => {
            let report = framework.validate(&path);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::validation(&report));
            }
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

fn parse_id(id: &str) -> Result<PluginId> {
    id.parse::<PluginId>()
        .map_err(|e| UsageError(format!("`{id}` is not a plugin id: {e}")).into())
}

async fn install(
    ctx: &Context,
    framework: &mut Framework,
    path: &std::path::Path,
    yes: bool,
    allow_unsigned: bool,
) -> Result<ExitCode> {
    let package = path.is_file();
    if !package && allow_unsigned {
        bail!(UsageError(
            "--allow-unsigned is for package files; a plugin folder is installed as it is"
                .to_owned()
        ));
    }
    let spinner = ctx.stderr_is_tty.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(if package {
            format!("verifying, unpacking and compiling {}", path.display())
        } else {
            format!("compiling and checking {}", path.display())
        });
        bar.enable_steady_tick(Duration::from_millis(80));
        bar
    });
    let plan = if package {
        framework.plan_install_package(path, allow_unsigned)
    } else {
        framework.plan_install(path)
    };
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let plan = plan?;
    describe(&plan);
    if !yes {
        if !ctx.stdin_is_tty {
            bail!(UsageError(format!(
                "not installing `{}`: standard input is not a terminal, so lord cannot ask \
                 you to grant its permissions; rerun with --yes to grant them",
                plan.manifest.plugin.id
            )));
        }
        if !ask("Grant these permissions and install? [y/N] ")? {
            bail!(lord_host::HostError::ConsentDenied(
                plan.manifest.plugin.id.clone()
            ));
        }
    }
    let registration = framework.install(plan).await?;
    let id = registration.plugin.id();
    match registration.enable_error {
        None => {
            eprintln!(
                "installed {id} {} (enabled)",
                registration.plugin.manifest.plugin.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(error) => {
            eprintln!("installed {id}, but enabling it failed: {error}");
            eprintln!("see `lord plugin info {id}`; retry with `lord plugin enable {id}`");
            Ok(ExitCode::from(3))
        }
    }
}

fn describe(plan: &InstallPlan) {
    let meta = &plan.manifest.plugin;
    eprintln!("{} {}: {}", meta.id, meta.version, meta.description);
    match &plan.source {
        InstallSource::Folder => {}
        InstallSource::Package { digest, provenance } => {
            eprintln!("  package: sha256 {digest}");
            eprintln!("  {provenance}");
        }
    }
    eprintln!("  risk: {}", plan.risk);
    if plan.permissions.is_empty() {
        eprintln!("  permissions: none (pure computation)");
    } else {
        eprintln!("  permissions:");
        for p in &plan.permissions {
            eprintln!("    {p}  ({} risk)", p.risk());
        }
    }
    let limits = &plan.manifest.limits;
    eprintln!(
        "  limits: {} ms per call, {} MiB memory, {} KiB output, {} KiB data",
        limits.max_execution_ms, limits.max_memory_mib, limits.max_output_kib, limits.max_data_kib
    );
}

fn ask(prompt: &str) -> Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read the answer")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
