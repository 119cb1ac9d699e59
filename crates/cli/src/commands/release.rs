//! `lord registry publish-release BINARY --release VERSION`: publish a build of
//! lord itself to a registry, for `lord self update`. The binary is signed
//! first as that release (`lord pdk sign BINARY --key NAME --release
//! VERSION`, which writes `BINARY.sig`), so the signature vouches for the
//! version and platform as well as the bytes; the registry signs it into
//! its TUF index as `releases/PLATFORM/lord-VERSION`. The token comes from
//! `LORD_REGISTRY_TOKEN` (scope `publish:lord`: a plugin author's
//! `publish:*` does not cover lord), never argv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;
use lord_package::ReleaseStatement;
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct PublishReleaseArgs {
    /// The lord binary, signed beside it as this release (`BINARY.sig`, by
    /// `lord pdk sign BINARY --release VERSION`).
    binary: PathBuf,
    /// Its version (SemVer), as `lord --version` prints it.
    #[arg(long, value_name = "VERSION")]
    release: String,
    /// The platform it runs on, ARCH-OS (default: the one its signature
    /// names).
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
    let sign_with = |platform: &str| {
        format!(
            "`lord pdk sign {} --key NAME --release {} --platform {platform}`",
            args.binary.display(),
            args.release
        )
    };
    let (signature, public) = crate::commands::pdk::signature_beside(
        ctx,
        &binary,
        &bytes,
        "binary",
        sign_with(args.platform.as_deref().unwrap_or("ARCH-OS")),
    )?;
    let platform = args
        .platform
        .or_else(|| signature.release.as_ref().map(|r| r.platform.clone()))
        .unwrap_or_else(crate::commands::pdk::this_platform);
    let offered = ReleaseStatement {
        version: args.release.clone(),
        platform: platform.clone(),
    };
    let sig_path = lord_package::Signature::path_for(&binary);
    match &signature.release {
        Some(signed) if *signed == offered => {}
        Some(signed) => {
            return Err(UsageError(format!(
                "`{}` vouches for {signed}, not {offered}; sign the binary as the release \
                 you publish: {}",
                sig_path.display(),
                sign_with(&platform)
            ))
            .into());
        }
        None => {
            return Err(UsageError(format!(
                "`{}` signs the binary as a package; a release's signature vouches for its \
                 version and platform too: {}",
                sig_path.display(),
                sign_with(&platform)
            ))
            .into());
        }
    }
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
