//! The loader part: the engine (started on first use), each plugin's
//! loaded form for the rest of the process, and the concrete grants of a
//! plugin here (its folders, variables, hosts).
//!
//! A plugin's loaded form is compiled, contract-checked and pre-linked
//! (`InstancePre`), so later calls only instantiate. It is keyed by the
//! component hash it was loaded from: an update or rollback in this process
//! loads the new build at its next call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lord_manifest::{Isolation, PluginId};
use lord_sandbox::{Compiled, Grants, Links, MicroCompiled, Sandbox};
use lord_store::InstalledPlugin;

use crate::error::HostError;
use crate::grants::{self, Roots};
pub(crate) use crate::sandbox_start::{EarlyEngine, LazySandbox};

/// Where a plugin's grants point in this process.
pub(crate) struct Places {
    pub(crate) project_dir: PathBuf,
    /// What `$PROJECT` is this run, if there is a project.
    pub(crate) project: Option<PathBuf>,
    /// Folders no grant may reach.
    pub(crate) protected: Vec<crate::project::Protected>,
    pub(crate) tmp_root: PathBuf,
    pub(crate) data_root: PathBuf,
    /// The process environment, from which `env(NAME)` grants take values.
    pub(crate) env: Vec<(String, String)>,
}

/// Compiled plugins and their concrete grants.
pub(crate) struct Loader {
    sandbox: LazySandbox,
    loaded: Mutex<HashMap<PluginId, (String, Arc<Compiled>)>>,
    /// Each plugin's grants and links as made for this process, reused by
    /// every instance while its build and grants stay the same.
    wired: Mutex<HashMap<PluginId, Wired>>,
    places: Places,
    /// Where every instance's call figures go (linked into each one).
    recorder: lord_perf::Recorder,
    /// Answers of `pure` entry points, by everything they depend on.
    results: Arc<crate::results::ResultCache>,
    /// The providers disabled when the framework opened: a service
    /// provider's (`openai`) refuses its AI profiles to plugins too.
    disabled: Mutex<std::collections::BTreeSet<PluginId>>,
}

/// What an instance of one build with one set of grants is given.
struct Wired {
    sha: String,
    granted: Vec<lord_manifest::Permission>,
    grants: Grants,
    links: Links,
}

impl Drop for Loader {
    /// A framework dropped without `close_for_exit` (an embedder, a test)
    /// still writes its call figures.
    fn drop(&mut self) {
        let _ = self.recorder.flush();
    }
}

impl Loader {
    /// `early`: an engine begun before the store opened, finished when
    /// first needed (see `sandbox_start`).
    pub(crate) fn new(
        cache_dir: PathBuf,
        places: Places,
        early: Option<EarlyEngine>,
        recorder: lord_perf::Recorder,
    ) -> Self {
        Self {
            results: Arc::new(crate::results::ResultCache::new(&cache_dir)),
            disabled: Mutex::default(),
            sandbox: LazySandbox::new(cache_dir, early),
            loaded: Mutex::new(HashMap::new()),
            wired: Mutex::new(HashMap::new()),
            places,
            recorder,
        }
    }

    /// The result cache of `pure` entry points.
    pub(crate) fn results(&self) -> &Arc<crate::results::ResultCache> {
        &self.results
    }

    /// The recorder of this process's plugin calls.
    pub(crate) fn recorder(&self) -> &lord_perf::Recorder {
        &self.recorder
    }

    /// Records that the provider `id` is disabled in this process.
    pub(crate) fn note_disabled(&self, id: &PluginId) {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
    }

    /// Records that the provider `id` was enabled or disabled in this
    /// process (its interfaces follow only in the next engine).
    pub(crate) fn note_state(&self, id: &PluginId, enabled: bool) {
        let mut disabled = self.disabled.lock().unwrap_or_else(|p| p.into_inner());
        if enabled {
            disabled.remove(id);
        } else {
            disabled.insert(id.clone());
        }
    }

