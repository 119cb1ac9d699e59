//! The façade: [`Framework`] is the seed's `PluginFramework`, and the one
//! type an embedding CLI holds. It owns the parts and delegates to them;
//! each part owns its state and no part reads another's:
//!
//! - the store (`lord-store`): what is installed, in which state, granted
//!   what, and the audit log;
//! - [`Settings`]: the layered configuration;
//! - [`LazyChannels`]: plugin data, shared values, events, secrets and
//!   mailboxes (all but the bus and session values in `state.db`, shared
//!   by every process);
//! - [`Loader`]: the engine and each plugin's loaded form and grants;
//! - [`Lifecycle`]: enabling, disabling, loading, and the breaker;
//! - [`Delivery`]: events and messages handed to plugins after a command;
//! - [`Installer`]: planning, installing, replacing, rolling back, removing.
//!
//! An operation that needs several parts borrows them as a
//! [`Runtime`] (settings, channels, loader) beside the store.

mod running;

use std::path::Path;

use lord_manifest::{PluginId, RiskLevel};
use lord_store::{CommandRecord, Failpoint, InstalledPlugin, PluginState, Store};

use crate::channels::{Channels, LazyChannels};
use crate::config::HostConfig;
use crate::delivery::Delivery;
use crate::dependencies;
use crate::error::HostError;
use crate::install::{InstallPlan, Installer, Registration};
use crate::lifecycle::Lifecycle;
use crate::loader::{EarlyEngine, Loader, Places};
use crate::provider::{NativePlugin, Provider, ProviderCommand, Providers};
use crate::runtime::Runtime;
use crate::settings::Settings;

/// The audit action of [`Framework::record_output_neutralised`].
pub const OUTPUT_NEUTRALISED: &str = "output neutralised";

/// Filters for [`Framework::list`].
#[derive(Debug, Clone, Default)]
pub struct PluginFilter {
    pub state: Option<PluginState>,
    pub min_risk: Option<RiskLevel>,
    pub category: Option<String>,
}

/// The plugin framework over one store.
pub struct Framework {
    store: Store,
    /// These three crate-wide for the database provider (`provider/db.rs`).
    pub(crate) settings: Settings,
    pub(crate) channels: LazyChannels,
    pub(crate) loader: Loader,
    lifecycle: Lifecycle,
    delivery: Delivery,
    installer: Installer,
    providers: Providers,
    /// The plugin that owns a command, looked up by
    /// [`Framework::warm_up_for`] and used by the `run_command` after it.
    owner: Option<(String, InstalledPlugin)>,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("home", &self.store.home())
            .finish_non_exhaustive()
    }
}

impl Framework {
    /// Opens the store under `config.home` (creating it if needed). No
    /// engine starts and no other database opens until something needs it.
    pub fn open(config: HostConfig) -> Result<Self, HostError> {
        Self::open_with(config, None)
    }

    /// [`Framework::open`] for a process that will most likely run a
    /// plugin (a command line naming no built-in command): the engine
    /// begins starting on another thread before the store opens, and is
    /// finished by [`Framework::warm_up_for`] or at first use. If no plugin
    /// runs after all, the thread is dropped with the framework.
    pub fn open_starting_engine(config: HostConfig) -> Result<Self, HostError> {
        Self::open_with(config, EarlyEngine::begin())
    }

    fn open_with(config: HostConfig, early: Option<EarlyEngine>) -> Result<Self, HostError> {
        let store = Store::open(&config.home, Failpoint::new(config.failpoint.clone()))?;
        let loader = Loader::new(
            store.cache_dir(),
            Places {
                project_dir: config.project_dir.clone(),
                project: config.project.clone(),
                protected: config.protected.clone(),
                tmp_root: config.tmp_root.clone(),
                data_root: store.data_root(),
                env: config.env,
            },
            early,
            lord_perf::Recorder::new(config.home.clone()),
        );
        let providers = Providers::built_in();
        providers.withhold_disabled(&store, &loader)?;
        Ok(Self {
            providers,
            settings: Settings::new(config.config, config.policy),
            channels: LazyChannels::new(config.home.clone(), config.session),
            loader,
            lifecycle: Lifecycle::new(config.breaker_threshold),
            delivery: Delivery::default(),
            installer: Installer::new(config.home),
            store,
            owner: None,
        })
    }

