//! What the store records about a plugin.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use lord_manifest::{Manifest, Permission, PluginId};
use serde::{Deserialize, Serialize};

/// A plugin's persisted lifecycle state. `Loaded` is not here: being loaded
/// is a fact about one process, not about the installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginState {
    /// Installed, never enabled (or its enable hook has not run yet).
    Installed,
    Enabled,
    /// Disabled by the user, or by the breaker (the reason says which).
    Disabled,
    /// A lifecycle hook failed; the reason says which and why.
    Failed,
}

impl PluginState {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Installed => "installed",
            PluginState::Enabled => "enabled",
            PluginState::Disabled => "disabled",
            PluginState::Failed => "failed",
        }
    }
}

impl fmt::Display for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PluginState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "installed" => Ok(PluginState::Installed),
            "enabled" => Ok(PluginState::Enabled),
            "disabled" => Ok(PluginState::Disabled),
            "failed" => Ok(PluginState::Failed),
            other => Err(format!("unknown plugin state `{other}`")),
        }
    }
}

/// Which world an installed component was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// A full plugin: lifecycle hooks and commands (and maybe micro handlers).
    Plugin,
    /// A micro-plugin package: micro handlers only, no hooks or commands.
    Micro,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Plugin => "plugin",
            World::Micro => "micro",
        }
    }
}

impl FromStr for World {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plugin" => Ok(World::Plugin),
            "micro" => Ok(World::Micro),
            other => Err(format!("unknown component world `{other}`")),
        }
    }
}

/// An installed plugin, as recorded.
#[derive(Debug, Clone)]
pub struct InstalledPlugin {
    /// Parsed once per distinct manifest text per process and shared:
    /// reading an installed plugin costs a row, not a TOML parse.
    pub manifest: std::sync::Arc<Manifest>,
    /// Absolute path of the folder holding `plugin.toml` and the component.
    pub dir: PathBuf,
    /// Absolute path of the component.
    pub component: PathBuf,
    pub wasm_sha256: String,
    pub state: PluginState,
    /// Why the plugin is disabled or failed, when it is.
    pub reason: Option<String>,
    /// Failures in a row since the last success (the breaker's count).
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Permissions the user or a policy granted (a subset of the requests).
    pub granted: Vec<Permission>,
    /// Unix seconds.
    pub installed_at: i64,
    pub updated_at: i64,
    pub world: World,
    /// The file each granted `exec(NAME)` was resolved to when it was
    /// granted; what runs, with no search at run time.
    pub programs: Vec<GrantedProgram>,
    /// SHA-256 of the package this build was installed from; `None` for a
    /// build from a plugin folder, or one installed before lord recorded it.
    pub package_digest: Option<String>,
    /// The id of the key that signed that package; `None` as for
    /// `package_digest`, or for an unsigned package.
    pub signer: Option<String>,
}

/// A program granted by `exec(NAME)`, resolved when it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedProgram {
    /// The name the plugin runs it by: `git`.
    pub name: String,
    /// The one file that runs: `/usr/bin/git`.
    pub path: PathBuf,
}

impl InstalledPlugin {
    pub fn id(&self) -> &PluginId {
        &self.manifest.plugin.id
    }
}

/// A command some installed plugin declares, as `--help` needs it: read from
/// one table, with no manifest parsed and no plugin loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub name: String,
    pub plugin: String,
    pub about: String,
    pub state: PluginState,
    pub args: Vec<CommandArgRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandArgRecord {
    pub name: String,
    pub help: String,
    pub required: bool,
    pub multiple: bool,
    /// A switch (`--NAME`); rows written before switches existed lack it.
    #[serde(default)]
    pub flag: bool,
}

/// What an install hands to the store.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    pub manifest: Manifest,
    /// The manifest exactly as read, kept so what runs is what was reviewed.
    pub manifest_text: String,
    /// The component file to copy in.
    pub component_source: PathBuf,
    pub wasm_sha256: String,
    pub granted: Vec<Permission>,
    pub world: World,
    /// Where the build came from (a package's digest and signer), recorded
    /// in the same transaction as the install.
    pub origin: Option<String>,
    /// The files its `exec(NAME)` grants were resolved to.
    pub programs: Vec<GrantedProgram>,
    /// SHA-256 of the package it comes from (`None` from a folder).
    pub package_digest: Option<String>,
    /// The id of the key that signed that package (`None` from a folder,
    /// an unsigned package, or a build installed before signers were
    /// recorded).
    pub signer: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    pub plugin: String,
    pub action: String,
    pub detail: String,
}
