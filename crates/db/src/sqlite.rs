//! The SQLite provider's session: rusqlite over the bundled SQLite lord
//! already builds. The connect timeout is SQLite's busy timeout (how long
//! to wait for another writer's lock); the statement timeout is kept by a
//! progress handler that ends a statement past its deadline.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lord_db_api::{
    Bounds, Canceller, Column, DbError, DeclaredType, Engine, ForeignKey, Index, Profile,
    RowBatches, RowSink, Rows, SqlSession, Table, Value,
};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::{Value as Lite, ValueRef};

/// How many SQLite virtual-machine steps between deadline checks.
const STEPS_PER_CHECK: i32 = 10_000;

pub(crate) struct SqliteSession {
    conn: rusqlite::Connection,
    profile: String,
    statement_timeout: Option<Duration>,
    /// The busy timeout the profile asks for.
    connect_timeout: Duration,
    deadline: Arc<Mutex<Option<Instant>>>,
    /// The deadline of the bounded statement running now, if any.
    caller_deadline: Option<Instant>,
    /// The busy timeout set on the connection now.
    busy: Cell<Duration>,
    /// Whether the statement being prepared is a bounded one, which
    /// [`restricted_authorization`] judges.
    restricted: Arc<AtomicBool>,
    /// Whether a statement made a temporary table, index, view or
    /// trigger: those live as long as the connection and come before the
    /// database's own names, so the session is closed rather than lent
    /// to its next user ([`SqlSession::reset`]).
    made_temporary: Arc<AtomicBool>,
}

/// The pragmas whose argument only names the table or index described.
const DESCRIBING_PRAGMAS: [&str; 6] = [
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
];

/// What a bounded statement may not do: attach or detach a database,
/// control transactions or savepoints, set a pragma, or load an extension.
/// An action rusqlite cannot name is refused too: an ATTACH whose file is
/// a bound parameter reaches the authorizer without its file, and rusqlite
/// reports it so.
fn restricted_authorization(action: &AuthAction<'_>) -> Authorization {
    match action {
        AuthAction::Unknown { .. }
        | AuthAction::Attach { .. }
        | AuthAction::Detach { .. }
        | AuthAction::Transaction { .. }
        | AuthAction::Savepoint { .. } => Authorization::Deny,
        // A pragma with a value sets something, unless it only names what
        // to describe.
        AuthAction::Pragma {
            pragma_name,
            pragma_value: Some(_),
        } if !DESCRIBING_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str()) => {
            Authorization::Deny
        }
        AuthAction::Function { function_name }
            if function_name.eq_ignore_ascii_case("load_extension") =>
        {
            Authorization::Deny
        }
        AuthAction::CreateIndex { .. }
        | AuthAction::CreateTable { .. }
        | AuthAction::CreateTempIndex { .. }
        | AuthAction::CreateTempTable { .. }
        | AuthAction::CreateTempTrigger { .. }
        | AuthAction::CreateTempView { .. }
        | AuthAction::CreateTrigger { .. }
        | AuthAction::CreateView { .. }
        | AuthAction::Delete { .. }
        | AuthAction::DropIndex { .. }
        | AuthAction::DropTable { .. }
        | AuthAction::DropTempIndex { .. }
        | AuthAction::DropTempTable { .. }
        | AuthAction::DropTempTrigger { .. }
        | AuthAction::DropTempView { .. }
        | AuthAction::DropTrigger { .. }
        | AuthAction::DropView { .. }
        | AuthAction::Insert { .. }
        | AuthAction::Pragma { .. }
        | AuthAction::Read { .. }
        | AuthAction::Select
        | AuthAction::Update { .. }
        | AuthAction::AlterTable { .. }
        | AuthAction::Reindex { .. }
        | AuthAction::Analyze { .. }
        | AuthAction::CreateVtable { .. }
        | AuthAction::DropVtable { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        // An action a later rusqlite names that this list does not know.
        _ => Authorization::Deny,
    }
}

