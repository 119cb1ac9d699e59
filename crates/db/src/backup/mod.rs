//! `lord db backup` and `lord db restore`: one file per backup, written
//! atomically and checked after writing, restored only after it checks out.
//!
//! Each engine dumps with what dumps it faithfully: SQLite with its online
//! backup API (`sqlite.rs`), PostgreSQL with `pg_dump --format=custom` and
//! `pg_restore` (`postgres.rs`), MySQL/MariaDB with `mariadb-dump` (or
//! `mysqldump`) and the `mariadb` (or `mysql`) client (`mysql.rs`). Their
//! programs know every column type, index, view, sequence and routine of
//! their engine; lord's job is to find them, check their versions against
//! the server's, hand them the password through their environment, and
//! wrap what they write in lord's file (`archive.rs`): a manifest (engine,
//! server version, tables with their row counts, the dump's checksum) and
//! the dump itself.
//!
//! Redis and MongoDB have no dump program lord could wrap that keeps
//! every value exactly and runs without a server of its own (`redis-cli
//! --rdb` needs replication rights and returns the whole instance;
//! `mongodump` is a separate install), so lord dumps them itself, through
//! the servers' own serializations: Redis's `DUMP` per key (`redis.rs`)
//! and MongoDB's raw BSON per document (`mongo.rs`), each in a
//! length-prefixed stream of lord's. Each of those modules has the same
//! four parts (dump, check, held, load) as the SQL ones, and restores
//! through a session of its own capability rather than a SQL one.
//! Cassandra is refused, naming its own tool.

mod archive;
#[cfg(feature = "mongodb")]
mod mongo;
mod mysql;
mod postgres;
mod redis;
mod sqlite;
mod tool;

/// A build without the MongoDB driver refuses MongoDB backups, saying so.
#[cfg(not(feature = "mongodb"))]
mod mongo {
    use lord_db_api::{Password, Profile};

    use super::{BackupError, Dumped, RestoreOptions, Step, archive};

    fn left_out() -> BackupError {
        BackupError::NoTool(
            "this build of lord was made without the MongoDB driver (cargo feature `mongodb`), \
             which MongoDB backups need; use a build with it"
                .to_owned(),
        )
    }

