//! The SQL capability: what every SQL engine's session does, one
//! connection at a time. Parameters are always bound by the driver, never
//! spliced into the statement's text.

use crate::error::DbError;
use crate::profile::Engine;
use crate::schema::Table;
use crate::value::{Rows, Value};

/// Where a streamed query's rows go, a batch at a time: the column names
/// and the batch's rows. An error stops the stream.
pub type RowSink<'a> = dyn FnMut(&[String], Vec<Vec<Value>>) -> Result<(), DbError> + 'a;

/// Gathers a streamed query's rows into batches for a [`RowSink`]: what
/// every engine's [`SqlSession::stream`] does with the rows its cursor
/// yields, so each only reads rows.
pub struct RowBatches<'a, 's> {
    columns: &'a [String],
    sink: &'a mut RowSink<'s>,
    batch: usize,
    chunk: Vec<Vec<Value>>,
    sent: u64,
}

impl<'a, 's> RowBatches<'a, 's> {
    /// Batches of `batch` rows (at least one) under `columns`.
    pub fn new(columns: &'a [String], batch: usize, sink: &'a mut RowSink<'s>) -> Self {
        let batch = batch.max(1);
        Self {
            columns,
            sink,
            batch,
            chunk: Vec::with_capacity(batch),
            sent: 0,
        }
    }

    /// Adds a row, handing the batch to the sink once it is full.
    pub fn push(&mut self, row: Vec<Value>) -> Result<(), DbError> {
        self.chunk.push(row);
        if self.chunk.len() == self.batch {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.batch));
            self.sent += full.len() as u64;
            (self.sink)(self.columns, full)?;
        }
        Ok(())
    }

    /// Hands over the last, partial batch: how many rows were sent.
    pub fn finish(mut self) -> Result<u64, DbError> {
        if !self.chunk.is_empty() {
            let rest = std::mem::take(&mut self.chunk);
            self.sent += rest.len() as u64;
            (self.sink)(self.columns, rest)?;
        }
        Ok(self.sent)
    }
}

/// Stops, from another thread, the statement a session is running (the
/// shell's Ctrl-C).
pub trait Canceller: Send + Sync {
    /// Asks the engine to stop the session's running statement, which then
    /// fails with the engine's own words; nothing happens when none runs.
    fn cancel(&self) -> Result<(), DbError>;
}

/// What a result column is declared as, as far as making a table for its
/// values on another engine goes (`lord db copy --create`): each engine
/// maps its own type names onto these, and anything else is
/// [`DeclaredType::Other`], whose values' shapes decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredType {
    Bool,
    Int,
    Float,
    /// Exact decimal numbers (`numeric`, `decimal`).
    Decimal,
    Text,
    Bytes,
    Date,
    /// A time of day.
    Time,
    /// A date and time without a zone.
    Timestamp,
    /// A date and time with a zone (PostgreSQL's `timestamptz`).
    TimestampTz,
    Uuid,
    Json,
    Other,
}

/// One open connection to a SQL database.
pub trait SqlSession: Send {
    fn engine(&self) -> Engine;

    /// A handle another thread can stop this session's running statement
    /// with; `None` when the engine's driver cannot (the default).
    fn canceller(&self) -> Option<Box<dyn Canceller>> {
        None
    }

    /// Runs one statement with `params` bound to its placeholders (`?` on
    /// SQLite and MySQL, `$1` on PostgreSQL): its rows, or how many rows it
    /// changed.
    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// Runs a query and hands its rows to `sink` in batches of at most
    /// `batch` rows as the engine delivers them, so a result larger than
    /// memory can be copied; returns how many rows went to the sink.
    ///
    /// The default runs the query whole and cuts its rows into batches,
    /// for an engine whose driver has no cursor.
    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        batch: usize,
        sink: &mut RowSink<'_>,
    ) -> Result<u64, DbError> {
        let rows = self.run(sql, params)?;
        let mut batches = RowBatches::new(&rows.columns, batch, sink);
        for row in rows.rows {
            batches.push(row)?;
        }
        batches.finish()
    }

    /// The declared type of each column `sql` returns, read by preparing
    /// it, never running it. The default knows none: an empty list, and
    /// a caller goes by the values alone.
    fn declared_types(&mut self, sql: &str) -> Result<Vec<DeclaredType>, DbError> {
        let _ = sql;
        Ok(Vec::new())
    }

    /// [`SqlSession::run`] within `bounds`: a result over them is an error
    /// ([`DbError::TooLarge`]), and a statement past the deadline is ended
    /// where the engine allows ([`past_deadline`]). This default reads the
    /// whole result before checking it and keeps no deadline: every engine
    /// lord ships overrides it, reading rows as they arrive (with
    /// [`BoundedRows`]) and ending the statement at the deadline.
    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        let rows = self.run(sql, params)?;
        if rows.rows.len() > bounds.max_rows || rows.weight() > bounds.max_bytes {
            return Err(too_large(bounds));
        }
        Ok(rows)
    }

    /// Puts the session back as it was opened, for its next user (the
    /// pool calls it before a session goes back): settings, role, current
    /// database or schema, temporary tables, session locks and prepared
    /// statements a statement may have changed or left behind, and any
    /// transaction left open rolled back. An error means it could not be,
    /// and the session must be closed. The default does nothing, for an
    /// engine whose sessions keep nothing a caller's statements can change
    /// (SQLite's own refuses a session that made temporary objects or
    /// holds a transaction, so it is closed: its bounded statements may
    /// set no pragma).
    fn reset(&mut self) -> Result<(), DbError> {
        Ok(())
    }

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
/// `Ok`, rolled back when it returns an error or the commit fails (the
/// error is kept, a failure to roll back is added to it).
pub fn in_transaction<T>(
    session: &mut dyn SqlSession,
    work: impl FnOnce(&mut dyn SqlSession) -> Result<T, DbError>,
) -> Result<T, DbError> {
    session.begin()?;
    match work(session) {
        // A commit that fails can leave the transaction open (SQLite, on
        // a deferred foreign key): rolled back, so the session is not
        // left inside it.
        Ok(value) => match session.commit() {
            Ok(()) => Ok(value),
            Err(error) => match session.rollback() {
                Ok(()) => Err(error),
                Err(rollback) => Err(DbError::Migration(format!(
                    "{error}; rolling back failed too: {rollback}"
                ))),
            },
        },
        Err(error) => match session.rollback() {
            Ok(()) => Err(error),
            Err(rollback) => Err(DbError::Migration(format!(
                "{error}; rolling back failed too: {rollback}"
            ))),
        },
    }
}