/// Whether `action` makes a temporary object, which outlives the
/// statement and the caller. A virtual table counts whatever its schema:
/// SQLite reports `CREATE VIRTUAL TABLE temp.x` as a virtual table, not a
/// temporary one.
fn makes_temporary(action: &AuthAction<'_>) -> bool {
    matches!(
        action,
        AuthAction::CreateTempIndex { .. }
            | AuthAction::CreateTempTable { .. }
            | AuthAction::CreateTempTrigger { .. }
            | AuthAction::CreateTempView { .. }
            | AuthAction::CreateVtable { .. }
    )
}

impl SqliteSession {
    pub(crate) fn open(profile: &Profile) -> Result<Self, DbError> {
        let path = profile.sqlite_path()?;
        let name = profile.name.to_string();
        let mut conn = rusqlite::Connection::open(&path).map_err(|e| DbError::Connect {
            profile: name.clone(),
            engine: "sqlite",
            message: format!("{e} (file `{}`)", path.display()),
        })?;
        let fail = |e: rusqlite::Error| DbError::Connect {
            profile: name.clone(),
            engine: "sqlite",
            message: e.to_string(),
        };
        conn.busy_timeout(profile.connect_timeout).map_err(fail)?;
        // Foreign keys are declared to be kept; SQLite keeps them only
        // when asked, per connection.
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(fail)?;
        // Always watched: a caller's own deadline (a plugin's call) ends a
        // statement too, with or without the profile's timeout.
        let deadline = Arc::new(Mutex::new(None::<Instant>));
        let watched = Arc::clone(&deadline);
        conn.progress_handler(
            STEPS_PER_CHECK,
            Some(move || {
                watched
                    .lock()
                    .ok()
                    .and_then(|d| *d)
                    .is_some_and(|d| Instant::now() > d)
            }),
        )
        .map_err(fail)?;
        // A bounded statement (a plugin's) runs with the authority of the
        // profile's database and nothing more: no other file attached
        // (ATTACH and VACUUM INTO would reach any file the user can), no
        // transaction left open for the session's next user, no setting of
        // the connection changed. Checked when a statement is prepared.
        let restricted = Arc::new(AtomicBool::new(false));
        let watched = Arc::clone(&restricted);
        let made_temporary = Arc::new(AtomicBool::new(false));
        let temporary = Arc::clone(&made_temporary);
        conn.authorizer(Some(move |context: AuthContext<'_>| {
            if makes_temporary(&context.action) {
                temporary.store(true, Ordering::Relaxed);
            }
            if watched.load(Ordering::Relaxed) {
                restricted_authorization(&context.action)
            } else {
                Authorization::Allow
            }
        }))
        .map_err(fail)?;
        Ok(Self {
            restricted,
            made_temporary,
            conn,
            profile: name,
            statement_timeout: profile.statement_timeout,
            connect_timeout: profile.connect_timeout,
            deadline,
            caller_deadline: None,
            busy: Cell::new(profile.connect_timeout),
        })
    }

    fn engine_error(&self, e: rusqlite::Error) -> DbError {
        let interrupted = matches!(&e, rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted);
        let message = match (interrupted, self.caller_deadline, self.statement_timeout) {
            (true, Some(deadline), _) if Instant::now() >= deadline => {
                "the statement ran past the caller's deadline".to_owned()
            }
            (true, _, Some(limit)) => format!(
                "the statement ran past the profile's statement timeout ({} s)",
                limit.as_secs()
            ),
            _ => e.to_string(),
        };
        DbError::Engine {
            profile: self.profile.clone(),
            engine: "sqlite",
            message,
        }
    }

    /// Sets the deadline of the statement about to run: the profile's
    /// statement timeout from now, or the caller's deadline if sooner. The
    /// busy timeout (how long to wait for another writer's lock) is the
    /// profile's, cut to what is left of the caller's deadline.
    fn arm(&self) -> Result<(), DbError> {
        let now = Instant::now();
        let profile = self.statement_timeout.map(|limit| now + limit);
        let at = match (profile, self.caller_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Ok(mut d) = self.deadline.lock() {
            *d = at;
        }
        self.set_busy(match self.caller_deadline {
            Some(deadline) => {
                busy_within(deadline.saturating_duration_since(now)).min(self.connect_timeout)
            }
            None => self.connect_timeout,
        })
    }

    /// Sets the busy timeout, unless it is set so already: the same
    /// caller's calls (a plugin's, each with the same budget) then set it
    /// once, not twice per statement.
    fn set_busy(&self, busy: Duration) -> Result<(), DbError> {
        if self.busy.get() != busy {
            self.conn
                .busy_timeout(busy)
                .map_err(|e| self.engine_error(e))?;
            self.busy.set(busy);
        }
        Ok(())
    }

    fn strings(&self, sql: &str, param: &str) -> Result<Vec<Vec<Value>>, DbError> {
        Ok(self
            .run_ref(sql, &[Value::Text(param.to_owned())], None)?
            .rows)
    }

    /// Runs a bounded statement under [`restricted_authorization`], with
    /// no database attachable (VACUUM INTO attaches its target too).
    fn run_restricted(
        &self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        let attached = self
            .conn
            .set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
            .map_err(|e| self.engine_error(e))?;
        self.restricted.store(true, Ordering::Relaxed);
        let outcome = self.run_ref(sql, params, Some(bounds));
        self.restricted.store(false, Ordering::Relaxed);
        let restored = self.conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, attached);
        let rows = outcome?;
        restored.map_err(|e| self.engine_error(e))?;
        Ok(rows)
    }

    /// Refuses a NaN among `params`: SQLite stores a NaN as NULL without
    /// a word, so a copy from an engine that keeps NaN (PostgreSQL's
    /// `double precision`) would lose it and report success.
    fn bindable(&self, params: &[Value]) -> Result<(), DbError> {
        match params
            .iter()
            .position(|v| matches!(v, Value::Float(f) if f.is_nan()))
        {
            Some(at) => Err(DbError::Value {
                profile: self.profile.clone(),
                message: format!(
                    "parameter {} is NaN, which SQLite would store as NULL; bind it as text, \
                     or as NULL if that is what it means",
                    at + 1
                ),
            }),
            None => Ok(()),
        }
    }

    /// Runs one statement; with `bounds`, reading stops as soon as the
    /// result is over them.
    fn run_ref(
        &self,
        sql: &str,
        params: &[Value],
        bounds: Option<&Bounds>,
    ) -> Result<Rows, DbError> {
        self.arm()?;
        self.bindable(params)?;
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.engine_error(e))?;
        let bound = rusqlite::params_from_iter(params.iter().map(to_sqlite));
        if stmt.column_count() == 0 {
            let affected = stmt.execute(bound).map_err(|e| self.engine_error(e))?;
            return Ok(Rows {
                affected: Some(affected as u64),
                ..Rows::default()
            });
        }
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let width = columns.len();
        let mut rows = Vec::new();
        let mut weight: usize = columns.iter().map(String::len).sum();
        let mut cursor = stmt.query(bound).map_err(|e| self.engine_error(e))?;
        while let Some(row) = cursor.next().map_err(|e| self.engine_error(e))? {
            let mut out = Vec::with_capacity(width);
            for i in 0..width {
                let cell = from_sqlite(row.get_ref(i).map_err(|e| self.engine_error(e))?);
                weight = weight.saturating_add(cell.weight());
                out.push(cell);
            }
            rows.push(out);
            if let Some(bounds) = bounds
                && (rows.len() > bounds.max_rows || weight > bounds.max_bytes)
            {
                return Err(lord_db_api::too_large(bounds));
            }
        }
        Ok(Rows {
            columns,
            rows,
            affected: None,
        })
    }
}

