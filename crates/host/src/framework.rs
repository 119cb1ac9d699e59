//! The framework: install, lifecycle, command routing and the breaker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use lord_manifest::{Isolation, Manifest, Permission, PluginId, RiskLevel};
use lord_sandbox::{
    Captured, CommandArg, Compiled, Grants, Invocation, Limits, MicroCompiled, PluginInstance,
    Sandbox,
};
use lord_store::{CommandRecord, Failpoint, InstalledPlugin, NewPlugin, PluginState, Store, World};
use serde_json::json;

use crate::error::HostError;
use crate::grants::{self, Roots};
use crate::lifecycle::{self, Event};

/// Command names lord keeps for itself; a plugin cannot declare them.
pub const RESERVED_COMMANDS: &[&str] = &[
    "plugin",
    "pipe",
    "micro",
    "dev",
    "help",
    "version",
    "completions",
    "config",
    "events",
    "secret",
    "state",
    "key",
    "pdk",
    "registry",
    "install",
];

/// Failures in a row that disable a plugin.
const DEFAULT_BREAKER_THRESHOLD: u32 = 3;

/// Everything the framework takes from its surroundings, passed in once so
/// tests (and embedding CLIs) decide it; nothing here reads the environment.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where all state lives (`$LORD_HOME`).
    pub home: PathBuf,
    /// The folder `$PROJECT` grants refer to (usually the working directory).
    pub project_dir: PathBuf,
    /// The process environment, from which `env(NAME)` grants take values.
    pub env: Vec<(String, String)>,
    /// Where each plugin's `$TMP` scratch folder is made (default:
    /// `$LORD_HOME/tmp`, so relocating the home relocates it too).
    pub tmp_root: PathBuf,
    pub breaker_threshold: u32,
    /// Crash injection for tests (see `lord_store::Failpoint`).
    pub failpoint: Option<String>,
    /// The configuration files, environment and flags (see `lord-config`).
    pub config: lord_config::Sources,
    /// Who runs this session, where, and how it was started.
    pub session: lord_state::SessionInfo,
}

impl HostConfig {
    pub fn new(home: PathBuf, project_dir: PathBuf) -> Self {
        // The system file is the same for every user; the user file lives
        // with the rest of lord's state; the project file is the project's.
        let config = lord_config::Sources {
            system: Some(PathBuf::from("/etc/lord/config.toml")),
            user: Some(home.join("config.toml")),
            project: Some(project_dir.join("lord.toml")),
            ..lord_config::Sources::default()
        };
        let session = lord_state::SessionInfo {
            user: None,
            project: project_dir.clone(),
            command: Vec::new(),
            version: String::new(),
            started_at_ms: lord_state::now_ms(),
            environment: std::collections::BTreeMap::new(),
        };
        Self {
            session,
            tmp_root: home.join("tmp"),
            home,
            project_dir,
            env: Vec::new(),
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            failpoint: None,
            config,
        }
    }
}

/// Filters for [`Framework::list`].
#[derive(Debug, Clone, Default)]
pub struct PluginFilter {
    pub state: Option<PluginState>,
    pub min_risk: Option<RiskLevel>,
    pub category: Option<String>,
}

/// What an install would grant, shown to the user before anything is stored.
/// Made by [`Framework::plan_install`], which has already compiled and
/// checked the component.
#[derive(Debug, Clone)]
pub struct InstallPlan {
    pub manifest: Manifest,
    pub risk: RiskLevel,
    pub permissions: Vec<Permission>,
    pub wasm_sha256: String,
    /// Whether the component is a full plugin or a micro-plugin package.
    pub world: World,
    /// When the plan replaces an installed build: what that build was
    /// granted, so a caller can show what the new one adds.
    pub replaces: Option<Vec<Permission>>,
    /// Where the files came from; recorded in the audit log on install.
    pub source: InstallSource,
    /// The package's declared test cases (`tests/cases.toml`); empty for
    /// a folder install.
    pub cases: Vec<crate::cases::TestCase>,
    text: String,
    component: PathBuf,
    /// The unpacked package, kept until the store has copied the
    /// component out of it; removed when the last clone of the plan drops.
    staging: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// Where an install's files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallSource {
    /// A plugin folder, as a developer installs their own work.
    Folder,
    /// A package file that passed every check of `lord_package::open`.
    Package {
        digest: lord_package::Digest,
        provenance: lord_package::Provenance,
    },
}

impl InstallPlan {
    /// Permissions this build requests that the build it replaces was not
    /// granted (empty for a fresh install).
    pub fn added_permissions(&self) -> Vec<&Permission> {
        match &self.replaces {
            Some(old) => self
                .permissions
                .iter()
                .filter(|p| !old.contains(p))
                .collect(),
            None => Vec::new(),
        }
    }
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

/// The result of [`Framework::register`].
#[derive(Debug, Clone)]
pub struct Registration {
    pub plugin: InstalledPlugin,
    /// Set when the plugin installed but its on-enable hook failed.
    pub enable_error: Option<String>,
}

/// What a command produced.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    pub plugin: PluginId,
    pub text: String,
    pub captured: Captured,
}

