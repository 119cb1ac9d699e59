//! The JSON the registry speaks, shared by the server and the client so the
//! two cannot drift. lord-registry's OpenAPI document (`openapi.rs`) describes
//! these.

use serde::{Deserialize, Serialize};

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub id: String,
    pub name: String,
    pub description: String,
    pub latest: String,
    pub category: String,
    pub keywords: Vec<String>,
    pub authors: Vec<String>,
    pub downloads: u64,
    /// Mean of the ratings, 0 when unrated.
    pub rating: f64,
    pub ratings: u64,
    pub verified: bool,
    /// Unix milliseconds of the last publish.
    pub updated_ms: i64,
    /// Full-text relevance, higher is better; 0 without a query. Its scale
    /// depends on the registry's database (BM25 on SQLite, `ts_rank` on
    /// PostgreSQL), so compare it only within one registry's results.
    pub relevance: f64,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    pub total: u64,
    pub hits: Vec<SearchHit>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: String,
    /// SHA-256 of the package, hexadecimal.
    pub digest: String,
    pub size: u64,
    pub host_api: String,
    /// Plugin id to semver range.
    pub dependencies: std::collections::BTreeMap<String, String>,
    pub yanked: bool,
    /// The signing key's id.
    pub key: String,
    pub published_ms: i64,
}

/// A plugin and all its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    #[serde(flatten)]
    pub summary: SearchHit,
    pub license: Option<String>,
    pub versions: Vec<VersionInfo>,
}

/// What a successful publish returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub id: String,
    pub version: String,
    pub digest: String,
}

/// An error body: what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// A rating from one account: it must carry an install receipt for the
/// plugin (any version), from the `lord-install-receipt` header of a
/// download by that account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// 1 to 5.
    pub stars: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

/// Yanking or restoring a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Yank {
    pub yanked: bool,
}
