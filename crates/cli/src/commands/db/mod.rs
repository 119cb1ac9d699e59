//! `lord db`: the `db` provider's commands over `lord-db`. Profiles
//! (`add`, `list`, `remove`, `ping`), queries for scripts (`query`, with
//! `--json` and `--csv`), catalogues (`schema`) and versioned migrations
//! (`migrate new|up|down|status`), backups (`backup`, `restore`), the
//! interactive `shell`, and `copy` between profiles. Each engine is
//! reached through its capability: SQL and CQL statements, Redis commands
//! as arguments, MongoDB database commands as JSON; what an engine cannot
//! do (migrating Redis) is refused saying so.

mod backup;
mod column_type;
mod copy;
mod manage;
mod migrate;
mod query;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};
use lord_db_api::{DbError, Password, Profile};
use lord_host::{Framework, HostError};

use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Add (or replace) a profile: a named database. The URL never holds a
    /// password: store it with `lord secret set DB_<NAME>_PASSWORD`.
    Add(manage::AddArgs),
    /// The profiles, with whether each one's password is stored.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a profile (its password stays in `lord secret`).
    Remove { name: String },
    /// Connect to a profile and check it answers (`SELECT 1`, Redis `PING`,
    /// MongoDB `{"ping": 1}`, Cassandra's release version).
    Ping {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Run one statement (SQL, CQL), Redis command (`-- SET k v`) or
    /// MongoDB database command (`'{"find": "users"}'`): rows as a table,
    /// JSON or CSV, replies as text or JSON; exit 0 when it ran, non-zero
    /// with the engine's message when it did not.
    Query(query::QueryArgs),
    /// Tables, columns, types, nullability, keys and indexes, from the
    /// engine's catalogue; a Cassandra keyspace's tables, a MongoDB
    /// database's collections, a Redis database's keys.
    Schema {
        name: String,
        /// One table or collection (default: all); for Redis, a key pattern
        /// (default `*`).
        table: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Versioned migrations in the project's `migrations/` folder.
    Migrate(MigrateArgs),
    /// Back up a profile's database into one file, with the engine's own
    /// dump (SQLite's backup API, pg_dump, mariadb-dump; Redis's DUMP per
    /// key, MongoDB's BSON per document), checked after writing.
    Backup(backup::BackupArgs),
    /// Restore a file from `lord db backup` into a profile's (empty)
    /// database, after checking it; row, key or document counts are
    /// compared afterwards.
    Restore(backup::RestoreArgs),
    /// An interactive SQL shell (a script when standard input is not a
    /// terminal): `\?` lists its commands.
    Shell(shell::ShellArgs),
    /// Rows from a query on one profile into a table on another, in
    /// batches of one transaction each, with a progress count.
    Copy(copy::CopyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The migrations folder (default: `migrations/` in the project).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: migrate::MigrateCommand,
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: DbCommand,
) -> Result<ExitCode> {
    match command {
        DbCommand::Add(args) => manage::add(ctx, out, framework, args)?,
        DbCommand::List { json } => manage::list(out, framework, json)?,
        DbCommand::Remove { name } => manage::remove(out, framework, &name)?,
        DbCommand::Ping { name, json } => manage::ping(out, framework, &name, json).await?,
        DbCommand::Query(args) => query::query(ctx, out, framework, args).await?,
        DbCommand::Schema { name, table, json } => {
            query::schema(out, framework, &name, table, json).await?;
        }
        DbCommand::Migrate(args) => {
            let dir = match args.dir {
                Some(dir) => ctx.cwd.join(dir),
                None => framework.db_migrations_dir(),
            };
            migrate::run(out, framework, &dir, args.command).await?;
        }
        DbCommand::Backup(args) => backup::backup(ctx, out, framework, args).await?,
        DbCommand::Restore(args) => backup::restore(ctx, out, framework, args).await?,
        DbCommand::Shell(args) => shell::shell(ctx, out, framework, args).await?,
        DbCommand::Copy(args) => copy::copy(out, framework, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `work` on a SQL session of the profile `name`; a profile of
/// another engine is refused as having no migrations, the one use left.
pub(super) async fn with_session<T: Send + 'static>(
    framework: &Framework,
    name: &str,
    work: impl FnOnce(&mut lord_db::Session) -> Result<T, DbError> + Send + 'static,
) -> Result<T> {
    let engine = framework.db_connection(name)?.0.engine;
    if !engine.is_sql() {
        return Err(HostError::from(lord_db::migrate::not_sql(engine)).into());
    }
    with(framework, name, work).await
}

/// Runs `work` on a session of the profile `name` of the kind `S` (a
/// capability's trait, or any [`lord_db::Connection`]), on a thread that
/// may block (the drivers are synchronous); a session that failed is not
/// put back in the pool.
pub(super) async fn with<S, T>(
    framework: &Framework,
    name: &str,
    work: impl FnOnce(&mut lord_db::Lease<S>) -> Result<T, DbError> + Send + 'static,
) -> Result<T>
where
    S: lord_db::Pooled + ?Sized + 'static,
    T: Send + 'static,
{
    let (profile, password): (Arc<Profile>, Option<Password>) = framework.db_connection(name)?;
    let inline = profile.engine.in_process();
    let run = move || {
        let mut session = lord_db::pools().lease::<S>(&profile, password)?;
        let outcome = work(&mut session);
        if outcome.is_err() {
            session.discard();
        }
        outcome
    };
    let outcome = if inline {
        run()
    } else {
        tokio::task::spawn_blocking(run).await?
    };
    Ok(outcome.map_err(HostError::from)?)
}

/// Runs one statement on the profile `name` as `lord db query` does:
/// [`lord_db::query`] on a pooled session, on this thread for SQLite.
pub(super) async fn query(
    framework: &Framework,
    name: &str,
    sql: String,
    params: Vec<lord_db_api::Value>,
) -> Result<lord_db_api::Rows> {
    let (profile, password): (Arc<Profile>, Option<Password>) = framework.db_connection(name)?;
    let outcome = if profile.engine.in_process() {
        lord_db::query(&profile, password, &sql, &params)
    } else {
        tokio::task::spawn_blocking(move || lord_db::query(&profile, password, &sql, &params))
            .await?
    };
    Ok(outcome.map_err(HostError::from)?)
}
