//! `lord-db`: lord's SQL database providers over the contract in
//! `lord-db-api`.
//!
//! - One session type per engine, each implementing
//!   [`lord_db_api::SqlSession`]: SQLite (`sqlite`, rusqlite), PostgreSQL
//!   (`postgres`, the synchronous client, TLS through rustls) and
//!   MySQL/MariaDB (`mysql`, the synchronous client, TLS through rustls).
//! - [`Pools`]: a pool of sessions per profile, kept for the life of the
//!   process ([`pools`]).
//! - [`migrate`]: versioned migrations with checksums and a history table.
//!
//! Every call blocks, and so does dropping a PostgreSQL session (its client
//! drives a runtime of its own): from async code, take, use and drop
//! sessions inside `spawn_blocking`.
//!
//! Invariant: parameters are bound by each driver's prepared statements;
//! no value is ever spliced into SQL text here.

mod mysql;
mod pg_value;
mod pool;
mod postgres;
mod sqlite;
mod tls;

pub mod migrate;

pub use pool::{Connector, Pools, Session, connect, pools, query};
