//! SQL databases: `db(PROFILE)` in the manifest, then [`query`],
//! [`execute`] and [`batch`]. A profile is a database the user configured
//! with `lord db add` (SQLite, PostgreSQL, MySQL or MariaDB); the host
//! connects and keeps the password, so the plugin only ever sees rows.
//!
//! Values are always bound to the statement's placeholders (`?` on SQLite
//! and MySQL, `$1` on PostgreSQL) by the database's driver, never spliced
//! into its text: pass user input as a [`Value`], never with `format!`.
//!
//! ```no_run
//! use lord_pdk::sql::{self, Value};
//!
//! sql::execute("analytics", "INSERT INTO visits (page) VALUES (?)", &["/home".into()])?;
//! let rows = sql::query("analytics", "SELECT COUNT(*) FROM visits WHERE page = ?", &["/home".into()])?;
//! let count = rows.rows[0][0].clone();
//! // All or nothing, in one transaction.
//! sql::batch("analytics", &[
//!     ("DELETE FROM visits WHERE page = ?", vec![Value::from("/old")]),
//!     ("INSERT INTO visits (page) VALUES (?)", vec![Value::from("/new")]),
//! ])?;
//! # Ok::<(), lord_pdk::sql::DbError>(())
//! ```
//!
//! A result holds at most 10,000 rows and 4 MiB, or the call fails with
//! [`DbError::TooLarge`]; every call waits under the call's deadline.

use crate::bindings::lord::plugin::sql as host;

// The contract's own types (plain data with public fields): re-exported
// rather than copied, so they cannot drift from the WIT.
pub use host::{DbError, Rows, Value};

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Value::Int(number)
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Self {
        Value::Float(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Boolean(flag)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        Value::Bytes(bytes)
    }
}

// `DbError` is the contract's one error of `sql`, `kv` and `document`.
impl DbError {
    /// The message for a person (never a password).
    pub fn message(&self) -> &str {
        match self {
            DbError::Refused(m)
            | DbError::Unavailable(m)
            | DbError::Engine(m)
            | DbError::TooLarge(m) => m,
        }
    }
}

impl From<DbError> for String {
    fn from(error: DbError) -> Self {
        error.message().to_owned()
    }
}

/// Runs one statement with `params` bound, and returns its rows.
pub fn query(profile: &str, statement: &str, params: &[Value]) -> Result<Rows, DbError> {
    host::query(profile, statement, params)
}

/// Runs one statement with `params` bound, and returns how many rows it
/// changed.
pub fn execute(profile: &str, statement: &str, params: &[Value]) -> Result<u64, DbError> {
    host::execute(profile, statement, params)
}

/// Runs the statements in one transaction: committed when every one
/// succeeds, rolled back at the first failure. One [`Rows`] per statement.
pub fn batch(profile: &str, statements: &[(&str, Vec<Value>)]) -> Result<Vec<Rows>, DbError> {
    let statements: Vec<host::Statement> = statements
        .iter()
        .map(|(sql, params)| host::Statement {
            sql: (*sql).to_owned(),
            params: params.clone(),
        })
        .collect();
    host::batch(profile, &statements)
}
