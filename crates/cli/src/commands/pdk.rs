//! `lord pdk pack|sign|publish`: turn a plugin folder into a package file,
//! sign it, and publish it to a registry. Packing is deterministic, so
//! anyone can rebuild a package from the same files and compare digests.
//! The publish token comes from `LORD_REGISTRY_TOKEN`, never from argv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_package::{Digest, Keys, Signature};
use serde_json::json;

use crate::context::Context;

#[derive(Debug, Subcommand)]
pub(crate) enum PdkCommand {
    /// Pack a plugin folder into ID-VERSION.lordpkg (same files, same bytes).
    Pack {
        /// The plugin folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the package (default: the current folder).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Sign a package with one of your keys, writing PACKAGE.sig beside it.
    Sign {
        package: PathBuf,
        /// The key to sign with.
        #[arg(long, default_value = "default")]
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a signed package (PACKAGE and PACKAGE.sig) to a registry,
    /// with the token in LORD_REGISTRY_TOKEN.
    Publish {
        package: PathBuf,
        /// The registry (default: the `registry.url` setting).
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The registry to talk to: the flag, else `registry.url`.
pub(crate) fn registry_url(framework: &Framework, flag: Option<String>) -> Result<String> {
    if let Some(url) = flag {
        return Ok(url);
    }
    framework
        .settings()?
        .get("registry.url")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| {
            crate::cli::UsageError(
                "no registry is configured: pass --registry URL, or run `lord config set \
                 registry.url http://HOST:PORT`"
                    .to_owned(),
            )
            .into()
        })
}

/// Writes `bytes` to `path` atomically, so a killed run leaves the old
/// file or the new one.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    Ok(lord_file::write_atomic(path, bytes)?)
}

pub(crate) async fn run(
    ctx: &Context,
    framework: &Framework,
    command: PdkCommand,
) -> Result<ExitCode> {
    match command {
        PdkCommand::Pack { dir, out, json } => {
            let dir = ctx.cwd.join(dir);
            let packed = lord_package::pack(&dir)?;
            let out = ctx.cwd.join(out.unwrap_or_default());
            let path = out.join(packed.file_name());
            write_atomic(&path, &packed.bytes)?;
            if json {
                println!(
                    "{}",
                    json!({
                        "path": path,
                        "id": packed.id.as_str(),
                        "version": packed.version.to_string(),
                        "sha256": packed.digest.to_string(),
                        "bytes": packed.bytes.len(),
                        "files": packed.files.iter().map(|(name, size)| json!({"path": name, "bytes": size})).collect::<Vec<_>>(),
                    })
                );
            } else {
                eprintln!(
                    "packed {} {} into {} ({} files, {} bytes)",
                    packed.id,
                    packed.version,
                    path.display(),
                    packed.files.len(),
                    packed.bytes.len()
                );
                println!("sha256 {}", packed.digest);
            }
        }
        PdkCommand::Sign { package, key, json } => {
            let package = ctx.cwd.join(package);
            let bytes = std::fs::read(&package)
                .with_context(|| format!("reading `{}`", package.display()))?;
            let digest = Digest::of(&bytes);
            let signature = Keys::new(&ctx.home).sign(&key, &digest)?;
            let path = Signature::path_for(&package);
            write_atomic(&path, signature.to_json().as_bytes())?;
            if json {
                println!(
                    "{}",
                    json!({"signature": path, "key": signature.key, "sha256": digest.to_string()})
                );
            } else {
                eprintln!(
                    "signed {} with key `{key}` ({}) into {}",
                    package.display(),
                    signature.key,
                    path.display()
                );
            }
        }
        PdkCommand::Publish {
            package,
            registry,
            json,
        } => {
            let url = registry_url(framework, registry)?;
            let token = ctx
                .env
                .iter()
                .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    crate::cli::UsageError(
                        "set LORD_REGISTRY_TOKEN to a publish token (`lord registry token \
                         create` on the registry's machine)"
                            .to_owned(),
                    )
                })?;
            let package = ctx.cwd.join(package);
            let bytes = std::fs::read(&package)
                .with_context(|| format!("reading `{}`", package.display()))?;
            let sig_path = Signature::path_for(&package);
            let sig_text = std::fs::read_to_string(&sig_path).map_err(|_| {
                crate::cli::UsageError(format!(
                    "`{}` is missing: sign the package first with `lord pdk sign`",
                    sig_path.display()
                ))
            })?;
            let signature = Signature::parse(&sig_path, &sig_text)?;
            let public = Keys::new(&ctx.home)
                .trusted()?
                .into_iter()
                .find(|k| k.id() == signature.key)
                .ok_or_else(|| {
                    crate::cli::UsageError(format!(
                        "the package is signed by key {}, which is not among your keys \
                         (`lord key list`)",
                        signature.key
                    ))
                })?;
            let client = lord_registry::Client::new(&url)?;
            let published = client.publish(&token, bytes, &signature, &public).await?;
            if json {
                println!("{}", json!(published));
            } else {
                eprintln!(
                    "published {} {} (sha256 {}) to {url}",
                    published.id, published.version, published.digest
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
