//! `lord:plugin/sql`: a plugin granted `db(NAME)` runs statements on the
//! user's database profile `NAME`. The connections are a service the host
//! links ([`DbService`], which resolves the profile, holds its password
//! and takes sessions from the embedder's pools), so a plugin never sees a
//! password, and a host without one refuses the calls.
//!
//! What a plugin controls is bounded here, before the service sees it: the
//! profile must be granted (by exact name: the service is made with the
//! granted profiles only, so no other name reaches anything either), a
//! statement's text holds at most [`MAX_STATEMENT_BYTES`], its parameters
//! [`MAX_PARAM_BYTES`], a batch [`MAX_BATCH`] statements, and the service
//! is told the result's bounds ([`MAX_ROWS`], [`MAX_RESULT_BYTES`]) and the
//! call's deadline. Every call waits under that deadline like any other
//! host wait: when it passes, the session drops the call's future.
//!
//! Parameters travel as values, never as text to splice: the service hands
//! them to the driver to bind.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use lord_db_api::{Bounds, Rows, Value};
use lord_manifest::PermissionFamily;
use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::sql;
use crate::session::StoreState;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/sql",
    family: Some(PermissionFamily::Db),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    sql::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// The longest statement text a plugin may send.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;
/// The most parameter data (text and bytes, eight bytes for any other
/// value) one call may bind, over all its statements.
pub const MAX_PARAM_BYTES: usize = 8 << 20;
/// The most statements one batch may hold.
pub const MAX_BATCH: usize = 1000;
/// The most rows one call may return, over all its statements.
pub const MAX_ROWS: usize = 10_000;
/// The most result data one call may return ([`Rows::weight`]), over all
/// its statements.
pub const MAX_RESULT_BYTES: usize = 4 << 20;

/// Statements a plugin asks to run, checked against its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlCall {
    /// The profile's name, as granted (`analytics` for `db(analytics)`).
    pub profile: String,
    /// Each statement's text and the values bound to its placeholders.
    pub statements: Vec<(String, Vec<Value>)>,
    /// Whether the statements run in one transaction (`batch`).
    pub transaction: bool,
    /// What the whole call may return, and when it must end.
    pub bounds: Bounds,
}

/// Why a call failed, as the plugin is told (the WIT's `db-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbFailure {
    /// Nothing ran: an ungranted, unknown or disabled profile, a request
    /// over the limits, no service in this host.
    Refused(String),
    /// The database could not be reached.
    Unavailable(String),
    /// The engine refused or failed a statement.
    Engine(String),
    /// The result is over the bounds.
    TooLarge(String),
}

impl DbFailure {
    pub fn message(&self) -> &str {
        match self {
            Self::Refused(m) | Self::Unavailable(m) | Self::Engine(m) | Self::TooLarge(m) => m,
        }
    }
}

impl std::fmt::Display for DbFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// A boxed answer of the [`DbService`].
pub type DbFuture<T> = Pin<Box<dyn Future<Output = Result<T, DbFailure>> + Send>>;

/// Implemented by the host (lord-host's database link), linked into an
/// instance's `Links` as `Arc<dyn DbService>`: it serves `sql`, `kv` and
/// `document`. It resolves the profile, holds its password and runs the
/// call on a pooled session, binding every parameter; the sandbox has
/// already checked the grant and the sizes. Errors are shown to the plugin
/// as they are, so they must never carry a password.
pub trait DbService: Send + Sync {
    /// `plugin` is the asking plugin's id. One [`Rows`] per statement, in
    /// order.
    fn sql(&self, plugin: &str, call: SqlCall) -> DbFuture<Vec<Rows>>;

    /// One key-value operation.
    fn kv(&self, plugin: &str, call: super::kv::KvCall) -> DbFuture<super::kv::KvAnswer>;

    /// One document operation.
    fn document(
        &self,
        plugin: &str,
        call: super::document::DocumentCall,
    ) -> DbFuture<super::document::DocumentAnswer>;
}

/// What `lord:plugin/sql`, `kv` and `document` may reach in one instance.
#[derive(Debug, Default)]
pub(crate) struct DbState {
    /// The granted profile names.
    profiles: Vec<String>,
}

impl DbState {
    pub(crate) fn new(grants: &crate::Grants) -> Self {
        Self {
            profiles: grants.db.clone(),
        }
    }

    /// Whether `profile` is granted, or the refusal.
    pub(crate) fn granted(&self, profile: &str) -> Result<(), Refused> {
        if self.profiles.iter().any(|p| p == profile) {
            Ok(())
        } else {
            Err(Refused::needs(profile))
        }
    }

