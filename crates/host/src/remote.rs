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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lord_manifest::{PluginId, Version, VersionReq};
use lord_registry_client::{Client, TargetInfo, TrustedIndex};
use lord_resolve::Candidate;

use crate::cases::TestCase;
use crate::error::HostError;
use crate::framework::Framework;
use crate::install::InstallPlan;

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
    /// Every resolved plugin in install order, with the package digest and
    /// signing key the index lists: what `lord.lock` records.
    pub pinned: Vec<Pinned>,
}

/// One resolved plugin as the index describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub id: PluginId,
    pub version: Version,
    pub digest: String,
    pub key: String,
    /// The package's signature (hexadecimal), from the signed index.
    pub signature: String,
}

/// An installed plugin the registry knows, and its newest update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    pub id: PluginId,
    pub installed: Version,
    /// The newest version this lord can update to; `None` when up to date
    /// or when `note` says why a newer one cannot be used.
    pub latest: Option<Version>,
    pub note: Option<String>,
}

/// A planned update of one plugin.
#[derive(Debug)]
pub struct UpdateStep {
    pub id: PluginId,
    pub from: Version,
    pub to: Version,
    pub plan: InstallPlan,
}

/// How an applied update ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The new build is installed and passed every declared case.
    Updated,
    /// A declared case (or enabling) failed on the new build, so the old
    /// build was put back.
    RolledBack { case: String, reason: String },
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

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HostError {
    let path = path.to_path_buf();
    move |source| HostError::Io {
        action,
        path,
        source,
    }
}