/// The plugin framework over one store.
pub struct Framework {
    pub(crate) config: HostConfig,
    pub(crate) store: Store,
    /// Started on first use: `--help` and `plugin list` never pay for an
    /// engine.
    sandbox: LazySandbox,
    /// Plugins loaded in this process: compiled, checked and pre-linked
    /// (`InstancePre`), keyed by id with the hash they were loaded from, so
    /// later calls only instantiate.
    loaded: Mutex<HashMap<PluginId, (String, Arc<Compiled>)>>,
    /// Plugin data, shared values and the event bus, opened on first use
    /// (`state.db` beside the store).
    channels: OnceLock<Channels>,
    /// The merged configuration, read on first use.
    settings: OnceLock<Result<lord_config::Config, String>>,
    /// The bus subscriptions of enabled plugins holding
    /// `events-subscribe` grants, made before this process's first
    /// command; drained into their `handle-event` after each command.
    delivery: Mutex<Option<Vec<Subscriber>>>,
    /// The session's global state, made on first use.
    global: OnceLock<lord_state::GlobalState>,
}

/// A subscribing plugin and its subscriptions (one per granted pattern).
type Subscriber = (PluginId, Vec<lord_state::Subscription>);

/// Events a subscribing plugin may have queued between deliveries.
const DELIVERY_QUEUE: usize = 1024;

/// Rounds of delivery after a command: events published by handlers are
/// delivered in the next round, up to this many (so two plugins answering
/// each other's events cannot loop forever).
const DELIVERY_ROUNDS: usize = 4;

/// The host-owned channels between plugins, for this process.
#[derive(Clone, Debug)]
pub struct Channels {
    pub data: lord_state::PluginData,
    pub shared: lord_state::SharedState,
    pub bus: lord_state::EventBus,
    pub secrets: lord_state::Secrets,
    pub mailboxes: lord_state::Mailboxes,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("home", &self.config.home)
            .finish_non_exhaustive()
    }
}

/// The engine, started on first use and shared by every handle.
#[derive(Clone)]
pub(crate) struct LazySandbox {
    cell: Arc<OnceLock<Sandbox>>,
    cache_dir: PathBuf,
}

impl LazySandbox {
    pub(crate) fn get(&self) -> Result<&Sandbox, HostError> {
        if let Some(sandbox) = self.cell.get() {
            return Ok(sandbox);
        }
        let sandbox = Sandbox::new(&self.cache_dir)?;
        Ok(self.cell.get_or_init(|| sandbox))
    }
}

/// A plugin folder read from disk, not yet installed.
pub(crate) struct Candidate {
    pub(crate) manifest: Manifest,
    text: String,
    pub(crate) component: PathBuf,
}

impl Framework {
    pub fn open(config: HostConfig) -> Result<Self, HostError> {
        let store = Store::open(&config.home, Failpoint::new(config.failpoint.clone()))?;
        let cache_dir = store.cache_dir();
        Ok(Self {
            config,
            store,
            sandbox: LazySandbox {
                cell: Arc::new(OnceLock::new()),
                cache_dir,
            },
            loaded: Mutex::new(HashMap::new()),
            channels: OnceLock::new(),
            settings: OnceLock::new(),
            delivery: Mutex::new(None),
            global: OnceLock::new(),
        })
    }

