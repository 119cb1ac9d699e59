//! Reviews, discussions and moderation as the registry and its clients
//! exchange them.
//!
//! A review or rating must carry an install receipt: the opaque text the
//! registry returns in the `lord-install-receipt` header when an account
//! (a bearer token) downloads a package, signed by the registry and bound
//! to that account, plugin and version. The registry keeps no list of who
//! installed what; the client keeps the receipt and presents it.

use serde::{Deserialize, Serialize};

/// The response header that carries an install receipt.
pub const RECEIPT_HEADER: &str = "lord-install-receipt";

/// A review of one version, with its rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1 to 5.
    pub stars: u8,
    /// What the reviewer says; may be empty (a rating alone).
    #[serde(default)]
    pub text: String,
    /// The install receipt for this account and version.
    pub receipt: String,
}

/// A review as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInfo {
    pub id: i64,
    pub plugin: String,
    pub version: String,
    /// The account's name, or `account N` when it has none.
    pub author: String,
    pub stars: u8,
    pub text: String,
    /// How many times it was edited (earlier texts are kept).
    pub edits: u64,
    pub hidden: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A post in a plugin's discussion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostRequest {
    pub text: String,
}

/// A discussion post as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostInfo {
    pub id: i64,
    pub plugin: String,
    pub author: String,
    pub text: String,
    pub hidden: bool,
    pub created_ms: i64,
}

/// A report of a review or post to the moderators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub reason: String,
}

/// A moderator hiding or showing a review or post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationRequest {
    pub hidden: bool,
    pub reason: String,
}

/// One line of the moderation audit: who did what to which content, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// The moderator's account name, or `spam filter` for the registry's own.
    pub moderator: String,
    /// `hide`, `show` or `report`.
    pub action: String,
    /// `review` or `post`.
    pub kind: String,
    pub target: i64,
    pub reason: String,
}
