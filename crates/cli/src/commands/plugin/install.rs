//! `lord plugin install TARGET`: a plugin folder, a package file, or
//! ID[@RANGE] from the registry (with its dependencies). Every path shows
//! the install plan and asks for consent before anything is stored.
//!
//! From a registry, with an account's token in `LORD_REGISTRY_TOKEN`, each
//! install also earns its install receipt (checked, then kept in the
//! registry's folder), so `lord plugin rate` and `review` work afterwards.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use lord_host::{Framework, Progress, RemoteStep};
use lord_manifest::{PluginId, VersionReq};

use crate::cli::UsageError;
use crate::consent::{Consent, Subject};
use crate::context::Context;
use crate::render::{self, Output};

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
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
}

/// An install request. Whether the target names a file, a folder or a
/// registry plugin depends on the file system, so `run` decides.
#[derive(Debug)]
pub(crate) struct Request {
    target: String,
    /// The account's token on the registry, for install receipts.
    token: Option<String>,
    /// The target as a path from the working folder.
    path: PathBuf,
    registry: Option<String>,
    yes: bool,
    allow_unsigned: bool,
}

pub(crate) fn parse(ctx: &Context, args: InstallArgs) -> Request {
    Request {
        token: super::review::token(ctx),
        path: ctx.cwd.join(&args.target),
        target: args.target,
        registry: args.registry,
        yes: args.yes,
        allow_unsigned: args.allow_unsigned,
    }
}

/// `ID` or `ID@RANGE` (`hello@^1.2`, `hello@1.2.0` meaning `^1.2.0`).
fn parse_spec(target: &str) -> Result<(PluginId, VersionReq), UsageError> {
    let (id, range) = target.split_once('@').unwrap_or((target, "*"));
    let id = id.parse::<PluginId>().map_err(|e| {
        UsageError(format!(
            "`{target}` is not a file, a folder or a plugin id: {e}"
        ))
    })?;
    let range = VersionReq::parse(range).map_err(|e| {
        UsageError(format!(
            "`{range}` is not a version range, like ^1.2 or =1.2.3: {e}"
        ))
    })?;
    Ok((id, range))
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: Request,
) -> Result<ExitCode> {
    if request.path.exists() {
        install_local(ctx, out, framework, &request).await
    } else {
        let spec = parse_spec(&request.target)?;
        if request.allow_unsigned {
            bail!(UsageError(
                "--allow-unsigned is for package files; a plugin from a registry is always \
                 installed signed and verified"
                    .to_owned()
            ));
        }
        install_remote(ctx, out, framework, spec, request).await
    }
}

async fn install_local(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: &Request,
) -> Result<ExitCode> {
    let path = &request.path;
    let package = path.is_file();
    if !package && request.allow_unsigned {
        bail!(UsageError(
            "--allow-unsigned is for package files; a plugin folder is installed as it is"
                .to_owned()
        ));
    }
    let spinner = out.spinner(&if package {
        format!("verifying, unpacking and compiling {}", path.display())
    } else {
        format!("compiling and checking {}", path.display())
    });
    let plan = if package {
        framework.plan_install_package(path, request.allow_unsigned)
    } else {
        framework.plan_install(path)
    };
    spinner.done();
    let plan = plan?;
    let consent = Consent::new(ctx, out, request.yes);
    consent.show(&plan);
    consent.obtain(Subject::Plugin(&plan.manifest.plugin.id))?;
    let registration = framework.install(plan).await?;
    let id = registration.plugin.id();
    match registration.enable_error {
        None => {
            out.status(format_args!(
                "installed {id} {} ({})",
                registration.plugin.manifest.plugin.version,
                render::state_note(&registration.plugin)
            ));
            Ok(ExitCode::SUCCESS)
        }
        Some(error) => {
            out.status(format_args!(
                "installed {id}, but enabling it failed: {error}"
            ));
            out.status(format_args!(
                "see `lord plugin info {id}`; retry with `lord plugin enable {id}`"
            ));
            Ok(ExitCode::from(3))
        }
    }
}

