//! The wide-column capability (Apache Cassandra, ScyllaDB): CQL statements
//! with bound values, and the keyspaces and tables of the cluster's
//! schema.
//!
//! Invariant: values are bound by the driver (`?` in the statement), never
//! spliced into CQL text.

use crate::error::DbError;
use crate::profile::Engine;
use crate::schema::Table;
use crate::value::{Rows, Value};

/// One open connection to a wide-column cluster, using the keyspace its
/// profile names (if any).
pub trait WideColumnSession: Send {
    fn engine(&self) -> Engine;

    /// Runs one CQL statement with `params` bound to its `?`s: its rows
    /// (none for a statement that returns none; CQL does not count the
    /// rows a write changed).
    fn run(&mut self, cql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// The keyspaces of the cluster, sorted, the system's own included.
    fn keyspaces(&mut self) -> Result<Vec<String>, DbError>;

    /// The tables of `keyspace` (the profile's when `None`), sorted.
    fn tables(&mut self, keyspace: Option<&str>) -> Result<Vec<String>, DbError>;

    /// One table of `keyspace` (the profile's when `None`) as the
    /// cluster's schema describes it: columns, and the primary key
    /// (partition key, then clustering columns); `None` when there is no
    /// such table.
    fn describe(&mut self, keyspace: Option<&str>, table: &str) -> Result<Option<Table>, DbError>;
}
