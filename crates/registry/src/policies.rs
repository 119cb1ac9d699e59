//! The organisation's governance policies, served by the registry and
//! signed: the operator sets one Cedar file (`lord registry policy set`,
//! [`Registry::set_policies`]), checked against lord's policy schema as a
//! client will check it; it is stored as a blob named by its digest and
//! signed into the TUF index as the target `policies/registry.cedar`, so a
//! client (`lord policy sync`) trusts it through the same signed metadata
//! as every package, and a mirror or a compromised blob store cannot hand
//! out other rules. `GET /api/v1/tuf/targets/policies/SHA256.registry.cedar`
//! serves it at its consistent-snapshot path, only with the digest the
//! index lists. Setting an empty file withdraws the policies (clients then
//! remove theirs).
//!
//! Invariant: the blob is stored before the index lists it, so the index
//! never names text the registry cannot serve.

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lord_package::Digest;
use lord_policy::{LayerSource, Policies, Scope};
use lord_registry_api::{IndexEntry, POLICIES};

use crate::error::RegistryError;
use crate::server::{Registry, Shared, blocking};

/// The policies signed in: their digest and how many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicies {
    pub digest: String,
    pub length: u64,
    pub policies: usize,
}

/// The file name policies are checked and reported under.
const FILE: &str = "registry.cedar";

impl Registry {
    /// Checks `text` against lord's policy schema and signs it into the
    /// index as the registry's policies, replacing those it had.
    pub async fn set_policies(&self, text: &str) -> Result<SignedPolicies, RegistryError> {
        let policies = Policies::load(vec![(
            Scope::Machine,
            LayerSource {
                files: vec![(FILE.to_owned(), text.to_owned())],
                groups: None,
            },
        )])
        .map_err(|e| RegistryError::Rejected(e.to_string()))?;
        let bytes = text.as_bytes().to_vec();
        let digest = Digest::of(&bytes).to_string();
        let length = bytes.len() as u64;
        self.tuf.ready().await?;
        self.blobs.put(&digest, bytes).await?;
        self.tuf
            .resign(&[IndexEntry {
                name: POLICIES.to_owned(),
                length,
                digest: digest.clone(),
                custom: serde_json::Map::new(),
            }])
            .await?;
        Ok(SignedPolicies {
            digest,
            length,
            policies: policies.list().len(),
        })
    }
}

/// The policies at their TUF target path; the digest in the name must be
/// the one the current index lists.
pub(crate) async fn policies_target(
    State(registry): State<Shared>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, RegistryError> {
    let no_target = || RegistryError::NotFound(format!("no target `policies/{file}`"));
    let digest = file
        .strip_suffix(&format!(".{FILE}"))
        .ok_or_else(no_target)?
        .to_owned();
    let listed = blocking(&registry, |r| r.tuf.target_sha256(POLICIES)).await?;
    if listed.as_deref() != Some(digest.as_str()) {
        return Err(no_target());
    }
    let bytes = registry.blobs.get(&digest).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
}
