//! Installing from a registry: fetch the index for the requested plugins
//! and everything they may depend on, resolve versions (`lord-resolve`,
//! PubGrub: newest fitting version, host-API-incompatible ones skipped),
//! download each package into the verified cache, and plan each install
//! exactly as for a local package file, dependencies first.
//!
//! Invariant: the registry is never trusted. A download must have the
//! digest the index lists, and then its signature must verify under one of
//! the user's own trusted keys (`Framework::plan_install_package`); a
//! cached package is re-hashed before reuse.
//! Invariant: the package cache is written by temporary file and rename,
//! named by digest, so concurrent installs never see a half-written file.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use lord_manifest::{PluginId, Version, VersionReq};
use lord_registry::{Client, PluginInfo};
use lord_resolve::Candidate;

use crate::error::HostError;
use crate::framework::{Framework, InstallPlan};

/// One plugin a registry install will install.
#[derive(Debug)]
pub struct RemoteStep {
    pub id: PluginId,
    pub version: Version,
    pub plan: InstallPlan,
}

/// What a registry install will do, in order (dependencies first).
#[derive(Debug)]
pub struct RemotePlan {
    pub steps: Vec<RemoteStep>,
    /// Plugins already installed at the resolved version.
    pub already: Vec<(PluginId, Version)>,
    /// Versions the resolver left out and why.
    pub skipped: Vec<String>,
}

/// A phase of a registry install, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Fetching(String),
    Resolving,
    Downloading {
        id: String,
        version: String,
        bytes: u64,
    },
    Verifying(String),
}

