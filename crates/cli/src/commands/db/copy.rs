//! `lord db copy`: rows from a query on one profile into a table on
//! another, across engines (SQLite, PostgreSQL, MySQL/MariaDB).
//!
//! The source streams (`SqlSession::stream`), so a result larger than
//! memory goes through in batches (except from a SQLite file into itself,
//! which is read whole first: SQLite's locks do not let one connection
//! commit while another holds a cursor on the same file). Each batch is written in a transaction
//! of its own, as multi-row `INSERT`s whose values are bound parameters,
//! never spliced into the text. A failure part way rolls back the batch in
//! flight and stops: the batches before it stay committed, and the count
//! of rows copied is reported (in the error and in `--json`), so the rest
//! can be copied by a query that skips them. One transaction for the whole
//! copy would hold locks and undo space for as long as the copy runs, and
//! MySQL cannot roll back a `--create` in any case.

use std::time::Instant;

use anyhow::{Result, anyhow};
use clap::Args;
use lord_db_api::{DbError, DeclaredType, Engine, SqlSession, Value, in_transaction};
use lord_host::{Framework, HostError};
use serde::Serialize;

use super::column_type;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// The profile the rows come from.
    #[arg(long)]
    from: String,
    /// The query on `--from` that selects them; its column names are the
    /// target table's columns (rename with `AS`).
    #[arg(long)]
    query: String,
    /// A value bound to the query's next placeholder, in order (text
    /// unless `--typed`).
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Bind `--param` values that read as integers or numbers as such,
    /// and `null` as NULL (as `lord db query --typed`).
    #[arg(long)]
    typed: bool,
    /// The profile the rows go to (may be `--from` itself).
    #[arg(long)]
    to: String,
    /// The table on `--to`; `schema.table` names a schema.
    #[arg(long)]
    table: String,
    /// Create the table first: each column takes the type the query's
    /// column is declared with on `--from` (numeric, date, time,
    /// timestamp, uuid, json and the plain ones, in `--to`'s words) when
    /// every value of the first batch reads as it in its plain ISO form,
    /// else the type of those values (integer, float, boolean, text or
    /// bytes).
    #[arg(long)]
    create: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    batch: u32,
    /// A summary as JSON on standard output (also when the copy fails).
    #[arg(long)]
    json: bool,
}

