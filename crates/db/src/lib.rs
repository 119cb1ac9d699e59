//! `lord-db`: lord's database providers over the contract in
//! `lord-db-api`.
//!
//! - One session type per engine, each implementing its capability's
//!   trait: [`lord_db_api::SqlSession`] for SQLite (`sqlite`, rusqlite),
//!   PostgreSQL (`postgres`, the synchronous client, TLS through rustls)
//!   and MySQL/MariaDB (`mysql`, the synchronous client, TLS through
//!   rustls); behind cargo features of the same names,
//!   [`lord_db_api::KvSession`] for Redis (`redis_kv`, the `redis` crate's
//!   synchronous connection), [`lord_db_api::DocumentSession`] for MongoDB
//!   (`mongo`, the official driver's blocking API) and
//!   [`lord_db_api::WideColumnSession`] for Cassandra and ScyllaDB
//!   (`cassandra`, the async `scylla` driver on a runtime of its own). A
//!   build without a feature refuses its engine's profiles, saying so.
//! - [`Pools`]: a pool of sessions per profile, kept for the life of the
//!   process ([`pools`]), lending a [`Connection`] of the profile's
//!   capability.
//! - [`migrate`]: versioned migrations with checksums and a history table.
//! - [`backup`]: one checked file per backup, dumped by each engine's own
//!   means, restored only after it checks out.
//!
//! Every call blocks, and so does dropping a PostgreSQL, MongoDB or
//! Cassandra session (their clients drive runtimes of their own): from
//! async code, take, use and drop sessions inside `spawn_blocking`.
//!
//! Invariant: parameters are bound by each driver's prepared statements
//! (SQL, CQL), sent as separate arguments (Redis) or inside documents
//! (MongoDB); no value is ever spliced into statement text here.

#[cfg(feature = "cassandra")]
mod cassandra;
#[cfg(feature = "mongodb")]
mod mongo;
mod mysql;
mod mysql_text;
mod pg_value;
mod pool;
mod postgres;
#[cfg(feature = "redis")]
mod redis_kv;
mod sqlite;
mod tls;

pub mod backup;
pub mod migrate;

pub use pool::{Connection, Connector, Lease, Pooled, Pools, Session, connect, open, pools, query};