    /// The call as the service takes it, or why it is refused (and the
    /// access and permission to record, when a grant would allow it).
    fn check(
        &self,
        profile: String,
        statements: Vec<sql::Statement>,
        transaction: bool,
        deadline: Instant,
    ) -> Result<SqlCall, Refused> {
        self.granted(&profile)?;
        if statements.len() > MAX_BATCH {
            return Err(Refused::invalid(format!(
                "the batch holds {} statements, over the {MAX_BATCH} one call may run",
                statements.len()
            )));
        }
        let mut param_bytes = 0usize;
        let mut checked = Vec::with_capacity(statements.len());
        for statement in statements {
            if statement.sql.len() > MAX_STATEMENT_BYTES {
                return Err(Refused::invalid(format!(
                    "a statement holds {} bytes, over the {MAX_STATEMENT_BYTES} (1 MiB) a plugin \
                     may send",
                    statement.sql.len()
                )));
            }
            let params: Vec<Value> = statement.params.into_iter().map(from_wit).collect();
            param_bytes = params
                .iter()
                .fold(param_bytes, |sum, v| sum.saturating_add(v.weight()));
            if param_bytes > MAX_PARAM_BYTES {
                return Err(Refused::invalid(format!(
                    "the parameters hold over {MAX_PARAM_BYTES} bytes (8 MiB), more than one \
                     call may bind"
                )));
            }
            checked.push((statement.sql, params));
        }
        Ok(SqlCall {
            profile,
            statements: checked,
            transaction,
            bounds: Bounds {
                max_rows: MAX_ROWS,
                max_bytes: MAX_RESULT_BYTES,
                deadline: Some(deadline),
            },
        })
    }
}

/// Why a call was not passed on.
#[derive(Debug, PartialEq)]
pub(crate) struct Refused {
    pub(crate) message: String,
    /// The access and the permission to record, for a missing grant.
    pub(crate) denial: Option<(String, String)>,
}

impl Refused {
    fn needs(profile: &str) -> Self {
        // The name is the plugin's: shown escaped, so it cannot dress the
        // message up as something else.
        let shown = profile.escape_debug();
        let access = format!("the database profile `{shown}`");
        let permission = format!("db({shown})");
        Self {
            message: format!("refused: {access} (needs `{permission}`)"),
            denial: Some((access, permission)),
        }
    }

    pub(crate) fn invalid(message: String) -> Self {
        Self {
            message,
            denial: None,
        }
    }
}

fn from_wit(value: sql::Value) -> Value {
    match value {
        sql::Value::Null => Value::Null,
        sql::Value::Boolean(b) => Value::Bool(b),
        sql::Value::Int(i) => Value::Int(i),
        sql::Value::Float(f) => Value::Float(f),
        sql::Value::Text(t) => Value::Text(t),
        sql::Value::Bytes(b) => Value::Bytes(b),
    }
}

fn to_wit(value: Value) -> sql::Value {
    match value {
        Value::Null => sql::Value::Null,
        Value::Bool(b) => sql::Value::Boolean(b),
        Value::Int(i) => sql::Value::Int(i),
        Value::Float(f) => sql::Value::Float(f),
        Value::Text(t) => sql::Value::Text(t),
        Value::Bytes(b) => sql::Value::Bytes(b),
    }
}

fn rows_to_wit(rows: Rows) -> sql::Rows {
    sql::Rows {
        columns: rows.columns,
        rows: rows
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(to_wit).collect())
            .collect(),
        affected: rows.affected,
    }
}

pub(crate) fn error_to_wit(failure: DbFailure) -> sql::DbError {
    match failure {
        DbFailure::Refused(m) => sql::DbError::Refused(m),
        DbFailure::Unavailable(m) => sql::DbError::Unavailable(m),
        DbFailure::Engine(m) => sql::DbError::Engine(m),
        DbFailure::TooLarge(m) => sql::DbError::TooLarge(m),
    }
}

impl StoreState {
    /// A refusal as the plugin is told it, recorded as a denial when a
    /// grant would allow the access.
    pub(crate) fn db_refused(&self, refused: Refused) -> DbFailure {
        if let Some((access, permission)) = refused.denial {
            self.deny(access, Some(permission));
        }
        DbFailure::Refused(refused.message)
    }

    /// The host's database service, or the refusal when there is none.
    pub(crate) fn db_service(&self) -> Result<Arc<dyn DbService>, DbFailure> {
        self.links
            .get::<Arc<dyn DbService>>()
            .cloned()
            .ok_or_else(|| {
                DbFailure::Refused(
                    "this host serves no database profiles (the `db` provider is not running in \
                     it)"
                    .to_owned(),
                )
            })
    }

