//! The governance part: the Cedar policies in force (see `lord-policy`),
//! read once per process from each layer's folder, and enforced where
//! plugins are installed, updated, granted a permission, enabled and run.
//!
//! Layers: the machine's folder (`/etc/lord/policies/`, which an ordinary
//! user cannot write) and the user's (`$LORD_HOME/policies/`); each holds
//! `*.cedar` files and an optional `groups.toml`. A looser layer can only
//! add refusals (see `lord_policy::Policies`).
//!
//! What is recorded in the audit trail: every decision on an action that
//! changes state (install, update, grant, enable), and a refusal of any
//! mode on `run`, so a command that only reads writes nothing when the
//! policies allow it. A change in the policies in force is recorded the
//! first time a decision sees it.
//!
//! Invariant: a policy file that cannot be read, parsed or checked
//! refuses every governed action (naming the file) rather than being
//! skipped: a broken policy never opens a door.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use lord_manifest::{Permission, PluginId};
use lord_policy::{
    Action, Decision, Enforcement, LayerSource, PluginFacts, Policies, Principal, Provenance,
    Request, Scope, Source,
};
use lord_store::{InstalledPlugin, Store};

use crate::error::HostError;
use crate::framework::Framework;
use crate::install::{InstallPlan, InstallSource, RegistryFacts};

/// The audit action of a policy decision.
pub const POLICY_DECISION: &str = "policy-decision";
/// The audit action of a change in the policies in force.
pub const POLICY_CHANGED: &str = "policy-changed";

/// Where policies are read from, and who asks.
#[derive(Debug, Clone)]
pub struct PolicyPlaces {
    /// Each layer's folder, strictest first.
    pub dirs: Vec<(Scope, PathBuf)>,
    /// The user asking: the operating system's account name, never a
    /// variable the user can set.
    pub user: String,
    pub hostname: String,
    pub os: String,
}

impl PolicyPlaces {
    pub(crate) fn new(home: &std::path::Path) -> Self {
        Self {
            dirs: vec![
                (Scope::Machine, PathBuf::from("/etc/lord/policies")),
                (Scope::User, home.join("policies")),
            ],
            user: "unknown".to_owned(),
            hostname: "localhost".to_owned(),
            os: std::env::consts::OS.to_owned(),
        }
    }
}

/// The policies in force, read on first use.
pub(crate) struct Governance {
    places: PolicyPlaces,
    loaded: OnceLock<Result<Loaded, String>>,
    /// Warnings of `warn` policies not yet shown (see
    /// [`Framework::take_policy_warnings`]).
    warnings: Arc<Mutex<Vec<String>>>,
    /// `run` refusals of pipeline steps not yet recorded (see
    /// [`StepPolicy`]).
    steps: Arc<Mutex<BTreeMap<PluginId, (String, u64)>>>,
    /// Whether this process already compared the policies with the last
    /// ones recorded.
    change_checked: Mutex<bool>,
}

struct Loaded {
    policies: Policies,
    /// blake3 over every file's path and text: what a change is seen by.
    digest: String,
    files: Vec<String>,
}

impl Governance {
    pub(crate) fn new(places: PolicyPlaces) -> Self {
        Self {
            places,
            loaded: OnceLock::new(),
            warnings: Arc::new(Mutex::new(Vec::new())),
            steps: Arc::new(Mutex::new(BTreeMap::new())),
            change_checked: Mutex::new(false),
        }
    }

    fn loaded(&self) -> Result<&Loaded, HostError> {
        self.loaded
            .get_or_init(|| read(&self.places))
            .as_ref()
            .map_err(|message| HostError::PolicyUnusable(message.clone()))
    }

    /// The folder of the `scope` layer.
    pub(crate) fn dir(&self, scope: Scope) -> Option<PathBuf> {
        self.places
            .dirs
            .iter()
            .find(|(s, _)| *s == scope)
            .map(|(_, dir)| dir.clone())
    }