    /// Whether the provider `id` is disabled: as it was when the framework
    /// opened, or as this process set it since.
    pub(crate) fn is_disabled(&self, id: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|d| d.as_str() == id)
    }

    /// Leaves `interface` out of the engine's linker, for `reason`. Only
    /// before the engine starts; the providers decide it when the framework
    /// opens.
    pub(crate) fn withhold(&self, interface: &str, reason: String) {
        self.sandbox
            .withheld
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(interface, reason);
    }

    pub(crate) fn sandbox(&self) -> Result<&Sandbox, HostError> {
        self.sandbox.get()
    }

    /// Starts the engine on another thread now, loading `plugin` there
    /// too when given; see [`LazySandbox::warm_up`].
    pub(crate) fn warm_up(&self, plugin: Option<&InstalledPlugin>) {
        self.sandbox.warm_up(plugin);
    }

    /// A handle that starts the engine only when first used, for work that
    /// may or may not need it (micro-plugins registered but never called, a
    /// message target never asked).
    pub(crate) fn lazy_sandbox(&self) -> LazySandbox {
        self.sandbox.clone()
    }

    pub(crate) fn project_dir(&self) -> &std::path::Path {
        &self.places.project_dir
    }

    /// The process environment (its `PATH` resolves `exec` grants).
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.places.env
    }

    /// What `$PROJECT` is this run.
    pub(crate) fn project(&self) -> Option<&std::path::Path> {
        self.places.project.as_deref()
    }

    /// What `plugin`'s grants resolve to in this process that its answers
    /// may depend on (see [`grants::resolved_context`]).
    pub(crate) fn resolved_context(&self, plugin: &InstalledPlugin) -> Vec<u8> {
        grants::resolved_context(
            &plugin.granted,
            &plugin.programs,
            self.project(),
            &self.places.env,
        )
    }

    /// `plugin`'s `$PLUGIN_DATA` folder, if its grants name it.
    pub(crate) fn data_dir(&self, plugin: &InstalledPlugin) -> Option<PathBuf> {
        grants::roots_needed(&plugin.granted)
            .plugin_data
            .then(|| self.places.data_root.join(plugin.id().as_str()))
    }

    /// Where each plugin's `$TMP` is made, and other scratch work goes.
    pub(crate) fn tmp_root(&self) -> &std::path::Path {
        &self.places.tmp_root
    }

    /// The loaded form of a plugin, reusing this process's `InstancePre`
    /// unless the installed bytes changed since it was loaded.
    pub(crate) fn prepare(&self, plugin: &InstalledPlugin) -> Result<Arc<Compiled>, HostError> {
        // The engine first: a warm-up that loaded this plugin on the
        // engine's thread hands its loaded form over when joined.
        let sandbox = self.sandbox()?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((sha, compiled)) = loaded.get(plugin.id())
            && *sha == plugin.wasm_sha256
        {
            return Ok(Arc::clone(compiled));
        }
        let preloaded = self
            .sandbox
            .take_preloaded(plugin.id(), &plugin.wasm_sha256);
        let compiled = match preloaded {
            Some(compiled) => compiled,
            None => Arc::new(sandbox.prepare(
                plugin.id(),
                &plugin.component,
                &plugin.wasm_sha256,
                &plugin.granted,
            )?),
        };
        loaded.insert(
            plugin.id().clone(),
            (plugin.wasm_sha256.clone(), Arc::clone(&compiled)),
        );
        Ok(compiled)
    }

    /// A micro package's component, compiled and linked for `isolation`.
    pub(crate) fn prepare_micro(
        &self,
        plugin: &InstalledPlugin,
        isolation: Isolation,
    ) -> Result<MicroCompiled, HostError> {
        Ok(self.sandbox()?.prepare_micro(
            plugin.id(),
            &plugin.component,
            &plugin.wasm_sha256,
            &plugin.granted,
            isolation,
        )?)
    }

    /// Forgets a plugin's loaded form; the next call loads it again from
    /// the compiled cache. Returns whether it was loaded.
    pub(crate) fn unload(&self, id: &PluginId) -> bool {
        self.wired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.remove(id).is_some()
    }

    /// The grants and links of `plugin`, made by `wire` the first time and
    /// kept while its build and grants stay the same (they depend on
    /// nothing else that changes within a process).
    pub(crate) fn wiring(
        &self,
        plugin: &InstalledPlugin,
        wire: impl FnOnce() -> Result<(Grants, Links), HostError>,
    ) -> Result<(Grants, Links), HostError> {
        let mut wired = self.wired.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = wired.get(plugin.id())
            && kept.sha == plugin.wasm_sha256
            && kept.granted == plugin.granted
        {
            return Ok((kept.grants.clone(), kept.links.clone()));
        }
        let (grants, links) = wire()?;
        wired.insert(
            plugin.id().clone(),
            Wired {
                sha: plugin.wasm_sha256.clone(),
                granted: plugin.granted.clone(),
                grants: grants.clone(),
                links: links.clone(),
            },
        );
        Ok((grants, links))
    }

    /// The WASI side of a plugin's grants in this process: real folders,
    /// variable values, hosts, the terminal.
    pub(crate) fn grants(&self, plugin: &InstalledPlugin) -> Result<Grants, HostError> {
        // Folders are made only for the roots a grant names: a plugin with
        // no file grants costs no directory syscalls per load.
        let needs = grants::roots_needed(&plugin.granted);
        let data = self.places.data_root.join(plugin.id().as_str());
        let tmp = self.places.tmp_root.join(plugin.id().as_str());
        for (needed, dir) in [(needs.plugin_data, &data), (needs.tmp, &tmp)] {
            if needed {
                std::fs::create_dir_all(dir).map_err(|source| HostError::Io {
                    action: "create",
                    path: dir.clone(),
                    source,
                })?;
            }
        }
        let project = match (&self.places.project, grants::names_project(&plugin.granted)) {
            (Some(project), _) => project.clone(),
            (None, None) => PathBuf::new(),
            (None, Some(grant)) => {
                return Err(HostError::NoProject {
                    plugin: plugin.id().clone(),
                    grant: grant.to_string(),
                });
            }
        };
        let roots = Roots {
            project: &project,
            plugin_data: &data,
            tmp: &tmp,
        };
        let grants = grants::to_grants(&plugin.granted, &plugin.programs, &roots, &self.places.env)
            .map_err(|out| HostError::GrantLeadsOut {
                plugin: plugin.id().clone(),
                grant: out.grant,
                link: out.link,
                leads_to: out.leads_to,
            })?;
        // Checked on the real folders, before any of the plugin's code runs.
        for preopen in &grants.preopens {
            if let Some(protected) =
                crate::project::reaching(&preopen.host, preopen.writable, &self.places.protected)
            {
                return Err(HostError::GrantReachesLord {
                    plugin: plugin.id().clone(),
                    grant: grants::naming(&plugin.granted, &preopen.guest),
                    folder: preopen.host.clone(),
                    protected: protected.path.clone(),
                    what: protected.what.clone(),
                });
            }
        }
        Ok(grants)
    }
}
