//! The installer part: plan an install from a folder or a package (nothing
//! stored), store it, replace it, roll it back, remove it.
//!
//! Invariant: planning stores nothing. A refused package leaves the store
//! untouched: it is unpacked into `$LORD_HOME/unpacking/` (not the store's
//! swept `staging/`) and removed when its plan drops. Installing a package
//! runs no plugin code: compiling it is the only work.

mod plan;

use std::path::{Path, PathBuf};

use lord_manifest::{Permission, PluginId};
use lord_store::{InstalledPlugin, NewPlugin, Store, World};
use serde_json::json;

pub use plan::{
    InstallPlan, InstallSource, PermissionDiff, RESERVED_COMMANDS, RESERVED_IDS, RegistryFacts,
};

use crate::error::HostError;
use crate::lifecycle::Lifecycle;
use crate::loader::Loader;
use crate::provider::Providers;
use crate::runtime::Runtime;
use plan::check_world_fit;
pub(crate) use plan::{Candidate, check_host_fit};

/// The result of an install.
#[derive(Debug, Clone)]
pub struct Registration {
    pub plugin: InstalledPlugin,
    /// Set when the plugin installed but its on-enable hook failed.
    pub enable_error: Option<String>,
}

/// Where installs keep their scratch files and their lock.
pub(crate) struct Installer {
    home: PathBuf,
}

impl Installer {
    pub(crate) fn new(home: PathBuf) -> Self {
        Self { home }
    }

