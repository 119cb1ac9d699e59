//! `lord registry publish-release BINARY --release VERSION`: publish a build of
//! lord itself to a registry, for `lord self update`. The binary is signed
//! first as a package is (`lord pdk sign BINARY --key NAME`, which writes
//! `BINARY.sig`); the registry signs it into its TUF index as
//! `releases/PLATFORM/lord-VERSION`. The token comes from
//! `LORD_REGISTRY_TOKEN` (scope `publish:lord`: a plugin author's
//! `publish:*` does not cover lord), never argv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct PublishReleaseArgs {
    /// The lord binary, signed beside it (`BINARY.sig`, by `lord pdk sign`).
    binary: PathBuf,
    /// Its version (SemVer), as `lord --version` prints it.
    #[arg(long, value_name = "VERSION")]
    release: String,
    /// The platform it runs on, ARCH-OS (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// The registry (default: the `registry.url` setting).
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn publish(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: PublishReleaseArgs,
) -> Result<ExitCode> {
    let url = crate::commands::registry_url(framework, args.registry)?;
    let token = ctx
        .env
        .iter()
        .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            UsageError(
                "set LORD_REGISTRY_TOKEN to a token whose scope covers `lord` (`lord registry \
                 token create --scope publish:lord` on the registry's machine)"
                    .to_owned(),
            )
        })?;
    let binary = ctx.cwd.join(&args.binary);
    let bytes =
        std::fs::read(&binary).with_context(|| format!("reading `{}`", binary.display()))?;
    let (signature, public) = crate::commands::pdk::signature_beside(
        ctx,
        &binary,
        "binary",
        format!("`lord pdk sign {} --key NAME`", args.binary.display()),
    )?;
    let platform = args
        .platform
        .unwrap_or_else(|| format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS));
    let client = crate::commands::registry_client_at(framework, &url)?;
    let digest = client
        .publish_release(&token, bytes, &signature, &public, &args.release, &platform)
        .await?;
    if args.json {
        out.json_line(&json!({"version": args.release, "platform": platform, "sha256": digest}))?;
    } else {
        out.status(format_args!(
            "published lord {} for {platform} (sha256 {digest}) to {url}",
            args.release
        ));
    }
    Ok(ExitCode::SUCCESS)
}
