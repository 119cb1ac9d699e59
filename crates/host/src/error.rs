//! Typed errors of the framework, sorted by whose fault they are so the CLI
//! can choose an exit code.

use std::path::PathBuf;

use lord_manifest::{ManifestError, PluginId};
use lord_sandbox::{CallError, SandboxError};
use lord_store::{PluginState, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` not found: the plugin's component is missing; build it first (for the \
         plugins in this repository: `cargo xtask plugins`)"
    )]
    MissingComponent { path: PathBuf },
    #[error(
        "plugin `{plugin}` requires host API {wants}, but this lord provides \
         lord:plugin@{host}; upgrade lord if the plugin needs a newer one, or install a \
         version of the plugin whose `host-api` accepts {host} (`lord plugin install ID@RANGE`)"
    )]
    Incompatible {
        plugin: PluginId,
        wants: semver::VersionReq,
        host: semver::Version,
    },
    #[error(
        "plugin `{plugin}` declares command `{command}`, a name reserved for lord itself; rename the command in plugin.toml"
    )]
    ReservedCommand { plugin: PluginId, command: String },
    #[error(
        "plugin `{plugin}` is not run: its grant `{grant}` resolves to `{folder}`, which holds \
         `{protected}`: {what}; no grant may reach lord's own state. Run lord from the \
         project's own folder, or move LORD_HOME out of it"
    )]
    GrantReachesLord {
        plugin: PluginId,
        grant: String,
        folder: PathBuf,
        protected: PathBuf,
        what: String,
    },
    #[error(
        "plugin `{plugin}` is not run: its grant `{grant}` goes through the link `{link}`, \
         which leads to `{leads_to}`, outside the folder the grant names; lord does not \
         follow a link out of a granted folder. Replace the link with a real folder, or \
         remove the plugin (`lord plugin remove {plugin}`)"
    )]
    GrantLeadsOut {
        plugin: PluginId,
        grant: String,
        link: PathBuf,
        leads_to: PathBuf,
    },
    #[error(
        "plugin `{plugin}` is not run: its grant `{grant}` needs a project, and there is none \
         here (`$PROJECT` is the nearest folder upward holding .git, lord.toml, Cargo.toml, \
         package.json or another project marker, and never your home folder or /); run lord \
         from inside a project"
    )]
    NoProject { plugin: PluginId, grant: String },
    #[error("plugin id `{plugin}` is reserved: {reason}; choose another id in plugin.toml")]
    ReservedId { plugin: PluginId, reason: String },
    #[error(
        "plugin `{plugin}` requests `{permission}` in [permissions] request, which lord never \
         grants: {rule}; remove it from plugin.toml"
    )]
    ReservedPermission {
        plugin: PluginId,
        permission: String,
        rule: &'static str,
    },
    /// A first-party provider cannot do what was asked (be removed).
    #[error("`{id}` is a provider built into lord: {reason}")]
    Native { id: PluginId, reason: String },
    #[error(
        "no installed plugin provides the command `{0}`; see `lord --help` or `lord plugin list`"
    )]
    UnknownCommand(String),
    #[error("plugin `{plugin}` is {state}{}; {hint}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Unavailable {
        plugin: PluginId,
        state: PluginState,
        reason: Option<String>,
        hint: String,
    },
    /// A call refused before it started: the plugin used up a per-minute
    /// quota (the message names it, its limit and when it resets).
    #[error(
        "{message}{}",
        if *disabled {
            format!("; refused this often, `{plugin}` is now disabled (see `lord plugin info {plugin}`)")
        } else {
            String::new()
        }
    )]
    Throttled {
        plugin: PluginId,
        message: String,
        /// Whether this refusal made lord disable the plugin.
        disabled: bool,
    },
    #[error(
        "plugin `{plugin}` needs plugins that are not ready: {missing}; run {fix} first, \
         then try again"
    )]
    DependenciesUnmet {
        plugin: PluginId,
        missing: String,
        fix: String,
    },
    #[error(
        "cannot {action} `{plugin}`: {dependents} on it; {action} them first, or add \
         `--force` to disable them too"
    )]
    HasDependents {
        plugin: PluginId,
        action: &'static str,
        dependents: String,
    },
    #[error(
        "cannot {action} `{plugin}` to {version}: {dependents}; update them first, or add \
         `--force` to disable them too"
    )]
    RangeRejects {
        plugin: PluginId,
        action: &'static str,
        version: lord_manifest::Version,
        dependents: String,
    },
    #[error(
        "no earlier lord is kept beside `{}`; `lord self rollback` returns to the binary \
         `lord self update` replaced, and there has been no update here",
        exe.display()
    )]
    NoPreviousRelease { exe: PathBuf },
    #[error("plugin `{plugin}` does not fit its component: {reason}")]
    Mismatch { plugin: PluginId, reason: String },
    #[error("installation of `{0}` was cancelled: the permissions were not granted")]
    ConsentDenied(PluginId),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error("{0}")]
    State(#[from] lord_state::StateError),
    #[error("{0}")]
    Config(#[from] lord_config::ConfigError),
    #[error("{0}")]
    Package(#[from] lord_package::PackageError),
    #[error("{0}")]
    Registry(#[from] lord_registry_client::ClientError),
    /// No set of versions fits, or the registry's answer cannot be used.
    #[error("cannot install: {0}")]
    Resolve(String),
    /// A plugin's `tests/cases.toml` cannot be used.
    #[error("{0}")]
    Cases(String),
    #[error("the configuration cannot be used: {0}")]
    ConfigUnusable(String),
    #[error(
        "the configuration of plugin `{plugin}` is invalid: {problem}; fix it (see `lord config show --origin`) and run again"
    )]
    PluginConfig { plugin: PluginId, problem: String },
    #[error("{0}")]
    Call(#[from] CallError),
    #[error("{0}")]
    Perf(#[from] lord_perf::PerfError),
    #[error("{0}")]
    Ai(#[from] lord_ai::AiError),
    #[error("{0}")]
    Db(#[from] lord_db_api::DbError),
    #[error(
        "policy refuses `{action}` of plugin `{plugin}`: {reason}; see `lord policy check {plugin}` and ask whoever keeps the policies"
    )]
    PolicyRefused {
        plugin: PluginId,
        action: String,
        reason: String,
    },
    #[error(
        "the governance policies cannot be used, so nothing they govern is allowed: {0}; fix the file (`lord policy validate` checks them)"
    )]
    PolicyUnusable(String),
    #[error("{0}")]
    Policy(#[from] lord_policy::PolicyError),
}

impl HostError {
    /// What a plugin call wrote before it failed, and whose call it was,
    /// for the caller to show with the error.
    pub fn captured(&self) -> Option<(&PluginId, &lord_sandbox::Captured)> {
        if let HostError::Call(e) = self {
            e.captured.as_deref().map(|captured| (&e.plugin, captured))
        } else {
            None
        }
    }

    /// True when the plugin's own code failed (as opposed to bad input, a
    /// refused plugin, or a host problem).
    pub fn is_plugin_failure(&self) -> bool {
        match self {
            HostError::Call(_) | HostError::Throttled { .. } => true,
            HostError::Manifest(_)
            | HostError::Io { .. }
            | HostError::MissingComponent { .. }
            | HostError::Incompatible { .. }
            | HostError::ReservedCommand { .. }
            | HostError::ReservedId { .. }
            | HostError::ReservedPermission { .. }
            | HostError::Native { .. }
            | HostError::GrantReachesLord { .. }
            | HostError::GrantLeadsOut { .. }
            | HostError::NoProject { .. }
            | HostError::UnknownCommand(_)
            | HostError::Unavailable { .. }
            | HostError::ConsentDenied(_)
            | HostError::Mismatch { .. }
            | HostError::DependenciesUnmet { .. }
            | HostError::HasDependents { .. }
            | HostError::RangeRejects { .. }
            | HostError::NoPreviousRelease { .. }
            | HostError::Store(_)
            | HostError::Sandbox(_)
            | HostError::State(_)
            | HostError::Config(_)
            | HostError::Package(_)
            | HostError::Registry(_)
            | HostError::Resolve(_)
            | HostError::Cases(_)
            | HostError::ConfigUnusable(_)
            | HostError::PluginConfig { .. }
            | HostError::Perf(_)
            | HostError::Ai(_)
            | HostError::Db(_)
            | HostError::PolicyRefused { .. }
            | HostError::PolicyUnusable(_)
            | HostError::Policy(_) => false,
        }
    }

    /// True when the user can fix it by changing what they asked for.
    pub fn is_user_error(&self) -> bool {
        match self {
            HostError::Package(e) => e.is_user_error(),
            HostError::Registry(e) => e.is_user_error(),
            HostError::Db(e) => matches!(
                e,
                lord_db_api::DbError::Profile(_) | lord_db_api::DbError::Migration(_)
            ),
            HostError::Resolve(_) | HostError::Cases(_) | HostError::PolicyRefused { .. } => true,
            HostError::Manifest(_)
            | HostError::MissingComponent { .. }
            | HostError::Incompatible { .. }
            | HostError::ReservedCommand { .. }
            | HostError::ReservedId { .. }
            | HostError::ReservedPermission { .. }
            | HostError::Native { .. }
            | HostError::GrantReachesLord { .. }
            | HostError::GrantLeadsOut { .. }
            | HostError::NoProject { .. }
            | HostError::UnknownCommand(_)
            | HostError::Unavailable { .. }
            | HostError::ConsentDenied(_)
            | HostError::Mismatch { .. }
            | HostError::DependenciesUnmet { .. }
            | HostError::HasDependents { .. }
            | HostError::RangeRejects { .. }
            | HostError::NoPreviousRelease { .. }
            | HostError::Sandbox(SandboxError::Contract { .. })
            | HostError::PluginConfig { .. }
            | HostError::ConfigUnusable(_)
            | HostError::Config(
                lord_config::ConfigError::Syntax { .. }
                | lord_config::ConfigError::Invalid { .. }
                | lord_config::ConfigError::UnknownProfile(_)
                | lord_config::ConfigError::BadKey { .. },
            ) => true,
            HostError::Store(
                StoreError::AlreadyInstalled(_)
                | StoreError::NotInstalled(_)
                | StoreError::CommandTaken { .. }
                | StoreError::MicroTaken { .. }
                | StoreError::NoPrevious(_),
            ) => true,
            HostError::State(
                lord_state::StateError::Invalid { .. }
                | lord_state::StateError::NotGranted { .. }
                | lord_state::StateError::QuotaExceeded { .. }
                | lord_state::StateError::TooLarge { .. }
                | lord_state::StateError::SecretMissing(_),
            ) => true,
            HostError::Io { .. }
            | HostError::Store(
                StoreError::Db(_) | StoreError::Io { .. } | StoreError::Corrupt(_),
            )
            | HostError::Config(lord_config::ConfigError::Io { .. })
            | HostError::State(
                lord_state::StateError::Db(_)
                | lord_state::StateError::Io { .. }
                | lord_state::StateError::Unavailable(_)
                | lord_state::StateError::Keyring(_)
                | lord_state::StateError::Busy
                | lord_state::StateError::Corrupt(_),
            )
            | HostError::Sandbox(
                SandboxError::Engine(_)
                | SandboxError::Compile { .. }
                | SandboxError::Cache { .. }
                | SandboxError::Read { .. },
            )
            | HostError::Call(_)
            | HostError::Throttled { .. }
            | HostError::Perf(_)
            | HostError::Ai(_)
            | HostError::PolicyUnusable(_)
            | HostError::Policy(_) => false,
        }
    }
}