    /// Serialises installs across processes: held from planning to the
    /// last install, so two `lord plugin install X` runs end with X
    /// installed once and both succeeding. Released when the file drops
    /// (or by the kernel if the process dies).
    pub(crate) fn lock(&self) -> Result<std::fs::File, HostError> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| HostError::Io {
                action,
                path,
                source,
            }
        };
        lord_file::create_private_dir(&self.home).map_err(io("create", &self.home))?;
        let path = self.home.join("install.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(file)
    }

    /// Reads, compiles and checks the plugin in `dir` without storing
    /// anything. Compiling here (not at first run) fills the cache and
    /// refuses a component that imports more than it asked for before it is
    /// stored. An installed plugin of the same id is refused unless
    /// `may_replace`.
    pub(crate) fn plan(
        &self,
        store: &Store,
        loader: &Loader,
        dir: &Path,
        may_replace: bool,
        providers: &Providers,
    ) -> Result<InstallPlan, HostError> {
        let candidate = Candidate::read(dir)?;
        let manifest = candidate.manifest;
        check_host_fit(&manifest)?;
        let id = manifest.plugin.id.clone();
        if providers.reserves(&id) {
            return Err(HostError::ReservedId {
                plugin: id,
                reason: "a provider built into lord has it (see `lord plugin list`)".to_owned(),
            });
        }
        for micro in &manifest.micro {
            if let Some(owner) = providers.micro_owner(&micro.id) {
                return Err(HostError::Mismatch {
                    plugin: id,
                    reason: format!(
                        "the micro-plugin id `{}` is built into lord (provider `{owner}`); \
                         give yours another id",
                        micro.id
                    ),
                });
            }
        }
        let installed = store.get(&id)?;
        if installed.is_some() && !may_replace {
            return Err(lord_store::StoreError::AlreadyInstalled(id.to_string()).into());
        }
        let (wasm_sha256, report) =
            loader
                .sandbox()?
                .install_check(&id, &candidate.component, &manifest.permissions)?;
        let world = if report.micro {
            World::Micro
        } else {
            World::Plugin
        };
        check_world_fit(&manifest, world)?;
        let project = crate::grants::names_project(&manifest.permissions)
            .map(|_| loader.project().map(Path::to_path_buf));
        let mut programs = crate::grants::resolve_programs(&manifest.permissions, loader.env());
        if let Some(old) = &installed {
            programs = crate::grants::keep_granted_programs(&manifest.permissions, programs, old);
        }
        Ok(InstallPlan {
            replaces_signer: installed.as_ref().and_then(|p| p.signer.clone()),
            replaces: installed.map(|p| p.granted),
            world,
            risk: manifest.risk_level(),
            permissions: manifest.permissions.clone(),
            manifest,
            wasm_sha256,
            source: InstallSource::Folder,
            cases: Vec::new(),
            project,
            programs,
            registry: None,
            text: candidate.text,
            component: candidate.component,
            staging: None,
        })
    }

    /// Reads, verifies and unpacks the package file `package`, then plans
    /// its install as [`Installer::plan`] does. The signature must verify
    /// under a trusted key; an unsigned package is accepted only with
    /// `allow_unsigned`, and the install records which it was.
    pub(crate) fn plan_package(
        &self,
        store: &Store,
        loader: &Loader,
        package: &Path,
        allow_unsigned: bool,
        may_replace: bool,
        providers: &Providers,
    ) -> Result<InstallPlan, HostError> {
        let (staging, opened) = self.unpack(package, allow_unsigned)?;
        let mut plan = self.plan(store, loader, staging.path(), may_replace, providers)?;
        plan.cases = crate::cases::read_cases(staging.path())?;
        crate::cases::own_targets(&plan.manifest, &plan.cases)?;
        plan.source = InstallSource::Package {
            digest: opened.digest,
            provenance: opened.provenance,
        };
        plan.staging = Some(std::sync::Arc::new(staging));
        Ok(plan)
    }

    /// The manifest inside the signed package file `package`, and who
    /// signed it: read, verified under a trusted key and unpacked into a
    /// scratch folder that is gone when this returns. Nothing is compiled
    /// and nothing is stored (`lord pdk publish` asks the policies with
    /// it).
    pub(crate) fn package_manifest(
        &self,
        package: &Path,
    ) -> Result<(lord_manifest::Manifest, lord_package::Provenance), HostError> {
        let (staging, opened) = self.unpack(package, false)?;
        let candidate = plan::Candidate::read(staging.path())?;
        Ok((candidate.manifest, opened.provenance))
    }

    /// Reads, verifies (under the trusted keys; unsigned only with
    /// `allow_unsigned`) and unpacks `package` into a scratch folder of
    /// its own, removed when the folder it returns is dropped.
    fn unpack(
        &self,
        package: &Path,
        allow_unsigned: bool,
    ) -> Result<(tempfile::TempDir, lord_package::Opened), HostError> {
        // Not the store's `staging/`, which its writers sweep clean.
        let root = self.home.join("unpacking");
        std::fs::create_dir_all(&root).map_err(|source| HostError::Io {
            action: "create",
            path: root.clone(),
            source,
        })?;
        remove_stale(&root, std::time::Duration::from_secs(24 * 3600));
        let staging = tempfile::Builder::new()
            .prefix("package-")
            .tempdir_in(&root)
            .map_err(|source| HostError::Io {
                action: "create a folder in",
                path: root.clone(),
                source,
            })?;
        let trusted = lord_package::Keys::new(&self.home).trusted()?;
        let opened = lord_package::open(
            package,
            staging.path(),
            &trusted,
            allow_unsigned,
            &lord_package::Limits::default(),
        )?;
        Ok((staging, opened))
    }

    /// Stores a planned plugin with the permissions granted, and enables it.
    /// An install whose on-enable hook fails stays installed, marked failed.
    ///
    /// A full plugin installed fresh from a package is not enabled here: its
    /// hooks run when it is first used or enabled. A folder install (a
    /// developer's own plugin), an update, and a micro-plugin package (whose
    /// enabling runs no plugin code) are enabled at once.
    pub(crate) async fn install(
        &self,
        lifecycle: &Lifecycle,
        rt: Runtime<'_>,
        store: &mut Store,
        plan: InstallPlan,
    ) -> Result<Registration, HostError> {
        let id = plan.manifest.plugin.id.clone();
        // Checked again here, at the moment of storing: a registry install
        // plans every step before any is stored, and another process may
        // have removed a dependency since the plan.
        crate::dependencies::require_met(store, &plan.manifest, false)?;
        // A replacement must also suit the plugins that depend on this one
        // (`lord dev`, an update): their ranges are checked at the moment
        // of storing, as the plugin's own are.
        if plan.replaces.is_some() {
            let version = &plan.manifest.plugin.version;
            let rejecting = crate::dependencies::rejecting(&store.list()?, &id, version);
            if !rejecting.is_empty() {
                return Err(crate::dependencies::rejected(
                    "update", &id, version, &rejecting,
                ));
            }
        }
        let defer_hooks = plan.replaces.is_none()
            && plan.world == World::Plugin
            && matches!(plan.source, InstallSource::Package { .. });
        // Held until the store has copied the component.
        let _staging = plan.staging;
        let (origin, package_digest, signer) = match &plan.source {
            InstallSource::Folder => (None, None, None),
            InstallSource::Package { digest, provenance } => (
                Some(format!("package sha256 {digest}, {provenance}")),
                Some(digest.to_string()),
                match provenance {
                    lord_package::Provenance::Signed(verified) => Some(verified.key.to_string()),
                    lord_package::Provenance::AllowedUnsigned => None,
                },
            ),
        };
        // Only the programs actually granted are recorded.
        let programs = plan
            .programs
            .into_iter()
            .filter(|p| plan.permissions.contains(&Permission::Exec(p.name.clone())))
            .collect();
        let new = NewPlugin {
            programs,
            manifest: plan.manifest,
            manifest_text: plan.text,
            component_source: plan.component,
            wasm_sha256: plan.wasm_sha256,
            granted: plan.permissions,
            world: plan.world,
            origin,
            package_digest,
            signer,
        };
        let version = new.manifest.plugin.version.to_string();
        match plan.replaces {
            Some(_) => {
                store.replace(new)?;
                // Calls already running keep the build they loaded; the next
                // call loads this one, and no answer of the old build is
                // served for it.
                rt.loader().unload(&id);
                rt.loader().results().forget(&id);
                rt.announce(
                    store,
                    &id,
                    "lord.plugin.updated",
                    json!({ "version": version }),
                );
            }
            None => {
                // A fresh install starts empty, whatever a plugin of this
                // id left behind: a removal cut short between its commit
                // and its clean-up must not hand its files or values to a
                // different author's plugin. Cleared before the install
                // commits, so a crash between the two cannot leave the new
                // plugin holding the old one's data; and only once the
                // store, read again now, holds no plugin of this id: the
                // plan was made before the consent prompt, and another
                // process may have installed one since (the install then
                // fails as already installed, its data untouched).
                if store.get(&id)?.is_some() {
                    return Err(lord_store::StoreError::AlreadyInstalled(id.to_string()).into());
                }
                forget_data(rt, store, &id)?;
                store.install(new)?;
                rt.announce(
                    store,
                    &id,
                    "lord.plugin.installed",
                    json!({ "version": version }),
                );
            }
        }
        if defer_hooks {
            return Ok(Registration {
                plugin: store.require(&id)?,
                enable_error: None,
            });
        }
        enable_after(lifecycle, rt, store, &id).await
    }

    /// Removes a plugin and its data, disabling `disable` (plugins that
    /// depend on it) in the same transaction. Removal runs no plugin code,
    /// so a broken or hostile plugin can always be removed; nor does
    /// disabling its dependents this way (their on-disable hooks would run
    /// against a dependency that is going).
    pub(crate) fn unregister(
        &self,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
        disable: &[PluginId],
    ) -> Result<(), HostError> {
        rt.loader().unload(id);
        rt.loader().results().forget(id);
        let reason = format!(
            "disabled because `{id}`, which it depends on, was removed; install `{id}` \
             again, then enable it"
        );
        let changes: Vec<(&PluginId, &str)> = disable
            .iter()
            .map(|other| (other, reason.as_str()))
            .collect();
        store.remove_disabling(id, &changes)?;
        for other in disable {
            rt.loader().unload(other);
            rt.announce(store, other, "lord.plugin.disabled", json!({}));
        }
        rt.announce(store, id, "lord.plugin.removed", json!({}));
        // Its data goes with it: a plugin installed later under the same id
        // starts empty.
        forget_data(rt, store, id)
    }

    /// Returns `id` to its previous build at once (both builds' files are
    /// kept), then enables it. A second rollback undoes the first.
    pub(crate) async fn rollback(
        &self,
        lifecycle: &Lifecycle,
        rt: Runtime<'_>,
        store: &mut Store,
        id: &PluginId,
    ) -> Result<Registration, HostError> {
        rt.loader().unload(id);
        let plugin = store.rollback(id)?;
        rt.loader().results().forget(id);
        let version = plugin.manifest.plugin.version.to_string();
        rt.announce(
            store,
            id,
            "lord.plugin.rolled-back",
            json!({ "version": version }),
        );
        enable_after(lifecycle, rt, store, id).await
    }
}

