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
    /// Install a plugin: ID[@RANGE] from the registry (with its
    /// dependencies), a package file (`.lordpkg`, verified against its
    /// `.sig`), or a folder holding plugin.toml and its component.
    Install {
        /// ID[@RANGE], a package file, or a plugin folder.
        target: String,
        /// The registry for ID[@RANGE] (default: the `registry.url` setting).
        #[arg(long)]
        registry: Option<String>,
        /// Grant the requested permissions without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Install a package that has no signature (recorded in the audit
        /// log). A signature that exists must verify regardless.
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Show installed plugins that the registry has newer versions of.
    Outdated {
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
        /// Write the result for update notices (the daily background check).
        #[arg(long, hide = true)]
        record: bool,
    },
    /// Update one plugin (or every one) from the registry: shows what new
    /// permissions it asks for (and asks again), runs its declared test
    /// cases on the new build, and switches back if one fails.
    Update {
        id: Option<String>,
        #[arg(long)]
        registry: Option<String>,
        /// Grant newly requested permissions without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Return a plugin to its previous build at once (again to undo).
    Rollback { id: String },
    /// Delete the earlier builds kept for rollback (of one plugin, or all).
    Prune { id: Option<String> },
    /// Search the registry (`registry.url`, or --registry).
    Search {
        /// Free text; every word must match, as a prefix.
        query: Vec<String>,
        #[arg(long)]
        category: Option<String>,
        /// A keyword.
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        min_rating: Option<f64>,
        /// Only plugins the registry's operator verified.
        #[arg(long)]
        verified: bool,
        /// relevance, downloads, rating or updated.
        #[arg(long)]
        sort: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
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
            target,
            registry,
            yes,
            allow_unsigned,
        } => {
            let path = ctx.cwd.join(&target);
            if path.exists() {
                install(ctx, framework, &path, yes, allow_unsigned).await
            } else {
                install_remote(ctx, framework, &target, registry, yes).await
            }
        }
        PluginCommand::Outdated {
            registry,
            json,
            record,
        } => {
            let client = lord_registry_client::Client::new(&crate::commands::pdk::registry_url(
                framework, registry,
            )?)?;
            let report = framework.outdated(&client).await?;
            if record {
                let updates: Vec<_> = report
                    .iter()
                    .filter_map(|o| {
                        o.latest.as_ref().map(|latest| {
                            serde_json::json!({
                                "id": o.id.as_str(),
                                "installed": o.installed.to_string(),
                                "latest": latest.to_string(),
                            })
                        })
                    })
                    .collect();
                let body = serde_json::json!({
                    "checked_at_ms": lord_host::lord_state::now_ms(),
                    "updates": updates,
                });
                let path = crate::updates::record_path(&ctx.home);
                lord_file::write_atomic(&path, body.to_string().as_bytes())?;
                return Ok(ExitCode::SUCCESS);
            }
            if json {
                let rows: Vec<_> = report
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "id": o.id.as_str(),
                            "installed": o.installed.to_string(),
                            "latest": o.latest.as_ref().map(ToString::to_string),
                            "note": o.note,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut any = false;
                for o in &report {
                    if let Some(latest) = &o.latest {
                        any = true;
                        println!("{:<24} {} -> {latest}", o.id, o.installed);
                    } else if let Some(note) = &o.note {
                        any = true;
                        println!(
                            "{:<24} {} (a newer version cannot be used)",
                            o.id, o.installed
                        );
                        for line in note.lines().filter(|l| !l.trim().is_empty()) {
                            println!("    {line}");
                        }
                    }
                }
                if !any {
                    println!("every plugin from the registry is up to date");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Update { id, registry, yes } => {
            update(ctx, framework, id, registry, yes).await
        }
        PluginCommand::Prune { id } => {
            let id = id.as_deref().map(parse_id).transpose()?;
            let dropped = framework.prune(id.as_ref())?;
            eprintln!("deleted {dropped} earlier builds");
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Rollback { id } => {
            let id = parse_id(&id)?;
            let from = framework.get(&id)?.manifest.plugin.version.clone();
            let registration = framework.rollback(&id).await?;
            let to = &registration.plugin.manifest.plugin.version;
            eprintln!("rolled {id} back from {from} to {to}");
            if let Some(error) = registration.enable_error {
                eprintln!("but enabling it failed: {error}");
                return Ok(ExitCode::from(3));
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Search {
            query,
            category,
            tag,
            author,
            min_rating,
            verified,
            sort,
            limit,
            registry,
            json,
        } => {
            let sort = sort
                .map(|s| {
                    serde_json::from_value::<lord_registry_client::Sort>(serde_json::Value::String(
                        s.clone(),
                    ))
                    .map_err(|_| {
                        UsageError(format!(
                            "--sort {s}: use relevance, downloads, rating or updated"
                        ))
                    })
                })
                .transpose()?;
            let url = crate::commands::pdk::registry_url(framework, registry)?;
            let client = lord_registry_client::Client::new(&url)?;
            let page = client
                .search(&lord_registry_client::SearchQuery {
                    q: (!query.is_empty()).then(|| query.join(" ")),
                    category,
                    tag,
                    author,
                    min_rating,
                    verified: verified.then_some(true),
                    sort,
                    limit: Some(limit),
                    offset: None,
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else if page.hits.is_empty() {
                println!("no plugins found");
            } else {
                for hit in &page.hits {
                    let rating = if hit.ratings == 0 {
                        "unrated".to_owned()
                    } else {
                        format!("{:.1}★ ({})", hit.rating, hit.ratings)
                    };
                    println!(
                        "{:<24} {:<10} {:>8} dl  {:<12} {}{}",
                        hit.id,
                        hit.latest,
                        hit.downloads,
                        rating,
                        hit.description,
                        if hit.verified { "  [verified]" } else { "" }
                    );
                }
                if page.total > page.hits.len() as u64 {
                    println!(
                        "({} of {} shown; --limit for more)",
                        page.hits.len(),
                        page.total
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
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
            // Providers carry no risk of their own: a risk filter leaves
            // them out, a state filter applies to them too.
            let natives: Vec<_> = framework
                .natives()?
                .into_iter()
                .filter(|n| filter.min_risk.is_none() && filter.state.is_none_or(|s| s == n.state))
                .collect();
            if json {
                let list: Vec<_> = plugins
                    .iter()
                    .map(render::plugin_json)
                    .chain(natives.iter().map(render::native_json))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", render::plugin_table(&plugins, &natives));
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Info { id, json } => {
            let id = parse_id(&id)?;
            if let Some(native) = framework.native(&id)? {
                if json {
                    let mut value = render::native_json(&native);
                    value["history"] = serde_json::to_value(framework.audit_log(&id)?)?;
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    print!("{}", render::native_info(&native));
                    print!("{}", render::history(&framework.audit_log(&id)?));
                }
                return Ok(ExitCode::SUCCESS);
            }
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
            let report = framework.validate(&path).await;
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
                "installed {id} {} ({})",
                registration.plugin.manifest.plugin.version,
                state_note(&registration.plugin)
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

/// `ID` or `ID@RANGE` (`hello@^1.2`, `hello@1.2.0` meaning `^1.2.0`).
fn parse_request(target: &str) -> Result<(PluginId, lord_manifest::VersionReq)> {
    let (id, range) = target.split_once('@').unwrap_or((target, "*"));
    let id = id.parse::<PluginId>().map_err(|e| {
        UsageError(format!(
            "`{target}` is not a file, a folder or a plugin id: {e}"
        ))
    })?;
    let range = lord_manifest::VersionReq::parse(range).map_err(|e| {
        UsageError(format!(
            "`{range}` is not a version range, like ^1.2 or =1.2.3: {e}"
        ))
    })?;
    Ok((id, range))
}

async fn install_remote(
    ctx: &Context,
    framework: &mut Framework,
    target: &str,
    registry: Option<String>,
    yes: bool,
) -> Result<ExitCode> {
    let request = parse_request(target)?;
    let client = lord_registry_client::Client::new(&crate::commands::pdk::registry_url(
        framework, registry,
    )?)?;
    // Held to the end: a concurrent install of the same plugin waits, then
    // finds it installed.
    let _lock = framework.install_lock()?;
    let bar = ctx.stderr_is_tty.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(80));
        bar
    });
    let planned = framework
        .plan_from_registry(&client, std::slice::from_ref(&request), &mut |p| {
            if let Some(bar) = &bar {
                bar.set_message(match p {
                    lord_host::Progress::Fetching(id) => format!("reading the index for {id}"),
                    lord_host::Progress::Resolving => "resolving versions".to_owned(),
                    lord_host::Progress::Downloading { id, version, bytes } => {
                        format!("downloaded {id} {version} ({bytes} bytes)")
                    }
                    lord_host::Progress::Verifying(id) => {
                        format!("verifying, unpacking and compiling {id}")
                    }
                });
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let planned = planned?;
    for note in &planned.skipped {
        eprintln!("note: {note}");
    }
    for (id, version) in &planned.already {
        eprintln!("{id} {version} is already installed");
    }
    if planned.steps.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for step in &planned.steps {
        describe(&step.plan);
    }
    if !yes {
        if !ctx.stdin_is_tty {
            bail!(UsageError(format!(
                "not installing `{}`: standard input is not a terminal, so lord cannot ask \
                 you to grant the permissions above; rerun with --yes to grant them",
                request.0
            )));
        }
        if !ask("Grant these permissions and install? [y/N] ")? {
            bail!(lord_host::HostError::ConsentDenied(request.0));
        }
    }
    let mut code = ExitCode::SUCCESS;
    for step in planned.steps {
        let registration = framework.install(step.plan).await?;
        match registration.enable_error {
            None => eprintln!(
                "installed {} {} ({})",
                step.id,
                step.version,
                state_note(&registration.plugin)
            ),
            Some(error) => {
                eprintln!("installed {}, but enabling it failed: {error}", step.id);
                code = ExitCode::from(3);
            }
        }
    }
    Ok(code)
}

async fn update(
    ctx: &Context,
    framework: &mut Framework,
    id: Option<String>,
    registry: Option<String>,
    yes: bool,
) -> Result<ExitCode> {
    let client = lord_registry_client::Client::new(&crate::commands::pdk::registry_url(
        framework, registry,
    )?)?;
    let _lock = framework.install_lock()?;
    let ids = match id {
        Some(id) => vec![parse_id(&id)?],
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
        let Some(step) = framework.plan_update(&client, &id, &mut |_| {}).await? else {
            eprintln!("{id} is up to date");
            continue;
        };
        eprintln!("{id}: {} -> {}", step.from, step.to);
        let added: Vec<String> = step
            .plan
            .added_permissions()
            .iter()
            .map(ToString::to_string)
            .collect();
        // The other side of the diff: what the new version no longer asks
        // for (and so no longer gets).
        let dropped: Vec<String> = step
            .plan
            .replaces
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|p| !step.plan.permissions.contains(p))
            .map(ToString::to_string)
            .collect();
        if !dropped.is_empty() {
            eprintln!("  the new version no longer asks for:");
            for p in &dropped {
                eprintln!("    - {p}");
            }
        }
        if !added.is_empty() {
            eprintln!("  the new version asks for more than you granted:");
            for p in &added {
                eprintln!("    + {p}");
            }
            if !yes {
                if !ctx.stdin_is_tty {
                    bail!(UsageError(format!(
                        "not updating `{id}`: it asks for new permissions and standard input \
                         is not a terminal; rerun with --yes to grant them"
                    )));
                }
                if !ask("Grant these and update? [y/N] ")? {
                    bail!(lord_host::HostError::ConsentDenied(id));
                }
            }
        }
        let cases = step.plan.cases.len();
        let (from, to) = (step.from.clone(), step.to.clone());
        match framework.apply_update(step).await? {
            lord_host::UpdateOutcome::Updated => {
                updated += 1;
                eprintln!("updated {id} {from} -> {to} ({cases} test cases passed)");
            }
            lord_host::UpdateOutcome::RolledBack { case, reason } => {
                eprintln!(
                    "{id} {to} failed its test case `{case}`: {reason}; switched back to {from}"
                );
                code = ExitCode::from(3);
            }
        }
    }
    if updated == 0 && code == ExitCode::SUCCESS {
        eprintln!("nothing to update");
    }
    Ok(code)
}

/// How a fresh install was left: enabled, or waiting for its first use to
/// run its hooks (a package install runs no plugin code).
pub(crate) fn state_note(plugin: &lord_host::InstalledPlugin) -> &'static str {
    match plugin.state {
        PluginState::Enabled => "enabled",
        PluginState::Installed => "no plugin code ran; its on-enable hook runs at first use",
        PluginState::Disabled | PluginState::Failed => "not enabled",
    }
}

pub(crate) fn describe(plan: &InstallPlan) {
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
            eprintln!("    {p}  ({} risk): {}", p.risk(), p.describe());
            if let Some(why) = plan.manifest.reason_for(p) {
                eprintln!("      why: {why}");
            }
        }
    }
    let limits = &plan.manifest.limits;
    eprintln!(
        "  limits: {} ms per call, {} MiB memory, {} KiB output, {} KiB data",
        limits.max_execution_ms, limits.max_memory_mib, limits.max_output_kib, limits.max_data_kib
    );
}

pub(crate) fn ask(prompt: &str) -> Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read the answer")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
