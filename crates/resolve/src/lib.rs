//! Plugin dependency resolution: given the plugins a user asks for and what
//! an index says about every published version, pick one version of each
//! plugin needed so that every requirement holds, or explain in plain
//! sentences why no such choice exists.
//!
//! Built on the PubGrub algorithm (the `pubgrub` crate). Rules:
//! - the newest version that fits wins;
//! - a version whose host API requirement does not match this lord's is
//!   never chosen, and a yanked one only when requested with `=X.Y.Z`;
//! - requirements follow Cargo's semver rules; pre-release versions are
//!   never chosen.
//!
//! A contract crate: no I/O. The caller fetches the index and shows the
//! result.

mod provider;
mod range;
mod report;

use std::collections::BTreeMap;

use lord_manifest::PluginId;
use pubgrub::Ranges;
use semver::{Version, VersionReq};

use crate::provider::{Package, Provider};
pub use crate::range::range_of;

/// One published version of a plugin as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The published version; pre-releases are never chosen.
    pub version: Version,
    /// The host API range the version needs (e.g. "^0.2").
    pub host_api: VersionReq,
    /// Plugin ids and ranges it depends on.
    pub dependencies: Vec<(PluginId, VersionReq)>,
    /// Withdrawn by its author: chosen only when requested with `=X.Y.Z`.
    pub yanked: bool,
}

/// What the resolver may read: every version of a plugin (any order). An
/// unknown id returns an empty list.
pub trait Index {
    /// Every published version of `id`, yanked and pre-release ones
    /// included; the resolver filters them itself.
    fn candidates(&self, id: &PluginId) -> Vec<Candidate>;
}

impl Index for BTreeMap<PluginId, Vec<Candidate>> {
    fn candidates(&self, id: &PluginId) -> Vec<Candidate> {
        self.get(id).cloned().unwrap_or_default()
    }
}

/// A successful resolution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// The chosen version of every plugin needed, requested or not.
    pub versions: BTreeMap<PluginId, Version>,
    /// Versions left out and why (host-incompatible, yanked), as sentences.
    /// Only versions newer than the one chosen that every requirement on
    /// the plugin would have allowed are listed: the ones the user might
    /// have expected instead.
    pub skipped: Vec<String>,
}

/// Why no resolution exists.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No solution; the message is plain English sentences, one per line,
    /// naming which plugin wants what.
    #[error("{0}")]
    Conflict(String),
}

/// Picks a version of every plugin `requests` needs, directly or through
/// dependencies, for a lord whose host API is `host_api`.
///
/// Requesting the same plugin twice intersects the two requirements.
pub fn resolve(
    requests: &[(PluginId, VersionReq)],
    index: &impl Index,
    host_api: &Version,
) -> Result<Resolution, ResolveError> {
    let provider = Provider::new(index, host_api, requests);
    match pubgrub::resolve(&provider, Package::Root, provider::ROOT_VERSION) {
        Ok(solution) => Ok(resolution(&provider, solution.into_iter().collect())),
        Err(pubgrub::PubGrubError::NoSolution(tree)) => {
            Err(ResolveError::Conflict(report::explain(&tree, &provider)))
        }
        // The provider's error type is `Infallible`: these cannot happen,
        // and the empty matches prove it to the compiler.
        Err(pubgrub::PubGrubError::ErrorRetrievingDependencies { source, .. }) => match source {},
        Err(pubgrub::PubGrubError::ErrorChoosingVersion { source, .. }) => match source {},
        Err(pubgrub::PubGrubError::ErrorInShouldCancel(source)) => match source {},
    }
}

/// Builds the public result from PubGrub's choice, adding the skipped
/// versions that would otherwise have been picked.
fn resolution(provider: &Provider<'_>, solution: BTreeMap<Package, Version>) -> Resolution {
    // Every range the chosen versions put on each plugin, so a skipped
    // version is only mentioned if all of them would have allowed it.
    let mut wanted: BTreeMap<PluginId, Ranges<Version>> = BTreeMap::new();
    for (package, version) in &solution {
        // A chosen version's dependencies were readable, or the solver
        // could not have chosen it; `Err` only adds nothing.
        let Ok(constraints) = provider.chosen_deps(package, version) else {
            continue;
        };
        for (dep, range) in constraints {
            match dep {
                // The root never is a dependency.
                Package::Root => {}
                Package::Plugin(id) => {
                    let entry = wanted.entry(id).or_insert_with(Ranges::full);
                    *entry = entry.intersection(&range);
                }
            }
        }
    }
    let mut versions = BTreeMap::new();
    let mut skipped = Vec::new();
    for (package, version) in solution {
        match package {
            Package::Root => {}
            Package::Plugin(id) => {
                let allowed = wanted.get(&id).cloned().unwrap_or_else(Ranges::full);
                let known = provider.versions(&id);
                skipped.extend(
                    known
                        .skipped
                        .range(&version..)
                        .rev()
                        .filter(|(candidate, _)| allowed.contains(*candidate))
                        .map(|(_, reason)| reason.clone()),
                );
                versions.insert(id, version);
            }
        }
    }
    Resolution { versions, skipped }
}
