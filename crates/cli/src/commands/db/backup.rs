//! `lord db backup` and `lord db restore`: one checked file per backup,
//! over `lord_db::backup`, with a progress bar on a terminal and a JSON
//! summary for scripts; the same for every engine but Cassandra, whose
//! refusal comes from `lord_db::backup`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lord_db::backup::{self, Manifest, RestoreOptions, Step, Tools};
use lord_db_api::Engine;
use lord_host::Framework;
use serde_json::json;

use crate::context::Context;
use crate::render::{Output, Transfer};

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The profile.
    name: String,
    /// The file to write; replaced atomically, and only by a backup that
    /// checked out after writing.
    file: PathBuf,
    /// A summary as JSON: the file, the engine, the server's version, each
    /// table's row count (each key type's key count on Redis, each
    /// collection's document count on MongoDB), the size and checksum.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The profile to restore into.
    name: String,
    /// A file written by `lord db backup`.
    file: PathBuf,
    /// Restore over a database that already holds tables, keys or
    /// collections (by default only an empty database is restored into).
    /// On PostgreSQL, MySQL/MariaDB, Redis and MongoDB what the backup
    /// holds is replaced and the rest left as it is; on SQLite the whole
    /// database file is replaced, and a target holding tables, views,
    /// triggers or indexes the backup does not is refused, naming them,
    /// unless `--whole-file` is given.
    #[arg(long)]
    replace: bool,
    /// With `--replace` on SQLite: replace the whole database file even
    /// though it holds tables, views, triggers or indexes the backup does
    /// not; they are lost.
    #[arg(long, requires = "replace")]
    whole_file: bool,
    #[arg(long)]
    json: bool,
}

/// The engines' programs are looked for on the caller's `PATH`.
fn tools(ctx: &Context) -> Tools {
    Tools {
        path: ctx
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone()),
    }
}

fn report(bar: &Transfer) -> impl FnMut(Step<'_>) + use<> {
    let bar = bar.clone();
    move |step| match step {
        Step::Phase(what) => bar.phase(what),
        Step::Bytes { done, total } => bar.bytes(done, total),
    }
}

fn summary(file: &std::path::Path, manifest: &Manifest) -> serde_json::Value {
    json!({
        "file": file.display().to_string(),
        "profile": manifest.profile,
        "engine": manifest.engine,
        "server_version": manifest.server_version,
        "tool": manifest.tool,
        "tables": manifest.tables,
        "bytes": manifest.payload_bytes,
        "sha256": manifest.payload_sha256,
        "left_out": manifest.left_out,
    })
}

/// What the manifest's tables and rows are, in the engine's words, with
/// their counts: `2 table(s), 40 row(s)`, `3 key type(s), 19 key(s)`.
fn counted(manifest: &Manifest) -> String {
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let engine = Engine::ALL
        .into_iter()
        .find(|e| e.as_str() == manifest.engine);
    let (tables, rows_word) = match engine {
        Some(Engine::Redis) => ("key type(s)", "key(s)"),
        Some(Engine::MongoDb) => ("collection(s)", "document(s)"),
        Some(Engine::Sqlite | Engine::Postgres | Engine::Mysql | Engine::Cassandra) | None => {
            ("table(s)", "row(s)")
        }
    };
    format!("{} {tables}, {rows} {rows_word}", manifest.tables.len())
}

pub(super) async fn backup(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: BackupArgs,
) -> Result<()> {
    let (profile, password) = framework.db_connection(&args.name)?;
    let file = ctx.cwd.join(&args.file);
    let tools = tools(ctx);
    let bar = out.transfer();
    let mut progress = report(&bar);
    let destination = file.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        backup::backup(
            &profile,
            password.as_ref(),
            &destination,
            &tools,
            &mut progress,
        )
    })
    .await?;
    bar.done();
    let manifest = outcome?;
    if args.json {
        return out.json(&summary(&file, &manifest));
    }
    out.status(format_args!(
        "backed up `{}` ({} {}) to {}: {}, {} bytes, checked after writing",
        args.name,
        manifest.engine,
        manifest.server_version,
        file.display(),
        counted(&manifest),
        manifest.payload_bytes
    ));
    for what in &manifest.left_out {
        out.warning(format_args!("the backup does not hold {what}"));
    }
    Ok(())
}

pub(super) async fn restore(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: RestoreArgs,
) -> Result<()> {
    let (profile, password) = framework.db_connection(&args.name)?;
    let file = ctx.cwd.join(&args.file);
    let tools = tools(ctx);
    let bar = out.transfer();
    let mut progress = report(&bar);
    let source = file.clone();
    let options = RestoreOptions {
        replace: args.replace,
        whole_file: args.whole_file,
    };
    let outcome = tokio::task::spawn_blocking(move || {
        backup::restore(
            &profile,
            password.as_ref(),
            &source,
            options,
            &tools,
            &mut progress,
        )
    })
    .await?;
    bar.done();
    let manifest = outcome?;
    if args.json {
        return out.json(&summary(&file, &manifest));
    }
    out.status(format_args!(
        "restored {} into `{}`: {}, counts match the backup",
        file.display(),
        args.name,
        counted(&manifest)
    ));
    Ok(())
}
