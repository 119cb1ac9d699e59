//! The MySQL/MariaDB provider's session: the synchronous `mysql` client,
//! TLS through its rustls support, the connect timeout on the TCP connect,
//! and the statement timeout as the server's own limit
//! (`max_statement_time` on MariaDB, `max_execution_time` on MySQL, which
//! limits only `SELECT`). Statements with parameters are prepared, so
//! values are bound by the binary protocol, never spliced.
//!
//! MySQL and MariaDB commit DDL (`CREATE`, `ALTER`, `DROP`) implicitly:
//! a transaction does not make a schema change atomic there
//! ([`lord_db_api::Engine::transactional_ddl`]).

use std::time::{Duration, Instant};

use lord_db_api::{
    BoundedRows, Bounds, Canceller, Column, DbError, DeclaredType, Engine, ForeignKey, Index,
    Password, Profile, RowBatches, RowSink, Rows, SqlSession, Table, TlsMode, Value, past_deadline,
};
use mysql::consts::ColumnType;
use mysql::prelude::Queryable as _;
use mysql::{Conn, Opts, OptsBuilder, SslOpts};

/// The character set number of binary strings (BLOB, VARBINARY).
const BINARY_CHARSET: u16 = 63;

pub(crate) struct MySession {
    conn: Conn,
    profile: String,
    /// How the connection was made, for the second one a cancel needs.
    opts: Opts,
    /// The profile's statement timeout, set on the session when it opens.
    statement_timeout: Option<Duration>,
    /// Whether the server is MariaDB (whose time limit is
    /// `max_statement_time`, in seconds, on every statement) rather than
    /// MySQL (`max_execution_time`, in milliseconds, on `SELECT` only);
    /// asked once, when first needed.
    mariadb: Option<bool>,
}

/// MariaDB's `ER_STATEMENT_TIMEOUT` and MySQL's `ER_QUERY_TIMEOUT`: a
/// statement the server ended at its time limit.
const TIMED_OUT: [u16; 2] = [1969, 3024];

/// `KILL QUERY` for the session's connection, sent from a connection of
/// its own.
struct MyCanceller {
    opts: Opts,
    id: u32,
    profile: String,
}

impl Canceller for MyCanceller {
    fn cancel(&self) -> Result<(), DbError> {
        Conn::new(self.opts.clone())
            .and_then(|mut conn| conn.query_drop(format!("KILL QUERY {}", self.id)))
            .map_err(|e| DbError::Engine {
                profile: self.profile.clone(),
                engine: "mysql",
                message: format!("the statement could not be cancelled: {e}"),
            })
    }
}

