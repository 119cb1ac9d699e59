//! `lord-db-api`: the contract between lord's database providers and what
//! uses them (the `lord db` commands today; the `sql`, `kv` and `document`
//! host interfaces for sandboxed plugins later).
//!
//! - [`Profile`]: a named connection (engine, URL without a password, TLS
//!   mode and CA file, timeouts, the `lord secret` holding its password),
//!   read from the layered configuration's `db.profiles.<name>` table and
//!   checked here, so the configuration refuses a bad profile when it is
//!   written ([`check_setting`]).
//! - [`Value`], [`Rows`]: what a statement binds and returns, the same for
//!   every engine.
//! - [`Table`]: one table as each engine's catalogue describes it.
//! - [`Migration`]: a versioned file with an up and a down part and its
//!   checksum.
//! - Capabilities as separate traits, named by [`Capability`], rather than
//!   one lowest-common-denominator trait that would hide what each engine
//!   does well: [`SqlSession`] for the SQL engines, [`KvSession`] for a
//!   key-value store (Redis; commands as separate arguments, replies as
//!   [`KvReply`]), [`DocumentSession`] for a document store (MongoDB;
//!   documents in extended JSON) and [`WideColumnSession`] for a
//!   wide-column store (Cassandra and ScyllaDB; CQL with bound values).
//!
//! Invariant: no I/O. Drivers, pools and the migration runner live in
//! `lord-db`; this crate is plain types and the pure functions on them.

mod connector;
mod document;
mod error;
mod kv;
mod migration;
mod profile;
mod schema;
mod sql;
mod value;
mod wide_column;

pub use connector::{DbConnector, PooledDocument, PooledKv, PooledSql};
pub use document::{DocumentSession, FindOptions, UpdateOutcome};
pub use error::DbError;
pub use kv::{KvReply, KvSession, bytes_text};
pub use migration::{Migration, MigrationName, checksum, holds_statements, migration_file_name};
pub use profile::{
    Capability, DEFAULT_CONNECT_TIMEOUT_SECS, Engine, Password, Profile, ProfileName, TlsMode,
    check_setting, default_password_secret, parse_url,
};
pub use schema::{Column, ForeignKey, Index, Table};
pub use sql::{
    BoundedRows, Bounds, Canceller, DeclaredType, RowBatches, RowSink, SqlSession, in_transaction,
    past_deadline, too_large,
};
pub use value::{RowObjects, Rows, Value};
pub use wide_column::WideColumnSession;