async fn install_remote(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    spec: (PluginId, VersionReq),
    request: Request,
) -> Result<ExitCode> {
    let client = crate::commands::registry_client(framework, request.registry)?;
    // Held to the end: a concurrent install of the same plugin waits, then
    // finds it installed.
    let _lock = framework.install_lock()?;
    let spinner = out.spinner("");
    let planned = framework
        .plan_from_registry(&client, std::slice::from_ref(&spec), &mut |p| {
            spinner.say(&progress(p));
        })
        .await;
    spinner.done();
    let planned = planned?;
    for note in &planned.skipped {
        out.note(note);
    }
    for (id, version) in &planned.already {
        out.status(format_args!("{id} {version} is already installed"));
    }
    if planned.steps.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let consent = Consent::new(ctx, out, request.yes);
    for step in &planned.steps {
        consent.show(&step.plan);
    }
    consent.obtain(Subject::Request(&spec.0))?;
    let installing = receipt_subjects(&planned);
    let code = install_steps(out, framework, planned.steps).await?;
    earn_receipts(
        out,
        framework,
        &client,
        request.token.as_deref(),
        &installing,
    )
    .await;
    Ok(code)
}

/// Each `(id, version, digest)` a registry plan is about to install: what
/// [`earn_receipts`] asks receipts for once the installs stand.
pub(crate) fn receipt_subjects(planned: &lord_host::RemotePlan) -> Vec<(String, String, String)> {
    planned
        .steps
        .iter()
        .filter_map(|step| {
            let pin = planned.pinned.iter().find(|p| p.id == step.id)?;
            Some((
                step.id.to_string(),
                step.version.to_string(),
                pin.digest.clone(),
            ))
        })
        .collect()
}

/// With an account's `token`, asks the registry behind `client` for the
/// install receipt of each `(id, version, digest)` just installed, and
/// keeps each one that verifies. The installs stand either way: without a
/// receipt the user can use the plugin, only not review it, and is told.
pub(crate) async fn earn_receipts(
    out: &Output,
    framework: &Framework,
    client: &lord_registry_client::Client,
    token: Option<&str>,
    installed: &[(String, String, String)],
) {
    let Some(token) = token else {
        return;
    };
    let state = framework.registry_folder(client.base());
    for (id, version, digest) in installed {
        if let Err(e) = client
            .install_receipt(&state, token, id, version, digest)
            .await
        {
            out.note(format_args!(
                "installed {id} {version}, but the registry gave no install receipt ({e}); \
                 rating or reviewing it needs one: reinstall it with your account's token"
            ));
        }
    }
}

/// What a registry install is doing now, for the spinner.
/// A step of planning an install from a registry, as the spinner says it.
pub(crate) fn progress(p: Progress) -> String {
    match p {
        Progress::Fetching(id) => format!("reading the index for {id}"),
        Progress::Resolving => "resolving versions".to_owned(),
        Progress::Downloading { id, version, bytes } => {
            format!("downloaded {id} {version} ({bytes} bytes)")
        }
        Progress::Verifying(id) => format!("verifying, unpacking and compiling {id}"),
    }
}

/// Installs planned registry steps in order (dependencies first), saying
/// how each was left; exit code 3 if any would not enable.
pub(crate) async fn install_steps(
    out: &Output,
    framework: &mut Framework,
    steps: Vec<RemoteStep>,
) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for step in steps {
        let registration = framework.install(step.plan).await?;
        match registration.enable_error {
            None => out.status(format_args!(
                "installed {} {} ({})",
                step.id,
                step.version,
                render::state_note(&registration.plugin)
            )),
            Some(error) => {
                out.status(format_args!(
                    "installed {}, but enabling it failed: {error}",
                    step.id
                ));
                code = ExitCode::from(3);
            }
        }
    }
    Ok(code)
}
