//! What clients report about use, when their user opts in, and the
//! recommendations the registry derives from it.
//!
//! A report names an installation by a random id the client keeps; the
//! registry keeps only a hash of it under a salt of the day, discarded
//! when the day ends, so a day's reports cannot be linked to another
//! day's, nor to an account.

use serde::{Deserialize, Serialize};

/// One installation's report of what it holds and how it went today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// A random id the client made once (16 to 64 characters).
    pub installation: String,
    /// The host API the installation speaks, like `0.2.1`.
    pub host_api: String,
    pub plugins: Vec<PluginUsage>,
}

/// One installed plugin's use since the last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginUsage {
    pub id: String,
    pub version: String,
    #[serde(default)]
    pub runs: u64,
    #[serde(default)]
    pub errors: u64,
    /// The p95 wall time of its calls in microseconds, from the
    /// performance monitor, when only this version of the plugin ran
    /// today (so the figure is this version's): what a rollout's gate
    /// compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_us: Option<u64>,
}

/// A plugin recommended to an installation, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub id: String,
    pub name: String,
    pub description: String,
    pub score: f64,
    /// The installed plugin whose co-installs or likeness weighed most.
    pub because: Option<String>,
}

/// The query of `GET /api/v1/recommendations`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationQuery {
    /// Installed plugin ids, comma-separated.
    pub installed: String,
    /// The host API to be compatible with (this registry's lord's, if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_api: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