impl MySession {
    pub(crate) fn open(profile: &Profile, password: Option<&Password>) -> Result<Self, DbError> {
        let name = profile.name.to_string();
        let fail = |message: String| DbError::Connect {
            profile: name.clone(),
            engine: "mysql",
            message,
        };
        // The driver knows `mysql://` only; `mariadb://` is the same server.
        let url = match profile.url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => profile.url.clone(),
        };
        let opts = Opts::from_url(&url).map_err(|e| fail(e.to_string()))?;
        let builder = OptsBuilder::from_opts(opts)
            .pass(password.map(|p| p.expose().to_owned()))
            .tcp_connect_timeout(Some(profile.connect_timeout))
            .prefer_socket(false);
        let tls = SslOpts::default().with_root_cert_path(profile.ca_file.clone());
        let with_tls = builder.clone().ssl_opts(tls);
        let (conn, used) = match profile.tls_mode {
            TlsMode::Disable => (Conn::new(builder.clone()), builder),
            TlsMode::Require | TlsMode::VerifyFull => (Conn::new(with_tls.clone()), with_tls),
            // TLS when the server offers it: asked for first, and without
            // it only when the server said it has none.
            TlsMode::Prefer => match Conn::new(with_tls.clone()) {
                Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) => {
                    (Conn::new(builder.clone()), builder)
                }
                other => (other, with_tls),
            },
        };
        let mut session = Self {
            conn: conn.map_err(|e| fail(e.to_string()))?,
            profile: name.clone(),
            opts: used.into(),
            statement_timeout: profile.statement_timeout,
            mariadb: None,
        };
        if let Some(limit) = profile.statement_timeout {
            session
                .limit_statements(limit)
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(session)
    }

    fn is_mariadb(&mut self) -> Result<bool, mysql::Error> {
        if let Some(known) = self.mariadb {
            return Ok(known);
        }
        let version: Option<String> = self.conn.query_first("SELECT VERSION()")?;
        let known = version.is_some_and(|v| v.contains("MariaDB"));
        self.mariadb = Some(known);
        Ok(known)
    }

    /// Sets the server's time limit on the session's statements, rounded
    /// up to what the server counts in: a statement is ended at the limit,
    /// not before it.
    fn limit_statements(&mut self, limit: Duration) -> Result<(), mysql::Error> {
        let sql = if self.is_mariadb()? {
            let micros = limit.as_micros().max(1);
            format!(
                "SET SESSION max_statement_time = {}.{:06}",
                micros / 1_000_000,
                micros % 1_000_000
            )
        } else {
            let ms = limit.as_micros().div_ceil(1000).max(1);
            format!("SET SESSION max_execution_time = {ms}")
        };
        self.conn.query_drop(sql)
    }

    /// Sets the profile's time limit again (or the server's default,
    /// without one) after a bounded statement set its own.
    fn restore_limit(&mut self) -> Result<(), mysql::Error> {
        if let Some(limit) = self.statement_timeout {
            return self.limit_statements(limit);
        }
        let variable = if self.is_mariadb()? {
            "max_statement_time"
        } else {
            "max_execution_time"
        };
        self.conn
            .query_drop(format!("SET SESSION {variable} = DEFAULT"))
    }

    /// Runs one statement; with `bounds`, reading stops at the first row
    /// over them and the statement is ended (`KILL QUERY` from a second
    /// connection), so the rows still to come are not all sent and read
    /// before the connection is free again.
    fn read(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: Option<&Bounds>,
    ) -> Result<Rows, DbError> {
        let unbounded = Bounds {
            max_rows: usize::MAX,
            max_bytes: usize::MAX,
            deadline: None,
        };
        let deadline = bounds.and_then(|b| b.deadline);
        let bounds = bounds.unwrap_or(&unbounded);
        let id = self.conn.connection_id();
        let opts = &self.opts;
        let kill = || {
            // A kill that fails, or arrives after the statement ended,
            // changes nothing but how long the rest takes to read.
            let _ = Conn::new(opts.clone())
                .and_then(|mut conn| conn.query_drop(format!("KILL QUERY {id}")));
        };
        let outcome = if params.is_empty() {
            // The connection runs every statement of a text; one `run` is
            // one statement, refused before anything is sent.
            if let Some(at) = crate::mysql_text::second_statement(sql) {
                return Err(DbError::Value {
                    profile: self.profile.clone(),
                    message: format!(
                        "the text holds more than one statement (the second starts at byte \
                         {at}); send one statement at a time"
                    ),
                });
            }
            self.conn
                .query_iter(sql)
                .map_err(Stop::Driver)
                .and_then(|result| gather(result, bounds, kill))
        } else {
            let bound: Vec<mysql::Value> = params.iter().map(to_mysql).collect();
            self.conn
                .exec_iter(sql, bound)
                .map_err(Stop::Driver)
                .and_then(|result| gather(result, bounds, kill))
        };
        outcome.map_err(|stop| match stop {
            Stop::Over(over) => over,
            Stop::Driver(mysql::Error::MySqlError(e))
                if TIMED_OUT.contains(&e.code) && deadline.is_some_and(|d| Instant::now() >= d) =>
            {
                past_deadline(&self.profile, "mysql")
            }
            Stop::Driver(e) => self.engine_error(&e),
        })
    }

    fn engine_error(&self, e: &mysql::Error) -> DbError {
        DbError::Engine {
            profile: self.profile.clone(),
            engine: "mysql",
            message: e.to_string(),
        }
    }

    fn names(&mut self, sql: &str, table: &str) -> Result<Vec<Vec<Value>>, DbError> {
        Ok(self.run(sql, &[Value::Text(table.to_owned())])?.rows)
    }
}

fn to_mysql(value: &Value) -> mysql::Value {
    match value {
        Value::Null => mysql::Value::NULL,
        Value::Bool(b) => mysql::Value::Int(i64::from(*b)),
        Value::Int(i) => mysql::Value::Int(*i),
        Value::Float(f) => mysql::Value::Double(*f),
        Value::Text(t) => mysql::Value::Bytes(t.clone().into_bytes()),
        Value::Bytes(b) => mysql::Value::Bytes(b.clone()),
    }
}

