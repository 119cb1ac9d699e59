//! `lord registry add NAME URL [--root FILE | --root-sha256 HEX]
//! [--ca-file FILE]`: a registry known by a name of the user's choosing,
//! its root (and private CA) pinned before first contact through the same
//! code as `lord registry pin`. Names are kept in
//! `$LORD_HOME/registries/names.json` (name to URL, replaced atomically);
//! `--registry NAME` and a `registry.url` that holds a name resolve
//! through it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;

use crate::cli::UsageError;
use crate::render::Output;

const NAMES: &str = "names.json";

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The name to know it by (letters, digits, `-` and `_`).
    name: String,
    /// Its URL (`https://HOST` or `http://HOST:PORT`).
    url: String,
    /// The root its operator gave you (`1.root.json`), pinned now.
    #[arg(long, conflicts_with = "root_sha256")]
    root: Option<PathBuf>,
    /// The SHA-256 (hexadecimal) its operator published for its root.
    #[arg(long)]
    root_sha256: Option<String>,
    /// The private CA (PEM) that issued its HTTPS certificate.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

fn names(framework: &Framework) -> Result<BTreeMap<String, String>> {
    let path = framework.registries_folder().join(NAMES);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a JSON object of names", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The URL of the registry named `name`, if one was added by that name.
pub(crate) fn url_of(framework: &Framework, name: &str) -> Result<Option<String>> {
    Ok(names(framework)?.remove(name))
}

/// Whether `text` is a registry name rather than a URL.
pub(crate) fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) async fn run(out: &Output, framework: &Framework, args: AddArgs) -> Result<()> {
    if !is_name(&args.name) {
        return Err(UsageError(format!(
            "`{}` is not a registry name: use letters, digits, `-` and `_`",
            args.name
        ))
        .into());
    }
    // Checks the URL's form before anything is written.
    let url = lord_registry_client::Client::new(&args.url)?
        .base()
        .to_owned();
    let mut all = names(framework)?;
    if let Some(known) = all.get(&args.name)
        && *known != url
    {
        return Err(UsageError(format!(
            "the name `{}` is already given to {known}; choose another name",
            args.name
        ))
        .into());
    }
    if args.root.is_some() || args.root_sha256.is_some() || args.ca_file.is_some() {
        let pin = super::registry_pin::PinArgs::new(
            url.clone(),
            args.root,
            args.root_sha256,
            args.ca_file,
        );
        super::registry_pin::run(out, framework, pin).await?;
    }
    all.insert(args.name.clone(), url.clone());
    let dir = framework.registries_folder();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(NAMES);
    let mut bytes = serde_json::to_vec_pretty(&all)?;
    bytes.push(b'\n');
    lord_file::write_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    out.status(format_args!(
        "added registry `{}` at {url}; use it with `--registry {}`",
        args.name, args.name
    ));
    Ok(())
}