    /// Adds a first-party provider of the embedding CLI's own (one with the
    /// id of a built-in provider replaces it). Call before anything runs a
    /// plugin: a disabled provider's interfaces are left out of the engine
    /// when it starts.
    pub fn with_provider(
        mut self,
        provider: std::sync::Arc<dyn Provider>,
    ) -> Result<Self, HostError> {
        self.providers.add(provider);
        self.providers
            .withhold_disabled(&self.store, &self.loader)?;
        Ok(self)
    }

    /// Starts the engine on a thread of its own now, so that it is ready,
    /// or nearly, when the first plugin runs: for a caller that knows a
    /// plugin will run and has other work to do first (parsing the rest of
    /// its command line, say). Without it the engine starts at first use.
    /// Call it after [`Framework::with_provider`], whose withheld
    /// interfaces it must see.
    pub fn warm_up(&self) {
        self.loader.warm_up(None);
    }

    /// Readies the plugin command `command` to run next, for a process
    /// that has other work to do first (parsing the rest of its command
    /// line): finds the plugin that owns it, then loads that plugin on the
    /// engine's thread and opens `state.db` on another, so both overlap
    /// this thread's work. Returns whether a plugin owns `command`. The
    /// [`Framework::run_command`] that follows uses the plugin found here;
    /// nothing is written.
    pub fn warm_up_for(&mut self, command: &str) -> Result<bool, HostError> {
        let Some(owner) = self.store.command_plugin(command)? else {
            return Ok(false);
        };
        self.loader.warm_up(Some(&owner));
        self.channels.open_in_background();
        self.owner = Some((command.to_owned(), owner));
        Ok(true)
    }

    /// Closes the databases cleanly (so their files are left compact) and
    /// leaves the engine's memory to the operating system: for a process
    /// that is about to exit, where unmapping the engine's instance pool
    /// one reservation at a time costs more than exiting does. An embedder
    /// that keeps running drops the framework instead.
    pub fn close_for_exit(self) {
        // What dropping would have done that outlives the process: events
        // still queued written, a long write-ahead log folded back in, a
        // store this process wrote to closed (so its log is checkpointed).
        // The rest (instances, the engine's pool, the connections of a
        // process that only read) is left to the operating system, which
        // releases it faster than tearing it down piece by piece; SQLite
        // finds a connection left open exactly as a committed one.
        // The call figures are written beside the events (`write_figures`).
        let figures = self.write_figures();
        let _ = self.channels.flush();
        self.channels.close_for_exit();
        if let Some(handle) = figures {
            let _ = handle.join();
        }
        // Vouch for the newest audit record (a cut tail shows by it).
        if self.store.wrote() {
            let _ = self.audit_checkpoint();
        }
        self.store.close_for_exit();
        std::mem::forget(self.loader);
        std::mem::forget((self.delivery, self.lifecycle, self.providers));
        std::mem::forget((self.installer, self.channels, self.settings));
    }

    /// Every first-party provider, enabled or not.
    pub fn natives(&self) -> Result<Vec<NativePlugin>, HostError> {
        self.providers.list(&self.store)
    }

    /// The provider `id`, if one has that id.
    pub fn native(&self, id: &PluginId) -> Result<Option<NativePlugin>, HostError> {
        Ok(self.natives()?.into_iter().find(|n| n.id == *id))
    }

