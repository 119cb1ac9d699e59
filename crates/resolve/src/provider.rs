//! The PubGrub `DependencyProvider` over an [`Index`]: which versions of a
//! plugin may be chosen (newest first), what each depends on, and why the
//! others were left out.
//!
//! The index is read lazily, once per plugin, because the solver only asks
//! about plugins reachable from the request.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use lord_manifest::PluginId;
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};
use semver::Version;

use crate::Index;
use crate::range::{describe, range_of};

/// What the solver decides about: the synthetic root, whose dependencies
/// are the user's requests, or one plugin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Package {
    Root,
    Plugin(PluginId),
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your request"),
            Self::Plugin(id) => write!(f, "{id}"),
        }
    }
}

/// Dependencies of one version: the ranges per plugin, or why the version
/// cannot be used at all (a requirement we cannot read, an unsatisfiable
/// dependency on itself).
pub(crate) type Deps = Result<DependencyConstraints<Package, Ranges<Version>>, String>;

/// Everything the resolver learned about one plugin from the index.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    /// Whether the index lists the plugin at all, pre-releases included.
    pub(crate) published: bool,
    /// Versions that may be chosen, with their dependencies.
    pub(crate) usable: BTreeMap<Version, Deps>,
    /// Release versions that are never chosen, each with a sentence saying why.
    pub(crate) skipped: BTreeMap<Version, String>,
}

/// The provider the solver drives; see the module docs.
pub(crate) struct Provider<'a> {
    index: &'a dyn Index,
    host_api: &'a Version,
    /// Exact versions the user pinned with `=X.Y.Z`: the only way a yanked
    /// version is still chosen, mirroring Cargo's "yanked unless locked".
    pins: BTreeMap<PluginId, BTreeSet<Version>>,
    /// The dependencies of [`Package::Root`], built from the requests.
    root: Deps,
    /// Interior mutability because PubGrub hands the provider out by `&self`.
    cache: RefCell<HashMap<PluginId, Rc<Versions>>>,
}

/// The version given to the synthetic root; any value works, PubGrub only
/// needs one.
pub(crate) const ROOT_VERSION: Version = Version::new(0, 0, 0);