    fn principal(&self) -> Principal {
        Principal {
            user: self.places.user.clone(),
            hostname: self.places.hostname.clone(),
            os: self.places.os.clone(),
        }
    }
}

impl Governance {
    /// Asks the policies, without acting on the answer or recording it.
    fn ask(
        &self,
        action: Action,
        plugin: PluginFacts,
        permission: Option<Permission>,
        command: Option<String>,
    ) -> Result<Decision, HostError> {
        let request = Request {
            principal: self.principal(),
            action,
            plugin,
            permission,
            command,
        };
        Ok(self.loaded()?.policies.decide(&request)?)
    }

    /// Decides and enforces: records what the audit trail keeps, keeps a
    /// `warn` refusal's warning for the caller, and refuses a `block`.
    /// `plugin` is asked for only when policies are in force: a home
    /// without any pays one check per governed action.
    pub(crate) fn govern(
        &self,
        store: &mut Store,
        action: Action,
        plugin: impl FnOnce() -> PluginFacts,
        permission: Option<Permission>,
        command: Option<String>,
    ) -> Result<(), HostError> {
        if self.loaded()?.policies.is_empty() {
            self.note_policy_change(store)?;
            return Ok(());
        }
        let plugin = plugin();
        let id = plugin.id.clone();
        // What the registry said is part of the record: an approval or an
        // advisory that decided an install stays visible in the trail.
        let said = match plugin.provenance.as_ref() {
            Some(p) if p.source == Source::Registry => format!(
                " (registry: approved {}, advisories {})",
                p.approved.map_or("unknown".to_owned(), |a| a.to_string()),
                p.advisories
                    .as_ref()
                    .map_or("unknown".to_owned(), |a| format!("[{}]", a.join(", ")))
            ),
            Some(_) | None => String::new(),
        };
        let what = match &permission {
            Some(p) => format!("{action} {p}"),
            None => action.to_string(),
        };
        let decision = self.ask(action, plugin, permission, command)?;
        self.note_policy_change(store)?;
        let changes_state = match action {
            Action::Install | Action::Update | Action::Grant | Action::Enable | Action::Publish => {
                true
            }
            Action::Run => false,
        };
        let verdict = match decision.refusal {
            None => "allowed",
            Some(mode) => mode.as_str(),
        };
        if changes_state || decision.refusal.is_some() {
            let detail = format!("{what}: {verdict}: {}{said}", decision.explain());
            store.audit(&id, POLICY_DECISION, &detail)?;
        }
        match decision.refusal {
            None | Some(Enforcement::Report) => Ok(()),
            Some(Enforcement::Warn) => {
                self.warn(format!(
                    "policy warns against `{what}` of `{id}`: {}",
                    decision.explain()
                ));
                Ok(())
            }
            Some(Enforcement::Block) => Err(HostError::PolicyRefused {
                plugin: id,
                action: what,
                reason: decision.explain(),
            }),
        }
    }

    /// Keeps a warning for the caller, once: one action may be decided on
    /// more than one path (a first use enables, then runs).
    fn warn(&self, warning: String) {
        let mut warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }

    /// What the policies say of running `plugin`'s micro handlers, decided
    /// once when a pipeline's manager is made: `None` when they allow it.
    /// Nothing is recorded until a step is refused (see [`StepPolicy`]).
    pub(crate) fn step_policy(
        &self,
        plugin: &InstalledPlugin,
    ) -> Result<Option<StepPolicy>, HostError> {
        if self.loaded()?.policies.is_empty() {
            return Ok(None);
        }
        let decision = self.ask(Action::Run, installed_facts(plugin), None, None)?;
        Ok(decision.refusal.map(|mode| StepPolicy {
            plugin: plugin.id().clone(),
            mode,
            reason: decision.explain(),
            steps: Arc::clone(&self.steps),
            warnings: Arc::clone(&self.warnings),
        }))
    }