/// A cell by its column's type: the text protocol sends every value as
/// bytes, the binary one sends numbers and dates typed.
fn from_mysql(value: mysql::Value, column: &mysql::Column) -> Value {
    use ColumnType::{
        MYSQL_TYPE_DATE, MYSQL_TYPE_DOUBLE, MYSQL_TYPE_FLOAT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG,
        MYSQL_TYPE_LONGLONG, MYSQL_TYPE_SHORT, MYSQL_TYPE_TINY, MYSQL_TYPE_YEAR,
    };
    match value {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => i64::try_from(u).map_or(Value::Text(u.to_string()), Value::Int),
        mysql::Value::Float(f) => Value::Float(f.into()),
        mysql::Value::Double(f) => Value::Float(f),
        mysql::Value::Date(y, m, d, h, mi, s, us) => {
            if column.column_type() == MYSQL_TYPE_DATE {
                Value::Text(format!("{y:04}-{m:02}-{d:02}"))
            } else {
                let frac = fraction(us, column);
                Value::Text(format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}{frac}"))
            }
        }
        mysql::Value::Time(negative, days, h, mi, s, us) => {
            let hours = u64::from(days) * 24 + u64::from(h);
            let sign = if negative { "-" } else { "" };
            let frac = fraction(us, column);
            Value::Text(format!("{sign}{hours:02}:{mi:02}:{s:02}{frac}"))
        }
        mysql::Value::Bytes(bytes) => {
            let ty = column.column_type();
            let text = || String::from_utf8_lossy(&bytes).into_owned();
            if matches!(
                ty,
                MYSQL_TYPE_TINY
                    | MYSQL_TYPE_SHORT
                    | MYSQL_TYPE_LONG
                    | MYSQL_TYPE_LONGLONG
                    | MYSQL_TYPE_INT24
                    | MYSQL_TYPE_YEAR
            ) {
                text()
                    .parse()
                    .map_or_else(|_| Value::Text(text()), Value::Int)
            } else if matches!(ty, MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE) {
                text()
                    .parse()
                    .map_or_else(|_| Value::Text(text()), Value::Float)
            } else if column.character_set() == BINARY_CHARSET && !is_textual(ty) {
                Value::Bytes(bytes)
            } else {
                Value::Text(text())
            }
        }
    }
}

/// The fraction of a second as the text protocol writes it: as many
/// digits as the column declares (`DATETIME(2)`: `.25`).
fn fraction(micros: u32, column: &mysql::Column) -> String {
    let digits = usize::from(column.decimals()).min(6);
    if digits == 0 {
        return String::new();
    }
    format!(".{}", &format!("{micros:06}")[..digits])
}

/// Types whose binary-charset bytes are still text (numbers, dates).
fn is_textual(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::MYSQL_TYPE_DECIMAL
            | ColumnType::MYSQL_TYPE_NEWDECIMAL
            | ColumnType::MYSQL_TYPE_DATE
            | ColumnType::MYSQL_TYPE_DATETIME
            | ColumnType::MYSQL_TYPE_TIMESTAMP
            | ColumnType::MYSQL_TYPE_TIME
            | ColumnType::MYSQL_TYPE_NEWDATE
    )
}

/// Why reading a result stopped early.
enum Stop {
    Driver(mysql::Error),
    /// The result went over its bounds.
    Over(DbError),
}

/// Reads a result within `bounds`: the first result set's rows, and
/// every later set's to its end without keeping them (a query of several
/// statements, which the text protocol runs), so an error in a later
/// statement is returned rather than dropped with the result. At the
/// first row over the bounds, `kill` ends the statement on the server and
/// reading stops.
fn gather<P: mysql::prelude::Protocol>(
    mut result: mysql::QueryResult<'_, '_, '_, P>,
    bounds: &Bounds,
    kill: impl FnOnce(),
) -> Result<Rows, Stop> {
    let mut first: Option<Rows> = None;
    let mut kill = Some(kill);
    while let Some(set) = result.iter() {
        let columns: Vec<mysql::Column> = set.columns().as_ref().to_vec();
        let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
        let affected = set.affected_rows();
        let mut rows = first.is_none().then(|| BoundedRows::new(&names, bounds));
        for row in set {
            let values = row.map_err(Stop::Driver)?.unwrap();
            let Some(rows) = rows.as_mut() else {
                continue;
            };
            let cells = values
                .into_iter()
                .zip(&columns)
                .map(|(v, c)| from_mysql(v, c))
                .collect();
            if let Err(over) = rows.push(cells) {
                if let Some(kill) = kill.take() {
                    kill();
                }
                // Dropping the result reads what is left of it, which the
                // kill cut short.
                return Err(Stop::Over(over));
            }
        }
        if let Some(rows) = rows {
            first = Some(if columns.is_empty() {
                Rows {
                    affected: Some(affected),
                    ..Rows::default()
                }
            } else {
                Rows {
                    columns: names,
                    rows: rows.into_rows(),
                    affected: None,
                }
            });
        }
    }
    Ok(first.unwrap_or_default())
}

