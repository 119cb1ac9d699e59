//! `lord pdk pack|sign|publish`: turn a plugin folder into a package,
//! sign it, and publish it to a registry. Packing is deterministic, so
//! anyone can rebuild a package from the same files and compare digests.
//! The publish token comes from `LORD_REGISTRY_TOKEN`, never from argv.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;
use lord_package::{Digest, Keys, PublicKey, ReleaseStatement, Signature};
use serde_json::json;

use super::write_atomic;
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct PackArgs {
    /// The plugin folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where to write the package (default: the current folder).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    package: PathBuf,
    /// The key to sign with.
    #[arg(long, default_value = "default")]
    key: String,
    /// Sign a build of lord itself as this release (SemVer), for `lord
    /// registry publish-release`: the signature then vouches for the
    /// version and platform as well as the bytes.
    #[arg(long, value_name = "VERSION")]
    release: Option<String>,
    /// With --release: the platform the build runs on, ARCH-OS (default:
    /// this machine's).
    #[arg(long, requires = "release")]
    platform: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    package: PathBuf,
    /// The registry (default: the `registry.url` setting).
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct PackRequest {
    dir: PathBuf,
    /// The folder the package is written into.
    out: PathBuf,
    json: bool,
}

pub(crate) fn parse_pack(cwd: &Path, args: PackArgs) -> PackRequest {
    PackRequest {
        dir: cwd.join(args.dir),
        out: cwd.join(args.out.unwrap_or_default()),
        json: args.json,
    }
}

pub(crate) fn pack(out: &Output, request: PackRequest) -> Result<ExitCode> {
    let packed = lord_package::pack(&request.dir)?;
    let path = request.out.join(packed.file_name());
    write_atomic(&path, &packed.bytes)?;
    if request.json {
        out.json_line(&json!({
            "path": path,
            "id": packed.id.as_str(),
            "version": packed.version.to_string(),
            "sha256": packed.digest.to_string(),
            "bytes": packed.bytes.len(),
            "files": packed.files.iter().map(|(name, size)| json!({"path": name, "bytes": size})).collect::<Vec<_>>(),
        }))?;
    } else {
        out.status(format_args!(
            "packed {} {} into {} ({} files, {} bytes)",
            packed.id,
            packed.version,
            path.display(),
            packed.files.len(),
            packed.bytes.len()
        ));
        out.line(format_args!("sha256 {}", packed.digest))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug)]
pub(crate) struct SignRequest {
    package: PathBuf,
    key: String,
    /// Signing a build of lord as this release, not a package.
    release: Option<ReleaseStatement>,
    json: bool,
}

pub(crate) fn parse_sign(cwd: &Path, args: SignArgs) -> Result<SignRequest, UsageError> {
    let release = args.release.map(|version| ReleaseStatement {
        version,
        platform: args.platform.unwrap_or_else(this_platform),
    });
    if let Some(release) = &release {
        release
            .check()
            .map_err(|problem| UsageError(format!("cannot sign it as a release: {problem}")))?;
    }
    Ok(SignRequest {
        package: cwd.join(args.package),
        key: args.key,
        release,
        json: args.json,
    })
}

/// This machine's platform as releases name it: ARCH-OS.
pub(crate) fn this_platform() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

pub(crate) fn sign(ctx: &Context, out: &Output, request: SignRequest) -> Result<ExitCode> {
    let SignRequest {
        package,
        key,
        release,
        json,
    } = request;
    let bytes =
        std::fs::read(&package).with_context(|| format!("reading `{}`", package.display()))?;
    let digest = Digest::of(&bytes);
    let keys = Keys::new(&ctx.home);
    let signature = match release {
        Some(release) => keys.sign_release(&key, &digest, release)?,
        None => keys.sign(&key, &digest)?,
    };
    let path = Signature::path_for(&package);
    write_atomic(&path, signature.to_json().as_bytes())?;
    if json {
        out.json_line(&json!({
            "signature": path,
            "key": signature.key,
            "sha256": digest.to_string(),
            "release": signature.release,
        }))?;
    } else {
        let what = match &signature.release {
            Some(release) => format!(" as {release}"),
            None => String::new(),
        };
        out.status(format_args!(
            "signed {}{what} with key `{key}` ({}) into {}",
            package.display(),
            signature.key,
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug)]
pub(crate) struct PublishRequest {
    package: PathBuf,
    registry: Option<String>,
    /// `LORD_REGISTRY_TOKEN`; checked after the registry, so a missing
    /// registry is reported first.
    token: Option<String>,
    json: bool,
}

pub(crate) fn parse_publish(
    ctx: &Context,
    args: PublishArgs,
) -> Result<PublishRequest, UsageError> {
    Ok(PublishRequest {
        package: ctx.cwd.join(args.package),
        registry: args.registry,
        token: ctx
            .env
            .iter()
            .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
            .map(|(_, v)| v.clone()),
        json: args.json,
    })
}

pub(crate) async fn publish(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: PublishRequest,
) -> Result<ExitCode> {
    let url = crate::commands::registry_url(framework, request.registry)?;
    let token = request.token.ok_or_else(|| {
        UsageError(
            "set LORD_REGISTRY_TOKEN to a publish token (`lord registry token create` on the \
             registry's machine)"
                .to_owned(),
        )
    })?;
    let package = &request.package;
    let bytes =
        std::fs::read(package).with_context(|| format!("reading `{}`", package.display()))?;
    let (signature, public) = signature_beside(
        ctx,
        package,
        &bytes,
        "package",
        "`lord pdk sign`".to_owned(),
    )?;
    // The policies in force on this machine decide what it may publish
    // (`publish` actions), before anything leaves it.
    framework.govern_publish(package)?;
    let client = crate::commands::registry_client_at(framework, &url)?;
    let published = client.publish(&token, bytes, &signature, &public).await?;
    if request.json {
        out.json_line(&json!(published))?;
    } else {
        out.status(format_args!(
            "published {} {} (sha256 {}) to {url}",
            published.id, published.version, published.digest
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The signature beside `file` (`FILE.sig`) and the trusted key that made
/// it, for sending both with the file (whose contents are `bytes`); `what`
/// names the file in errors, `sign_with` the command that signs it.
pub(crate) fn signature_beside(
    ctx: &Context,
    file: &Path,
    bytes: &[u8],
    what: &str,
    sign_with: String,
) -> Result<(Signature, PublicKey)> {
    let sig_path = Signature::path_for(file);
    let sig_text = std::fs::read_to_string(&sig_path).map_err(|_| {
        UsageError(format!(
            "`{}` is missing: sign the {what} first with {sign_with}",
            sig_path.display()
        ))
    })?;
    let signature = Signature::parse(&sig_path, &sig_text)?;
    // A signature left from an earlier build (`pdk pack` writes the file
    // anew, not its `.sig`) is named here, not sent to be called forged.
    if signature
        .digest
        .parse::<Digest>()
        .is_ok_and(|signed| signed != Digest::of(bytes))
    {
        return Err(UsageError(format!(
            "`{}` was made for other bytes than `{}` (an earlier build?); sign the {what} \
             again with {sign_with}",
            sig_path.display(),
            file.display()
        ))
        .into());
    }
    let public = Keys::new(&ctx.home)
        .trusted()?
        .into_iter()
        .find(|k| k.id() == signature.key)
        .ok_or_else(|| {
            UsageError(format!(
                "the {what} is signed by key {}, which is not among your keys (`lord key list`)",
                signature.key
            ))
        })?;
    Ok((signature, public))
}
