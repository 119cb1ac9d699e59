//! What an install would do, worked out before anything is stored: the
//! plugin read from its folder (or an unpacked package), checked against
//! this host, its component compiled and checked against the contract, and
//! what it asks for compared with what an installed build was granted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lord_manifest::{Manifest, Permission, PluginId, RiskLevel};
use lord_store::World;

use crate::error::HostError;

/// Command names lord keeps for itself; a plugin cannot declare them.
pub const RESERVED_COMMANDS: &[&str] = &[
    "plugin",
    "pipe",
    "micro",
    "dev",
    "help",
    "version",
    "completions",
    "man",
    "config",
    "events",
    "secret",
    "state",
    "key",
    "pdk",
    "registry",
    "rollout",
    "scan",
    "install",
    "self",
    "cache",
    "analytics",
    "monitor",
    "ai",
    "audit",
    "policy",
    "alert",
];

/// Plugin ids lord keeps for itself: events it publishes carry `lord` as
/// their source, so no plugin may be called that. The names of lord's own
/// commands ([`RESERVED_COMMANDS`]) and built-in providers' ids are
/// reserved as ids too (see `crate::provider`).
pub const RESERVED_IDS: &[&str] = &[lord_manifest::LORD];

/// What an install would grant, shown to the user before anything is stored.
/// Made by [`Framework::plan_install`](crate::Framework::plan_install), which
/// has already compiled and checked the component.
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
    /// When the plan replaces an installed build: the key that signed its
    /// package, if one is recorded (see [`InstallPlan::signer_change`]).
    pub replaces_signer: Option<String>,
    /// Where the files came from; recorded in the audit log on install.
    pub source: InstallSource,
    /// The package's declared test cases (`tests/cases.toml`); empty for
    /// a folder install.
    pub cases: Vec<crate::cases::TestCase>,
    /// What the plugin's `$PROJECT` grants give it this run: `None` when
    /// it asks for none; `Some(None)` when it asks and lord runs where
    /// there is no project (such a grant then refuses to run).
    pub project: Option<Option<PathBuf>>,
    /// The file each requested `exec(NAME)` resolves to now: what the
    /// prompt shows and, for the ones granted, what the install records
    /// and every run uses. A program not found is absent.
    pub programs: Vec<lord_store::GrantedProgram>,
    /// Set when a registry served the package: what it says of this
    /// version, for the governance policies.
    pub registry: Option<RegistryFacts>,
    pub(crate) text: String,
    pub(crate) component: PathBuf,
    /// The unpacked package, kept until the store has copied the
    /// component out of it; removed when the last clone of the plan drops.
    pub(crate) staging: Option<Arc<tempfile::TempDir>>,
}

/// What a registry says of a version it served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryFacts {
    /// The ids of the advisories that affect this version; `None` when
    /// they were not asked (no policies in force) or could not be had.
    pub advisories: Option<Vec<String>>,
    /// Whether the registry approved this version: true only when its
    /// newest approval request is approved, false when it is pending,
    /// rejected, expired or was never submitted; `None` when not asked
    /// (no policies in force) or the registry could not say.
    pub approved: Option<bool>,
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

/// How a build's requests compare with what the build it replaces was
/// granted: the one place this is worked out, for every prompt and report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionDiff {
    /// Asked for now and not granted before: what a user must consent to.
    pub added: Vec<Permission>,
    /// Granted before and no longer asked for (so no longer granted).
    pub dropped: Vec<Permission>,
    /// Granted before and asked for again.
    pub kept: Vec<Permission>,
}

impl PermissionDiff {
    /// Whether the new build asks for nothing it was not granted before.
    pub fn needs_consent(&self) -> bool {
        !self.added.is_empty()
    }
}

impl InstallPlan {
    /// What this build asks for against what the build it replaces was
    /// granted; for a fresh install everything is `added`.
    pub fn diff(&self) -> PermissionDiff {
        let old: &[Permission] = self.replaces.as_deref().unwrap_or_default();
        PermissionDiff {
            added: self
                .permissions
                .iter()
                .filter(|p| !old.contains(p))
                .cloned()
                .collect(),
            dropped: old
                .iter()
                .filter(|p| !self.permissions.contains(p))
                .cloned()
                .collect(),
            kept: self
                .permissions
                .iter()
                .filter(|p| old.contains(p))
                .cloned()
                .collect(),
        }
    }

    /// The signer's key id of the build replaced, and of this one, when
    /// they differ: a package signed by another key the user trusts (for
    /// other plugins, say) is another publisher's, and the user says
    /// whether to take it, as for a new permission. `None` for a fresh
    /// install, a replaced build with no signer recorded, or the same key.
    pub fn signer_change(&self) -> Option<(String, String)> {
        let old = self.replaces_signer.as_ref()?;
        let new = match &self.source {
            InstallSource::Package {
                provenance: lord_package::Provenance::Signed(verified),
                ..
            } => verified.key.to_string(),
            InstallSource::Package {
                provenance: lord_package::Provenance::AllowedUnsigned,
                ..
            } => "none (unsigned)".to_owned(),
            InstallSource::Folder => "none (a plugin folder)".to_owned(),
        };
        (*old != new).then(|| (old.clone(), new))
    }

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

/// A plugin folder read from disk, not yet installed.
pub(crate) struct Candidate {
    pub(crate) manifest: Manifest,
    pub(crate) text: String,
    pub(crate) component: PathBuf,
}

impl Candidate {
    pub(crate) fn read(dir: &Path) -> Result<Self, HostError> {
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
        Ok(Self {
            manifest,
            text,
            component,
        })
    }
}

/// Refuses a plugin this host cannot run or that takes a name lord keeps.
pub(crate) fn check_host_fit(manifest: &Manifest) -> Result<(), HostError> {
    let plugin = &manifest.plugin;
    if RESERVED_IDS.contains(&plugin.id.as_str()) {
        return Err(HostError::ReservedId {
            plugin: plugin.id.clone(),
            reason: "lord's own events carry it as their source".to_owned(),
        });
    }
    if RESERVED_COMMANDS.contains(&plugin.id.as_str()) {
        return Err(HostError::ReservedId {
            plugin: plugin.id.clone(),
            reason: format!("`lord {}` is one of lord's own commands", plugin.id),
        });
    }
    for permission in &manifest.permissions {
        if let Some(rule) = permission.reserved_for_lord() {
            return Err(HostError::ReservedPermission {
                plugin: plugin.id.clone(),
                permission: permission.to_string(),
                rule,
            });
        }
    }
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

/// A micro-plugin package has handlers and nothing else; a full plugin may
/// have anything. Refused here, the mismatch never reaches the store.
pub(crate) fn check_world_fit(manifest: &Manifest, world: World) -> Result<(), HostError> {
    let plugin: PluginId = manifest.plugin.id.clone();
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
