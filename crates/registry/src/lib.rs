//! `lord-registry`: the plugin registry and its client.
//!
//! - [`Registry`] / [`router`] / [`serve`]: the HTTP JSON API (axum) over
//!   [`Db`] and a blob folder of packages named by digest. `lord registry
//!   serve` runs it.
//! - [`Db`]: the records, in SQLite (`registry.db` in the data folder, FTS5
//!   search; the default, needing no setup) or in PostgreSQL
//!   ([`Registry::open_with`] / `--database-url postgres://...`, `tsvector`
//!   search), with the same answers from both: the tests run every case
//!   against each.
//! - [`Client`]: what `lord plugin search`, `lord plugin install ID` and
//!   `lord pdk publish` use to reach one.
//! - [`openapi::document`]: the OpenAPI 3.0 description of the API.
//!
//! Invariant: the server stores only packages it verified (signature,
//! archive limits, manifest, token scope), and the client verifies again
//! against the user's own trusted keys: trusting the server is never
//! required.

mod client;
mod db;
mod error;
mod model;
pub mod openapi;
mod server;
pub mod tuf;

pub use client::{Client, Download};
pub use db::{Caller, Db, NewVersion, Scope, SearchQuery, Sort};
pub use error::RegistryError;
pub use model::{
    ErrorBody, PluginInfo, Published, Rating, SearchHit, SearchPage, VersionInfo, Yank,
};
pub use server::{Blobs, Registry, router, serve};