    /// The pipeline steps refused by policy since the last call, one
    /// audit detail per plugin.
    pub(crate) fn take_step_refusals(&self) -> Vec<(PluginId, String)> {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *steps)
            .into_iter()
            .map(|(plugin, (detail, count))| {
                (
                    plugin,
                    format!("{detail} ({count} call(s) of a micro or message handler)"),
                )
            })
            .collect()
    }

    /// Records a change in the policies in force since the last one
    /// recorded, once per process.
    fn note_policy_change(&self, store: &mut Store) -> Result<(), HostError> {
        let mut checked = self
            .change_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *checked {
            return Ok(());
        }
        *checked = true;
        drop(checked);
        let loaded = self.loaded()?;
        let seen_path = store.home().join("policies.seen");
        let seen = std::fs::read_to_string(&seen_path).unwrap_or_default();
        if seen.trim() == loaded.digest {
            return Ok(());
        }
        let detail = format!(
            "policies now {} (were {}): {}",
            if loaded.digest.is_empty() {
                "none"
            } else {
                &loaded.digest
            },
            if seen.trim().is_empty() {
                "none"
            } else {
                seen.trim()
            },
            if loaded.files.is_empty() {
                "no policy files".to_owned()
            } else {
                loaded.files.join(", ")
            }
        );
        let digest = loaded.digest.clone();
        let lord: PluginId = lord_manifest::LORD
            .parse()
            .map_err(|e| HostError::PolicyUnusable(format!("{e}")))?;
        store.audit(&lord, POLICY_CHANGED, &detail)?;
        lord_file::write_atomic(&seen_path, digest.as_bytes()).map_err(|e| HostError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        })
    }
}

/// Writes the refusals [`StepPolicy`] noted since the last call to the
/// audit trail, one record per plugin.
pub(crate) fn record_step_refusals(
    governance: &Governance,
    store: &mut Store,
) -> Result<(), lord_store::StoreError> {
    for (plugin, detail) in governance.take_step_refusals() {
        store.audit(&plugin, POLICY_DECISION, &detail)?;
    }
    Ok(())
}

/// A policy's refusal of a plugin's code where it runs outside a command,
/// decided when the runner was made: its micro handlers (held by their
/// package) and its message handler (held by each sender's route to it).
/// Applied to each call: a `block` refuses it, a `warn` warns once, and
/// every call is noted for the audit trail. That is written when the
/// command ends or, for pipelines, with the quota refusals
/// ([`Framework::judge_throttles`]), since the call runs where no store
/// can be written.
#[derive(Clone)]
pub(crate) struct StepPolicy {
    plugin: PluginId,
    mode: Enforcement,
    reason: String,
    steps: Arc<Mutex<BTreeMap<PluginId, (String, u64)>>>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for StepPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepPolicy")
            .field("plugin", &self.plugin)
            .field("mode", &self.mode.as_str())
            .finish_non_exhaustive()
    }
}

impl StepPolicy {
    /// Applies the refusal to one step: `Err` with the reason when it is
    /// blocked.
    pub(crate) fn admit(&self) -> Result<(), String> {
        self.admit_call().map_err(|refused| refused.to_string())
    }

    /// [`StepPolicy::admit`], the refusal as the host's error.
    pub(crate) fn admit_call(&self) -> Result<(), HostError> {
        let mode = self.mode.as_str();
        let first = {
            let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
            let entry = steps
                .entry(self.plugin.clone())
                .or_insert_with(|| (format!("{}: {mode}: {}", Action::Run, self.reason), 0));
            entry.1 += 1;
            entry.1 == 1
        };
        match self.mode {
            Enforcement::Report => Ok(()),
            Enforcement::Warn => {
                if first {
                    self.warnings
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!(
                            "policy warns against `{}` of `{}`: {}",
                            Action::Run,
                            self.plugin,
                            self.reason
                        ));
                }
                Ok(())
            }
            Enforcement::Block => Err(HostError::PolicyRefused {
                plugin: self.plugin.clone(),
                action: Action::Run.to_string(),
                reason: self.reason.clone(),
            }),
        }
    }
}

