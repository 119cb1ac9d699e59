//! `lord registry pin`: trust a registry's signed index from a root its
//! operator vouched for, instead of from whatever answers first. The root
//! is a `root.json` file given out of band, or the registry's own
//! `1.root.json` checked against a SHA-256 the operator published. It is
//! saved as the registry's first root (`registries/HOST/root.json`), which
//! the client starts trust from; a registry lord already trusts is not
//! re-pinned (its trust has moved on from version 1 through rotations).
//! `--ca-file` pins the CA of a registry whose HTTPS certificate a private
//! CA issued (`registries/HOST/ca.pem`), used for that registry alone.

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::Framework;

use crate::cli::UsageError;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct PinArgs {
    /// The registry (default `registry.url`).
    #[arg(long)]
    registry: Option<String>,
    /// The root its operator gave you (`1.root.json`).
    #[arg(
        long,
        conflicts_with = "root_sha256",
        required_unless_present_any = ["root_sha256", "ca_file"]
    )]
    root: Option<std::path::PathBuf>,
    /// The SHA-256 (hexadecimal) its operator published for its root.
    #[arg(long)]
    root_sha256: Option<String>,
    /// The CA (PEM) that issued the registry's HTTPS certificate, when a
    /// private one did: trusted for this registry alone, in place of the
    /// system's roots. May be pinned on its own, at any time.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
}

impl PinArgs {
    /// The pin `lord registry add` makes for the registry at `registry`.
    pub(crate) fn new(
        registry: String,
        root: Option<std::path::PathBuf>,
        root_sha256: Option<String>,
        ca_file: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            registry: Some(registry),
            root,
            root_sha256,
            ca_file,
        }
    }
}

pub(crate) async fn run(out: &Output, framework: &Framework, args: PinArgs) -> Result<()> {
    let mut client = super::registry_client(framework, args.registry.clone())?;
    let state = framework.registry_folder(client.base());
    // Everything is checked before anything is written: a root that does
    // not match leaves no CA pinned either, and `lord registry add`
    // records nothing.
    let ca = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            client = client.with_ca_pem(&pem)?;
            Some((path, pem))
        }
        None => None,
    };
    let root = if args.root.is_none() && args.root_sha256.is_none() {
        None
    } else {
        Some(first_root(&client, &state, &args).await?)
    };
    std::fs::create_dir_all(&state)
        .with_context(|| format!("could not create {}", state.display()))?;
    if let Some(root) = &root {
        let path = state.join("root.json");
        lord_file::write_atomic(&path, root)
            .with_context(|| format!("could not write {}", path.display()))?;
        out.status(format_args!(
            "pinned the root of {} (SHA-256 {}); its signed index is trusted from it",
            client.base(),
            sha256_hex(root)
        ));
    }
    if let Some((path, pem)) = &ca {
        let pinned = state.join(super::REGISTRY_CA);
        lord_file::write_atomic(&pinned, pem)
            .with_context(|| format!("could not write {}", pinned.display()))?;
        out.status(format_args!(
            "pinned the CA in {} for {}'s HTTPS",
            path.display(),
            client.base()
        ));
    }
    Ok(())
}

/// The registry's first root, from `--root` or fetched and checked
/// against `--root-sha256` (over `client`, which trusts a CA being pinned
/// with it), refused when lord already trusts the registry.
async fn first_root(
    client: &lord_host::RegistryClient,
    state: &std::path::Path,
    args: &PinArgs,
) -> Result<Vec<u8>> {
    if state.join("metadata/root.json").exists() {
        return Err(UsageError(format!(
            "lord already trusts {} (its trust has moved on from its first root); pinning \
             applies before first contact; nothing was pinned",
            client.base()
        ))
        .into());
    }
    let root = match (&args.root, &args.root_sha256) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?
        }
        (None, Some(expected)) => {
            let root = client.first_root().await?;
            let actual = sha256_hex(&root);
            if !actual.eq_ignore_ascii_case(expected.trim()) {
                return Err(UsageError(format!(
                    "{} serves a root with SHA-256 {actual}, not the {} you were given: do not \
                     trust it; nothing was pinned",
                    client.base(),
                    expected.trim()
                ))
                .into());
            }
            root
        }
        (None, None) => {
            return Err(UsageError("give --root FILE or --root-sha256 HEX".to_owned()).into());
        }
    };
    check_root(&root)?;
    Ok(root)
}

/// A TUF root, version 1, by its shape; its signatures are checked by the
/// client when it first loads the index.
fn check_root(bytes: &[u8]) -> Result<()> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| UsageError(format!("the root is not JSON: {e}")))?;
    let signed = &value["signed"];
    if signed["_type"] != "root" || !value["signatures"].is_array() {
        return Err(UsageError(
            "that file is not a TUF root (`signed._type` is not `root`)".to_owned(),
        )
        .into());
    }
    if signed["version"] != 1 {
        return Err(UsageError(format!(
            "pin the registry's first root (version 1), not version {}; lord follows its \
             rotations from there",
            signed["version"]
        ))
        .into());
    }
    Ok(())
}

/// The SHA-256 of `bytes` in hexadecimal, as operators publish it.
fn sha256_hex(bytes: &[u8]) -> String {
    lord_package::Digest::of(bytes).to_string()
}
