//! `lord-registry`: the plugin registry server.
//!
//! - [`Registry`] / [`router`] / [`serve`]: the HTTP JSON API (axum) over
//!   [`Db`] and a blob folder of packages named by digest. `lord registry
//!   serve` runs it.
//! - [`Db`]: the records, in SQLite (`registry.db` in the data folder, FTS5
//!   search; the default, needing no setup) or in PostgreSQL
//!   ([`Registry::open_with`] / `--database-url postgres://...`, `tsvector`
//!   search), with the same answers from both: the tests run every case
//!   against each.
//! - [`tuf::TufRepo`]: the signed index the server keeps and re-signs;
//!   releases of lord itself are targets of it too (`releases.rs`).
//! - [`openapi::document`]: the OpenAPI 3.0 description of the API.
//! - Web pages (`web/`): search with filters, a page per plugin (its
//!   sanitised README, versions, permissions in plain words, signer,
//!   compatibility, downloads over time, the install line) and per
//!   publisher, server-rendered under a strict Content-Security-Policy.
//! - Community (`community.rs`): reviews and ratings only with an install
//!   receipt (`receipt.rs`) bound to the account and version, one review
//!   per account and version with edits kept, discussions, reports, a spam
//!   filter, moderators hiding and showing, and an audit naming each.
//! - Security (`scanning.rs`): OSV advisories served per plugin
//!   (`/api/v1/advisories?package=ID`), added by the operator
//!   ([`add_advisory`]); every publish scanned by `lord-scan`, refused on a
//!   critical finding, its report kept (`.../versions/{version}/scan`).
//! - Staged rollouts (`rollouts.rs`): a version taken by rising rings of
//!   machines, promoted by a gate on the error rate and p95 latency that
//!   clients report, and rolled back by itself when the gate fails.
//! - Approval workflows (`approvals.rs`): steps with reviewers, a quorum,
//!   a timeout and criteria the server checks (signature, scan,
//!   advisories), set by the operator ([`set_workflow`]); a version is
//!   submitted, reviewed step by step, and approved, rejected or expired.
//! - Operations: `/healthz`, `/readyz`, Prometheus `/metrics`, rate
//!   limits ([`RateLimits`]) and graceful shutdown ([`serve_until`]);
//!   HTTPS with rustls ([`HttpsListener`], [`serve_https_until`]).
//!
//! The wire types are `lord-registry-api`'s, shared with the client
//! (`lord-registry-client`), which is what lord itself uses to reach a
//! registry.
//!
//! Invariant: the server stores only packages it verified (signature,
//! archive limits, manifest, token scope), and the client verifies again
//! against the user's own trusted keys: trusting the server is never
//! required.

mod access_log;
mod approvals;
mod blobs;
mod community;
mod db;
pub mod demo;
mod error;
mod https;
mod insights;
pub mod openapi;
mod ops;
mod ownership;
mod policies;
mod receipt;
pub mod recommend;
mod releases;
mod resync;
mod rollouts;
mod scanning;
mod server;
pub mod tuf;
mod usage;
mod web;

pub use access_log::AccessLog;
pub use approvals::set_workflow;
pub use db::{
    BASKET_DAYS, Caller, DEFAULT_POOL_SIZE, DayOfUse, Db, Kind, NewVersion, PgOptions,
    REPORTS_TO_HIDE, Scope, SearchQuery, Sort, VersionText,
};
pub use error::RegistryError;
pub use https::{HttpsListener, serve_https_until, tls_config};
pub use lord_registry_api::{
    AuditEntry, ErrorBody, IndexEntry, PluginInfo, PostInfo, Published, Rating, ReviewInfo,
    SearchHit, SearchPage, TargetInfo, VersionInfo, Yank,
};
pub use ops::RateLimits;
pub use policies::SignedPolicies;
pub use scanning::add_advisory;
pub use server::{Blobs, Registry, router, serve, serve_until};