/// The busy timeout for a caller with `left` before its deadline: rounded
/// down to a tenth of a second, so that calls with the same budget ask for
/// the same timeout and a lock wait still ends before the deadline.
fn busy_within(left: Duration) -> Duration {
    const STEP_MS: u128 = 100;
    let ms = left.as_millis() / STEP_MS * STEP_MS;
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn to_sqlite(value: &Value) -> Lite {
    match value {
        Value::Null => Lite::Null,
        Value::Bool(b) => Lite::Integer(i64::from(*b)),
        Value::Int(i) => Lite::Integer(*i),
        Value::Float(f) => Lite::Real(*f),
        Value::Text(t) => Lite::Text(t.clone()),
        Value::Bytes(b) => Lite::Blob(b.clone()),
    }
}

fn from_sqlite(cell: ValueRef<'_>) -> Value {
    match cell {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

fn text(v: &Value) -> String {
    v.as_text().unwrap_or_default()
}

/// SQLite's interrupt: the running statement fails with `interrupted`.
struct SqliteCanceller(rusqlite::InterruptHandle);

impl Canceller for SqliteCanceller {
    fn cancel(&self) -> Result<(), DbError> {
        self.0.interrupt();
        Ok(())
    }
}

impl SqlSession for SqliteSession {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    /// A session that made temporary objects, or holds a transaction
    /// open (a commit that failed leaves it so), is not lent again: a
    /// plugin's temporary view named like a table would answer for that
    /// table to the next user, and its trigger would fire on their
    /// writes. Closing the connection drops both; nothing else a bounded
    /// statement may do outlives it.
    fn reset(&mut self) -> Result<(), DbError> {
        let temporary = self.made_temporary.load(Ordering::Relaxed);
        if temporary || !self.conn.is_autocommit() {
            return Err(DbError::Engine {
                profile: self.profile.clone(),
                engine: "sqlite",
                message: if temporary {
                    "the session made temporary objects; it is closed, not lent again".to_owned()
                } else {
                    "the session holds a transaction open; it is closed, not lent again".to_owned()
                },
            });
        }
        Ok(())
    }

    fn canceller(&self) -> Option<Box<dyn Canceller>> {
        Some(Box::new(SqliteCanceller(self.conn.get_interrupt_handle())))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.run_ref(sql, params, None)
    }

    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        let Some(deadline) = bounds.deadline else {
            return self.run_restricted(sql, params, bounds);
        };
        // Waiting for another writer's lock counts against the deadline
        // too: `arm` cuts the busy timeout to what is left of it.
        self.caller_deadline = Some(deadline);
        let outcome = self.run_restricted(sql, params, bounds);
        self.caller_deadline = None;
        outcome
    }

    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        batch: usize,
        sink: &mut RowSink<'_>,
    ) -> Result<u64, DbError> {
        self.arm()?;
        self.bindable(params)?;
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.engine_error(e))?;
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let bound = rusqlite::params_from_iter(params.iter().map(to_sqlite));
        let mut cursor = stmt.query(bound).map_err(|e| self.engine_error(e))?;
        let mut batches = RowBatches::new(&columns, batch, sink);
        while let Some(row) = cursor.next().map_err(|e| self.engine_error(e))? {
            let mut out = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                let cell = row.get_ref(i).map_err(|e| self.engine_error(e))?;
                out.push(from_sqlite(cell));
            }
            batches.push(out)?;
        }
        batches.finish()
    }

    /// SQLite keeps the type name a column was declared with, as written
    /// (none for an expression); its affinity rules read it.
    fn declared_types(&mut self, sql: &str) -> Result<Vec<DeclaredType>, DbError> {
        self.arm()?;
        let stmt = self.conn.prepare(sql).map_err(|e| self.engine_error(e))?;
        Ok(stmt
            .columns()
            .map(|c| c.decl_type().map_or(DeclaredType::Other, sqlite_declared))
            .collect())
    }

    fn run_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.arm()?;
        self.conn
            .execute_batch(sql)
            .map_err(|e| self.engine_error(e))
    }

    fn begin(&mut self) -> Result<(), DbError> {
        self.run_script("BEGIN")
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.run_script("COMMIT")
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        self.run_script("ROLLBACK")
    }

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        let rows = self.run_ref(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
             ESCAPE '\\' ORDER BY name",
            &[],
            None,
        )?;
        Ok(rows.rows.iter().map(|r| text(&r[0])).collect())
    }

    fn describe(&mut self, table: &str) -> Result<Option<Table>, DbError> {
        // cid, name, type, notnull, dflt_value, pk
        let info = self.strings(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
            table,
        )?;
        if info.is_empty() {
            return Ok(None);
        }
        let mut keyed: Vec<(i64, String)> = Vec::new();
        let columns = info
            .iter()
            .map(|r| {
                let pk = r[4].as_i64().unwrap_or(0);
                if pk > 0 {
                    keyed.push((pk, text(&r[0])));
                }
                Column {
                    name: text(&r[0]),
                    data_type: text(&r[1]),
                    nullable: r[2].as_i64() == Some(0) && pk == 0,
                    default: r[3].as_text(),
                }
            })
            .collect();
        keyed.sort();
        let mut indexes = Vec::new();
        for r in self.strings(
            "SELECT name, \"unique\" FROM pragma_index_list(?) WHERE origin <> 'pk' ORDER BY name",
            table,
        )? {
            let name = text(&r[0]);
            let cols = self.strings(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                &name,
            )?;
            indexes.push(Index {
                columns: cols.iter().map(|c| text(&c[0])).collect(),
                unique: r[1].as_i64() == Some(1),
                name,
            });
        }
        let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
        for r in self.strings(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            table,
        )? {
            let id = r[0].as_i64().unwrap_or(0);
            match foreign_keys.last_mut() {
                Some((last, fk)) if *last == id => {
                    fk.columns.push(text(&r[2]));
                    fk.references_columns.push(text(&r[3]));
                }
                Some(_) | None => foreign_keys.push((
                    id,
                    ForeignKey {
                        columns: vec![text(&r[2])],
                        references_table: text(&r[1]),
                        references_columns: vec![text(&r[3])],
                    },
                )),
            }
        }
        Ok(Some(Table {
            name: table.to_owned(),
            columns,
            primary_key: keyed.into_iter().map(|(_, c)| c).collect(),
            indexes,
            foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
        }))
    }
}