impl<'a> Provider<'a> {
    pub(crate) fn new(
        index: &'a dyn Index,
        host_api: &'a Version,
        requests: &[(PluginId, semver::VersionReq)],
    ) -> Self {
        let mut pins: BTreeMap<PluginId, BTreeSet<Version>> = BTreeMap::new();
        for (id, req) in requests {
            if let Some(version) = pinned_version(req) {
                pins.entry(id.clone()).or_default().insert(version);
            }
        }
        let root = constraints(None, requests.iter().map(|(id, req)| (id, req)));
        Self {
            index,
            host_api,
            pins,
            root,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The plugin's versions as this resolver sees them, read from the
    /// index on first use.
    pub(crate) fn versions(&self, id: &PluginId) -> Rc<Versions> {
        if let Some(known) = self.cache.borrow().get(id) {
            return Rc::clone(known);
        }
        let versions = Rc::new(self.load(id));
        self.cache
            .borrow_mut()
            .insert(id.clone(), Rc::clone(&versions));
        versions
    }

    fn load(&self, id: &PluginId) -> Versions {
        let candidates = self.index.candidates(id);
        let mut versions = Versions {
            published: !candidates.is_empty(),
            ..Versions::default()
        };
        let pinned = self.pins.get(id);
        for candidate in candidates {
            let version = candidate.version;
            // Pre-releases are never chosen, and not worth a sentence each:
            // nothing in a release range would pick them anyway.
            if !version.pre.is_empty() {
                continue;
            }
            // An index listing a version twice is malformed; the first entry
            // wins so the outcome does not depend on later duplicates.
            if versions.usable.contains_key(&version) || versions.skipped.contains_key(&version) {
                continue;
            }
            if !candidate.host_api.matches(self.host_api) {
                let reason = format!(
                    "{id} {version} skipped: it needs host API {}, this lord has {}",
                    candidate.host_api, self.host_api
                );
                versions.skipped.insert(version, reason);
                continue;
            }
            if candidate.yanked && !pinned.is_some_and(|pins| pins.contains(&version)) {
                let reason = format!(
                    "{id} {version} skipped: it was yanked, and only a direct request for ={version} may use a yanked version"
                );
                versions.skipped.insert(version, reason);
                continue;
            }
            let deps = constraints(
                Some((id, &version)),
                candidate.dependencies.iter().map(|(dep, req)| (dep, req)),
            );
            versions.usable.insert(version, deps);
        }
        versions
    }

    /// The ranges one chosen package puts on others; empty for a plugin the
    /// solver never chose a usable version of.
    pub(crate) fn chosen_deps(&self, package: &Package, version: &Version) -> Deps {
        match package {
            Package::Root => self.root.clone(),
            Package::Plugin(id) => self
                .versions(id)
                .usable
                .get(version)
                .cloned()
                .unwrap_or_else(|| Ok(DependencyConstraints::default())),
        }
    }
}

/// The version a requirement pins exactly (`=1.2.3`, one comparator, no
/// pre-release), if it does.
fn pinned_version(req: &semver::VersionReq) -> Option<Version> {
    match req.comparators.as_slice() {
        [only] if only.op == semver::Op::Exact && only.pre.is_empty() => {
            Some(Version::new(only.major, only.minor?, only.patch?))
        }
        _ => None,
    }
}

/// Turns `(plugin, requirement)` pairs into PubGrub constraints, merging
/// repeated plugins by intersection. `owner` is the version whose
/// dependencies these are, so a dependency on itself can be settled here:
/// PubGrub has no notion of a package constraining itself.
fn constraints<'r>(
    owner: Option<(&PluginId, &Version)>,
    pairs: impl Iterator<Item = (&'r PluginId, &'r semver::VersionReq)>,
) -> Deps {
    let mut out = DependencyConstraints::<Package, Ranges<Version>>::default();
    for (id, req) in pairs {
        let Some(range) = range_of(req) else {
            return Err(format!(
                "its requirement `{id} {req}` uses an operator this lord does not understand"
            ));
        };
        if let Some((owner_id, owner_version)) = owner
            && owner_id == id
        {
            if range.contains(owner_version) {
                continue;
            }
            return Err(format!("it depends on itself at {}", describe(&range)));
        }
        let package = Package::Plugin(id.clone());
        let merged = match out.get(&package) {
            Some(earlier) => earlier.intersection(&range),
            None => range,
        };
        out.insert(package, merged);
    }
    Ok(out)
}

impl DependencyProvider for Provider<'_> {
    type P = Package;
    type V = Version;
    type VS = Ranges<Version>;
    /// Decide the most-conflicted plugins first, then those with the fewest
    /// versions left: both narrow the search fastest.
    type Priority = (u32, Reverse<usize>);
    type M = String;
    /// Reading the index cannot fail (it returns plain lists), so neither
    /// can the provider.
    type Err = Infallible;

    fn prioritize(
        &self,
        package: &Package,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        match package {
            // The root has exactly one version; deciding it first is free.
            Package::Root => (u32::MAX, Reverse(0)),
            Package::Plugin(id) => {
                let versions = self.versions(id);
                let left = versions
                    .usable
                    .keys()
                    .filter(|version| range.contains(*version))
                    .count();
                (stats.conflict_count(), Reverse(left))
            }
        }
    }

    fn choose_version(
        &self,
        package: &Package,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, Infallible> {
        Ok(match package {
            Package::Root => Some(ROOT_VERSION),
            // Highest in range: the newest compatible version wins.
            Package::Plugin(id) => self
                .versions(id)
                .usable
                .keys()
                .rev()
                .find(|version| range.contains(*version))
                .cloned(),
        })
    }

    fn get_dependencies(
        &self,
        package: &Package,
        version: &Version,
    ) -> Result<Dependencies<Package, Ranges<Version>, String>, Infallible> {
        Ok(match self.chosen_deps(package, version) {
            Ok(constraints) => Dependencies::Available(constraints),
            Err(reason) => Dependencies::Unavailable(reason),
        })
    }
}