fn text(v: &Value) -> String {
    v.as_text().unwrap_or_default()
}

fn list(v: &Value) -> Vec<String> {
    text(v)
        .split('\u{1f}')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SqlSession for MySession {
    fn engine(&self) -> Engine {
        Engine::Mysql
    }

    fn canceller(&self) -> Option<Box<dyn Canceller>> {
        Some(Box::new(MyCanceller {
            opts: self.opts.clone(),
            id: self.conn.connection_id(),
            profile: self.profile.clone(),
        }))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.read(sql, params, None)
    }

    /// The statement runs under the server's own time limit cut to what
    /// is left of the caller's deadline (MariaDB's `max_statement_time`
    /// ends any statement, lock waits included; MySQL's
    /// `max_execution_time` ends only a `SELECT`), and its rows are read
    /// as they arrive, reading stopping past the bounds. Afterwards the
    /// profile's own limit is set again, whatever the statement set.
    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        if let Some(limit) =
            bounds.statement_limit(self.statement_timeout, &self.profile, "mysql")?
        {
            self.limit_statements(limit)
                .map_err(|e| self.engine_error(&e))?;
        }
        let outcome = self.read(sql, params, Some(bounds));
        let restored = self.restore_limit().map_err(|e| self.engine_error(&e));
        let rows = outcome?;
        restored?;
        Ok(rows)
    }

    fn declared_types(&mut self, sql: &str) -> Result<Vec<DeclaredType>, DbError> {
        let statement = self.conn.prep(sql).map_err(|e| self.engine_error(&e))?;
        let declared = statement.columns().iter().map(my_declared).collect();
        self.conn
            .close(statement)
            .map_err(|e| self.engine_error(&e))?;
        Ok(declared)
    }

    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        batch: usize,
        sink: &mut RowSink<'_>,
    ) -> Result<u64, DbError> {
        let profile = self.profile.clone();
        let fail = |e: &mysql::Error| DbError::Engine {
            profile: profile.clone(),
            engine: "mysql",
            message: e.to_string(),
        };
        // A prepared statement even without parameters: the binary protocol
        // gives typed values (the text protocol gives every value as text).
        let bound: Vec<mysql::Value> = params.iter().map(to_mysql).collect();
        let mut result = self.conn.exec_iter(sql, bound).map_err(|e| fail(&e))?;
        let Some(set) = result.iter() else {
            return Ok(0);
        };
        let columns: Vec<mysql::Column> = set.columns().as_ref().to_vec();
        let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
        let mut batches = RowBatches::new(&names, batch, sink);
        for row in set {
            let values = row.map_err(|e| fail(&e))?.unwrap();
            batches.push(
                values
                    .into_iter()
                    .zip(&columns)
                    .map(|(v, c)| from_mysql(v, c))
                    .collect(),
            )?;
        }
        batches.finish()
    }

    /// `COM_RESET_CONNECTION` (the driver's `reset`): a transaction left
    /// open is rolled back, session variables (`sql_mode`, the time
    /// limit...) go back to the server's defaults, and user variables,
    /// temporary tables, prepared statements and locks are gone. It keeps
    /// the current database, which the profile's is made again (a profile
    /// without one cannot undo a `USE`: such a session is closed), and the
    /// profile's time limit is set again.
    fn reset(&mut self) -> Result<(), DbError> {
        self.conn.reset().map_err(|e| self.engine_error(&e))?;
        match self.opts.get_db_name().map(str::to_owned) {
            Some(database) => self
                .conn
                .select_db(&database)
                .map_err(|e| self.engine_error(&e))?,
            None => {
                let current: Option<Option<String>> = self
                    .conn
                    .query_first("SELECT DATABASE()")
                    .map_err(|e| self.engine_error(&e))?;
                if let Some(Some(database)) = current {
                    return Err(DbError::Engine {
                        profile: self.profile.clone(),
                        engine: "mysql",
                        message: format!(
                            "the session uses the database `{database}`, which a profile naming \
                             none cannot undo"
                        ),
                    });
                }
            }
        }
        if let Some(limit) = self.statement_timeout {
            self.limit_statements(limit)
                .map_err(|e| self.engine_error(&e))?;
        }
        Ok(())
    }

    fn run_script(&mut self, sql: &str) -> Result<(), DbError> {
        let profile = &self.profile;
        let fail = |e: mysql::Error| DbError::Engine {
            profile: profile.clone(),
            engine: "mysql",
            message: e.to_string(),
        };
        let mut result = self.conn.query_iter(sql).map_err(fail)?;
        // Every statement's result, so a failure in a later one is seen.
        while let Some(set) = result.iter() {
            for row in set {
                row.map_err(fail)?;
            }
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<(), DbError> {
        self.run_script("START TRANSACTION")
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.run_script("COMMIT")
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        self.run_script("ROLLBACK")
    }

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        let rows = self.run(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
            &[],
        )?;
        Ok(rows.rows.iter().map(|r| text(&r[0])).collect())
    }

    fn describe(&mut self, table: &str) -> Result<Option<Table>, DbError> {
        let columns = self.names(
            "SELECT column_name, column_type, is_nullable, column_default \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? \
             ORDER BY ordinal_position",
            table,
        )?;
        if columns.is_empty() {
            return Ok(None);
        }
        let indexes = self.names(
            "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR 0x1f), \
             MIN(non_unique) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? GROUP BY index_name \
             ORDER BY index_name",
            table,
        )?;
        let foreign = self.names(
            "SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR 0x1f), \
             MIN(referenced_table_name), \
             GROUP_CONCAT(referenced_column_name ORDER BY ordinal_position SEPARATOR 0x1f) \
             FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND table_name = ? \
             AND referenced_table_name IS NOT NULL GROUP BY constraint_name \
             ORDER BY constraint_name",
            table,
        )?;
        let primary = |r: &Vec<Value>| text(&r[0]) == "PRIMARY";
        Ok(Some(Table {
            name: table.to_owned(),
            columns: columns
                .iter()
                .map(|r| Column {
                    name: text(&r[0]),
                    data_type: text(&r[1]),
                    nullable: text(&r[2]) == "YES",
                    // MariaDB writes a missing default as the word NULL.
                    default: r[3].as_text().filter(|d| d != "NULL"),
                })
                .collect(),
            primary_key: indexes
                .iter()
                .find(|r| primary(r))
                .map(|r| list(&r[1]))
                .unwrap_or_default(),
            indexes: indexes
                .iter()
                .filter(|r| !primary(r))
                .map(|r| Index {
                    name: text(&r[0]),
                    columns: list(&r[1]),
                    unique: r[2].as_i64() == Some(0),
                })
                .collect(),
            foreign_keys: foreign
                .iter()
                .map(|r| ForeignKey {
                    columns: list(&r[0]),
                    references_table: text(&r[1]),
                    references_columns: list(&r[2]),
                })
                .collect(),
        }))
    }
}