/// What a copy did.
#[derive(Debug, Serialize)]
struct Summary {
    from: String,
    to: String,
    table: String,
    /// Rows committed in the target.
    copied: u64,
    /// Transactions committed.
    batches: u64,
    created: bool,
    seconds: f64,
    /// Why the copy stopped part way, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The bind parameters one statement may carry, well under every engine's
/// limit (SQLite 32766, PostgreSQL and MySQL 65535).
const MAX_PARAMS: usize = 30_000;

pub(super) async fn copy(out: &Output, framework: &Framework, args: CopyArgs) -> Result<()> {
    let source = framework.db_connection(&args.from)?;
    let target = framework.db_connection(&args.to)?;
    let counter = out.counter("rows copied");
    let started = Instant::now();
    let CopyArgs {
        from,
        query,
        params,
        typed,
        to,
        table,
        create,
        batch,
        json,
    } = args;
    let mut summary = Summary {
        from,
        to,
        table,
        copied: 0,
        batches: 0,
        created: false,
        seconds: 0.0,
        error: None,
    };
    let (mut summary, outcome) = tokio::task::spawn_blocking(move || {
        let outcome = (|| -> Result<(), DbError> {
            // One SQLite file cannot be written on one connection while
            // another reads it through a cursor (the reader's shared lock
            // blocks the writer's commit): within one file the rows are
            // read whole first.
            let one_file = source.0.engine == Engine::Sqlite
                && target.0.engine == Engine::Sqlite
                && same_sqlite_file(&source.0, &target.0);
            let mut reader = lord_db::pools().session(&source.0, source.1)?;
            let mut writer = lord_db::pools().session(&target.0, target.1)?;
            let params: Vec<Value> = params
                .into_iter()
                .map(|p| super::query::param(p, typed))
                .collect();
            let sql = query.trim().trim_end_matches(';');
            let mut plan = Plan::new(writer.engine(), &summary.table, create);
            if create {
                // A source whose types cannot be read is typed by its
                // values alone, as the engines without a catalogue are.
                plan.declared = reader.declared_types(sql).unwrap_or_default();
                plan.enforced = matches!(source.0.engine, Engine::Postgres | Engine::Mysql);
            }
            let mut sink = |columns: &[String], rows: Vec<Vec<Value>>| {
                let n = rows.len() as u64;
                plan.write(&mut *writer, columns, rows)?;
                summary.copied += n;
                summary.batches += 1;
                counter.set(summary.copied);
                Ok(())
            };
            let copied = if one_file {
                let whole = reader.run(sql, &params);
                drop(reader);
                whole.and_then(|whole| {
                    for chunk in whole.rows.chunks(batch as usize) {
                        sink(&whole.columns, chunk.to_vec())?;
                    }
                    Ok(())
                })
            } else {
                let streamed = reader.stream(sql, &params, batch as usize, &mut sink);
                if streamed.is_err() {
                    reader.discard();
                }
                streamed.map(|_| ())
            };
            // Made even when the first batch then failed.
            summary.created = plan.created;
            // No rows, no column names: the table cannot be made from them.
            if copied.is_ok() && create && !plan.created {
                return Err(DbError::Value {
                    profile: target.0.name.to_string(),
                    message: format!(
                        "the query returned no rows, so `--create` has no columns to make `{}` \
                         from; create the table first, then copy without `--create`",
                        summary.table
                    ),
                });
            }
            // A session that failed part way may be inside a transaction.
            if copied.is_err() {
                writer.discard();
            }
            copied
        })();
        counter.done();
        (summary, outcome)
    })
    .await?;
    summary.seconds = started.elapsed().as_secs_f64();
    if let Err(e) = &outcome {
        summary.error = Some(e.to_string());
    }
    if json {
        out.json(&summary)?;
    }
    match outcome {
        Ok(()) => {
            if !json {
                out.status(format_args!(
                    "copied {} row(s) from `{}` into `{}` on `{}` in {:.1} s",
                    summary.copied, summary.from, summary.table, summary.to, summary.seconds
                ));
            }
            Ok(())
        }
        Err(e) => Err(anyhow!(HostError::from(e)).context(format!(
            "the copy stopped after {} row(s) committed in `{}` on `{}` (the batch in flight \
             was rolled back); to go on, copy the rest with a query that skips them",
            summary.copied, summary.table, summary.to
        ))),
    }
}

/// How rows are written into the target: the table's quoted name, and
/// whether it still has to be created.
struct Plan {
    engine: Engine,
    table: String,
    create: bool,
    created: bool,
    /// The source columns' declared types, for `--create`.
    declared: Vec<DeclaredType>,
    /// Whether the source's engine holds every value to its column's
    /// declared type (PostgreSQL, MySQL), unlike SQLite, where a declared
    /// type is a hint.
    enforced: bool,
}

/// Whether two SQLite profiles name one file, however their URLs spell
/// it (`sqlite:app.db`, `sqlite:./app.db`, a link).
fn same_sqlite_file(a: &lord_db_api::Profile, b: &lord_db_api::Profile) -> bool {
    match (a.sqlite_path(), b.sqlite_path()) {
        (Ok(a), Ok(b)) => {
            a == b
                || matches!(
                    (std::fs::canonicalize(&a), std::fs::canonicalize(&b)),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        _ => false,
    }
}

impl Plan {
    fn new(engine: Engine, table: &str, create: bool) -> Self {
        let table = table
            .split('.')
            .map(|part| quote(engine, part))
            .collect::<Vec<_>>()
            .join(".");
        Self {
            engine,
            table,
            create,
            created: false,
            declared: Vec::new(),
            enforced: false,
        }
    }

    /// Writes one batch in one transaction (creating the table first, on
    /// the first batch, when asked).
    fn write(
        &mut self,
        session: &mut dyn SqlSession,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<(), DbError> {
        if self.create && !self.created {
            session.run(&self.create_table(columns, &rows), &[])?;
            self.created = true;
        }
        let per_statement = (MAX_PARAMS / columns.len().max(1)).clamp(1, 1000);
        in_transaction(session, |session| {
            for chunk in rows.chunks(per_statement) {
                let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
                session.run(&self.insert(columns, chunk.len()), &values)?;
            }
            Ok(())
        })
    }

    /// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?)` for `rows` rows.
    fn insert(&self, columns: &[String], rows: usize) -> String {
        let names: Vec<String> = columns.iter().map(|c| quote(self.engine, c)).collect();
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, names.join(", "));
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns.len() {
                if column > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&self.engine.placeholder(n));
            }
            sql.push(')');
        }
        sql
    }

    /// `CREATE TABLE` with each column's type from its declared type on
    /// the source when the first batch's values read as it, else from
    /// those values ([`column_type::sql`]).
    fn create_table(&self, columns: &[String], rows: &[Vec<Value>]) -> String {
        let defs: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values: Vec<&Value> = rows.iter().filter_map(|r| r.get(i)).collect();
                let declared = self.declared.get(i).copied();
                let sql = column_type::sql(self.engine, declared, self.enforced, &values);
                format!("{} {sql}", quote(self.engine, name))
            })
            .collect();
        format!("CREATE TABLE {} ({})", self.table, defs.join(", "))
    }
}