    pub(super) fn dump(
        profile: &Profile,
        password: Option<&Password>,
        _: &mut std::fs::File,
        _: &mut dyn FnMut(Step<'_>),
    ) -> Result<Dumped, BackupError> {
        // The profile's own refusal names it and the feature.
        crate::open(profile, password)?;
        Err(left_out())
    }

    pub(super) fn check(_: &mut archive::Opened) -> Result<(), BackupError> {
        Err(left_out())
    }

    pub(super) fn restore(
        profile: &Profile,
        password: Option<&Password>,
        _: &mut archive::Opened,
        _: RestoreOptions,
        _: &mut dyn FnMut(Step<'_>),
    ) -> Result<(), BackupError> {
        crate::open(profile, password)?;
        Err(left_out())
    }
}

use std::path::{Path, PathBuf};

use lord_db_api::{DbError, Engine, Password, Profile, SqlSession};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a backup file says about itself, ahead of the dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The engine's word (`sqlite`, `postgres`, `mysql`, `redis`,
    /// `mongodb`).
    pub engine: String,
    /// The server's version as it reports it.
    pub server_version: String,
    /// The program that dumped it, as it names itself.
    pub tool: String,
    /// The profile it was taken from.
    pub profile: String,
    /// When it was taken, in seconds since 1970 (UTC).
    pub created: u64,
    /// Every table with data, and how many rows it held in the dump.
    pub tables: Vec<TableRows>,
    pub payload_bytes: u64,
    /// What the dump does not hold, and why (MySQL's events when the
    /// user may not read them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    /// SHA-256 of the dump, in hex.
    pub payload_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    /// The table's name (`schema.table` on PostgreSQL; a key type such as
    /// `hash` on Redis, its keys counted as rows; a collection on MongoDB,
    /// its documents counted as rows).
    pub name: String,
    /// Its PostgreSQL schema, apart, since either part may hold a `.`.
    /// Files written before it was kept lack it: their `name` is split at
    /// its first `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub rows: u64,
}

impl TableRows {
    /// The schema (PostgreSQL only) and the table's own name.
    pub(crate) fn parts(&self, engine: Engine) -> (Option<&str>, &str) {
        match (&self.schema, engine) {
            (Some(schema), _) => {
                let table = self
                    .name
                    .strip_prefix(schema.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .unwrap_or(&self.name);
                (Some(schema), table)
            }
            (None, Engine::Postgres) => match self.name.split_once('.') {
                Some((schema, table)) => (Some(schema), table),
                None => (None, &self.name),
            },
            (
                None,
                Engine::Sqlite
                | Engine::Mysql
                | Engine::Redis
                | Engine::MongoDb
                | Engine::Cassandra,
            ) => (None, &self.name),
        }
    }
}

/// Where a long backup or restore has got to.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A new phase began (`dumping`, `checking the file`, `restoring`).
    Phase(&'a str),
    /// Bytes written or read so far, of `total` when it is known.
    Bytes { done: u64, total: Option<u64> },
}

/// Where the engines' programs are looked for: the `PATH` of the caller's
/// environment (read by the binary, handed down).
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub path: Option<String>,
}

/// What can keep a backup from being written or a restore from being made.
#[derive(Debug, Error)]
pub enum BackupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a whole lord backup; nothing was restored.
    #[error(
        "`{}` is not a usable lord backup: {message}; nothing was restored (take the backup again, or use another copy)",
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "`{}` is a backup of a {found} database, and the profile `{profile}` is {expected}; restore it into a {found} profile",
        path.display()
    )]
    WrongEngine {
        path: PathBuf,
        found: String,
        profile: String,
        expected: &'static str,
    },
    #[error(
        "the database of the profile `{profile}` is not empty ({what}); restore into an empty database, or pass `--replace` to restore over it"
    )]
    NotEmpty { profile: String, what: String },
    /// A dump or load program that is missing or too old; what to install.
    #[error("{0}")]
    NoTool(String),
    /// A request that would destroy what it works on.
    #[error("{0}")]
    Refused(String),
    /// The target's server cannot read what the backup holds (a Redis
    /// older than the one that dumped it); nothing was restored.
    #[error("{0}")]
    Incompatible(String),
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    /// The file just written did not check out; it was not put in place.
    #[error(
        "the backup written for `{}` did not check out after writing ({message}); the destination was left as it was",
        path.display()
    )]
    Unverified { path: PathBuf, message: String },
    #[error(
        "the restore into the profile `{profile}` finished, but its row counts differ from the backup's: {differences}; the database holds what was loaded, and something else changed it (a trigger, or another client writing to it): stop those writers and run `lord db restore {profile} FILE --replace` again"
    )]
    Counts {
        profile: String,
        differences: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What an engine's dump produced, before it is wrapped.
pub(crate) struct Dumped {
    server_version: String,
    tool: String,
    tables: Vec<TableRows>,
    left_out: Vec<String>,
}

/// Backs up the database of `profile` to `destination`: dumped to a
/// temporary file beside it, wrapped with its manifest, synced, read back
/// and checked, then renamed over `destination`.
pub fn backup(
    profile: &Profile,
    password: Option<&Password>,
    destination: &Path,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Manifest, BackupError> {
    if profile.engine == Engine::Sqlite && same_file(&profile.sqlite_path()?, destination) {
        return Err(BackupError::Refused(format!(
            "`{}` is the database of the profile `{}` itself; write the backup to another file",
            destination.display(),
            profile.name
        )));
    }
    let mut dump = archive::Pending::new(destination)?;
    progress(Step::Phase("dumping"));
    let dumped = match profile.engine {
        Engine::Sqlite => sqlite::dump(profile, dump.path(), progress)?,
        Engine::Postgres => postgres::dump(profile, password, dump.file(), tools, progress)?,
        Engine::Mysql => mysql::dump(profile, password, dump.file(), tools, progress)?,
        Engine::Redis => redis::dump(profile, password, dump.file(), progress)?,
        Engine::MongoDb => mongo::dump(profile, password, dump.file(), progress)?,
        Engine::Cassandra => return Err(not_backed_up(profile.engine)),
    };
    let (payload_bytes, payload_sha256) = hash_file(dump.path())?;
    let manifest = Manifest {
        format: archive::FORMAT,
        engine: profile.engine.as_str().to_owned(),
        server_version: dumped.server_version,
        tool: dumped.tool,
        profile: profile.name.to_string(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        tables: dumped.tables,
        left_out: dumped.left_out,
        payload_bytes,
        payload_sha256,
    };
    progress(Step::Phase("writing"));
    let mut file = archive::Pending::new(destination)?;
    let mut payload = std::fs::File::open(dump.path()).map_err(io("reading the dump"))?;
    archive::write(
        &mut std::io::BufWriter::new(file.file()),
        &manifest,
        &mut payload,
    )
    .map_err(io(format!("writing `{}`", destination.display())))?;
    drop(payload);
    drop(dump);
    progress(Step::Phase("checking the file"));
    file.file().sync_all().map_err(io("syncing the backup"))?;
    let unverified = |e: BackupError| BackupError::Unverified {
        path: destination.to_owned(),
        message: e.to_string(),
    };
    let mut written = archive::open(file.path()).map_err(unverified)?;
    if written.manifest != manifest {
        return Err(BackupError::Unverified {
            path: destination.to_owned(),
            message: "its manifest reads back differently".to_owned(),
        });
    }
    check(&mut written, archive::folder(destination), tools).map_err(unverified)?;
    drop(written);
    file.commit()?;
    Ok(manifest)
}

/// Reads the backup at `path` and checks it: its checksums, and that the
/// dump holds what its manifest says (per engine).
pub fn inspect(path: &Path, tools: &Tools) -> Result<Manifest, BackupError> {
    let mut opened = archive::open(path)?;
    check(&mut opened, archive::folder(path), tools)?;
    Ok(opened.manifest)
}

/// What a restore may do to the target.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Restore over a database that holds objects already.
    pub replace: bool,
    /// On SQLite, where a restore replaces the whole database file,
    /// replace it even when it holds tables, views, triggers or indexes the
    /// backup does not (they are lost). Without it such a restore is
    /// refused, naming them.
    pub whole_file: bool,
}

/// Restores the backup at `path` into the database of `profile`: the
/// file is checked first, and nothing is touched unless it checks out, is
/// of the profile's engine, and the target is empty (or `replace`);
/// after loading, each table's row count (each key type's count on Redis,
/// each collection's document count on MongoDB) is compared with the
/// manifest.
pub fn restore(
    profile: &Profile,
    password: Option<&Password>,
    path: &Path,
    options: RestoreOptions,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Manifest, BackupError> {
    progress(Step::Phase("checking the file"));
    let mut opened = archive::open(path)?;
    if opened.manifest.engine != profile.engine.as_str() {
        return Err(BackupError::WrongEngine {
            path: path.to_owned(),
            found: opened.manifest.engine.clone(),
            profile: profile.name.to_string(),
            expected: profile.engine.as_str(),
        });
    }
    let scratch = match profile.engine {
        Engine::Sqlite => archive::folder(&profile.sqlite_path()?).to_owned(),
        Engine::Postgres | Engine::Mysql | Engine::Redis | Engine::MongoDb => {
            archive::folder(path).to_owned()
        }
        Engine::Cassandra => return Err(not_backed_up(profile.engine)),
    };
    // A SQLite dump is written out once, checked, and that very file is
    // what is restored.
    let checked = check(&mut opened, &scratch, tools)?;
    match profile.engine {
        Engine::Sqlite | Engine::Postgres | Engine::Mysql => {}
        Engine::Redis => {
            redis::restore(profile, password, &mut opened, options, progress)?;
            return Ok(opened.manifest);
        }
        Engine::MongoDb => {
            mongo::restore(profile, password, &mut opened, options, progress)?;
            return Ok(opened.manifest);
        }
        Engine::Cassandra => return Err(not_backed_up(profile.engine)),
    }
    let mut session = crate::connect(profile, password)?;
    if !options.replace {
        let held = match profile.engine {
            Engine::Sqlite => sqlite::held(&mut *session)?,
            Engine::Postgres => postgres::held(&mut *session)?,
            Engine::Mysql => mysql::held(&mut *session)?,
            Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
                return Err(not_backed_up(profile.engine));
            }
        };
        if let Some(what) = held {
            return Err(BackupError::NotEmpty {
                profile: profile.name.to_string(),
                what,
            });
        }
    }
    progress(Step::Phase("restoring"));
    let replace = options.replace;
    match profile.engine {
        Engine::Sqlite => {
            let guard = replace && !options.whole_file;
            let checked = checked.ok_or_else(|| BackupError::Corrupt {
                path: path.to_owned(),
                message: "its dump was not checked as a SQLite database".to_owned(),
            })?;
            sqlite::load(profile, &checked, guard, progress)?
        }
        Engine::Postgres => {
            postgres::load(profile, password, &mut opened, replace, tools, progress)?
        }
        Engine::Mysql => mysql::load(profile, password, &mut opened, tools, progress)?,
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            return Err(not_backed_up(profile.engine));
        }
    }
    progress(Step::Phase("counting rows"));
    compare_counts(profile, &mut *session, &opened.manifest)?;
    Ok(opened.manifest)
}

/// The engine's own check of a dump against its manifest; for SQLite, the
/// database it wrote out and checked.
fn check(
    opened: &mut archive::Opened,
    scratch: &Path,
    tools: &Tools,
) -> Result<Option<sqlite::Checked>, BackupError> {
    let engine = Engine::ALL
        .into_iter()
        .find(|e| e.as_str() == opened.manifest.engine);
    let path = opened.path.clone();
    let corrupt = |message: String| BackupError::Corrupt { path, message };
    let outcome = match engine {
        Some(Engine::Sqlite) => sqlite::check(opened, scratch).map(Some),
        Some(Engine::Postgres) => postgres::check(opened, tools).map(|()| None),
        Some(Engine::Mysql) => mysql::check(opened).map(|()| None),
        Some(Engine::Redis) => redis::check(opened).map(|()| None),
        Some(Engine::MongoDb) => mongo::check(opened).map(|()| None),
        Some(engine @ Engine::Cassandra) => {
            return Err(corrupt(format!(
                "it claims to be a backup of {}, which `lord db backup` does not write",
                engine.as_str()
            )));
        }
        None => {
            return Err(corrupt(format!(
                "it is a backup of an engine this lord does not know (`{}`)",
                opened.manifest.engine
            )));
        }
    };
    // A program that cannot read the dump, or a read that fails, says the
    // file is not usable; a missing program is said as such.
    outcome.map_err(|e| match e {
        BackupError::Corrupt { .. }
        | BackupError::NoTool(_)
        | BackupError::Refused(_)
        | BackupError::Incompatible(_)
        | BackupError::Db(_)
        | BackupError::WrongEngine { .. }
        | BackupError::NotEmpty { .. }
        | BackupError::Unverified { .. }
        | BackupError::Counts { .. } => e,
        BackupError::Io { .. } | BackupError::Tool { .. } => corrupt(e.to_string()),
    })
}

/// A table name quoted for `engine`, with its schema when it has one.
fn quoted(engine: Engine, schema: Option<&str>, table: &str) -> String {
    let quote = |part: &str, q: char| format!("{q}{}{q}", part.replace(q, &format!("{q}{q}")));
    let q = match engine {
        Engine::Sqlite | Engine::Postgres => '"',
        Engine::Mysql => '`',
        // Only the SQL engines are backed up; CQL quotes as SQL does.
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => '"',
    };
    match schema {
        Some(schema) => format!("{}.{}", quote(schema, q), quote(table, q)),
        None => quote(table, q),
    }
}

/// The refusal for an engine `lord db backup` has no dump for, naming the
/// engine's own tool.
fn not_backed_up(engine: Engine) -> BackupError {
    let tool = match engine {
        Engine::Cassandra => "`nodetool snapshot`",
        Engine::Sqlite | Engine::Postgres | Engine::Mysql | Engine::Redis | Engine::MongoDb => {
            "its own dump program"
        }
    };
    BackupError::Refused(format!(
        "`lord db backup` and `lord db restore` handle SQLite, PostgreSQL, MySQL/MariaDB, Redis and MongoDB; back up a {} database with {tool}",
        engine.as_str()
    ))
}

/// How many rows `table` (in `schema`) holds. The name comes from the
/// engine's catalogue or the manifest and is quoted as an identifier; no
/// value is spliced.
pub(crate) fn count(
    session: &mut dyn SqlSession,
    schema: Option<&str>,
    table: &str,
) -> Result<u64, DbError> {
    let rows = session.run(
        &format!(
            "SELECT COUNT(*) FROM {}",
            quoted(session.engine(), schema, table)
        ),
        &[],
    )?;
    Ok(rows
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(lord_db_api::Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_default())
}

fn compare_counts(
    profile: &Profile,
    session: &mut dyn SqlSession,
    manifest: &Manifest,
) -> Result<(), BackupError> {
    let mut differences = Vec::new();
    for table in &manifest.tables {
        let (schema, name) = table.parts(session.engine());
        match count(session, schema, name) {
            Ok(n) if n == table.rows => {}
            Ok(n) => differences.push(format!(
                "`{}` has {n} row(s), the backup {}",
                table.name, table.rows
            )),
            Err(e) => differences.push(format!("`{}` cannot be counted: {e}", table.name)),
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(BackupError::Counts {
            profile: profile.name.to_string(),
            differences: differences.join("; "),
        })
    }
}

/// Whether `a` and `b` name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), _) | (_, Err(_)) => false,
    }
}

fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path).map_err(io("reading the dump"))?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io("reading the dump"))?;
    Ok((bytes, hex::encode(hasher.finalize())))
}