/// A MySQL/MariaDB column type as [`DeclaredType`] names it. Only the
/// types whose values other engines take as they are: `TIME` is an
/// interval here (`-838:59:59` and up) and text and bytes share their
/// types (told apart by character set), so these are
/// [`DeclaredType::Other`] and their values decide; `BOOLEAN` is a
/// `TINYINT(1)`, which may hold any small number, so an integer.
fn my_declared(column: &mysql::Column) -> DeclaredType {
    use ColumnType::{
        MYSQL_TYPE_BIT, MYSQL_TYPE_BLOB, MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME,
        MYSQL_TYPE_DATETIME2, MYSQL_TYPE_DECIMAL, MYSQL_TYPE_DOUBLE, MYSQL_TYPE_ENUM,
        MYSQL_TYPE_FLOAT, MYSQL_TYPE_GEOMETRY, MYSQL_TYPE_INT24, MYSQL_TYPE_JSON, MYSQL_TYPE_LONG,
        MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_NEWDATE,
        MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_NULL, MYSQL_TYPE_SET, MYSQL_TYPE_SHORT,
        MYSQL_TYPE_STRING, MYSQL_TYPE_TIME, MYSQL_TYPE_TIME2, MYSQL_TYPE_TIMESTAMP,
        MYSQL_TYPE_TIMESTAMP2, MYSQL_TYPE_TINY, MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_TYPED_ARRAY,
        MYSQL_TYPE_UNKNOWN, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_VECTOR,
        MYSQL_TYPE_YEAR,
    };

    match column.column_type() {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
        | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR => DeclaredType::Int,
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => DeclaredType::Float,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => DeclaredType::Decimal,
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => DeclaredType::Date,
        // The `2` kinds are the server's storage forms of the same types.
        MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => DeclaredType::Timestamp,
        MYSQL_TYPE_JSON => DeclaredType::Json,
        MYSQL_TYPE_NULL
        | MYSQL_TYPE_TIME
        | MYSQL_TYPE_TIME2
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_BIT
        | MYSQL_TYPE_TYPED_ARRAY
        | MYSQL_TYPE_VECTOR
        | MYSQL_TYPE_UNKNOWN
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_GEOMETRY => DeclaredType::Other,
    }
}
