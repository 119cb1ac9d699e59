//! `lord pdk pack|sign`: turn a plugin folder into a package file and sign
//! it. Packing is deterministic, so anyone can rebuild a package from the
//! same files and compare digests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
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
}

/// Writes `bytes` to `path` atomically, so a killed run leaves the old
/// file or the new one.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in `{}`", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing `{}`", path.display()))?;
    file.persist(path)
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
}

pub(crate) fn run(ctx: &Context, command: PdkCommand) -> Result<ExitCode> {
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
    }
    Ok(ExitCode::SUCCESS)
}