/// Enables `id` after a change to its build; a failing on-enable hook is
/// reported in the registration, not as an error.
async fn enable_after(
    lifecycle: &Lifecycle,
    rt: Runtime<'_>,
    store: &mut Store,
    id: &PluginId,
) -> Result<Registration, HostError> {
    // Stored either way: a hook that failed, a dependency that is not
    // enabled, or a policy that refuses the enable leaves it installed and
    // says why it is not enabled.
    let enable_error = match lifecycle.enable(rt, store, id).await {
        Ok(()) => None,
        Err(HostError::Call(e)) => Some(e.to_string()),
        Err(
            why @ (HostError::DependenciesUnmet { .. }
            | HostError::PolicyRefused { .. }
            | HostError::PolicyUnusable(_)
            | HostError::Policy(_)),
        ) => Some(why.to_string()),
        Err(other) => return Err(other),
    };
    Ok(Registration {
        plugin: store.require(id)?,
        enable_error,
    })
}

/// Removes what a killed run left in `root`: entries untouched for longer
/// than `age` (a live unpack is minutes old at most). Best effort: a
/// failure here costs disk space, not correctness.
fn remove_stale(root: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Forgets everything plugin `id` kept: its values in `state.db`, its
/// `$PLUGIN_DATA` folder and its `tmp/` folder.
fn forget_data(rt: Runtime<'_>, store: &Store, id: &PluginId) -> Result<(), HostError> {
    rt.channels().data.forget(id.as_str())?;
    for dir in [
        store.data_root().join(id.as_str()),
        rt.loader().tmp_root().join(id.as_str()),
    ] {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(HostError::Io {
                    action: "remove",
                    path: dir,
                    source,
                });
            }
        }
    }
    Ok(())
}
