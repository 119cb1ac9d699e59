//! One file (or folder) per command family. Each parses its arguments into
//! a plain request, calls one operation and renders the result through
//! `crate::render::Output`.

pub(crate) mod ai;
pub(crate) mod alert;
pub(crate) mod analytics;
pub(crate) mod approval;
pub(crate) mod audit;
pub(crate) mod cache;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod dashboard;
pub(crate) mod db;
pub(crate) mod dev;
pub(crate) mod events;
pub(crate) mod install;
pub(crate) mod key;
pub(crate) mod man;
pub(crate) mod micro;
pub(crate) mod monitor;
pub(crate) mod pdk;
pub(crate) mod pipe;
pub(crate) mod plugin;
pub(crate) mod policy;
pub(crate) mod registry;
pub(crate) mod registry_add;
pub(crate) mod registry_advisory;
pub(crate) mod registry_database;
pub(crate) mod registry_pin;
pub(crate) mod registry_policy;
pub(crate) mod registry_root;
pub(crate) mod registry_workflow;
pub(crate) mod release;
pub(crate) mod rollout;
pub(crate) mod run;
pub(crate) mod scan;
pub(crate) mod secret;
pub(crate) mod self_update;
pub(crate) mod state;

use anyhow::{Context as _, Result};
use lord_host::Framework;

use crate::cli::UsageError;

/// The registry to talk to: the flag, else `registry.url`; either may be
/// a name given with `lord registry add`.
pub(crate) fn registry_url(framework: &Framework, flag: Option<String>) -> Result<String> {
    let chosen = match flag {
        Some(url) => url,
        None => configured_registry(framework)?,
    };
    if registry_add::is_name(&chosen) {
        return registry_add::url_of(framework, &chosen)?.ok_or_else(|| {
            UsageError(format!(
                "no registry is named `{chosen}`: add it with `lord registry add {chosen} URL`, \
                 or give its URL"
            ))
            .into()
        });
    }
    Ok(chosen)
}

fn configured_registry(framework: &Framework) -> Result<String> {
    framework
        .settings()?
        .get("registry.url")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| {
            UsageError(
                "no registry is configured: pass --registry URL, or run `lord config set \
                 registry.url http://HOST:PORT`"
                    .to_owned(),
            )
            .into()
        })
}

/// A client for the registry `registry_url` names, trusting its root on
/// first use only where the machine allows it. Every command that reads
/// the registry's signed index goes through here, so that a root trusted
/// on first use never slips past `registry.require-pinned-root` and is
/// then taken as pinned by every later command.
pub(crate) fn registry_client(
    framework: &Framework,
    flag: Option<String>,
) -> Result<lord_registry_client::Client> {
    // An organisation may require every registry's root to be pinned
    // (`registry.require-pinned-root`, locked on in the machine's file).
    let pinned_only = framework
        .settings()?
        .get("registry.require-pinned-root")
        .and_then(|v| v.as_bool())
        == Some(true);
    Ok(
        registry_client_at(framework, &registry_url(framework, flag)?)?
            .require_pinned_root(pinned_only),
    )
}

/// A client for the registry at `url`, trusting for its HTTPS the private
/// CA pinned for it (`lord registry pin --ca-file`) when there is one.
/// It does not apply `registry.require-pinned-root`: only for calls that
/// read nothing from the signed index (publishing, ratings); anything
/// that does uses [`registry_client`].
pub(crate) fn registry_client_at(
    framework: &Framework,
    url: &str,
) -> Result<lord_registry_client::Client> {
    let client = lord_registry_client::Client::new(url)?;
    let ca = framework.registry_folder(client.base()).join(REGISTRY_CA);
    match std::fs::read(&ca) {
        Ok(pem) => Ok(client
            .with_ca_pem(&pem)
            .with_context(|| format!("the CA pinned in {}", ca.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(client),
        Err(e) => Err(e).with_context(|| format!("reading {}", ca.display())),
    }
}

/// The file in a registry's folder that holds the CA pinned for it.
pub(crate) const REGISTRY_CA: &str = "ca.pem";
