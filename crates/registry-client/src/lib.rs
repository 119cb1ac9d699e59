//! `lord-registry-client`: how lord reaches a plugin registry.
//!
//! - [`Client`]: search, plugin records, package and signature downloads,
//!   publish, yank and rate, over HTTP or HTTPS (reqwest with rustls);
//!   the security feed (OSV advisories per plugin, publish-time scans).
//! - Staged rollouts (`rollout.rs`): which versions a machine may take
//!   now, and starting, promoting and aborting one.
//! - Approvals (`approval.rs`): where a version's approval requests
//!   stand, submitting one and reviewing one.
//! - [`TrustedIndex`]: the registry's TUF-signed index, verified from the
//!   newest root the client has verified: packages, and releases of lord
//!   itself (`lord self update`).
//! - [`tuf::Updater`]: the TUF client workflow itself, for any TUF
//!   repository; `lord-tuf-client` (the conformance suite's
//!   client-under-test) is a thin shell over it.
//!
//! Invariant: the client never trusts the server. What it resolves against
//! is only the verified index; callers check each download against the
//! digest that index lists and the package signature against the user's
//! own keys (`lord-host`'s `remote.rs`).
//! Boundary: no server code. Embedding `lord-host` (which depends on this
//! crate) compiles no web server, database or object store.

mod advisory;
mod approval;
mod client;
mod community;
mod error;
mod index;
mod policies;
mod release;
mod rollout;
pub mod tuf;

pub use client::{Client, Download};
pub use community::{Receipt, check_receipt, load_receipt, receipts_dir, save_receipt};
pub use error::{ClientError, ReleaseKeyChanged};
pub use index::{PluginIndex, TrustedIndex};
pub use lord_registry_api::{
    Advisory, AuditEntry, ErrorBody, PluginInfo, PluginUsage, PostInfo, Published, Rating,
    Recommendation, RecommendationQuery, ReviewInfo, SearchHit, SearchPage, SearchQuery, Sort,
    TargetInfo, UsageReport, VersionInfo, Yank, target_name,
};
pub use lord_registry_api::{
    ApprovalInfo, ApprovalReview, ApprovalState, ApprovalSubmit, Workflow,
};
pub use lord_registry_api::{
    Gate, Health, RolloutInfo, RolloutStart, RolloutState, check_rings, in_ring, ring_bucket,
};
pub use lord_registry_api::{POLICIES, RELEASES, ReleaseInfo, release_name};
pub use release::PIN_FILE as RELEASE_PIN_FILE;
