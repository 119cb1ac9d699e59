//! `lord db query` and `lord db schema`: one statement with bound
//! parameters (SQL, CQL), one Redis command given as arguments or one
//! MongoDB database command given as JSON; and the engine's catalogue
//! (tables, collections, keys).

use std::io::Read as _;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_db::Lease;
use lord_db_api::{DocumentSession, Engine, KvSession, Table, Value, WideColumnSession};
use lord_host::Framework;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, db as render, foreign};

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The profile.
    name: String,
    /// The statement, or `-` to read it from standard input. Placeholders
    /// are the engine's own: `?` on SQLite, MySQL and Cassandra, `$1` on
    /// PostgreSQL. For Redis, the command as separate arguments (`-- SET k
    /// v`: each is sent as one argument, whatever it holds); for MongoDB, a
    /// database command as JSON (`{"find": "users", "filter": {...}}`).
    #[arg(required = true, num_args = 1..)]
    statement: Vec<String>,
    /// A value bound to the next placeholder, in order (always bound by
    /// the driver, never spliced into the statement). Repeat it.
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Bind `--param` values that read as integers or numbers as such,
    /// and `null` as NULL (default: every value is text, which PostgreSQL
    /// converts to the placeholder's type).
    #[arg(long)]
    typed: bool,
    /// Rows as a JSON array of objects.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Rows as CSV with a header line (NULL an empty field, empty text `""`,
    /// as is a lone NULL, since an empty line is no record).
    #[arg(long)]
    csv: bool,
}

/// A `--param` value: text, or with `--typed` an integer, a number or
/// NULL when it reads as one.
pub(super) fn param(text: String, typed: bool) -> Value {
    if !typed {
        return Value::Text(text);
    }
    if text == "null" {
        Value::Null
    } else if let Ok(i) = text.parse() {
        Value::Int(i)
    } else if let Ok(f) = text.parse() {
        Value::Float(f)
    } else {
        Value::Text(text)
    }
}

/// The one statement of a SQL, CQL or MongoDB query: the argument, or
/// standard input for `-`.
fn one_statement(ctx: &Context, engine: Engine, statement: Vec<String>) -> Result<String> {
    let [text]: [String; 1] = statement.try_into().map_err(|_| {
        UsageError(format!(
            "a {engine} query is one argument; quote it (lord db query NAME \"...\")"
        ))
    })?;
    let text = if text == "-" {
        if ctx.terminal.stdin {
            return Err(UsageError(
                "`-` reads the statement from standard input; pipe it in".to_owned(),
            )
            .into());
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read the statement from standard input")?;
        text
    } else {
        text
    };
    if text.trim().is_empty() {
        return Err(UsageError("the statement is empty".to_owned()).into());
    }
    Ok(text.trim().trim_end_matches(';').to_owned())
}

pub(super) async fn query(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: QueryArgs,
) -> Result<()> {
    let engine = framework.db_connection(&args.name)?.0.engine;
    let rows_only = |what: &str| -> Result<()> {
        if args.csv || !args.params.is_empty() {
            return Err(
                UsageError(format!("`--csv` and `--param` are for SQL and CQL; {what}")).into(),
            );
        }
        Ok(())
    };
    let rows = match engine {
        Engine::Sqlite | Engine::Postgres | Engine::Mysql => {
            let sql = one_statement(ctx, engine, args.statement)?;
            let params = params(args.params, args.typed);
            super::query(framework, &args.name, sql, params).await?
        }
        Engine::Cassandra => {
            let cql = one_statement(ctx, engine, args.statement)?;
            let params = params(args.params, args.typed);
            super::with(
                framework,
                &args.name,
                move |s: &mut Lease<dyn WideColumnSession>| s.run(&cql, &params),
            )
            .await?
        }
        Engine::Redis => {
            rows_only("a Redis command takes its values as its own arguments")?;
            let words: Vec<Vec<u8>> = args.statement.into_iter().map(String::into_bytes).collect();
            let reply = super::with(
                framework,
                &args.name,
                move |s: &mut Lease<dyn KvSession>| s.command(&words),
            )
            .await?;
            if args.json {
                return out.json(&reply);
            }
            // One line per element, each escaped: the server's bytes are
            // whatever someone stored.
            for line in reply.display().lines() {
                out.line(foreign(line))?;
            }
            return Ok(());
        }
        Engine::MongoDb => {
            rows_only("a MongoDB command holds its values in its JSON")?;
            let text = one_statement(ctx, engine, args.statement)?;
            let command: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                UsageError(format!(
                    "a MongoDB query is a database command as JSON, like \
                     '{{\"find\": \"users\", \"filter\": {{\"age\": {{\"$gt\": 30}}}}}}': {e}"
                ))
            })?;
            let reply = super::with(
                framework,
                &args.name,
                move |s: &mut Lease<dyn DocumentSession>| s.command(&command),
            )
            .await?;
            // Documents are JSON whichever way; `--json` keeps it on one line.
            return if args.json {
                out.json_line(&reply)
            } else {
                out.json(&reply)
            };
        }
    };
    print_rows(out, &rows, args.json, args.csv)
}