    /// The session's global state: its information, telemetry, and the
    /// logger level and theme from the configuration (lord's defaults if
    /// the configuration cannot be read).
    pub fn global(&self) -> &lord_state::GlobalState {
        self.global.get_or_init(|| {
            let setting = |key: &str, default: &str| {
                self.settings()
                    .ok()
                    .and_then(|c| c.get(key))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| default.to_owned())
            };
            lord_state::GlobalState::new(
                self.config.session.clone(),
                setting("log.level", "warn"),
                setting("theme", "auto"),
            )
        })
    }

    /// Hands a receiver its queued messages (highest priority first). A
    /// handler that refuses a message (`err`) is audited but not counted
    /// against its breaker: a sender must not be able to disable a receiver
    /// by sending it bad messages. Traps and limits still count.
    async fn deliver_messages(&mut self, to: &str) {
        let messages = self.channels().mailboxes.take(to);
        let Ok(id) = to.parse::<PluginId>() else {
            return;
        };
        let plugin = match self.store.require(&id) {
            Ok(plugin) if plugin.state == PluginState::Enabled => plugin,
            Ok(_) | Err(_) => return,
        };
        let mut instance = match self.load_installed(&plugin).await {
            Ok(instance) => instance,
            Err(e) => {
                let _ = self
                    .store
                    .audit(&id, "messages not delivered", &e.to_string());
                return;
            }
        };
        for (index, message) in messages.iter().enumerate() {
            match instance
                .handle_message(&message.from, &message.payload)
                .await
            {
                Ok(_) => {}
                Err(e) if matches!(e.failure, lord_sandbox::Failure::Returned { .. }) => {
                    let detail = format!("refused a message from `{}`: {e}", message.from);
                    let _ = self.store.audit(&id, "message refused", &detail);
                }
                Err(e) => {
                    let detail = format!(
                        "handle-message failed on a message from `{}`: {e}",
                        message.from
                    );
                    if e.failure.is_plugin_fault() {
                        let _ = self.command_failed(&id, &detail).await;
                    } else {
                        let _ = self.store.audit(&id, "host failure", &detail);
                    }
                    // A failed instance is poisoned: the messages after the
                    // one that failed wait for the next round, in a fresh one.
                    for rest in messages.iter().skip(index + 1) {
                        self.channels().mailboxes.post(rest.clone());
                    }
                    break;
                }
            }
        }
    }

    /// Subscribes every enabled plugin with `events-subscribe` grants, once
    /// per process, before any command publishes.
    fn subscribe_plugins(&self) -> Result<(), HostError> {
        let mut delivery = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        if delivery.is_some() {
            return Ok(());
        }
        let bus = &self.channels().bus;
        let subscribers = self
            .store
            .subscribers()?
            .into_iter()
            .map(|subscriber| {
                let patterns =
                    lord_state::ScopeGrants::from_permissions(&subscriber.granted, 0).subscribe;
                let subscriptions = patterns
                    .iter()
                    .map(|pattern| {
                        let filter = subscriber
                            .filters
                            .iter()
                            .find(|f| f.pattern == *pattern)
                            .map(|f| {
                                lord_state::FieldFilter::new(f.field.clone(), f.equals.clone())
                            });
                        bus.subscribe(subscriber.id.as_str(), pattern, filter, DELIVERY_QUEUE)
                    })
                    .collect();
                (subscriber.id, subscriptions)
            })
            .collect();
        *delivery = Some(subscribers);
        Ok(())
    }

    /// The events queued for each subscribing plugin, each once (an event
    /// two of a plugin's patterns cover is delivered once).
    fn drain_deliveries(&self) -> Vec<(PluginId, Vec<Arc<lord_state::Event>>)> {
        let mut delivery = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        let Some(subscribers) = delivery.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, subscriptions) in subscribers.iter_mut() {
            let mut events: Vec<Arc<lord_state::Event>> = Vec::new();
            for subscription in subscriptions.iter_mut() {
                while let Some(event) = subscription.try_recv() {
                    if !events.iter().any(|e| Arc::ptr_eq(e, &event)) {
                        events.push(event);
                    }
                }
            }
            if !events.is_empty() {
                events.sort_by_key(|e| e.at_ms);
                out.push((id.clone(), events));
            }
        }
        out
    }

    /// Hands queued events to their subscribers' `handle-event`, in rounds.
    /// A subscriber that fails is recorded (and counts towards its breaker)
    /// and misses the rest of that round's events; the command that
    /// published them is not affected.
    pub async fn deliver_events(&mut self) {
        for _ in 0..DELIVERY_ROUNDS {
            let batches = self.drain_deliveries();
            let receivers = self.channels().mailboxes.receivers();
            if batches.is_empty() && receivers.is_empty() {
                return;
            }
            for to in receivers {
                self.deliver_messages(&to).await;
            }
            for (id, events) in batches {
                let plugin = match self.store.require(&id) {
                    Ok(plugin) if plugin.state == PluginState::Enabled => plugin,
                    Ok(_) | Err(_) => continue,
                };
                let mut instance = match self.load_installed(&plugin).await {
                    Ok(instance) => instance,
                    Err(e) => {
                        let _ = self
                            .store
                            .audit(&id, "events not delivered", &e.to_string());
                        continue;
                    }
                };
                for (delivered, event) in events.iter().enumerate() {
                    if let Err(e) = instance.handle_event(event).await {
                        let detail = format!(
                            "handle-event failed on `{}`: {e}; {} later event(s) of this round skipped",
                            event.topic,
                            events.len() - delivered - 1
                        );
                        if e.failure.is_plugin_fault() {
                            let _ = self.command_failed(&id, &detail).await;
                        } else {
                            let _ = self.store.audit(&id, "host failure", &detail);
                        }
                        break;
                    }
                }
            }
        }
    }

    /// Chooses the profile and adds `--set` flags. Call before anything
    /// reads the configuration; later calls change nothing already read.
    pub fn configure(&mut self, profile: Option<String>, flags: Vec<String>) {
        if profile.is_some() {
            self.config.config.profile = profile;
        }
        self.config.config.flags.extend(flags);
    }

    /// Where the configuration comes from.
    pub fn config_sources(&self) -> &lord_config::Sources {
        &self.config.config
    }

    /// The merged configuration (read once per process).
    pub fn settings(&self) -> Result<&lord_config::Config, HostError> {
        self.settings
            .get_or_init(|| {
                lord_config::Config::load(&self.config.config).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| HostError::ConfigUnusable(message.clone()))
    }

    /// The project's `[requires]`: the plugins it wants, by id and range.
    pub fn project_requires(&self) -> Result<Vec<(PluginId, semver::VersionReq)>, HostError> {
        let Some(serde_json::Value::Object(table)) = self.settings()?.get("requires") else {
            return Ok(Vec::new());
        };
        table
            .iter()
            .map(|(id, range)| {
                let id = id.parse::<PluginId>().map_err(|e| {
                    HostError::Resolve(format!("`requires.{id}` does not name a plugin: {e}"))
                })?;
                let range = range
                    .as_str()
                    .and_then(|r| semver::VersionReq::parse(r).ok())
                    .ok_or_else(|| {
                        HostError::Resolve(format!("`requires.{id}` is not a version range"))
                    })?;
                Ok((id, range))
            })
            .collect()
    }

    /// The project folder (`lord.toml` and `lord.lock` live there).
    pub fn project_dir(&self) -> &Path {
        &self.config.project_dir
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

    /// Publishes a lifecycle event about `id`; if it cannot be recorded,
    /// the audit log says so.
    pub(crate) fn announce_for(
        &mut self,
        id: &PluginId,
        topic: &str,
        mut payload: serde_json::Value,
    ) {
        if let Some(map) = payload.as_object_mut() {
            map.insert("plugin".to_owned(), serde_json::Value::from(id.as_str()));
        }
        if let Some(e) = self.announce(topic, payload) {
            let _ = self.store.audit(id, "event not recorded", &e.to_string());
        }
    }

    /// The channels between plugins. `state.db` is opened only when a
    /// plugin or a command first touches data or the event log.
    pub fn channels(&self) -> &Channels {
        self.channels.get_or_init(|| {
            let db = lord_state::StateDb::at(&self.config.home);
            let log = lord_state::EventLog::with_secrets(
                db.clone(),
                lord_state::Retention::default(),
                lord_state::Secrets::new(&self.config.home),
            );
            // An unreadable configuration has already been reported by the
            // commands that read it; secrets then use the default backend.
            let backend = self
                .settings()
                .ok()
                .and_then(|c| c.get("secrets.backend"))
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_default();
            Channels {
                data: lord_state::PluginData::new(db),
                shared: lord_state::SharedState::new(),
                bus: lord_state::EventBus::with_log(log),
                secrets: lord_state::Secrets::with_backend(&self.config.home, backend),
                mailboxes: lord_state::Mailboxes::default(),
            }
        })
    }

    /// Writes the events this process queued for the log. Dropping the
    /// framework does it too, silently; a CLI calls this to report a
    /// failure.
    pub fn flush_events(&self) -> Result<(), HostError> {
        if let Some(log) = self.channels.get().and_then(|c| c.bus.log()) {
            log.flush()?;
        }
        Ok(())
    }

    /// Publishes one of lord's own events (`system` level, persisted). A
    /// failure to record it must not fail the operation it describes, so
    /// it is reported to the caller to show, not raised.
    fn announce(&self, topic: &str, payload: serde_json::Value) -> Option<HostError> {
        let topic = match lord_manifest::Topic::concrete(topic) {
            Ok(topic) => topic,
            Err(problem) => {
                return Some(HostError::State(lord_state::StateError::Invalid {
                    what: "topic",
                    value: topic.to_owned(),
                    problem,
                }));
            }
        };
        self.channels()
            .bus
            .publish(
                &topic,
                "lord",
                lord_state::Propagation::System,
                payload,
                false,
            )
            .map_err(HostError::from)
            .err()
    }

    pub(crate) fn sandbox(&self) -> Result<&Sandbox, HostError> {
        self.sandbox.get()
    }

    /// A handle that starts the engine only when first used, for work that
    /// may or may not need it (micro-plugins registered but never called).
    pub(crate) fn lazy_sandbox(&self) -> LazySandbox {
        self.sandbox.clone()
    }

    pub(crate) fn read_candidate(dir: &Path) -> Result<Candidate, HostError> {
        let path = dir.join(lord_manifest::MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| HostError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let manifest = lord_manifest::parse(&path.display().to_string(), &text)?;
        let component = dir.join(&manifest.plugin.component);
        if !component.is_file() {
            return Err(HostError::MissingComponent { path: component });
        }
        Ok(Candidate {
            manifest,
            text,
            component,
        })
    }

    pub(crate) fn check_host_fit(manifest: &Manifest) -> Result<(), HostError> {
        let plugin = &manifest.plugin;
        if !lord_manifest::host_api_satisfied_by(&plugin.host_api) {
            return Err(HostError::Incompatible {
                plugin: plugin.id.clone(),
                wants: plugin.host_api.clone(),
                host: lord_manifest::host_api_version(),
            });
        }
        for command in &manifest.commands {
            if RESERVED_COMMANDS.contains(&command.name.as_str()) {
                return Err(HostError::ReservedCommand {
                    plugin: plugin.id.clone(),
                    command: command.name.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Reads, compiles and checks the plugin in `dir` without storing
    /// anything. Compiling here (not at first run) fills the cache and
    /// refuses a component that imports more than it asked for before it is
    /// stored.
    pub fn plan_install(&self, dir: &Path) -> Result<InstallPlan, HostError> {
        self.plan(dir, false)
    }

    /// Like [`Framework::plan_install`], but an installed plugin of the same
    /// id is replaced by the new build (what `lord dev` does on each change).
    pub fn plan_replace(&self, dir: &Path) -> Result<InstallPlan, HostError> {
        self.plan(dir, true)
    }

    fn plan(&self, dir: &Path, may_replace: bool) -> Result<InstallPlan, HostError> {
        let candidate = Self::read_candidate(dir)?;
        let manifest = candidate.manifest;
        Self::check_host_fit(&manifest)?;
        let id = manifest.plugin.id.clone();
        let installed = self.store.get(&id)?;
        if installed.is_some() && !may_replace {
            return Err(lord_store::StoreError::AlreadyInstalled(id.to_string()).into());
        }
        let (wasm_sha256, report) =
            self.sandbox()?
                .install_check(&id, &candidate.component, &manifest.permissions)?;
        let world = if report.micro {
            World::Micro
        } else {
            World::Plugin
        };
        check_world_fit(&manifest, world)?;
        Ok(InstallPlan {
            replaces: installed.map(|p| p.granted),
            world,
            risk: manifest.risk_level(),
            permissions: manifest.permissions.clone(),
            manifest,
            wasm_sha256,
            source: InstallSource::Folder,
            cases: Vec::new(),
            text: candidate.text,
            component: candidate.component,
            staging: None,
        })
    }

    /// Reads, verifies and unpacks the package file `package`, then plans
    /// its install as [`Framework::plan_install`] does. The signature must
    /// verify under a trusted key; an unsigned package is accepted only
    /// with `allow_unsigned`, and the install records which it was. A
    /// refused package leaves the store untouched: it is unpacked into a
    /// staging folder that is removed when the plan drops.
    pub fn plan_install_package(
        &self,
        package: &Path,
        allow_unsigned: bool,
    ) -> Result<InstallPlan, HostError> {
        self.plan_package(package, allow_unsigned, false)
    }

    /// Like [`Framework::plan_install_package`], but the package replaces
    /// the installed build of its plugin (an update). It must be signed.
    pub fn plan_update_package(&self, package: &Path) -> Result<InstallPlan, HostError> {
        self.plan_package(package, false, true)
    }

    fn plan_package(
        &self,
        package: &Path,
        allow_unsigned: bool,
        may_replace: bool,
    ) -> Result<InstallPlan, HostError> {
        // Not the store's `staging/`, which its writers sweep clean.
        let root = self.config.home.join("unpacking");
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
        let trusted = lord_package::Keys::new(&self.config.home).trusted()?;
        let opened = lord_package::open(
            package,
            staging.path(),
            &trusted,
            allow_unsigned,
            &lord_package::Limits::default(),
        )?;
        let mut plan = self.plan(staging.path(), may_replace)?;
        plan.cases = crate::cases::read_cases(staging.path())?;
        plan.source = InstallSource::Package {
            digest: opened.digest,
            provenance: opened.provenance,
        };
        plan.staging = Some(std::sync::Arc::new(staging));
        Ok(plan)
    }

    /// Stores a planned plugin with the permissions granted, and enables it.
    /// An install whose on-enable hook fails stays installed, marked failed.
    ///
    /// A full plugin installed fresh from a package is not enabled here:
    /// installing a package runs no plugin code at all (compiling it is the
    /// only work), and its hooks run when it is first used (see
    /// [`Framework::run_command`]) or enabled. A folder install (a
    /// developer's own plugin), an update, and a micro-plugin package (whose
    /// enabling runs no plugin code) are enabled at once.
    pub async fn install(&mut self, plan: InstallPlan) -> Result<Registration, HostError> {
        let id = plan.manifest.plugin.id.clone();
        let defer_hooks = plan.replaces.is_none()
            && plan.world == World::Plugin
            && matches!(plan.source, InstallSource::Package { .. });
        // Held until the store has copied the component.
        let _staging = plan.staging;
        let origin = match &plan.source {
            InstallSource::Folder => None,
            InstallSource::Package { digest, provenance } => {
                Some(format!("package sha256 {digest}, {provenance}"))
            }
        };
        let new = NewPlugin {
            manifest: plan.manifest,
            manifest_text: plan.text,
            component_source: plan.component,
            wasm_sha256: plan.wasm_sha256,
            granted: plan.permissions,
            world: plan.world,
            origin,
        };
        let version = new.manifest.plugin.version.to_string();
        match plan.replaces {
            Some(_) => {
                self.store.replace(new)?;
                // Calls already running keep the build they loaded; the next
                // call loads this one.
                self.unload(&id);
                self.announce_for(&id, "lord.plugin.updated", json!({ "version": version }));
            }
            None => {
                self.store.install(new)?;
                self.announce_for(&id, "lord.plugin.installed", json!({ "version": version }));
            }
        }

        if defer_hooks {
            return Ok(Registration {
                plugin: self.store.require(&id)?,
                enable_error: None,
            });
        }
        let enable_error = match self.enable(&id).await {
            Ok(()) => None,
            Err(HostError::Call(e)) => Some(e.to_string()),
            Err(other) => return Err(other),
        };
        Ok(Registration {
            plugin: self.store.require(&id)?,
            enable_error,
        })
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

    /// Removes a plugin. Removal runs no plugin code, so a broken or hostile
    /// plugin can always be removed.
    pub fn unregister(&mut self, id: &PluginId) -> Result<(), HostError> {
        self.unload(id);
        self.store.remove(id)?;
        self.announce_for(id, "lord.plugin.removed", json!({}));
        // Its data goes with it: a plugin installed later under the same id
        // starts empty.
        self.channels().data.forget(id.as_str())?;
        Ok(())
    }

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

    pub fn audit_log(&self, id: &PluginId) -> Result<Vec<lord_store::AuditEntry>, HostError> {
        Ok(self.store.audit_log(id)?)
    }

    /// The commands installed plugins declare, for building `--help`.
    pub fn commands(&self) -> Result<Vec<CommandRecord>, HostError> {
        Ok(self.store.commands()?)
    }

    /// Enables a plugin: runs its on-enable hook, then records the state.
    /// A failing hook marks the plugin failed with the reason.
    pub async fn enable(&mut self, id: &PluginId) -> Result<(), HostError> {
        let plugin = self.store.require(id)?;
        let target = lifecycle::next(plugin.state, Event::Enable)
            .map_err(|e| self.unavailable(&plugin, e.message))?;
        let result = async {
            match plugin.world {
                // A micro package has no hooks; enabling proves it still
                // loads under each isolation it declares.
                World::Micro => {
                    for isolation in micro_isolations(&plugin) {
                        self.prepare_micro(&plugin, isolation)?;
                    }
                }
                World::Plugin => {
                    let mut instance = self.instantiate(&plugin).await?;
                    instance.on_load().await?;
                    instance.on_enable().await?;
                }
            }
            Ok::<_, HostError>(())
        }
        .await;
        match result {
            Ok(()) => {
                self.store.set_state(id, target, None)?;
                self.store.record_success(id)?;
                self.announce_for(id, "lord.plugin.enabled", json!({}));
                Ok(())
            }
            Err(HostError::Call(e)) => {
                self.hook_failed(&plugin, "on-enable", &e.to_string())
                    .await?;
                Err(HostError::Call(e))
            }
            Err(other) => Err(other),
        }
    }

    /// Disables a plugin. Its on-disable hook runs if the plugin is enabled;
    /// a failing hook is recorded but does not keep the plugin enabled.
    pub async fn disable(&mut self, id: &PluginId) -> Result<(), HostError> {
        let plugin = self.store.require(id)?;
        let target = lifecycle::next(plugin.state, Event::Disable)
            .map_err(|e| self.unavailable(&plugin, e.message))?;
        if plugin.state == PluginState::Enabled && plugin.world == World::Plugin {
            let result = async {
                let mut instance = self.instantiate(&plugin).await?;
                instance.on_load().await?;
                instance.on_disable().await?;
                Ok::<_, HostError>(())
            }
            .await;
            if let Err(e) = result {
                self.store.audit(id, "on-disable failed", &e.to_string())?;
            }
        }
        self.store
            .set_state(id, target, Some("disabled by the user"))?;
        self.unload(id);
        self.announce_for(id, "lord.plugin.disabled", json!({}));
        Ok(())
    }

    /// Loads a plugin for use in this process: a fresh instance with its
    /// grants, after its on-load hook.
    pub async fn load(&mut self, id: &PluginId) -> Result<PluginInstance, HostError> {
        let plugin = self.store.require(id)?;
        self.load_installed(&plugin).await
    }

    async fn load_installed(
        &mut self,
        plugin: &InstalledPlugin,
    ) -> Result<PluginInstance, HostError> {
        lifecycle::next(plugin.state, Event::Run)
            .map_err(|e| self.unavailable(plugin, e.message))?;
        let mut instance = self.instantiate(plugin).await?;
        if let Err(e) = instance.on_load().await {
            self.hook_failed(plugin, "on-load", &e.to_string()).await?;
            return Err(e.into());
        }
        Ok(instance)
    }

    /// Runs the plugin command `command` with parsed arguments.
    pub async fn run_command(
        &mut self,
        command: &str,
        args: Vec<CommandArg>,
    ) -> Result<CommandOutcome, HostError> {
        let owner = self
            .store
            .command_owner(command)?
            .ok_or_else(|| HostError::UnknownCommand(command.to_owned()))?;
        let id: PluginId = owner
            .parse()
            .map_err(|e| lord_store::StoreError::Corrupt(format!("{e}")))?;
        let plugin = self.ready_to_run(&id).await?;
        self.announce_for(&id, "lord.command.started", json!({ "command": command }));
        let started = std::time::Instant::now();
        let result = self.run_loaded(&plugin, command, args).await;
        let status = match &result {
            Ok(_) => "ok",
            Err(_) => "failed",
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.global()
            .record_command(command, result.is_ok(), duration_ms);
        self.announce_for(
            &id,
            "lord.command.finished",
            json!({
                "command": command,
                "status": status,
                "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }),
        );
        self.deliver_events().await;
        result
    }

    /// The installed plugin `id`, ready for a command: enabled if this is
    /// its first use, with every subscriber listening.
    pub(crate) async fn ready_to_run(
        &mut self,
        id: &PluginId,
    ) -> Result<InstalledPlugin, HostError> {
        let mut plugin = self.store.require(id)?;
        // A plugin installed from a package and never enabled is enabled by
        // its first use: its on-load and on-enable hooks run now, not at
        // install.
        if plugin.state == PluginState::Installed {
            self.enable(id).await?;
            plugin = self.store.require(id)?;
        }
        // Subscribers must be listening before anything is published.
        if let Err(e) = self.subscribe_plugins() {
            let _ = self
                .store
                .audit(id, "subscribers not set up", &e.to_string());
        }
        Ok(plugin)
    }

    async fn run_loaded(
        &mut self,
        plugin: &InstalledPlugin,
        command: &str,
        args: Vec<CommandArg>,
    ) -> Result<CommandOutcome, HostError> {
        let id = plugin.id().clone();
        let mut instance = self.load_installed(plugin).await?;
        let invocation = Invocation {
            command: command.to_owned(),
            args,
        };
        match instance.run_command(&invocation).await {
            Ok((text, captured)) => {
                // Only a plugin with failures on record needs a write.
                if plugin.consecutive_failures != 0 {
                    self.store.record_success(&id)?;
                }
                // The unload hook's failure does not undo a command that
                // succeeded; it is recorded for `plugin info`.
                if let Err(e) = instance.on_unload().await {
                    self.store.audit(&id, "on-unload failed", &e.to_string())?;
                }
                Ok(CommandOutcome {
                    plugin: id,
                    text,
                    captured,
                })
            }
            // Only the plugin's own failures count towards its breaker; a
            // host set-up problem is recorded and left at the host's door.
            Err(e) if e.failure.is_plugin_fault() => {
                self.command_failed(&id, &e.to_string()).await?;
                Err(e.into())
            }
            Err(e) => {
                self.store.audit(&id, "host failure", &e.to_string())?;
                Err(e.into())
            }
        }
    }

    /// Records a failed command and trips the breaker when the failures in a
    /// row reach the threshold.
    async fn command_failed(&mut self, id: &PluginId, error: &str) -> Result<(), HostError> {
        let failures = self.store.record_failure(id, error)?;
        if failures >= self.config.breaker_threshold {
            let plugin = self.store.require(id)?;
            if let Ok(target) = lifecycle::next(plugin.state, Event::BreakerTripped) {
                let reason = format!(
                    "breaker tripped after {failures} failures in a row; last: {error}; \
                     re-enable with `lord plugin enable {id}` once it is fixed"
                );
                self.store.set_state(id, target, Some(&reason))?;
                self.announce_for(id, "lord.plugin.failed", json!({ "reason": reason }));
                self.notify_error(&plugin, &reason).await;
            }
        }
        Ok(())
    }

    /// A lifecycle hook failed: mark the plugin failed with the reason and
    /// tell its on-error hook, in a fresh instance since the failed one may
    /// be poisoned.
    async fn hook_failed(
        &mut self,
        plugin: &InstalledPlugin,
        hook: &str,
        error: &str,
    ) -> Result<(), HostError> {
        let reason = format!("{hook} hook failed: {error}");
        self.store.record_failure(plugin.id(), &reason)?;
        if let Ok(target) = lifecycle::next(plugin.state, Event::HookFailed) {
            self.store.set_state(plugin.id(), target, Some(&reason))?;
            self.announce_for(
                plugin.id(),
                "lord.plugin.failed",
                json!({ "reason": reason }),
            );
        }
        self.notify_error(plugin, &reason).await;
        Ok(())
    }

    /// Calls the plugin's on-error hook; what that hook does (or how it
    /// fails) is recorded in the audit log and goes no further.
    async fn notify_error(&mut self, plugin: &InstalledPlugin, reason: &str) {
        let outcome = match self.instantiate(plugin).await {
            Ok(mut instance) => instance.on_error(reason).await.map_err(HostError::from),
            Err(e) => Err(e),
        };
        let detail = match outcome {
            Ok(captured) => format!(
                "on-error hook ran{}",
                captured
                    .logs
                    .first()
                    .map(|l| format!(" and logged: {}", l.message))
                    .unwrap_or_default()
            ),
            Err(e) => format!("on-error hook failed: {e}"),
        };
        // The audit write is best effort here: the failure that led here is
        // already recorded.
        let _ = self.store.audit(plugin.id(), "on-error", &detail);
    }

    fn unavailable(&self, plugin: &InstalledPlugin, why: String) -> HostError {
        let id = plugin.id();
        let hint = match plugin.state {
            PluginState::Installed | PluginState::Disabled | PluginState::Failed => {
                format!("enable it with `lord plugin enable {id}`")
            }
            PluginState::Enabled => why,
        };
        HostError::Unavailable {
            plugin: id.clone(),
            state: plugin.state,
            reason: plugin.reason.clone(),
            hint,
        }
    }

    /// The loaded form of a plugin, reusing this process's `InstancePre`
    /// unless the installed bytes changed since it was loaded.
    fn prepare(&self, plugin: &InstalledPlugin) -> Result<Arc<Compiled>, HostError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((sha, compiled)) = loaded.get(plugin.id())
            && *sha == plugin.wasm_sha256
        {
            return Ok(Arc::clone(compiled));
        }
        let compiled = Arc::new(self.sandbox()?.prepare(
            plugin.id(),
            &plugin.component,
            &plugin.wasm_sha256,
            &plugin.granted,
        )?);
        loaded.insert(
            plugin.id().clone(),
            (plugin.wasm_sha256.clone(), Arc::clone(&compiled)),
        );
        Ok(compiled)
    }

    /// Forgets a plugin's loaded form in this process; the next call loads
    /// it again from the compiled cache. Returns whether it was loaded.
    pub fn unload(&mut self, id: &PluginId) -> bool {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.remove(id).is_some()
    }

    async fn instantiate(&self, plugin: &InstalledPlugin) -> Result<PluginInstance, HostError> {
        let compiled = self.prepare(plugin)?;
        let grants = self.grants_for(plugin)?;
        let limits = Limits::from_manifest(&plugin.manifest.limits);
        Ok(compiled.instantiate(&grants, limits).await?)
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

    /// The concrete grants of a plugin in this process.
    /// A plugin's own configuration table, checked against its schema.
    fn plugin_config(&self, plugin: &InstalledPlugin) -> Result<serde_json::Value, HostError> {
        let settings = self.settings()?;
        if let Some(schema) = &plugin.manifest.config_schema
            && let Some(problem) = settings
                .check_plugins([(plugin.id().as_str(), schema)])
                .into_iter()
                .next()
        {
            return Err(HostError::PluginConfig {
                plugin: plugin.id().clone(),
                problem: problem.to_string(),
            });
        }
        Ok(settings.plugin(plugin.id().as_str()))
    }

    /// A plugin's grants, with a messenger for its `message(ID)` grants.
    pub(crate) fn grants_for(&self, plugin: &InstalledPlugin) -> Result<Grants, HostError> {
        let mut grants = self.own_grants(plugin)?;
        // The channel grants come from the one exhaustive reading of
        // permissions, `ScopeGrants::from_permissions`.
        let targets: std::collections::HashMap<_, _> =
            lord_state::ScopeGrants::from_permissions(&plugin.granted, 0)
                .messages
                .iter()
                .map(|target| (target.to_string(), self.message_target(target)))
                .collect();
        if !targets.is_empty() {
            grants.messenger = Some(Arc::new(lord_sandbox::Messenger::new(
                plugin.id().as_str(),
                targets,
                self.channels().mailboxes.clone(),
            )));
        }
        Ok(grants)
    }

    /// A plugin that may receive requests, ready to run; or why it cannot.
    fn message_target(&self, id: &PluginId) -> Result<lord_sandbox::MessageTarget, String> {
        let target = match self.store.get(id) {
            Ok(Some(target)) => target,
            Ok(None) => return Err(format!("plugin `{id}` is not installed")),
            Err(e) => return Err(e.to_string()),
        };
        match target.state {
            PluginState::Enabled => {}
            PluginState::Installed | PluginState::Disabled | PluginState::Failed => {
                return Err(format!(
                    "plugin `{id}` is {}; enable it with `lord plugin enable {id}`",
                    target.state
                ));
            }
        }
        if !target.manifest.accepts_messages {
            return Err(format!(
                "plugin `{id}` does not accept messages (its manifest has no `[messages] accept = true`)"
            ));
        }
        // The target runs with its own grants and no messenger: a handler
        // cannot send requests, so requests never chain.
        let grants = self.own_grants(&target).map_err(|e| e.to_string())?;
        let limits = Limits::from_manifest(&target.manifest.limits);
        let sandbox = self.lazy_sandbox();
        Ok(lord_sandbox::MessageTarget::new(
            move || {
                sandbox
                    .get()
                    .and_then(|s| {
                        s.prepare(
                            target.id(),
                            &target.component,
                            &target.wasm_sha256,
                            &target.granted,
                        )
                        .map_err(HostError::from)
                    })
                    .map_err(|e| e.to_string())
            },
            grants,
            limits,
        ))
    }

    /// A plugin's grants without a messenger.
    fn own_grants(&self, plugin: &InstalledPlugin) -> Result<Grants, HostError> {
        // Folders are made only for the roots a grant names: a plugin with
        // no file grants costs no directory syscalls per load.
        let needs = grants::roots_needed(&plugin.granted);
        let data = if needs.plugin_data {
            self.store.plugin_data_dir(plugin.id())?
        } else {
            PathBuf::new()
        };
        let tmp = self.config.tmp_root.join(plugin.id().as_str());
        if needs.tmp {
            std::fs::create_dir_all(&tmp).map_err(|source| HostError::Io {
                action: "create",
                path: tmp.clone(),
                source,
            })?;
        }
        let roots = Roots {
            project: &self.config.project_dir,
            plugin_data: &data,
            tmp: &tmp,
        };
        let mut grants = grants::to_grants(&plugin.granted, &roots, &self.config.env);
        let channels = self.channels();
        grants.scope = Some(Arc::new(
            lord_state::Scope::new(
                plugin.id(),
                lord_state::ScopeGrants::from_permissions(
                    &plugin.granted,
                    plugin.manifest.limits.max_data_bytes(),
                ),
                channels.data.clone(),
                channels.shared.clone(),
                channels.bus.clone(),
            )
            .with_secrets(channels.secrets.clone())
            .with_config(self.plugin_config(plugin)?),
        ));
        Ok(grants)
    }
}

/// A micro-plugin package has handlers and nothing else; a full plugin may
/// have anything. Refused here, the mismatch never reaches the store.
fn check_world_fit(manifest: &Manifest, world: World) -> Result<(), HostError> {
    let plugin = manifest.plugin.id.clone();
    match world {
        World::Plugin => Ok(()),
        World::Micro if !manifest.commands.is_empty() => Err(HostError::Mismatch {
            plugin,
            reason: "the component is a micro-plugin (it exports lord:plugin/micro), so it \
                     cannot serve [[commands]]; remove them or build a full plugin"
                .to_owned(),
        }),
        World::Micro if manifest.micro.is_empty() => Err(HostError::Mismatch {
            plugin,
            reason: "the component is a micro-plugin but plugin.toml declares no [[micro]] \
                     entries; declare the handlers it serves"
                .to_owned(),
        }),
        World::Micro => Ok(()),
    }
}

/// The isolations a micro package's entries declare, each once.
pub(crate) fn micro_isolations(plugin: &InstalledPlugin) -> Vec<Isolation> {
    let mut out: Vec<Isolation> = Vec::new();
    for entry in &plugin.manifest.micro {
        if !out.contains(&entry.isolation) {
            out.push(entry.isolation);
        }
    }
    out
}