    /// Checks and runs one call; one [`Rows`] per statement.
    async fn sql_run(
        &mut self,
        profile: String,
        statements: Vec<sql::Statement>,
        transaction: bool,
    ) -> Result<Vec<Rows>, DbFailure> {
        let deadline = self.call_deadline();
        let call = self
            .db
            .check(profile, statements, transaction, deadline)
            .map_err(|refused| self.db_refused(refused))?;
        let service = self.db_service()?;
        service.sql(self.plugin.as_str(), call).await
    }
}

impl sql::Host for StoreState {
    async fn query(
        &mut self,
        profile: String,
        statement: String,
        params: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::Rows, sql::DbError>> {
        self.meter.enter(Area::Db);
        let one = vec![sql::Statement {
            sql: statement,
            params,
        }];
        let outcome = self.sql_run(profile, one, false).await;
        Ok(outcome
            .map(|mut all| rows_to_wit(all.pop().unwrap_or_default()))
            .map_err(error_to_wit))
    }

    async fn execute(
        &mut self,
        profile: String,
        statement: String,
        params: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<u64, sql::DbError>> {
        self.meter.enter(Area::Db);
        let one = vec![sql::Statement {
            sql: statement,
            params,
        }];
        let outcome = self.sql_run(profile, one, false).await;
        Ok(outcome
            .map(|all| all.last().and_then(|rows| rows.affected).unwrap_or(0))
            .map_err(error_to_wit))
    }

    async fn batch(
        &mut self,
        profile: String,
        statements: Vec<sql::Statement>,
    ) -> wasmtime::Result<Result<Vec<sql::Rows>, sql::DbError>> {
        self.meter.enter(Area::Db);
        let outcome = self.sql_run(profile, statements, true).await;
        Ok(outcome
            .map(|all| all.into_iter().map(rows_to_wit).collect())
            .map_err(error_to_wit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(profiles: &[&str]) -> DbState {
        DbState {
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn statement(sql: &str, params: Vec<sql::Value>) -> sql::Statement {
        sql::Statement {
            sql: sql.to_owned(),
            params,
        }
    }

    #[test]
    fn a_granted_profile_passes_with_its_values_bound_as_values() {
        let deadline = Instant::now();
        let call = state(&["analytics"])
            .check(
                "analytics".to_owned(),
                vec![statement(
                    "INSERT INTO t VALUES (?, ?)",
                    vec![
                        sql::Value::Text("'; DROP TABLE t; --".to_owned()),
                        sql::Value::Int(7),
                    ],
                )],
                false,
                deadline,
            )
            .expect("granted");
        assert_eq!(call.profile, "analytics");
        assert_eq!(
            call.statements[0].1,
            vec![Value::Text("'; DROP TABLE t; --".to_owned()), Value::Int(7)]
        );
        assert_eq!(call.bounds.deadline, Some(deadline));
        assert_eq!(call.bounds.max_rows, MAX_ROWS);
    }

    #[test]
    fn any_other_name_is_refused_naming_its_permission() {
        let s = state(&["analytics"]);
        for name in [
            "billing",
            "Analytics",
            "analytics ",
            "",
            "analytics\u{202e}",
        ] {
            let refused = s
                .check(name.to_owned(), Vec::new(), false, Instant::now())
                .expect_err(name);
            assert!(
                refused.message.starts_with("refused:"),
                "{}",
                refused.message
            );
            assert!(refused.denial.is_some(), "{name}");
            assert!(!refused.message.contains('\u{202e}'), "{}", refused.message);
        }
        let refused = s
            .check("billing".to_owned(), Vec::new(), false, Instant::now())
            .expect_err("billing");
        assert_eq!(
            refused.message,
            "refused: the database profile `billing` (needs `db(billing)`)"
        );
    }

    #[test]
    fn oversized_statements_parameters_and_batches_are_refused_without_a_denial() {
        let s = state(&["a"]);
        let long = "x".repeat(MAX_STATEMENT_BYTES + 1);
        let refused = s
            .check(
                "a".to_owned(),
                vec![statement(&long, Vec::new())],
                false,
                Instant::now(),
            )
            .expect_err("long");
        assert!(refused.message.contains("1 MiB"), "{}", refused.message);
        assert_eq!(refused.denial, None);
        let half = sql::Value::Bytes(vec![0; MAX_PARAM_BYTES / 2 + 1]);
        let refused = s
            .check(
                "a".to_owned(),
                vec![statement("SELECT ?, ?", vec![half.clone(), half])],
                false,
                Instant::now(),
            )
            .expect_err("params");
        assert!(refused.message.contains("8 MiB"), "{}", refused.message);
        let many = (0..=MAX_BATCH)
            .map(|_| statement("SELECT 1", Vec::new()))
            .collect();
        let refused = s
            .check("a".to_owned(), many, true, Instant::now())
            .expect_err("batch");
        assert!(refused.message.contains("1000"), "{}", refused.message);
    }
}