/// A declared SQLite type name read as the other engines would name it:
/// the exact names people write for dates, times, decimals, UUIDs and
/// JSON first, then SQLite's own affinity rules (a name holding `INT` is
/// an integer, `CHAR`, `CLOB` or `TEXT` text, `BLOB` bytes, `REAL`,
/// `FLOA` or `DOUB` a float).
fn sqlite_declared(name: &str) -> DeclaredType {
    let upper = name.trim().to_ascii_uppercase();
    let base = upper.split('(').next().unwrap_or("").trim();
    match base {
        "BOOL" | "BOOLEAN" => return DeclaredType::Bool,
        "NUMERIC" | "DECIMAL" => return DeclaredType::Decimal,
        "DATE" => return DeclaredType::Date,
        "TIME" => return DeclaredType::Time,
        "DATETIME" | "TIMESTAMP" => return DeclaredType::Timestamp,
        "TIMESTAMPTZ" => return DeclaredType::TimestampTz,
        "UUID" => return DeclaredType::Uuid,
        "JSON" | "JSONB" => return DeclaredType::Json,
        _ => {}
    }
    if upper.contains("INT") {
        DeclaredType::Int
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| upper.contains(t)) {
        DeclaredType::Text
    } else if upper.contains("BLOB") {
        DeclaredType::Bytes
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t)) {
        DeclaredType::Float
    } else {
        DeclaredType::Other
    }
}