fn candidate(info: &lord_registry::VersionInfo) -> Option<Candidate> {
    Some(Candidate {
        version: Version::parse(&info.version).ok()?,
        host_api: VersionReq::parse(&info.host_api).ok()?,
        dependencies: info
            .dependencies
            .iter()
            .filter_map(|(id, range)| Some((id.parse().ok()?, VersionReq::parse(range).ok()?)))
            .collect(),
        yanked: info.yanked,
    })
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HostError {
    let path = path.to_path_buf();
    move |source| HostError::Io {
        action,
        path,
        source,
    }
}

impl Framework {
    /// Serialises installs across processes: held from planning to the
    /// last install, so two `lord plugin install X` runs end with X
    /// installed once and both succeeding. Released when the file drops
    /// (or by the kernel if the process dies).
    pub fn install_lock(&self) -> Result<std::fs::File, HostError> {
        std::fs::create_dir_all(&self.config.home).map_err(io("create", &self.config.home))?;
        let path = self.config.home.join("install.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(file)
    }

    /// Resolves `requests` against the registry behind `client` and plans
    /// the installs they need. Nothing is stored.
    pub async fn plan_from_registry(
        &self,
        client: &Client,
        requests: &[(PluginId, VersionReq)],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RemotePlan, HostError> {
        // 1. The index: every plugin reachable from the requests through
        //    any version's dependencies.
        let mut infos: BTreeMap<PluginId, PluginInfo> = BTreeMap::new();
        let mut queue: VecDeque<PluginId> = requests.iter().map(|(id, _)| id.clone()).collect();
        let mut seen: BTreeSet<PluginId> = queue.iter().cloned().collect();
        while let Some(id) = queue.pop_front() {
            progress(Progress::Fetching(id.to_string()));
            let Some(info) = client.plugin(id.as_str()).await? else {
                continue;
            };
            for version in &info.versions {
                for dep in version.dependencies.keys() {
                    if let Ok(dep) = dep.parse::<PluginId>()
                        && seen.insert(dep.clone())
                    {
                        queue.push_back(dep);
                    }
                }
            }
            infos.insert(id, info);
        }
        let index: BTreeMap<PluginId, Vec<Candidate>> = infos
            .iter()
            .map(|(id, info)| {
                (
                    id.clone(),
                    info.versions.iter().filter_map(candidate).collect(),
                )
            })
            .collect();

        // 2. Resolve.
        progress(Progress::Resolving);
        let resolution =
            lord_resolve::resolve(requests, &index, &lord_manifest::host_api_version())
                .map_err(|e| HostError::Resolve(e.to_string()))?;

        // 3. Dependencies first.
        let order = install_order(&resolution.versions, &index);

        // 4. Download, verify, plan.
        let mut steps = Vec::new();
        let mut already = Vec::new();
        for id in order {
            let version = resolution.versions[&id].clone();
            if let Some(installed) = self.store.get(&id)? {
                let have = &installed.manifest.plugin.version;
                if *have == version {
                    already.push((id, version));
                    continue;
                }
                return Err(HostError::Resolve(format!(
                    "{id} {have} is installed, but this install needs {id} {version}; update it \
                     first with `lord plugin update {id}`, or remove it"
                )));
            }
            let info = infos
                .get(&id)
                .and_then(|i| i.versions.iter().find(|v| v.version == version.to_string()))
                .ok_or_else(|| {
                    HostError::Resolve(format!("{id} {version} vanished from the index"))
                })?;
            let package = self
                .fetch_package(client, &id, &version, &info.digest, progress)
                .await?;
            progress(Progress::Verifying(id.to_string()));
            let plan = self.plan_install_package(&package, false)?;
            if plan.manifest.plugin.id != id || plan.manifest.plugin.version != version {
                return Err(HostError::Resolve(format!(
                    "the registry's {id} {version} holds {} {} instead; it is corrupt",
                    plan.manifest.plugin.id, plan.manifest.plugin.version
                )));
            }
            steps.push(RemoteStep { id, version, plan });
        }
        Ok(RemotePlan {
            steps,
            already,
            skipped: resolution.skipped,
        })
    }

    /// The package of `id` `version` in the cache, downloaded if it is not
    /// there or not intact.
    async fn fetch_package(
        &self,
        client: &Client,
        id: &PluginId,
        version: &Version,
        digest: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PathBuf, HostError> {
        let dir = self.config.home.join("cache").join("packages");
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let path = dir.join(format!(
            "{id}-{version}-{}.{}",
            &digest[..16.min(digest.len())],
            lord_package::EXTENSION
        ));
        let sig = lord_package::Signature::path_for(&path);
        let intact = std::fs::read(&path)
            .ok()
            .is_some_and(|bytes| lord_package::Digest::of(&bytes).to_string() == digest)
            && sig.is_file();
        if intact {
            return Ok(path);
        }
        let download = client.download(id.as_str(), &version.to_string()).await?;
        progress(Progress::Downloading {
            id: id.to_string(),
            version: version.to_string(),
            bytes: download.bytes.len() as u64,
        });
        let actual = lord_package::Digest::of(&download.bytes).to_string();
        if actual != digest {
            return Err(HostError::Resolve(format!(
                "the registry sent {id} {version} with digest {actual}, but its index lists \
                 {digest}; refusing it"
            )));
        }
        // Signature first, then the package: a reader that finds the
        // package finds its signature.
        write_atomic(&dir, &sig, download.signature.as_bytes())?;
        write_atomic(&dir, &path, &download.bytes)?;
        Ok(path)
    }
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    use std::io::Write as _;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("create a file in", dir))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.as_file().sync_all().map_err(io("sync", path))?;
    file.persist(path)
        .map_err(|e| io("replace", path)(e.error))?;
    Ok(())
}

/// The resolved plugins, each after everything it depends on (ties by id).
fn install_order(
    versions: &BTreeMap<PluginId, Version>,
    index: &BTreeMap<PluginId, Vec<Candidate>>,
) -> Vec<PluginId> {
    let deps_of = |id: &PluginId| -> Vec<PluginId> {
        index
            .get(id)
            .and_then(|cs| cs.iter().find(|c| Some(&c.version) == versions.get(id)))
            .map(|c| {
                c.dependencies
                    .iter()
                    .map(|(d, _)| d.clone())
                    .filter(|d| versions.contains_key(d))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut order = Vec::new();
    let mut placed = BTreeSet::new();
    // Depth-first, deps before dependents; the resolution is acyclic in
    // practice, and a cycle is broken by `placed` rather than looping.
    fn visit(
        id: &PluginId,
        deps_of: &dyn Fn(&PluginId) -> Vec<PluginId>,
        placed: &mut BTreeSet<PluginId>,
        order: &mut Vec<PluginId>,
    ) {
        if !placed.insert(id.clone()) {
            return;
        }
        for dep in deps_of(id) {
            visit(&dep, deps_of, placed, order);
        }
        order.push(id.clone());
    }
    for id in versions.keys() {
        visit(id, &deps_of, &mut placed, &mut order);
    }
    order
}
