//! `lord-registry-api`: what a registry and its clients say to each other.
//!
//! The JSON bodies of the HTTP API ([`SearchPage`], [`PluginInfo`], ...),
//! the search request ([`SearchQuery`]), and how one package version is
//! named and described as a target of the signed index ([`TargetInfo`]),
//! as is a release of lord itself ([`ReleaseInfo`]); staged rollouts of a
//! version across machines and the ring each machine falls in
//! ([`RolloutInfo`], [`ring_bucket`]); security advisories in the OSV
//! format ([`Advisory`]), which the registry serves and `lord scan` reads;
//! approval workflows and the requests going through them
//! ([`Workflow`], [`ApprovalInfo`]).
//! The server (`lord-registry`) and the client (`lord-registry-client`)
//! both use these types, so the two cannot drift.
//!
//! Invariant: no I/O. This is a contract crate: plain serde types and the
//! pure functions that belong to them.

mod advisory;
mod approval;
mod community;
mod insights;
mod model;
mod release;
mod rollout;
mod search;
mod target;
mod usage;

pub use advisory::{
    Advisory, AdvisoryList, Affected, ECOSYSTEM, Event, Package, Range, Reference, SeverityScore,
};
pub use approval::{
    ApprovalInfo, ApprovalReview, ApprovalState, ApprovalSubmit, Criteria, Decision, MAX_STEPS,
    SEVERITIES, Step, Workflow,
};
pub use community::{
    AuditEntry, ModerationRequest, PostInfo, PostRequest, RECEIPT_HEADER, Receipt, ReceiptAnswer,
    ReceiptClaims, ReceiptKey, ReceiptRequest, ReportRequest, ReviewInfo, ReviewRequest,
};
pub use insights::{Insight, InsightKind, RegistryInsights};
pub use model::{
    ErrorBody, PluginInfo, Published, Rating, SearchHit, SearchPage, VersionInfo, Yank,
};
pub use release::{IndexEntry, POLICIES, RELEASES, ReleaseInfo, release_name};
pub use rollout::{
    Gate, Health, RING_BUCKETS, RolloutInfo, RolloutStart, RolloutState, Verdict, check_rings,
    in_ring, ring_bucket,
};
pub use search::{SearchQuery, Sort};
pub use target::{TargetInfo, target_name};
pub use usage::{PluginUsage, Recommendation, RecommendationQuery, UsageReport};