#[cfg(test)]
mod declared_tests {
    use lord_db_api::DeclaredType;

    use super::sqlite_declared;

    #[test]
    fn declared_names_read_as_sqlite_reads_them() {
        for (name, expected) in [
            ("INTEGER", DeclaredType::Int),
            ("bigint", DeclaredType::Int),
            ("UNSIGNED BIG INT", DeclaredType::Int),
            ("VARCHAR(20)", DeclaredType::Text),
            ("CLOB", DeclaredType::Text),
            ("BLOB", DeclaredType::Bytes),
            ("REAL", DeclaredType::Float),
            // SQLite's own rule: `POINT` holds `INT`.
            ("FLOATING POINT", DeclaredType::Int),
            ("DOUBLE PRECISION", DeclaredType::Float),
            ("NUMERIC", DeclaredType::Decimal),
            ("DECIMAL(10, 2)", DeclaredType::Decimal),
            ("BOOLEAN", DeclaredType::Bool),
            ("DATE", DeclaredType::Date),
            ("DATETIME(6)", DeclaredType::Timestamp),
            ("TIMESTAMP", DeclaredType::Timestamp),
            ("TIME", DeclaredType::Time),
            ("uuid", DeclaredType::Uuid),
            ("JSON", DeclaredType::Json),
            ("", DeclaredType::Other),
            ("MONEY", DeclaredType::Other),
        ] {
            assert_eq!(sqlite_declared(name), expected, "{name}");
        }
    }
}
