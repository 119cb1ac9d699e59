//! The PostgreSQL provider's session: the synchronous `postgres` client,
//! TLS through rustls ([`crate::tls`]), the connect timeout on the
//! client's configuration and the statement timeout as the session's
//! `statement_timeout`. Statements are prepared, so parameters are bound
//! by the server's extended protocol, never spliced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lord_db_api::{
    BoundedRows, Bounds, Canceller, Column, DbError, DeclaredType, Engine, ForeignKey, Index,
    Password, Profile, RowBatches, RowSink, Rows, SqlSession, Table, TlsMode, Value, past_deadline,
};
use postgres::config::SslMode;
use postgres::types::ToSql;

use crate::pg_value::{Cell, Param};

pub(crate) struct PgSession {
    client: postgres::Client,
    profile: String,
    /// The TLS the connection was made with, for a cancel request (none
    /// when TLS is off).
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The profile's statement timeout, set on the session when it opens.
    statement_timeout: Option<Duration>,
}

/// PostgreSQL's cancel request, sent on a connection of its own the way
/// the session's was made.
struct PgCanceller {
    token: postgres::CancelToken,
    tls: Option<Arc<rustls::ClientConfig>>,
    profile: String,
}

impl Canceller for PgCanceller {
    fn cancel(&self) -> Result<(), DbError> {
        match &self.tls {
            None => self.token.cancel_query(postgres::NoTls),
            Some(tls) => self.token.cancel_query(crate::tls::Rustls(Arc::clone(tls))),
        }
        .map_err(|e| DbError::Engine {
            profile: self.profile.clone(),
            engine: "postgres",
            message: format!("the statement could not be cancelled: {}", message(&e)),
        })
    }
}

/// The engine's own words for a failure: the server's message with its
/// detail and hint, or the client's error and its causes.
fn message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(&format!(": {words}"));
        }
        source = cause.source();
    }
    text
}

impl PgSession {
    pub(crate) fn open(profile: &Profile, password: Option<&Password>) -> Result<Self, DbError> {
        let name = profile.name.to_string();
        let fail = |message: String| DbError::Connect {
            profile: name.clone(),
            engine: "postgres",
            message,
        };
        let mut config: postgres::Config = profile
            .url
            .parse()
            .map_err(|e: postgres::Error| fail(message(&e)))?;
        if let Some(password) = password {
            config.password(password.expose());
        }
        config.connect_timeout(profile.connect_timeout);
        config.application_name("lord");
        config.ssl_mode(match profile.tls_mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
        });
        let tls = match profile.tls_mode {
            TlsMode::Disable => None,
            TlsMode::Prefer | TlsMode::Require | TlsMode::VerifyFull => Some(Arc::new(
                crate::tls::client_config(profile.ca_file.as_deref()).map_err(&fail)?,
            )),
        };
        let client = match &tls {
            None => config.connect(postgres::NoTls),
            Some(tls) => config.connect(crate::tls::Rustls(Arc::clone(tls))),
        }
        .map_err(|e| fail(message(&e)))?;
        let mut session = Self {
            client,
            profile: name.clone(),
            tls,
            statement_timeout: profile.statement_timeout,
        };
        if let Some(limit) = profile.statement_timeout {
            session
                .client
                .batch_execute(&format!("SET statement_timeout = {}", limit.as_millis()))
                .map_err(|e| fail(message(&e)))?;
        }
        Ok(session)
    }

    fn engine_error(&self, e: &postgres::Error) -> DbError {
        failure(&self.profile, e, None)
    }

    fn names(&mut self, sql: &str, table: &str) -> Result<Vec<Vec<Value>>, DbError> {
        Ok(self.run(sql, &[Value::Text(table.to_owned())])?.rows)
    }

    /// Sets the profile's statement timeout again (or the server's
    /// default, without one) after a bounded statement set its own.
    fn restore_timeout(&mut self) -> Result<(), DbError> {
        let sql = match self.statement_timeout {
            Some(limit) => format!("SET statement_timeout = {}", limit.as_millis()),
            None => "RESET statement_timeout".to_owned(),
        };
        self.client
            .batch_execute(&sql)
            .map_err(|e| self.engine_error(&e))
    }

    /// Runs one statement; with `bounds`, its rows are read as the server
    /// sends them and reading stops at the first row over the bounds, the
    /// statement then cancelled so that the server stops producing rows
    /// (the connection reads whatever rows are still on their way before
    /// the next statement).
    fn read(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: Option<&Bounds>,
    ) -> Result<Rows, DbError> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let deadline = bounds.and_then(|b| b.deadline);
        let profile = self.profile.clone();
        let fail = |e: &postgres::Error| failure(&profile, e, deadline);
        let statement = self.client.prepare(sql).map_err(|e| fail(&e))?;
        if statement.params().len() != params.len() {
            return Err(DbError::Value {
                profile: self.profile.clone(),
                message: format!(
                    "the statement takes {} parameter(s) and {} were given",
                    statement.params().len(),
                    params.len()
                ),
            });
        }
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        if statement.columns().is_empty() {
            let refs: Vec<&(dyn ToSql + Sync)> =
                bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let affected = self
                .client
                .execute(&statement, &refs)
                .map_err(|e| fail(&e))?;
            return Ok(Rows {
                affected: Some(affected),
                ..Rows::default()
            });
        }
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let unbounded = Bounds {
            max_rows: usize::MAX,
            max_bytes: usize::MAX,
            deadline: None,
        };
        let mut gathered = BoundedRows::new(&columns, bounds.unwrap_or(&unbounded));
        let token = self.client.cancel_token();
        let mut found = self
            .client
            .query_raw(&statement, bound.iter().map(|p| p as &(dyn ToSql + Sync)))
            .map_err(|e| fail(&e))?;
        while let Some(row) = found.next().map_err(|e| fail(&e))? {
            let mut out = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let cell: Cell = row.try_get(i).map_err(|e| DbError::Value {
                    profile: profile.clone(),
                    message: format!("cannot read column `{column}`: {}", message(&e)),
                })?;
                out.push(cell.0);
            }
            if let Err(over) = gathered.push(out) {
                // Without the cancel the server would send every row of the
                // result (a `generate_series` of billions) before the
                // connection could run anything else. A cancel that fails,
                // or arrives after the statement ended, changes nothing.
                let _ = match &self.tls {
                    None => token.cancel_query(postgres::NoTls),
                    Some(tls) => token.cancel_query(crate::tls::Rustls(Arc::clone(tls))),
                };
                return Err(over);
            }
        }
        Ok(Rows {
            columns,
            rows: gathered.into_rows(),
            affected: None,
        })
    }
}