fn params(params: Vec<String>, typed: bool) -> Vec<Value> {
    params.into_iter().map(|p| param(p, typed)).collect()
}

fn print_rows(out: &Output, rows: &lord_db_api::Rows, json: bool, csv: bool) -> Result<()> {
    if json {
        match rows.affected {
            Some(affected) => out.json(&serde_json::json!({ "affected": affected })),
            None => out.json(&rows.objects()),
        }
    } else if csv {
        // A statement that changed rows has no records: the count is a
        // status line, so standard output stays valid CSV (empty).
        match rows.affected {
            Some(affected) => {
                out.status(format_args!("{affected} row(s) changed"));
                Ok(())
            }
            None => out.text(&render::csv(rows)),
        }
    } else {
        match rows.affected {
            Some(affected) => {
                out.status(format_args!("{affected} row(s) changed"));
                Ok(())
            }
            None => {
                out.text(&render::table(rows))?;
                out.status(format_args!("({} row(s))", rows.rows.len()));
                Ok(())
            }
        }
    }
}

/// How many keys `lord db schema` lists on Redis at most.
const KEYS_SHOWN: usize = 1000;

pub(super) async fn schema(
    out: &Output,
    framework: &Framework,
    name: &str,
    table: Option<String>,
    json: bool,
) -> Result<()> {
    let engine = framework.db_connection(name)?.0.engine;
    let wanted = table.clone();
    let tables: Vec<Table> = match engine {
        Engine::Sqlite | Engine::Postgres | Engine::Mysql => {
            super::with(framework, name, move |s: &mut lord_db::Session| {
                let names = match wanted {
                    Some(one) => vec![one],
                    None => s.tables()?,
                };
                let mut out = Vec::new();
                for name in names {
                    if let Some(table) = s.describe(&name)? {
                        out.push(table);
                    }
                }
                Ok(out)
            })
            .await?
        }
        Engine::Cassandra => {
            super::with(
                framework,
                name,
                move |s: &mut Lease<dyn WideColumnSession>| {
                    let names = match wanted {
                        Some(one) => vec![one],
                        None => s.tables(None)?,
                    };
                    let mut out = Vec::new();
                    for name in names {
                        if let Some(table) = s.describe(None, &name)? {
                            out.push(table);
                        }
                    }
                    Ok(out)
                },
            )
            .await?
        }
        Engine::Redis => {
            let pattern = table.unwrap_or_else(|| "*".to_owned());
            let keys = super::with(framework, name, move |s: &mut Lease<dyn KvSession>| {
                s.scan(&pattern, KEYS_SHOWN + 1)
            })
            .await?;
            return names(out, &keys, json, "key", KEYS_SHOWN);
        }
        Engine::MongoDb => {
            let collections = super::with(framework, name, |s: &mut Lease<dyn DocumentSession>| {
                s.collections()
            })
            .await?;
            let shown: Vec<String> = match &table {
                Some(one) if collections.contains(one) => vec![one.clone()],
                Some(one) => {
                    return Err(UsageError(format!(
                        "`{name}` has no collection `{one}`; see `lord db schema {name}`"
                    ))
                    .into());
                }
                None => collections,
            };
            return names(out, &shown, json, "collection", usize::MAX);
        }
    };
    if let Some(one) = table
        && tables.is_empty()
    {
        return Err(UsageError(format!(
            "`{name}` has no table `{one}`; see `lord db schema {name}`"
        ))
        .into());
    }
    if json {
        return out.json(&tables);
    }
    out.text(&render::schema(&tables))
}

/// Keys or collections, one a line (escaped: anyone who could write to
/// the database chose them), or as a JSON array; at most `limit`, saying
/// so when there are more.
fn names(out: &Output, names: &[String], json: bool, what: &str, limit: usize) -> Result<()> {
    let shown = &names[..names.len().min(limit)];
    if json {
        out.json(&shown)?;
    } else {
        for name in shown {
            out.line(foreign(name))?;
        }
    }
    if names.len() > limit {
        out.note(format_args!(
            "only the first {limit} of more {what}s are shown; narrow them with a pattern"
        ));
    }
    Ok(())
}
