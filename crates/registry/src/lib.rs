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
//! - Operations: `/healthz`, `/readyz`, Prometheus `/metrics`, rate
//!   limits ([`RateLimits`]) and graceful shutdown ([`serve_until`]).
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
mod db;
mod error;
pub mod openapi;
mod ops;
mod releases;
mod server;
pub mod tuf;

pub use access_log::AccessLog;
pub use db::{Caller, DEFAULT_POOL_SIZE, Db, NewVersion, PgOptions, Scope, SearchQuery, Sort};
pub use error::RegistryError;
pub use lord_registry_api::{
    ErrorBody, PluginInfo, Published, Rating, SearchHit, SearchPage, TargetInfo, VersionInfo, Yank,
};
pub use ops::RateLimits;
pub use server::{Blobs, Registry, router, serve, serve_until};
