//! `lord self update` and `lord self rollback`: replace the running `lord`
//! with the newest signed release a registry lists for this platform
//! (signed index, length, SHA-256, and a release signature under your
//! trusted keys that vouches for that version and platform), keeping the
//! replaced binary beside it as `lord.previous`; and put that one back.
//!
//! Releases are published with `lord pdk sign BINARY --release VERSION`
//! and `lord registry publish-release BINARY --release VERSION` (a token
//! whose scope covers `lord`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use lord_host::Framework;
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum SelfCommand {
    /// Replace this lord with the newest release the registry signs for
    /// this platform (the replaced one is kept for `lord self rollback`).
    Update(UpdateArgs),
    /// Put back the lord that the last `lord self update` replaced (again
    /// to undo).
    Rollback(RollbackArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The registry (default: the `registry.url` setting).
    #[arg(long)]
    registry: Option<String>,
    /// This version rather than the newest (older ones too).
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    #[arg(long)]
    json: bool,
}

/// The platform releases are published for: `ARCH-OS` as Rust names them.
fn platform() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

fn running() -> lord_manifest::Version {
    lord_manifest::Version::parse(env!("CARGO_PKG_VERSION"))
        .unwrap_or(lord_manifest::Version::new(0, 0, 0))
}

fn exe(ctx: &Context) -> Result<PathBuf> {
    let exe = ctx.exe.clone().ok_or_else(|| {
        anyhow::anyhow!("cannot tell where this lord's binary is, so it cannot be replaced")
    })?;
    // The file itself, not a link to it: the link stays and points at the
    // new binary.
    exe.canonicalize()
        .with_context(|| format!("resolving `{}`", exe.display()))
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: SelfCommand,
) -> Result<ExitCode> {
    match command {
        SelfCommand::Update(args) => update(ctx, out, framework, args).await,
        SelfCommand::Rollback(args) => {
            let exe = exe(ctx)?;
            let previous = lord_host::roll_back_release(&exe)?;
            if args.json {
                out.json_line(&json!({"binary": exe, "kept": previous}))?;
            } else {
                out.status(format_args!(
                    "rolled back: {} is the lord the last update replaced; the other is kept \
                     at {} (`lord self rollback` again to undo)",
                    exe.display(),
                    previous.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn update(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: UpdateArgs,
) -> Result<ExitCode> {
    let wanted = args
        .to
        .as_deref()
        .map(|v| {
            lord_manifest::Version::parse(v)
                .map_err(|e| UsageError(format!("`{v}` is not a version like 1.2.3: {e}")))
        })
        .transpose()?;
    // The release list is in the signed index: trust in the registry's
    // root is decided as for any install (`registry.require-pinned-root`).
    let client = crate::commands::registry_client(framework, args.registry)?;
    let url = client.base().to_owned();
    let exe = exe(ctx)?;
    let (platform, running) = (platform(), running());
    let spinner = out.spinner("checking for a release");
    let release = framework
        .fetch_release(&client, &platform, &running, wanted.as_ref())
        .await;
    spinner.done();
    let Some(release) = release? else {
        let what = match &wanted {
            Some(v) => format!("{url} has no release {v} of lord for {platform}"),
            None => {
                format!("lord {running} is up to date: {url} has no newer release for {platform}")
            }
        };
        if args.json {
            out.json_line(&json!({"updated": false, "running": running.to_string()}))?;
        } else {
            out.status(what);
        }
        return Ok(if wanted.is_some() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        });
    };
    let previous = lord_host::install_release(&exe, &release)?;
    if args.json {
        out.json_line(&json!({
            "updated": true,
            "from": running.to_string(),
            "to": release.info.version,
            "sha256": release.info.digest,
            "binary": exe,
            "kept": previous,
        }))?;
    } else {
        out.status(format_args!(
            "updated {} from lord {running} to {} (sha256 {}, signed by key {}); the \
             previous binary is kept at {} for `lord self rollback`",
            exe.display(),
            release.info.version,
            release.info.digest,
            release.info.key,
            previous.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