/// One layer folder's policy files, `*.cedar` and `groups.toml`, in name
/// order: (path as shown, text). A missing folder has none.
pub(crate) fn read_layer(dir: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read policy folder {}: {e}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.ends_with(".cedar") || name == "groups.toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read policy file {}: {e}", path.display()))?;
        files.push((path.display().to_string(), text));
    }
    Ok(files)
}

/// A layer's files as `lord-policy` takes them.
pub(crate) fn layer_source(files: Vec<(String, String)>) -> LayerSource {
    let mut source = LayerSource::default();
    for (shown, text) in files {
        if std::path::Path::new(&shown).file_name() == Some("groups.toml".as_ref()) {
            source.groups = Some((shown, text));
        } else {
            source.files.push((shown, text));
        }
    }
    source
}

/// Reads each layer's folder ([`read_layer`]). A missing folder is a
/// layer with nothing to say.
fn read(places: &PolicyPlaces) -> Result<Loaded, String> {
    let mut layers = Vec::new();
    let mut hasher = blake3::Hasher::new();
    let mut files = Vec::new();
    for (scope, dir) in &places.dirs {
        let read = read_layer(dir)?;
        for (shown, text) in &read {
            hasher.update(shown.as_bytes());
            hasher.update(&[0]);
            hasher.update(text.as_bytes());
            hasher.update(&[0]);
            files.push(shown.clone());
        }
        layers.push((*scope, layer_source(read)));
    }
    let policies = Policies::load(layers).map_err(|e| e.to_string())?;
    // No files is no digest, the same as nothing recorded: a home that
    // never had policies writes nothing.
    let digest = if files.is_empty() {
        String::new()
    } else {
        hasher.finalize().to_hex().to_string()
    };
    Ok(Loaded {
        policies,
        digest,
        files,
    })
}

/// What a planned install tells the policies.
pub fn plan_facts(plan: &InstallPlan) -> PluginFacts {
    let manifest = &plan.manifest;
    let provenance = match &plan.source {
        InstallSource::Folder => Provenance {
            source: Source::Folder,
            signed: false,
            publisher: None,
            approved: None,
            advisories: None,
        },
        InstallSource::Package { provenance, .. } => {
            let (signed, publisher) = match provenance {
                lord_package::Provenance::Signed(v) => (true, Some(v.name.clone())),
                lord_package::Provenance::AllowedUnsigned => (false, None),
            };
            Provenance {
                source: Source::Package,
                signed,
                publisher,
                approved: None,
                advisories: None,
            }
        }
    };
    let mut provenance = provenance;
    if let Some(registry) = &plan.registry {
        provenance.source = Source::Registry;
        provenance.advisories = registry.advisories.clone();
        provenance.approved = registry.approved;
    }
    PluginFacts {
        id: manifest.plugin.id.clone(),
        version: manifest.plugin.version.to_string(),
        license: manifest.plugin.license.clone(),
        risk: plan.risk,
        permissions: plan.permissions.clone(),
        provenance: Some(provenance),
    }
}

/// What an installed plugin tells the policies: what it holds.
pub fn installed_facts(plugin: &InstalledPlugin) -> PluginFacts {
    let manifest = &plugin.manifest;
    PluginFacts {
        id: manifest.plugin.id.clone(),
        version: manifest.plugin.version.to_string(),
        license: manifest.plugin.license.clone(),
        risk: plugin
            .granted
            .iter()
            .map(Permission::risk)
            .max()
            .unwrap_or_default(),
        permissions: plugin.granted.clone(),
        provenance: None,
    }
}

