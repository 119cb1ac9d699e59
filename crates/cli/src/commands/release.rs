//! `lord registry publish-release BINARY --release VERSION`: publish a build of
//! lord itself to a registry, for `lord self update`. The binary is signed
//! first as a package is (`lord pdk sign BINARY --key NAME`, which writes
//! `BINARY.sig`); the registry signs it into its TUF index as
//! `releases/PLATFORM/lord-VERSION`. The token comes from
//! `LORD_REGISTRY_TOKEN` (scope `publish:lord` or `publish:*`), never argv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;
use lord_package::{Keys, Signature};
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
    let sig_path = Signature::path_for(&binary);
    let sig_text = std::fs::read_to_string(&sig_path).map_err(|_| {
        UsageError(format!(
            "`{}` is missing: sign the binary first with `lord pdk sign {} --key NAME`",
            sig_path.display(),
            args.binary.display()
        ))
    })?;
    let signature = Signature::parse(&sig_path, &sig_text)?;
    let public = Keys::new(&ctx.home)
        .trusted()?
        .into_iter()
        .find(|k| k.id() == signature.key)
        .ok_or_else(|| {
            UsageError(format!(
                "the binary is signed by key {}, which is not among your keys (`lord key list`)",
                signature.key
            ))
        })?;
    let platform = args
        .platform
        .unwrap_or_else(|| format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS));
    let client = lord_registry_client::Client::new(&url)?;
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
