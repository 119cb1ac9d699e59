//! The SQL capability: what every SQL engine's session does, one
//! connection at a time. Parameters are always bound by the driver, never
//! spliced into the statement's text.

use crate::error::DbError;
use crate::profile::Engine;
use crate::schema::Table;
use crate::value::{Rows, Value};

/// One open connection to a SQL database.
pub trait SqlSession: Send {
    fn engine(&self) -> Engine;

    /// Runs one statement with `params` bound to its placeholders (`?` on
    /// SQLite and MySQL, `$1` on PostgreSQL): its rows, or how many rows it
    /// changed.
    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// Runs a script of statements separated by `;`, binding nothing
    /// (migrations).
    fn run_script(&mut self, sql: &str) -> Result<(), DbError>;

    fn begin(&mut self) -> Result<(), DbError>;
    fn commit(&mut self) -> Result<(), DbError>;
    fn rollback(&mut self) -> Result<(), DbError>;

    /// The names of the tables in the connection's database (its current
    /// schema on PostgreSQL), sorted.
    fn tables(&mut self) -> Result<Vec<String>, DbError>;

    /// One table from the engine's catalogue; `None` when there is none
    /// of that name.
    fn describe(&mut self, table: &str) -> Result<Option<Table>, DbError>;
}

/// Runs `work` in a transaction on `session`: committed when it returns
/// `Ok`, rolled back when it returns an error (the error is kept, a
/// failure to roll back is added to it).
pub fn in_transaction<T>(
    session: &mut dyn SqlSession,
    work: impl FnOnce(&mut dyn SqlSession) -> Result<T, DbError>,
) -> Result<T, DbError> {
    session.begin()?;
    match work(session) {
        Ok(value) => {
            session.commit()?;
            Ok(value)
        }
        Err(error) => match session.rollback() {
            Ok(()) => Err(error),
            Err(rollback) => Err(DbError::Migration(format!(
                "{error}; rolling back failed too: {rollback}"
            ))),
        },
    }
}
