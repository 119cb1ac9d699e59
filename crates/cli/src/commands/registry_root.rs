//! `lord registry root sign|install`: the registry's root key kept
//! offline. `lord registry keys rotate` on a server without its root key
//! prepares the next root unsigned (`tuf/next.root.json`); `root sign`
//! adds the root key's signature to it wherever that key is kept (a
//! folder holding `root.der` alone, on another machine or a removable
//! disk), and with `--new-root-key` replaces the root key there; `root
//! install` checks it and commits the rotation on the server.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_registry::tuf::RootKey;
use serde_json::json;

use super::registry_database::DatabaseArgs;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum RootCommand {
    /// Sign a prepared root with the root key in KEYS (`KEYS/root.der`),
    /// in place: the file keeps the signatures it has and gains this one.
    /// Run it where the root key is kept, never on the server.
    Sign {
        /// The root to sign (the server's `tuf/next.root.json`, copied here).
        file: PathBuf,
        /// The folder holding the root key, `root.der`.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// Replace the root key: make a new one in DIR (a new file,
        /// `root-KEYID.der`), name it in the root role in place of the
        /// old, and sign with both. Nothing in DIR is overwritten or
        /// removed; delete the old key once the root is installed. Only on
        /// a root nothing has signed yet (prepared with `lord registry
        /// keys rotate --role root`).
        #[arg(long)]
        new_root_key: bool,
        #[arg(long)]
        json: bool,
    },
    /// Install a root signed with `lord registry root sign`: checked as
    /// clients will check it, then the new online keys take over and the
    /// index is re-signed with them.
    Install {
        /// The signed root.
        file: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        /// The database of a registry whose index several servers share.
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: RootCommand,
) -> Result<()> {
    match command {
        RootCommand::Sign {
            file,
            keys,
            new_root_key,
            json,
        } => {
            let file = ctx.cwd.join(file);
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let root_key = if new_root_key {
                RootKey::Replace
            } else {
                RootKey::Keep
            };
            let (signed, summary) =
                lord_registry::tuf::sign_root(&bytes, &ctx.cwd.join(keys), root_key).await?;
            lord_file::write_atomic(&file, &signed)
                .with_context(|| format!("writing {}", file.display()))?;
            if json {
                out.json(&json!({
                    "version": summary.version,
                    "expires": summary.expires,
                    "signed_by": summary.signed_by,
                    "new_root_key": summary.new_root_key.as_ref().map(|(id, file)| json!({
                        "keyid": id,
                        "key_file": file,
                    })),
                }))?;
            } else {
                if let Some((id, file)) = &summary.new_root_key {
                    out.status(format_args!(
                        "made the new root key {id} in {}; keep the old key until this root is \
                         installed, then delete it",
                        file.display()
                    ));
                }
                out.status(format_args!(
                    "signed root version {} (expires {}) in {}; it now carries {} signature(s). \
                     Copy it to the server and run `lord registry root install FILE` there",
                    summary.version,
                    summary.expires,
                    file.display(),
                    summary.signed_by.len()
                ));
            }
        }
        RootCommand::Install {
            file,
            data,
            database,
            json,
        } => {
            let file = ctx.cwd.join(file);
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let repo = super::registry::index(ctx, out, framework, data, &database)?;
            let metadata_version = repo
                .install_root(&bytes)
                .await
                .context("installing the signed root")?;
            let keys = repo.keys()?;
            if json {
                out.json(&json!({
                    "root_version": keys.root_version,
                    "metadata_version": metadata_version,
                }))?;
            } else {
                out.status(format_args!(
                    "installed root version {} and re-signed the index at version {} with the \
                     new keys; clients follow at their next refresh",
                    keys.root_version, metadata_version
                ));
            }
        }
    }
    Ok(())
}