/// A name quoted for `engine`, its quote character doubled inside.
fn quote(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Sqlite | Engine::Postgres | Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            format!("\"{}\"", name.replace('"', "\"\""))
        }
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_values_are_placeholders() {
        let plan = Plan::new(Engine::Postgres, "public.we\"ird", false);
        assert_eq!(
            plan.insert(&["a".into(), "b c".into()], 2),
            "INSERT INTO \"public\".\"we\"\"ird\" (\"a\", \"b c\") VALUES ($1, $2), ($3, $4)"
        );
        let plan = Plan::new(Engine::Mysql, "t`x", false);
        assert_eq!(
            plan.insert(&["a".into()], 2),
            "INSERT INTO `t``x` (`a`) VALUES (?), (?)"
        );
    }

    #[test]
    fn created_columns_take_the_type_of_their_values() {
        let plan = Plan::new(Engine::Postgres, "t", true);
        let rows = vec![
            vec![
                Value::Int(1),
                Value::Null,
                Value::Text("a".into()),
                Value::Int(1),
            ],
            vec![Value::Float(1.5), Value::Null, Value::Int(2), Value::Int(2)],
        ];
        assert_eq!(
            plan.create_table(&["f".into(), "n".into(), "t".into(), "i".into()], &rows),
            "CREATE TABLE \"t\" (\"f\" DOUBLE PRECISION, \"n\" TEXT, \"t\" TEXT, \"i\" BIGINT)"
        );
    }

    #[test]
    fn created_columns_take_their_declared_type_when_the_values_fit_it() {
        use DeclaredType::{Date, Decimal, Int, Json, TimestampTz};
        let columns: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).into();
        let rows = vec![vec![
            Value::Text("1.50".into()),
            Value::Text("2024-02-29".into()),
            // A column declared a date that holds a number is no date.
            Value::Int(5),
            Value::Null,
            Value::Text("2024-01-01 00:00:00+00".into()),
            Value::Text("{}".into()),
        ]];
        let declared = vec![Decimal, Date, Date, Int, TimestampTz, Json];
        let mut mysql = Plan::new(Engine::Mysql, "t", true);
        mysql.declared.clone_from(&declared);
        mysql.enforced = true;
        assert_eq!(
            mysql.create_table(&columns, &rows),
            "CREATE TABLE `t` (`a` DECIMAL(65, 30), `b` DATE, `c` BIGINT, `d` BIGINT, \
             `e` LONGTEXT, `f` JSON)"
        );
        let mut sqlite = Plan::new(Engine::Sqlite, "t", true);
        sqlite.declared = declared;
        sqlite.enforced = true;
        assert_eq!(
            sqlite.create_table(&columns, &rows),
            "CREATE TABLE \"t\" (\"a\" TEXT, \"b\" DATE, \"c\" INTEGER, \"d\" INTEGER, \
             \"e\" TIMESTAMPTZ, \"f\" TEXT)"
        );
    }
}