/// Bounds on one statement a caller does not fully trust (a sandboxed
/// plugin's): how much of its result may be read, and by when it must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Rows a result may hold.
    pub max_rows: usize,
    /// Bytes a result may hold, as [`Rows::weight`] counts them.
    pub max_bytes: usize,
    /// When the statement must have ended; `None`: the profile's own
    /// statement timeout alone.
    pub deadline: Option<std::time::Instant>,
}

impl Bounds {
    /// What is left of the deadline at `now`; `None` without one.
    pub fn left(&self, now: std::time::Instant) -> Option<std::time::Duration> {
        self.deadline.map(|d| d.saturating_duration_since(now))
    }

    /// The time limit a statement started now gets on the server: what is
    /// left of the deadline, cut to `own` (the profile's own statement
    /// timeout) when that is shorter; `None` without a deadline. Already
    /// past it: the error [`past_deadline`] gives, naming `profile` and
    /// `engine`.
    pub fn statement_limit(
        &self,
        own: Option<std::time::Duration>,
        profile: &str,
        engine: &'static str,
    ) -> Result<Option<std::time::Duration>, DbError> {
        match self.left(std::time::Instant::now()) {
            None => Ok(None),
            Some(left) if left.is_zero() => Err(past_deadline(profile, engine)),
            Some(left) => Ok(Some(own.map_or(left, |own| own.min(left)))),
        }
    }
}

/// Gathers a bounded statement's rows as its engine's cursor yields them,
/// stopping at the first row that puts the result over its bounds: no
/// more of a result is ever held than the bounds allow (and one row).
pub struct BoundedRows<'b> {
    bounds: &'b Bounds,
    rows: Vec<Vec<Value>>,
    weight: usize,
}

impl<'b> BoundedRows<'b> {
    /// An empty result under `columns`, whose names count towards its
    /// weight as [`Rows::weight`] counts them.
    pub fn new(columns: &[String], bounds: &'b Bounds) -> Self {
        Self {
            bounds,
            rows: Vec::new(),
            weight: columns.iter().map(String::len).sum(),
        }
    }

    /// Adds a row; [`too_large`] once the result is over its bounds.
    pub fn push(&mut self, row: Vec<Value>) -> Result<(), DbError> {
        self.weight = row
            .iter()
            .fold(self.weight, |sum, v| sum.saturating_add(v.weight()));
        self.rows.push(row);
        if self.rows.len() > self.bounds.max_rows || self.weight > self.bounds.max_bytes {
            return Err(too_large(self.bounds));
        }
        Ok(())
    }

    /// The rows gathered.
    pub fn into_rows(self) -> Vec<Vec<Value>> {
        self.rows
    }
}

/// The error of a bounded statement the engine ended at the caller's
/// deadline (the same words on every engine).
pub fn past_deadline(profile: &str, engine: &'static str) -> DbError {
    DbError::Engine {
        profile: profile.to_owned(),
        engine,
        message: "the statement ran past the caller's deadline".to_owned(),
    }
}

/// The error of a result over `bounds`.
pub fn too_large(bounds: &Bounds) -> DbError {
    DbError::TooLarge(format!(
        "the result holds more than {} rows or {} bytes: ask for fewer (LIMIT, a narrower \
         SELECT)",
        bounds.max_rows, bounds.max_bytes
    ))
}