impl Framework {
    /// What the registry says of `id` `version` for the policies: the
    /// advisories that affect it, and whether it approved the version.
    /// Asked only when policies are in force (nobody else needs the
    /// requests); a registry that cannot answer leaves them unknown, which
    /// a policy sees as `resource has advisories` (or `approved`) being
    /// false.
    pub(crate) async fn registry_facts(
        &self,
        client: &lord_registry_client::Client,
        id: &PluginId,
        version: &lord_manifest::Version,
    ) -> RegistryFacts {
        let governed = self.policies().is_ok_and(|p| !p.is_empty());
        if !governed {
            return RegistryFacts::default();
        }
        let advisories = client.advisories(id.as_str()).await.ok().map(|all| {
            all.iter()
                .filter(|a| a.affects(id.as_str(), version))
                .map(|a| a.id.clone())
                .collect()
        });
        let approved = client
            .approvals(Some(id.as_str()), Some(&version.to_string()))
            .await
            .ok()
            .map(|all| {
                lord_registry_client::ApprovalInfo::approved(
                    &all,
                    id.as_str(),
                    &version.to_string(),
                )
            });
        RegistryFacts {
            advisories,
            approved,
        }
    }

    /// The policies in force (read once per process).
    pub fn policies(&self) -> Result<&Policies, HostError> {
        Ok(&self.governance().loaded()?.policies)
    }

    /// The policy files in force, strictest layer first.
    pub fn policy_files(&self) -> Result<Vec<String>, HostError> {
        Ok(self.governance().loaded()?.files.clone())
    }

    /// Asks the policies without acting on the answer or recording it
    /// (`lord policy check`, and a prompt showing what will be refused).
    pub fn decide(
        &self,
        action: Action,
        plugin: PluginFacts,
        permission: Option<Permission>,
        command: Option<String>,
    ) -> Result<Decision, HostError> {
        self.governance().ask(action, plugin, permission, command)
    }

    /// Warnings from `warn` policies since the last call, for the caller
    /// to show.
    pub fn take_policy_warnings(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .governance()
                .warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Decides and enforces (see [`Governance::govern`]).
    pub(crate) fn govern(
        &mut self,
        action: Action,
        plugin: PluginFacts,
        permission: Option<Permission>,
        command: Option<String>,
    ) -> Result<(), HostError> {
        let (governance, store) = self.governed_store();
        governance.govern(store, action, || plugin, permission, command)
    }

    /// Whether the policies in force let this machine publish the signed
    /// package file `package`: decided on its manifest (id, version,
    /// licence, the permissions it requests and their highest risk) and
    /// its signer, recorded in the audit trail like every decision that
    /// changes state; refused with [`HostError::PolicyRefused`] when a
    /// policy blocks it, a warning kept when one warns. The package is
    /// verified first: an unsigned or tampered one is refused as it would
    /// be at install.
    pub fn govern_publish(&mut self, package: &std::path::Path) -> Result<(), HostError> {
        let (manifest, signed) = self.installer().package_manifest(package)?;
        let publisher = match signed {
            lord_package::Provenance::Signed(key) => Some(key.name),
            lord_package::Provenance::AllowedUnsigned => None,
        };
        let facts = PluginFacts {
            id: manifest.plugin.id.clone(),
            version: manifest.plugin.version.to_string(),
            license: manifest.plugin.license.clone(),
            risk: manifest
                .permissions
                .iter()
                .map(Permission::risk)
                .max()
                .unwrap_or_default(),
            permissions: manifest.permissions.clone(),
            provenance: Some(Provenance {
                source: Source::Package,
                signed: publisher.is_some(),
                publisher,
                approved: None,
                advisories: None,
            }),
        };
        self.govern(Action::Publish, facts, None, None)
    }

    /// Every decision that install `plan` needs: the install (or update)
    /// and each permission it grants.
    pub(crate) fn govern_install(&mut self, plan: &InstallPlan) -> Result<(), HostError> {
        let facts = plan_facts(plan);
        let action = if plan.replaces.is_some() {
            Action::Update
        } else {
            Action::Install
        };
        self.govern(action, facts.clone(), None, None)?;
        for permission in &plan.permissions {
            self.govern(Action::Grant, facts.clone(), Some(permission.clone()), None)?;
        }
        Ok(())
    }
}
