//! What a decision is asked about: who (a user on a machine, with the
//! groups each belongs to), which action, and the plugin with what is
//! known of it; and how that becomes Cedar's entities and context.

use std::collections::BTreeSet;

use cedar_policy::{Context, Entities, EntityUid, Request as CedarRequest, Schema};
use lord_manifest::{Permission, PluginId, RiskLevel};
use serde_json::{Value, json};

use crate::error::PolicyError;

/// What a policy can allow or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Install,
    Update,
    Enable,
    /// Granting one permission to a plugin (each permission is its own
    /// decision, so a policy can refuse `exec(*)` and allow the rest).
    Grant,
    Run,
    Publish,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Self::Install,
        Self::Update,
        Self::Enable,
        Self::Grant,
        Self::Run,
        Self::Publish,
    ];

    /// The Cedar action's id: `Lord::Action::"install"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Update => "update",
            Self::Enable => "enable",
            Self::Grant => "grant",
            Self::Run => "run",
            Self::Publish => "publish",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownAction(s.to_owned()))
    }
}

/// Who asks, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub hostname: String,
    pub os: String,
}

/// Where a package came from, when it is in hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A plugin folder (a developer's own work).
    Folder,
    /// A package file given by path.
    Package,
    /// A package fetched from a registry.
    Registry,
}

impl Source {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Folder => "folder",
            Self::Package => "package",
            Self::Registry => "registry",
        }
    }
}

/// What is known of a package in hand (install, update), beyond its
/// manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub source: Source,
    /// Whether its signature verified under a trusted key.
    pub signed: bool,
    /// The signing key's name, when signed.
    pub publisher: Option<String>,
    /// The registry's approval of this version, when a registry was asked.
    pub approved: Option<bool>,
    /// The advisories that affect this version, when a registry was
    /// asked and answered.
    pub advisories: Option<Vec<String>>,
}

/// The plugin a decision is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFacts {
    pub id: PluginId,
    pub version: String,
    pub license: Option<String>,
    pub risk: RiskLevel,
    /// What it asks for (install, update, grant) or holds (enable, run).
    pub permissions: Vec<Permission>,
    /// `None` for a plugin already installed (enable, run).
    pub provenance: Option<Provenance>,
}

/// One question: may `principal` do `action` to `plugin`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: Principal,
    pub action: Action,
    pub plugin: PluginFacts,
    /// For [`Action::Grant`]: the permission granted.
    pub permission: Option<Permission>,
    /// For [`Action::Run`]: the command.
    pub command: Option<String>,
}

/// Memberships: group name to the users and machines in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    #[serde(default)]
    pub groups: std::collections::BTreeMap<String, Members>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub machines: Vec<String>,
}

fn uid(kind: &str, id: &str) -> Value {
    json!({ "type": format!("Lord::{kind}"), "id": id })
}

fn risk_score(risk: RiskLevel) -> i64 {
    match risk {
        RiskLevel::Low => 0,
        RiskLevel::Medium => 1,
        RiskLevel::High => 2,
        RiskLevel::Critical => 3,
    }
}

impl Request {
    /// Cedar's request and entities for this question, seeing the
    /// memberships in `groups` (each layer sees its own and stricter
    /// layers' groups, never a looser layer's).
    pub(crate) fn to_cedar(
        &self,
        schema: &Schema,
        groups: &[&Groups],
    ) -> Result<(CedarRequest, Entities), PolicyError> {
        let member_of = |kind: fn(&Members) -> &Vec<String>, name: &str| -> Vec<Value> {
            let names: BTreeSet<&str> = groups
                .iter()
                .flat_map(|g| g.groups.iter())
                .filter(|(_, members)| kind(members).iter().any(|m| m == name))
                .map(|(group, _)| group.as_str())
                .collect();
            names.into_iter().map(|g| uid("Group", g)).collect()
        };
        let principal = &self.principal;
        let group_names: BTreeSet<&str> = groups
            .iter()
            .flat_map(|g| g.groups.keys())
            .map(String::as_str)
            .collect();
        let mut entities: Vec<Value> = group_names
            .into_iter()
            .map(|g| json!({ "uid": uid("Group", g), "attrs": {}, "parents": [] }))
            .collect();
        entities.push(json!({
            "uid": uid("User", &principal.user),
            "attrs": {},
            "parents": member_of(|m| &m.users, &principal.user),
        }));
        entities.push(json!({
            "uid": uid("Machine", &principal.hostname),
            "attrs": { "hostname": principal.hostname, "os": principal.os },
            "parents": member_of(|m| &m.machines, &principal.hostname),
        }));
        entities.push(self.plugin_entity());
        let entities = Entities::from_json_value(Value::Array(entities), Some(schema))
            .map_err(|e| PolicyError::Request(e.to_string()))?;

        let mut context = json!({ "machine": { "__entity": uid("Machine", &principal.hostname) } });
        if let Some(permission) = &self.permission {
            context["permission"] = json!(permission.to_string());
            context["permission_family"] = json!(permission.family().to_string());
        }
        if let Some(command) = &self.command {
            context["command"] = json!(command);
        }
        let action: EntityUid = format!("Lord::Action::\"{}\"", self.action)
            .parse()
            .map_err(|e: cedar_policy::ParseErrors| PolicyError::Request(e.to_string()))?;
        let context = Context::from_json_value(context, Some((schema, &action)))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
        let entity = |kind: &str, id: &str| {
            EntityUid::from_json(uid(kind, id)).map_err(|e| PolicyError::Request(e.to_string()))
        };
        let request = CedarRequest::new(
            entity("User", &principal.user)?,
            action,
            entity("Plugin", self.plugin.id.as_str())?,
            context,
            Some(schema),
        )
        .map_err(|e| PolicyError::Request(e.to_string()))?;
        Ok((request, entities))
    }

    fn plugin_entity(&self) -> Value {
        let plugin = &self.plugin;
        let permissions: BTreeSet<String> =
            plugin.permissions.iter().map(ToString::to_string).collect();
        let families: BTreeSet<String> = plugin
            .permissions
            .iter()
            .map(|p| p.family().to_string())
            .collect();
        let mut attrs = json!({
            "id": plugin.id.as_str(),
            "version": plugin.version,
            "license": plugin.license.as_deref().unwrap_or(""),
            "risk": plugin.risk.as_str(),
            "risk_score": risk_score(plugin.risk),
            "permissions": permissions,
            "permission_families": families,
        });
        if let Some(p) = &plugin.provenance {
            attrs["signed"] = json!(p.signed);
            attrs["source"] = json!(p.source.as_str());
            if let Some(publisher) = &p.publisher {
                attrs["publisher"] = json!(publisher);
            }
            if let Some(approved) = p.approved {
                attrs["approved"] = json!(approved);
            }
            if let Some(advisories) = &p.advisories {
                attrs["advisories"] = json!(advisories);
            }
        }
        json!({ "uid": uid("Plugin", plugin.id.as_str()), "attrs": attrs, "parents": [] })
    }
}
