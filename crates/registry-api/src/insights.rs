//! What the registry notices about plugins, per plugin
//! (`GET /api/v1/plugins/{id}/insights`) and across the registry
//! (`GET /api/v1/insights`): error rates rising week over week, plugins
//! that look abandoned (no release in a year while reports of their
//! reviews or discussion wait for a moderator), and permission creep
//! (the newest version asks for permissions the first did not).

use serde::{Deserialize, Serialize};

/// Which kind of thing was noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsightKind {
    RisingErrors,
    Abandoned,
    PermissionCreep,
}

/// One thing noticed about one plugin, in a sentence a page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insight {
    pub plugin: String,
    pub kind: InsightKind,
    pub text: String,
}

/// Everything noticed across the registry, by kind, each list by plugin id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryInsights {
    pub rising_errors: Vec<Insight>,
    pub abandoned: Vec<Insight>,
    pub permission_creep: Vec<Insight>,
}