    /// The CLI commands of providers, each with whether its provider is
    /// enabled (a CLI hides and refuses the commands of disabled ones).
    pub fn provider_commands(&self) -> Result<Vec<(PluginId, ProviderCommand, bool)>, HostError> {
        Ok(self
            .natives()?
            .into_iter()
            .flat_map(|n| {
                let enabled = n.state == PluginState::Enabled;
                n.commands
                    .iter()
                    .map(|c| (n.id.clone(), *c, enabled))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Enables or disables a provider, audited; its interfaces follow from
    /// the next engine this process or another starts.
    fn set_native(&mut self, id: &PluginId, enabled: bool) -> Result<(), HostError> {
        let (state, reason, topic) = if enabled {
            (PluginState::Enabled, None, "lord.plugin.enabled")
        } else {
            (
                PluginState::Disabled,
                Some("disabled by the user"),
                "lord.plugin.disabled",
            )
        };
        self.store.set_provider_state(id.as_str(), state, reason)?;
        self.loader.note_state(id, enabled);
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        rt.announce(&mut self.store, id, topic, serde_json::json!({}));
        Ok(())
    }

    /// The parts a plugin call reads.
    pub(crate) fn runtime(&self) -> Runtime<'_> {
        Runtime::new(&self.settings, &self.channels, &self.loader)
    }

    // --- Configuration -----------------------------------------------

    /// Chooses the profile and adds `--set` flags. Call before anything
    /// reads the configuration; later calls change nothing already read.
    pub fn configure(&mut self, profile: Option<String>, flags: Vec<String>) {
        self.settings.configure(profile, flags);
    }

    /// Where the configuration comes from.
    pub fn config_sources(&self) -> &lord_config::Sources {
        self.settings.sources()
    }

    /// The merged configuration (read once per process).
    pub fn settings(&self) -> Result<&lord_config::Config, HostError> {
        self.settings.get()
    }

    /// The project's `[requires]`: the plugins it wants, by id and range.
    pub fn project_requires(&self) -> Result<Vec<(PluginId, semver::VersionReq)>, HostError> {
        self.settings.project_requires()
    }

    /// The project folder (`lord.toml` and `lord.lock` live there).
    pub fn project_dir(&self) -> &Path {
        self.loader.project_dir()
    }

    /// What `$PROJECT` grants give a plugin this run, if there is a project.
    pub fn project(&self) -> Option<&Path> {
        self.loader.project()
    }

    /// What `plugin`'s `$PROJECT` grants give it this run: `None` when it
    /// was granted none, `Some(None)` when there is no project here (the
    /// call is then refused).
    pub fn project_of(&self, plugin: &InstalledPlugin) -> Option<Option<&Path>> {
        crate::grants::names_project(&plugin.granted).map(|_| self.loader.project())
    }

    /// Configuration problems of every installed plugin, against the
    /// schemas their manifests declare.
    pub fn check_plugin_configs(
        &self,
        config: &lord_config::Config,
    ) -> Result<Vec<lord_config::Problem>, HostError> {
        let plugins = self.list(&PluginFilter::default())?;
        Ok(config.check_plugins(plugins.iter().filter_map(|p| {
            p.manifest
                .config_schema
                .as_ref()
                .map(|schema| (p.id().as_str(), schema))
        })))
    }

    // --- Channels ------------------------------------------------------

    /// The channels between plugins. `state.db` is opened only when a
    /// plugin or a command first touches data or the event log.
    pub fn channels(&self) -> &Channels {
        self.channels.get(&self.settings)
    }

    /// The session's global state: its information, telemetry, and the
    /// logger level and theme from the configuration (lord's defaults if
    /// the configuration cannot be read).
    pub fn global(&self) -> &lord_state::GlobalState {
        self.channels.global(&self.settings)
    }

    /// Writes the events this process queued for the log. Dropping the
    /// framework does it too, silently; a CLI calls this to report a
    /// failure.
    pub fn flush_events(&self) -> Result<(), HostError> {
        self.channels.flush()
    }

    /// Hands queued events and messages to their plugins, in rounds
    /// ([`Framework::run_command`] does this after every command).
    pub async fn deliver_events(&mut self) {
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.delivery
            .deliver(&self.lifecycle, rt, &mut self.store)
            .await;
    }

    // --- Installing ----------------------------------------------------

    /// Reads, compiles and checks the plugin in `dir` without storing
    /// anything.
    /// Refused while one of its `[dependencies]` is not installed at a
    /// fitting version, naming each and what to run.
    pub fn plan_install(&self, dir: &Path) -> Result<InstallPlan, HostError> {
        let plan = self
            .installer
            .plan(&self.store, &self.loader, dir, false, &self.providers)?;
        dependencies::require_met(&self.store, &plan.manifest, false)?;
        Ok(plan)
    }

    /// Like [`Framework::plan_install`], but an installed plugin of the same
    /// id is replaced by the new build (what `lord dev` does on each change).
    pub fn plan_replace(&self, dir: &Path) -> Result<InstallPlan, HostError> {
        let plan = self
            .installer
            .plan(&self.store, &self.loader, dir, true, &self.providers)?;
        dependencies::require_met(&self.store, &plan.manifest, false)?;
        Ok(plan)
    }

    /// Reads, verifies and unpacks a package file, then plans its install.
    /// The signature must verify under a trusted key; an unsigned package
    /// is accepted only with `allow_unsigned`, and the install records
    /// which it was. A refused package leaves the store untouched, and so
    /// does one whose `[dependencies]` are not installed.
    pub fn plan_install_package(
        &self,
        package: &Path,
        allow_unsigned: bool,
    ) -> Result<InstallPlan, HostError> {
        let plan = self.installer.plan_package(
            &self.store,
            &self.loader,
            package,
            allow_unsigned,
            false,
            &self.providers,
        )?;
        dependencies::require_met(&self.store, &plan.manifest, false)?;
        Ok(plan)
    }

    /// Plans a signed package a registry install resolved: its
    /// dependencies are checked when it is installed, after theirs. With
    /// `may_replace`, it replaces the installed build of its plugin, if
    /// any (a lock's pinned build in place of another of that version).
    pub(crate) fn plan_registry_package(
        &self,
        package: &Path,
        may_replace: bool,
    ) -> Result<InstallPlan, HostError> {
        self.installer.plan_package(
            &self.store,
            &self.loader,
            package,
            false,
            may_replace,
            &self.providers,
        )
    }

    /// Like [`Framework::plan_install_package`], but the package replaces
    /// the installed build of its plugin (an update). It must be signed.
    pub fn plan_update_package(&self, package: &Path) -> Result<InstallPlan, HostError> {
        let plan = self.installer.plan_package(
            &self.store,
            &self.loader,
            package,
            false,
            true,
            &self.providers,
        )?;
        dependencies::require_met(&self.store, &plan.manifest, false)?;
        Ok(plan)
    }

    /// Stores a planned plugin with the permissions granted, and enables it
    /// (a full plugin from a package is enabled at its first use instead:
    /// installing a package runs no plugin code).
    pub async fn install(&mut self, plan: InstallPlan) -> Result<Registration, HostError> {
        self.govern_install(&plan)?;
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.installer
            .install(&self.lifecycle, rt, &mut self.store, plan)
            .await
    }

    /// The seed's `registerPlugin`: plan, ask `consent`, install, enable.
    pub async fn register(
        &mut self,
        dir: &Path,
        consent: impl FnOnce(&InstallPlan) -> bool,
    ) -> Result<Registration, HostError> {
        let plan = self.plan_install(dir)?;
        if !consent(&plan) {
            return Err(HostError::ConsentDenied(plan.manifest.plugin.id));
        }
        self.install(plan).await
    }

    /// Removes a plugin and its data. Removal runs no plugin code, so a
    /// broken or hostile plugin can always be removed. Refused while
    /// installed plugins depend on it (see [`Framework::unregister_forced`]).
    pub fn unregister(&mut self, id: &PluginId) -> Result<(), HostError> {
        self.unregister_with(id, false).map(|_| ())
    }

    /// Removes a plugin as [`Framework::unregister`] does, disabling the
    /// plugins that depend on it in the same transaction; returns those it
    /// disabled (the ones already disabled are left as they are).
    pub fn unregister_forced(&mut self, id: &PluginId) -> Result<Vec<PluginId>, HostError> {
        self.unregister_with(id, true)
    }

    fn unregister_with(&mut self, id: &PluginId, force: bool) -> Result<Vec<PluginId>, HostError> {
        if self.providers.reserves(id) {
            return Err(HostError::Native {
                id: id.clone(),
                reason: format!("it cannot be removed; disable it with `lord plugin disable {id}`"),
            });
        }
        let dependents = dependencies::dependents(&self.store.list()?, id);
        if !dependents.is_empty() && !force {
            return Err(dependencies::blocked("remove", id, &dependents));
        }
        let disabling: Vec<PluginId> = dependents
            .iter()
            .filter(|p| p.state != PluginState::Disabled)
            .map(|p| p.id().clone())
            .collect();
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.installer
            .unregister(rt, &mut self.store, id, &disabling)?;
        Ok(disabling)
    }

    /// Returns `id` to its previous build at once, then enables it. A
    /// second rollback undoes the first. Refused while an enabled plugin's
    /// `[dependencies]` range for `id` rejects the previous build's
    /// version, naming each and its range (see
    /// [`Framework::rollback_forced`]).
    pub async fn rollback(&mut self, id: &PluginId) -> Result<Registration, HostError> {
        self.rollback_with(id, false).await.map(|(done, _)| done)
    }

    /// Like [`Framework::rollback`], but the plugins whose range rejects
    /// the previous build, and those depending on them, are disabled
    /// first (as `disable --force` does); returns them too.
    pub async fn rollback_forced(
        &mut self,
        id: &PluginId,
    ) -> Result<(Registration, Vec<PluginId>), HostError> {
        self.rollback_with(id, true).await
    }

    async fn rollback_with(
        &mut self,
        id: &PluginId,
        force: bool,
    ) -> Result<(Registration, Vec<PluginId>), HostError> {
        // The build a rollback returns to is the newest one kept; with
        // none, the store's own refusal says so.
        let target = self
            .store
            .previous_versions(id)?
            .first()
            .and_then(|v| v.parse::<lord_manifest::Version>().ok());
        let disabled = match target {
            Some(version) => self.make_way(id, &version, "roll back", force).await?,
            None => Vec::new(),
        };
        Ok((self.switch_back(id).await?, disabled))
    }

    /// Rolls back with no check of dependents' ranges: an update that
    /// failed its cases returns to the build they accepted a moment ago.
    pub(crate) async fn switch_back(&mut self, id: &PluginId) -> Result<Registration, HostError> {
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.installer
            .rollback(&self.lifecycle, rt, &mut self.store, id)
            .await
    }

    /// Clears the way for `id` to become `version`: refused while enabled
    /// plugins' ranges for it reject that version, or with `force` those
    /// plugins and the ones depending on them are disabled (their hooks
    /// run while `id` is still the build they accepted). Returns them.
    pub(crate) async fn make_way(
        &mut self,
        id: &PluginId,
        version: &lord_manifest::Version,
        action: &'static str,
        force: bool,
    ) -> Result<Vec<PluginId>, HostError> {
        let plugins = self.store.list()?;
        let rejecting = dependencies::rejecting(&plugins, id, version);
        if rejecting.is_empty() {
            return Ok(Vec::new());
        }
        if !force {
            return Err(dependencies::rejected(action, id, version, &rejecting));
        }
        let out = dependencies::forced_out(&plugins, id, &rejecting);
        let reason = format!(
            "disabled when `{id}` went to {version}, which this plugin's dependencies do not \
             accept; update this plugin (or `{id}`), then enable it"
        );
        let list: Vec<(&PluginId, &str)> = out.iter().map(|p| (p, reason.as_str())).collect();
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.lifecycle
            .disable_each(rt, &mut self.store, &list)
            .await?;
        Ok(out)
    }

    /// The file each of `id`'s granted `exec(NAME)` resolves to now, from
    /// lord's own `PATH` (`None`: not found), for showing before
    /// [`Framework::regrant_programs`].
    pub fn programs_now(
        &self,
        id: &PluginId,
    ) -> Result<Vec<(String, Option<std::path::PathBuf>)>, HostError> {
        let plugin = self.store.require(id)?;
        let found = crate::grants::resolve_programs(&plugin.granted, self.loader.env());
        Ok(plugin
            .granted
            .iter()
            .filter_map(|p| {
                let lord_manifest::Permission::Exec(name) = p else {
                    return None;
                };
                let path = found.iter().find(|f| &f.name == name);
                Some((name.clone(), path.map(|f| f.path.clone())))
            })
            .collect())
    }

    /// Records again the file each of `id`'s granted programs resolves to
    /// now (after a program moved, or for a plugin installed before lord
    /// recorded them); its next run uses them.
    pub fn regrant_programs(&mut self, id: &PluginId) -> Result<(), HostError> {
        let plugin = self.store.require(id)?;
        let found = crate::grants::resolve_programs(&plugin.granted, self.loader.env());
        self.store.set_programs(id, &found)?;
        self.loader.unload(id);
        Ok(())
    }

    /// Forgets the earlier builds kept for rollback (of `id`, or of every
    /// plugin) and frees their space; how many were deleted.
    pub fn prune(&mut self, id: Option<&PluginId>) -> Result<usize, HostError> {
        Ok(self.store.prune(id)?)
    }

    /// The versions of the earlier builds kept for `id`, newest first.
    pub fn kept_versions(&self, id: &PluginId) -> Result<Vec<String>, HostError> {
        Ok(self.store.previous_versions(id)?)
    }

    /// Serialises installs across processes until the file drops.
    pub fn install_lock(&self) -> Result<std::fs::File, HostError> {
        self.installer.lock()
    }

    // --- Reading the store ---------------------------------------------

    pub fn get(&self, id: &PluginId) -> Result<InstalledPlugin, HostError> {
        Ok(self.store.require(id)?)
    }

    pub fn list(&self, filter: &PluginFilter) -> Result<Vec<InstalledPlugin>, HostError> {
        let mut plugins = self.store.list()?;
        plugins.retain(|p| {
            filter.state.is_none_or(|s| p.state == s)
                && filter.min_risk.is_none_or(|r| p.manifest.risk_level() >= r)
                && filter
                    .category
                    .as_deref()
                    .is_none_or(|c| p.manifest.plugin.category.as_str() == c)
        });
        Ok(plugins)
    }

    /// The commands installed plugins declare, for building `--help`: one
    /// query, no manifest parsed, no plugin loaded.
    pub fn commands(&self) -> Result<Vec<CommandRecord>, HostError> {
        Ok(self.store.commands()?)
    }

    // --- Lifecycle -----------------------------------------------------

    /// Enables a plugin: runs its on-enable hook, then records the state.
    /// Refused while a dependency is missing, at a version outside its
    /// range, or disabled.
    pub async fn enable(&mut self, id: &PluginId) -> Result<(), HostError> {
        if self.providers.reserves(id) {
            return self.set_native(id, true);
        }
        let plugin = self.store.require(id)?;
        // Said before the policy is asked (the lifecycle checks again, then
        // asks the policies).
        dependencies::require_met(&self.store, &plugin.manifest, true)?;
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.lifecycle.enable(rt, &mut self.store, id).await
    }

    /// Disables a plugin; its on-disable hook runs if it is enabled.
    /// Refused while plugins that are not disabled depend on it (see
    /// [`Framework::disable_forced`]).
    pub async fn disable(&mut self, id: &PluginId) -> Result<(), HostError> {
        self.disable_with(id, false).await.map(|_| ())
    }

    /// Disables a plugin and every plugin that depends on it, their states
    /// changed in one transaction; returns the dependents it disabled.
    pub async fn disable_forced(&mut self, id: &PluginId) -> Result<Vec<PluginId>, HostError> {
        self.disable_with(id, true).await
    }

    async fn disable_with(
        &mut self,
        id: &PluginId,
        force: bool,
    ) -> Result<Vec<PluginId>, HostError> {
        if self.providers.reserves(id) {
            return self.set_native(id, false).map(|()| Vec::new());
        }
        let mut dependents = dependencies::dependents(&self.store.list()?, id);
        dependents.retain(|p| p.state != PluginState::Disabled);
        if !dependents.is_empty() && !force {
            return Err(dependencies::blocked("disable", id, &dependents));
        }
        let dependents: Vec<PluginId> = dependents.iter().map(|p| p.id().clone()).collect();
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        self.lifecycle
            .disable_with(rt, &mut self.store, id, &dependents)
            .await?;
        Ok(dependents)
    }

    /// Forgets a plugin's loaded form in this process; the next call loads
    /// it again from the compiled cache. Returns whether it was loaded.
    pub fn unload(&mut self, id: &PluginId) -> bool {
        self.loader.unload(id)
    }

    // --- For the modules that extend the façade (registry, validation) -

    /// What is installed, read-only.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub(crate) fn governance(&self) -> &crate::governance::Governance {
        self.settings.governance()
    }

    /// The policies in force, with the store their decisions are recorded in.
    pub(crate) fn governed_store(&mut self) -> (&crate::governance::Governance, &mut Store) {
        (self.settings.governance(), &mut self.store)
    }

    pub(crate) fn home(&self) -> &Path {
        self.store.home()
    }

    pub(crate) fn providers(&self) -> &Providers {
        &self.providers
    }

    pub(crate) fn installer(&self) -> &Installer {
        &self.installer
    }

    pub(crate) fn loader(&self) -> &Loader {
        &self.loader
    }

    /// The lifecycle, the parts a call reads and the store to write: for
    /// judging what plugin code did outside a command.
    pub(crate) fn lifecycle_parts(&mut self) -> (&Lifecycle, Runtime<'_>, &mut Store) {
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        (&self.lifecycle, rt, &mut self.store)
    }

    /// The parts a call reads, with the store to write: for announcing.
    pub(crate) fn runtime_and_store(&mut self) -> (Runtime<'_>, &mut Store) {
        let rt = Runtime::new(&self.settings, &self.channels, &self.loader);
        (rt, &mut self.store)
    }
}
