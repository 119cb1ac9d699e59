//! The policies a registry serves, signed, brought into one of lord's
//! policy layers (`lord policy sync`): fetched through the registry's
//! TUF index (`lord_registry_client::Client::signed_policies`), checked
//! against the schema as every policy file is, and written as one file,
//! `registry-HOST.cedar`, into the layer's folder, replacing what the last
//! sync wrote. An administrator syncs into the machine's folder (run as
//! the account that owns `/etc/lord/policies`, e.g. from a timer), which an
//! ordinary user cannot change; the registry's `permit`s then join the
//! administrator's in that layer, so that is a choice to trust what the
//! registry signs. A user may sync into their own layer, which can only
//! add refusals. The text is checked with the rest of the layer it joins:
//! a clash with another file there, or a layer left with no `permit`
//! (which would refuse every action), is refused. When the registry
//! withdraws its policies the file is removed.
//!
//! Invariant: the file is replaced atomically and only by text that the
//! registry's signed index lists and that the schema accepts; a refused
//! fetch or check leaves the previous file in force.

use std::path::PathBuf;

use lord_policy::{LayerSource, Policies, Scope};
use lord_registry_client::Client;

use crate::error::HostError;
use crate::framework::Framework;
use crate::governance::{layer_source, read_layer};
use crate::remote::registry_dir_name;

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySync {
    /// The layer file the registry's policies live in.
    pub file: PathBuf,
    /// How many policies it holds now (0 once withdrawn).
    pub policies: usize,
    /// Whether the file changed (written, replaced or removed).
    pub changed: bool,
}

impl Framework {
    /// Fetches the policies the registry behind `client` serves and puts
    /// them into the `scope` layer's folder.
    pub async fn sync_registry_policies(
        &self,
        client: &Client,
        scope: Scope,
    ) -> Result<PolicySync, HostError> {
        let dir = self.governance().dir(scope).ok_or_else(|| {
            HostError::PolicyUnusable(format!("no {} policy folder is set", scope.as_str()))
        })?;
        let file = dir.join(format!(
            "registry-{}.cedar",
            registry_dir_name(client.base())
        ));
        let io = |action: &'static str, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| HostError::Io {
                action,
                path,
                source,
            }
        };
        let state = self.registry_folder(client.base());
        let fetched = client.signed_policies(&state).await?;
        let text = fetched
            .map(String::from_utf8)
            .transpose()
            .map_err(|_| {
                HostError::PolicyUnusable("the registry's policies are not UTF-8 text".to_owned())
            })?
            .unwrap_or_default();
        let policies = Policies::load(vec![(
            scope,
            LayerSource {
                files: vec![(file.display().to_string(), text.clone())],
                groups: None,
            },
        )])?
        .list()
        .len();
        if policies > 0 {
            check_layer(scope, &dir, &file, &text)?;
        }
        if policies == 0 {
            // Withdrawn (or never set): nothing of the registry's stays.
            let changed = file.exists();
            if changed {
                std::fs::remove_file(&file).map_err(io("remove", &file))?;
            }
            return Ok(PolicySync {
                file,
                policies,
                changed,
            });
        }
        let changed = std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str());
        if changed {
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            lord_file::write_atomic(&file, text.as_bytes()).map_err(|e| HostError::Io {
                action: e.action,
                path: e.path,
                source: e.source,
            })?;
        }
        Ok(PolicySync {
            file,
            policies,
            changed,
        })
    }
}

/// Checks the layer the registry's text joins, as it will be read: with
/// the other files of `dir` it must load (no `@id` twice, the groups it
/// names), and it must permit something, since a layer with no `permit`
/// refuses every action.
fn check_layer(
    scope: Scope,
    dir: &std::path::Path,
    file: &std::path::Path,
    text: &str,
) -> Result<(), HostError> {
    let shown = file.display().to_string();
    let mut files = read_layer(dir).map_err(HostError::PolicyUnusable)?;
    files.retain(|(path, _)| *path != shown);
    let mut source = layer_source(files);
    source.files.push((shown, text.to_owned()));
    let layer = Policies::load(vec![(scope, source)]).map_err(|e| {
        HostError::PolicyUnusable(format!(
            "the registry's policies do not fit beside the other files of {}: {e}; the \
             previous policies stay in force",
            dir.display()
        ))
    })?;
    if !layer.list().iter().any(|p| p.effect == "permit") {
        return Err(HostError::PolicyUnusable(format!(
            "with the registry's policies the {} layer ({}) would have no `permit`, so it would \
             refuse every action; add `permit(principal, action, resource);` to a file of its \
             own there, or ask the registry's operator to include one",
            scope.as_str(),
            dir.display()
        )));
    }
    Ok(())
}