impl Framework {
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
        let roots: Vec<PluginId> = requests.iter().map(|(id, _)| id.clone()).collect();
        let (signed, listed, index) = fetch_index(self.home(), client, progress, &roots).await?;

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
        let mut pinned = Vec::new();
        for id in order {
            let version = resolution.versions[&id].clone();
            if let Some(info) = listed.get(&(id.clone(), version.clone())) {
                pinned.push(Pinned {
                    id: id.clone(),
                    version: version.clone(),
                    digest: info.digest.clone(),
                    key: info.key.clone(),
                    signature: info.signature.clone(),
                });
            }
            if let Some(installed) = self.store().get(&id)? {
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
            let info = listed.get(&(id.clone(), version.clone())).ok_or_else(|| {
                HostError::Resolve(format!("{id} {version} vanished from the index"))
            })?;
            let package = self.fetch_package(client, &signed, info, progress).await?;
            progress(Progress::Verifying(id.to_string()));
            let mut plan = self.plan_registry_package(&package, false)?;
            plan.registry = Some(self.registry_facts(client, &id, &version).await);
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
            pinned,
        })
    }

    /// Plans installing exactly `pins` (a lock file's entries, in order):
    /// each package must have the pinned digest and be signed by the pinned
    /// key, whatever the registry now says. An installed plugin from the
    /// pinned package is skipped; one of the pinned version built from
    /// anything else (its folder, another package of that version) is
    /// replaced by the pinned build, since the version alone does not say
    /// which build runs.
    pub async fn plan_pinned(
        &self,
        client: &Client,
        pins: &[Pinned],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RemotePlan, HostError> {
        let mut steps = Vec::new();
        let mut already = Vec::new();
        let mut wanted = Vec::new();
        for pin in pins {
            if let Some(installed) = self.store().get(&pin.id)? {
                let have = &installed.manifest.plugin.version;
                if *have != pin.version {
                    return Err(HostError::Resolve(format!(
                        "{} {have} is installed, but lord.lock pins {}; update or remove it first",
                        pin.id, pin.version
                    )));
                }
                if installed.package_digest.as_deref() == Some(pin.digest.as_str()) {
                    already.push((pin.id.clone(), pin.version.clone()));
                    continue;
                }
                // A lock comes with the project, often from someone else:
                // it does not swap in a build another key signed.
                if let Some(signer) = installed.signer.as_deref()
                    && signer != pin.key
                {
                    return Err(HostError::Resolve(format!(
                        "lord.lock pins {} {} signed by key {}, but key {signer} signed the \
                         installed build; if its publisher changed keys, remove it (`lord \
                         plugin remove {}`) and run `lord install` again",
                        pin.id, pin.version, pin.key, pin.id
                    )));
                }
            }
            wanted.push(pin);
        }
        // The lock decides what is installed; the signed index still says
        // where each package is and how long it is, and must agree with the
        // lock. Nothing to install means no request at all.
        let (trusted, listed, _) = if wanted.is_empty() {
            (TrustedIndex::default(), Listed::new(), Index::new())
        } else {
            let ids: Vec<PluginId> = wanted.iter().map(|pin| pin.id.clone()).collect();
            fetch_index(self.home(), client, progress, &ids).await?
        };
        for pin in wanted {
            let info = listed
                .get(&(pin.id.clone(), pin.version.clone()))
                .ok_or_else(|| {
                    HostError::Resolve(format!(
                        "lord.lock pins {} {}, which the registry's signed index does not list \
                         (or a staged rollout holds back from this machine: see `lord rollout \
                         status`)",
                        pin.id, pin.version
                    ))
                })?;
            if info.digest != pin.digest {
                return Err(HostError::Resolve(format!(
                    "the registry's signed index lists {} {} with digest {}, but lord.lock \
                     records {}; refusing it (if the registry was rebuilt on purpose, delete \
                     lord.lock and run `lord install` again)",
                    pin.id, pin.version, info.digest, pin.digest
                )));
            }
            let package = self.fetch_package(client, &trusted, info, progress).await?;
            let sig_path = lord_package::Signature::path_for(&package);
            let sig_text = std::fs::read_to_string(&sig_path).map_err(io("read", &sig_path))?;
            let signature = lord_package::Signature::parse(&sig_path, &sig_text)?;
            if signature.signature != pin.signature {
                return Err(HostError::Resolve(format!(
                    "{} {} carries another signature than lord.lock records; refusing it",
                    pin.id, pin.version
                )));
            }
            progress(Progress::Verifying(pin.id.to_string()));
            // Whatever is installed of a wanted plugin is another build of
            // the pinned version (any other version was refused above).
            let mut plan = self.plan_registry_package(&package, true)?;
            plan.registry = Some(self.registry_facts(client, &pin.id, &pin.version).await);
            match &plan.source {
                crate::install::InstallSource::Package {
                    provenance: lord_package::Provenance::Signed(verified),
                    ..
                } if verified.key.to_string() == pin.key => {}
                crate::install::InstallSource::Package { .. }
                | crate::install::InstallSource::Folder => {
                    return Err(HostError::Resolve(format!(
                        "{} {} is not signed by key {}, the one lord.lock records",
                        pin.id, pin.version, pin.key
                    )));
                }
            }
            steps.push(RemoteStep {
                id: pin.id.clone(),
                version: pin.version.clone(),
                plan,
            });
        }
        Ok(RemotePlan {
            steps,
            already,
            skipped: Vec::new(),
            pinned: pins.to_vec(),
        })
    }

    /// The package `target` names, from the cache, or downloaded from the
    /// registry's TUF target path and checked against the signed index
    /// when it is not there or not intact.
    async fn fetch_package(
        &self,
        client: &Client,
        signed: &TrustedIndex,
        target: &TargetInfo,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<PathBuf, HostError> {
        let (id, version, digest) = (&target.id, &target.version, target.digest.as_str());
        let dir = self.home().join("cache").join("packages");
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
        let download = client.download_package(signed, target).await?;
        progress(Progress::Downloading {
            id: id.to_string(),
            version: version.to_string(),
            bytes: download.bytes.len() as u64,
        });
        let actual = lord_package::Digest::of(&download.bytes).to_string();
        if actual != digest {
            return Err(HostError::Resolve(format!(
                "the registry sent {id} {version} with digest {actual}, but {digest} was \
                 expected (from its index or lord.lock); refusing it"
            )));
        }
        // Signature first, then the package: a reader that finds the
        // package finds its signature.
        write_atomic(&sig, download.signature.as_bytes())?;
        write_atomic(&path, &download.bytes)?;
        Ok(path)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    lord_file::write_atomic(path, bytes).map_err(|e| HostError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}

type Index = BTreeMap<PluginId, Vec<Candidate>>;

/// The registry's signed index (TUF-verified, see `lord_registry_client::PluginIndex`)
/// as far as `wanted` reaches: every published version of those plugins
/// and, transitively, of every plugin any of those versions depends on,
/// with its digest, and the resolver's view of it. Only the signed
/// metadata holding those plugins is fetched (a registry that bins its
/// index by plugin sends their bins and no others). Nothing the
/// registry's plain JSON says is trusted for installing.
async fn fetch_index(
    home: &Path,
    client: &Client,
    progress: &mut dyn FnMut(Progress),
    wanted: &[PluginId],
) -> Result<(TrustedIndex, Listed, Index), HostError> {
    progress(Progress::Fetching("the signed index".to_owned()));
    let state = home
        .join("registries")
        .join(registry_dir_name(client.base()));
    let mut reader = client.plugin_index(&state).await?;
    // Versions a staged rollout keeps from this machine are left out, as
    // if unpublished (`rollout.rs`): only ever fewer than the index signs.
    let withheld = crate::rollout::withheld(home, client).await?;
    let mut listed = Listed::new();
    let mut index: Index = BTreeMap::new();
    let mut targets = Vec::new();
    let mut queue: Vec<PluginId> = wanted.to_vec();
    let mut read = BTreeSet::new();
    while let Some(wanted) = queue.pop() {
        if !read.insert(wanted.clone()) {
            continue;
        }
        for target in reader.versions(wanted.as_str()).await? {
            let (Ok(id), Ok(version)) = (
                target.id.parse::<PluginId>(),
                Version::parse(&target.version),
            ) else {
                continue;
            };
            // A digest names cached files; only a SHA-256 in hexadecimal will do.
            if target.digest.len() != 64 || !target.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if withheld.contains(&(target.id.clone(), target.version.clone())) {
                continue;
            }
            let candidate = Candidate {
                version: version.clone(),
                host_api: VersionReq::parse(&target.host_api).unwrap_or(VersionReq::STAR),
                dependencies: target
                    .dependencies
                    .iter()
                    .filter_map(|(d, r)| Some((d.parse().ok()?, VersionReq::parse(r).ok()?)))
                    .collect(),
                yanked: target.yanked,
            };
            queue.extend(candidate.dependencies.iter().map(|(d, _)| d.clone()));
            index.entry(id.clone()).or_default().push(candidate);
            listed.insert((id, version), target.clone());
            targets.push(target);
        }
    }
    let trusted = TrustedIndex {
        targets,
        releases: Vec::new(),
        consistent_snapshot: reader.consistent_snapshot(),
    };
    Ok((trusted, listed, index))
}

/// Signed index entries by plugin and version.
type Listed = BTreeMap<(PluginId, Version), TargetInfo>;

impl Framework {
    /// This home's folder for the registry at `base`: its trusted index
    /// metadata, pinned receipt key and kept install receipts.
    pub fn registry_folder(&self, base: &str) -> PathBuf {
        self.registries_folder().join(registry_dir_name(base))
    }

    /// The folder every registry's folder is in (`lord registry add`
    /// keeps the names it gives registries there).
    pub fn registries_folder(&self) -> PathBuf {
        self.home().join("registries")
    }
}

/// A folder name for a registry URL (`http://127.0.0.1:7878` →
/// `127.0.0.1_7878`).
pub(crate) fn registry_dir_name(base: &str) -> String {
    base.split_once("://")
        .map_or(base, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The resolution that updates `id` past `installed`: `Ok(None)` when no
/// newer release this lord could run exists (none, or only yanked or
/// host-incompatible ones), `Err` with the resolver's sentences when one
/// exists but its dependencies cannot be met.
fn newest_update(
    index: &Index,
    id: &PluginId,
    installed: &Version,
) -> Result<Option<lord_resolve::Resolution>, String> {
    let host = lord_manifest::host_api_version();
    let newer = index.get(id).is_some_and(|candidates| {
        candidates.iter().any(|c| {
            c.version > *installed
                && c.version.pre.is_empty()
                && !c.yanked
                && c.host_api.matches(&host)
        })
    });
    if !newer {
        return Ok(None);
    }
    let request = VersionReq::parse(&format!(">{installed}")).map_err(|e| e.to_string())?;
    lord_resolve::resolve(
        &[(id.clone(), request)],
        index,
        &lord_manifest::host_api_version(),
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

impl Framework {
    /// Every installed plugin the registry knows, with its newest usable
    /// update.
    pub async fn outdated(&self, client: &Client) -> Result<Vec<Outdated>, HostError> {
        let mut out = Vec::new();
        let installed = self.store().list()?;
        if installed.is_empty() {
            return Ok(out);
        }
        // One verified index answers for every installed plugin (and what
        // their versions depend on), read from their bins alone.
        let ids: Vec<PluginId> = installed.iter().map(|p| p.id().clone()).collect();
        let (_, _, index) = fetch_index(self.home(), client, &mut |_| {}, &ids).await?;
        for plugin in installed {
            let id = plugin.id().clone();
            if !index.contains_key(&id) {
                continue;
            }
            let installed = plugin.manifest.plugin.version.clone();
            let (latest, note) = match newest_update(&index, &id, &installed) {
                Ok(Some(resolution)) => (resolution.versions.get(&id).cloned(), None),
                Ok(None) => (None, None),
                Err(note) => (None, Some(note)),
            };
            out.push(Outdated {
                id,
                installed,
                latest,
                note,
            });
        }
        Ok(out)
    }

    /// Plans updating `id` to its newest usable version (`None` if it is up
    /// to date): downloaded, verified under the user's keys, compiled, and
    /// its declared test cases read. Nothing is stored.
    pub async fn plan_update(
        &self,
        client: &Client,
        id: &PluginId,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<UpdateStep>, HostError> {
        let installed = self.store().require(id)?;
        let from = installed.manifest.plugin.version.clone();
        let (signed, listed, index) =
            fetch_index(self.home(), client, progress, std::slice::from_ref(id)).await?;
        if !index.contains_key(id) {
            return Err(HostError::Resolve(format!(
                "`{id}` is not in the registry; it was installed from a file or folder"
            )));
        }
        progress(Progress::Resolving);
        let Some(resolution) = newest_update(&index, id, &from).map_err(HostError::Resolve)? else {
            return Ok(None);
        };
        let to = resolution.versions[id].clone();
        for (other, version) in &resolution.versions {
            if other == id {
                continue;
            }
            let have = self
                .store()
                .get(other)?
                .map(|p| p.manifest.plugin.version.clone());
            if have.as_ref() != Some(version) {
                return Err(HostError::Resolve(format!(
                    "{id} {to} needs {other} {version}; install or update it first \
                     (`lord plugin install {other}@={version}`)"
                )));
            }
        }
        let target = listed
            .get(&(id.clone(), to.clone()))
            .ok_or_else(|| HostError::Resolve(format!("{id} {to} vanished from the index")))?;
        let package = self
            .fetch_package(client, &signed, target, progress)
            .await?;
        progress(Progress::Verifying(id.to_string()));
        let mut plan = self.plan_update_package(&package)?;
        plan.registry = Some(self.registry_facts(client, id, &to).await);
        if plan.manifest.plugin.id != *id || plan.manifest.plugin.version != to {
            return Err(HostError::Resolve(format!(
                "the registry's {id} {to} holds {} {} instead; it is corrupt",
                plan.manifest.plugin.id, plan.manifest.plugin.version
            )));
        }
        Ok(Some(UpdateStep {
            id: id.clone(),
            from,
            to,
            plan,
        }))
    }

    /// Refuses the step while an enabled plugin's `[dependencies]` range
    /// for the plugin rejects the new version, naming each and its range
    /// (for a caller to say so before asking for consent).
    pub fn check_update(&self, step: &UpdateStep) -> Result<(), HostError> {
        let rejecting = crate::dependencies::rejecting(&self.store().list()?, &step.id, &step.to);
        if rejecting.is_empty() {
            return Ok(());
        }
        Err(crate::dependencies::rejected(
            "update", &step.id, &step.to, &rejecting,
        ))
    }

    /// Switches to the planned build, runs its declared test cases, and
    /// switches back by itself if one fails (or the build will not enable).
    /// Refused as [`Framework::check_update`] says.
    pub async fn apply_update(&mut self, step: UpdateStep) -> Result<UpdateOutcome, HostError> {
        self.apply_update_with(step, false)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// Like [`Framework::apply_update`], but the plugins whose range
    /// rejects the new version, and those depending on them, are disabled
    /// first and stay so whatever the update's outcome; returns them too.
    pub async fn apply_update_forced(
        &mut self,
        step: UpdateStep,
    ) -> Result<(UpdateOutcome, Vec<PluginId>), HostError> {
        self.apply_update_with(step, true).await
    }

    async fn apply_update_with(
        &mut self,
        step: UpdateStep,
        force: bool,
    ) -> Result<(UpdateOutcome, Vec<PluginId>), HostError> {
        let disabled = self.make_way(&step.id, &step.to, "update", force).await?;
        let cases = step.plan.cases.clone();
        let registration = self.install(step.plan).await?;
        let mut failure = registration
            .enable_error
            .map(|e| ("enabling the new build".to_owned(), e));
        if failure.is_none() {
            // A case that brings its own project needs a project lord owns;
            // here the project is the user's.
            for case in cases.iter().filter(|c| c.project.is_none()) {
                let result = self.run_case(case).await;
                if let Err(reason) = case.judge(&result) {
                    failure = Some((case.name.clone(), reason));
                    break;
                }
            }
        }
        match failure {
            None => Ok((UpdateOutcome::Updated, disabled)),
            Some((case, mut reason)) => {
                // The build put back may not enable either (a policy that
                // refuses its hooks, say): said, not lost.
                let back = self.switch_back(&step.id).await?;
                if let Some(e) = back.enable_error {
                    reason.push_str(&format!(
                        "; the previous build is back but not enabled: {e}"
                    ));
                }
                Ok((UpdateOutcome::RolledBack { case, reason }, disabled))
            }
        }
    }

    /// Runs one declared case through the real host: its output, or the
    /// error it ended with.
    pub async fn run_case(&mut self, case: &TestCase) -> Result<String, String> {
        match case.target() {
            crate::cases::Target::Command(command) => {
                let args = case
                    .args
                    .iter()
                    .map(|(name, values)| lord_sandbox::CommandArg {
                        name: name.clone(),
                        values: values.clone(),
                    })
                    .collect();
                self.run_command(command, args)
                    .await
                    .map(|outcome| outcome.text)
                    .map_err(|e| e.to_string())
            }
            crate::cases::Target::Micro(id) => {
                let id: lord_manifest::MicroId = id.parse().map_err(|e| format!("{e}"))?;
                let manager = self.micro_manager().map_err(|e| e.to_string())?;
                let input = case.input.clone().unwrap_or(serde_json::Value::Null);
                manager
                    .execute(&id, input, &lord_micro::CallContext::default())
                    .await
                    .map(|value| value.to_string())
                    .map_err(|e| e.to_string())
            }
        }
    }
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