/// The error of a failed statement: the engine's own words, or, for a
/// statement the server cancelled once `deadline` had passed (the
/// `statement_timeout` a bounded statement runs under), [`past_deadline`].
fn failure(profile: &str, e: &postgres::Error, deadline: Option<Instant>) -> DbError {
    let cancelled = e.code() == Some(&postgres::error::SqlState::QUERY_CANCELED);
    if cancelled && deadline.is_some_and(|d| Instant::now() >= d) {
        return past_deadline(profile, "postgres");
    }
    DbError::Engine {
        profile: profile.to_owned(),
        engine: "postgres",
        message: message(e),
    }
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

/// Columns of a key or index, in order, joined by the unit separator (a
/// character no sane column name holds).
const KEY_COLUMNS: &str = "(SELECT string_agg(a.attname, chr(31) ORDER BY k.n) \
     FROM unnest({keys}) WITH ORDINALITY AS k(attnum, n) \
     JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum)";

impl SqlSession for PgSession {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn canceller(&self) -> Option<Box<dyn Canceller>> {
        Some(Box::new(PgCanceller {
            token: self.client.cancel_token(),
            tls: self.tls.clone(),
            profile: self.profile.clone(),
        }))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.read(sql, params, None)
    }

    /// The statement runs under the server's `statement_timeout`, cut to
    /// what is left of the caller's deadline, so the server itself ends it
    /// (waiting for a lock included) and frees the connection; its rows
    /// are read as they arrive and reading stops past the bounds.
    /// Afterwards the profile's own timeout is set again, whatever the
    /// statement set.
    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        if let Some(limit) =
            bounds.statement_limit(self.statement_timeout, &self.profile, "postgres")?
        {
            // Whole milliseconds, rounded up: the server ends the statement
            // at the deadline, not before it (and 0 would be no limit).
            let ms = limit.as_micros().div_ceil(1000).max(1);
            self.client
                .batch_execute(&format!("SET statement_timeout = {ms}"))
                .map_err(|e| self.engine_error(&e))?;
        }
        let outcome = self.read(sql, params, Some(bounds));
        // After a failure inside a transaction the server takes nothing
        // until it is rolled back, which undoes the `SET` too: the
        // statement's own error is the one to report.
        let restored = self.restore_timeout();
        let rows = outcome?;
        restored?;
        Ok(rows)
    }

    fn declared_types(&mut self, sql: &str) -> Result<Vec<DeclaredType>, DbError> {
        let statement = self
            .client
            .prepare(sql)
            .map_err(|e| self.engine_error(&e))?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| pg_declared(c.type_()))
            .collect())
    }

    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        batch: usize,
        sink: &mut RowSink<'_>,
    ) -> Result<u64, DbError> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let statement = self
            .client
            .prepare(sql)
            .map_err(|e| self.engine_error(&e))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs = bound.iter().map(|p| p as &(dyn ToSql + Sync));
        let profile = self.profile.clone();
        let fail = |e: &postgres::Error| DbError::Engine {
            profile: profile.clone(),
            engine: "postgres",
            message: message(e),
        };
        // The rows arrive from the server as they are read, not all at once.
        let mut found = self
            .client
            .query_raw(&statement, refs)
            .map_err(|e| fail(&e))?;
        let mut batches = RowBatches::new(&columns, batch, sink);
        while let Some(row) = found.next().map_err(|e| fail(&e))? {
            let mut out = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let cell: Cell = row.try_get(i).map_err(|e| DbError::Value {
                    profile: profile.clone(),
                    message: format!("cannot read column `{column}`: {}", message(&e)),
                })?;
                out.push(cell.0);
            }
            batches.push(out)?;
        }
        batches.finish()
    }

    /// `DISCARD ALL` spelled out, less its `DEALLOCATE ALL`: the client
    /// keeps prepared statements of its own for looking up types it does
    /// not know (enums, domains, extensions' types) and would fail on the
    /// next such lookup had they gone; statements a user prepared in SQL
    /// (`PREPARE`, whose names could collide with the client's) are
    /// deallocated by name. One text, so one round trip: its `ROLLBACK`
    /// ends a transaction left open (only a warning without one), and the
    /// rest runs in a transaction of its own. `RESET ALL` undoes every
    /// `SET` (`search_path`, `role`, `statement_timeout`...), so the
    /// profile's statement timeout is set again after it.
    fn reset(&mut self) -> Result<(), DbError> {
        let mut sql = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
                       UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; \
                       DISCARD SEQUENCES; \
                       DO $lord$ DECLARE n text; BEGIN \
                       FOR n IN SELECT name FROM pg_prepared_statements WHERE from_sql LOOP \
                       EXECUTE format('DEALLOCATE %I', n); END LOOP; END $lord$"
            .to_owned();
        if let Some(limit) = self.statement_timeout {
            sql.push_str(&format!("; SET statement_timeout = {}", limit.as_millis()));
        }
        self.client
            .batch_execute(&sql)
            .map_err(|e| self.engine_error(&e))
    }

    fn run_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| self.engine_error(&e))
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
        let rows = self.run(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
            &[],
        )?;
        Ok(rows.rows.iter().map(|r| text(&r[0])).collect())
    }

    fn describe(&mut self, table: &str) -> Result<Option<Table>, DbError> {
        let rel = "to_regclass(quote_ident($1))";
        let columns = self.names(
            &format!(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                 pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = {rel} AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum"
            ),
            table,
        )?;
        if columns.is_empty() {
            return Ok(None);
        }
        let index_columns = KEY_COLUMNS
            .replace("{keys}", "ix.indkey")
            .replace("{rel}", "ix.indrelid");
        let indexes = self.names(
            &format!(
                "SELECT i.relname::text, {index_columns}, ix.indisunique, ix.indisprimary \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
                 WHERE ix.indrelid = {rel} ORDER BY i.relname"
            ),
            table,
        )?;
        let (from, to) = (
            KEY_COLUMNS
                .replace("{keys}", "c.conkey")
                .replace("{rel}", "c.conrelid"),
            KEY_COLUMNS
                .replace("{keys}", "c.confkey")
                .replace("{rel}", "c.confrelid"),
        );
        let foreign = self.names(
            &format!(
                "SELECT {from}, c.confrelid::regclass::text, {to} FROM pg_constraint c \
                 WHERE c.conrelid = {rel} AND c.contype = 'f' ORDER BY c.conname"
            ),
            table,
        )?;
        let primary_key = indexes
            .iter()
            .find(|r| r[3] == Value::Bool(true))
            .map(|r| list(&r[1]))
            .unwrap_or_default();
        Ok(Some(Table {
            name: table.to_owned(),
            columns: columns
                .iter()
                .map(|r| Column {
                    name: text(&r[0]),
                    data_type: text(&r[1]),
                    nullable: r[2] == Value::Bool(true),
                    default: r[3].as_text(),
                })
                .collect(),
            primary_key,
            indexes: indexes
                .iter()
                .filter(|r| r[3] != Value::Bool(true))
                .map(|r| Index {
                    name: text(&r[0]),
                    columns: list(&r[1]),
                    unique: r[2] == Value::Bool(true),
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

/// A PostgreSQL column type as [`DeclaredType`] names it; a domain by its
/// base type.
fn pg_declared(ty: &postgres::types::Type) -> DeclaredType {
    use postgres::types::{Kind, Type};
    if let Kind::Domain(base) = ty.kind() {
        return pg_declared(base);
    }
    match *ty {
        Type::BOOL => DeclaredType::Bool,
        Type::INT2 | Type::INT4 | Type::INT8 => DeclaredType::Int,
        Type::FLOAT4 | Type::FLOAT8 => DeclaredType::Float,
        Type::NUMERIC => DeclaredType::Decimal,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DeclaredType::Text,
        Type::BYTEA => DeclaredType::Bytes,
        Type::DATE => DeclaredType::Date,
        Type::TIME => DeclaredType::Time,
        Type::TIMESTAMP => DeclaredType::Timestamp,
        Type::TIMESTAMPTZ => DeclaredType::TimestampTz,
        Type::UUID => DeclaredType::Uuid,
        Type::JSON | Type::JSONB => DeclaredType::Json,
        _ => DeclaredType::Other,
    }
}
