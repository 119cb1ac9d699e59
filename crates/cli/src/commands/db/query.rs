//! `lord db query` and `lord db schema`: one statement with bound
//! parameters, and the engine's catalogue.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_db_api::{Table, Value};
use lord_host::Framework;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, db as render};

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The profile.
    name: String,
    /// The statement, or `-` to read it from standard input. Placeholders
    /// are the engine's own: `?` on SQLite and MySQL, `$1` on PostgreSQL.
    sql: String,
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
    /// Rows as CSV with a header line.
    #[arg(long)]
    csv: bool,
}

fn param(text: String, typed: bool) -> Value {
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

pub(super) async fn query(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: QueryArgs,
) -> Result<()> {
    let sql = if args.sql == "-" {
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
        args.sql
    };
    if sql.trim().is_empty() {
        return Err(UsageError("the statement is empty".to_owned()).into());
    }
    let params: Vec<Value> = args
        .params
        .into_iter()
        .map(|p| param(p, args.typed))
        .collect();
    let statement = sql.trim().trim_end_matches(';').to_owned();
    let rows = super::query(framework, &args.name, statement, params).await?;
    if args.json {
        match rows.affected {
            Some(affected) => out.json(&serde_json::json!({ "affected": affected })),
            None => out.json(&rows.to_objects()),
        }
    } else if args.csv {
        out.text(&render::csv(&rows)?)
    } else {
        match rows.affected {
            Some(affected) => {
                out.status(format_args!("{affected} row(s) changed"));
                Ok(())
            }
            None => {
                out.text(&render::table(&rows))?;
                out.status(format_args!("({} row(s))", rows.rows.len()));
                Ok(())
            }
        }
    }
}

pub(super) async fn schema(
    out: &Output,
    framework: &Framework,
    name: &str,
    table: Option<String>,
    json: bool,
) -> Result<()> {
    let wanted = table.clone();
    let tables: Vec<Table> = super::with_session(framework, name, move |session| {
        let names = match wanted {
            Some(one) => vec![one],
            None => session.tables()?,
        };
        let mut out = Vec::new();
        for name in names {
            if let Some(table) = session.describe(&name)? {
                out.push(table);
            }
        }
        Ok(out)
    })
    .await?;
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
