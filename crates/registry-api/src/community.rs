//! Reviews, discussions and moderation as the registry and its clients
//! exchange them.
//!
//! A review or rating must carry an install receipt: the text the
//! registry returns when an account (a bearer token) installs a package
//! (`POST .../receipt` with the digest installed, or the
//! `lord-install-receipt` header of a download), signed by the registry
//! and bound to that account, plugin, version and digest. The registry
//! keeps no list of who installed what; the client checks the signature
//! under the registry's receipt key ([`ReceiptKey`]), keeps the receipt
//! and presents it.
//!
//! A receipt is `HEX(JSON claims).HEX(Ed25519 signature over the first
//! part's bytes)`; [`Receipt::parse`] splits it, the caller verifies.

use serde::{Deserialize, Serialize};

/// The response header that carries an install receipt.
pub const RECEIPT_HEADER: &str = "lord-install-receipt";

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// The account: the token's number on that registry.
    pub account: i64,
    pub plugin: String,
    pub version: String,
    /// The SHA-256 of the package installed.
    pub digest: String,
    pub issued_ms: i64,
}

/// A receipt split into what was signed, what it says, and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The bytes the signature covers (the hexadecimal claims).
    pub signed: Vec<u8>,
    pub claims: ReceiptClaims,
    pub signature: Vec<u8>,
}

impl Receipt {
    /// The text of a receipt made of `claims` and the `sign` of its
    /// first part.
    pub fn encode(claims: &ReceiptClaims, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
        let body = hex::encode(serde_json::to_vec(claims).unwrap_or_default());
        let signature = sign(body.as_bytes());
        format!("{body}.{}", hex::encode(signature))
    }

    /// The parts of `text`, or `None` when it is not a receipt's shape
    /// (the signature is not checked here).
    pub fn parse(text: &str) -> Option<Self> {
        let (body, signature) = text.trim().split_once('.')?;
        let json = hex::decode(body).ok()?;
        Some(Self {
            signed: body.as_bytes().to_vec(),
            claims: serde_json::from_slice(&json).ok()?,
            signature: hex::decode(signature).ok()?,
        })
    }
}

/// The registry's public key for install receipts
/// (`GET /api/v1/receipts/key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptKey {
    /// `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, hexadecimal.
    pub public_key: String,
}

/// A request for the receipt of an install just made
/// (`POST /api/v1/plugins/{id}/versions/{version}/receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// The SHA-256 of the package installed, as the signed index lists it.
    pub digest: String,
}

/// The answer: the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAnswer {
    pub receipt: String,
}

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
