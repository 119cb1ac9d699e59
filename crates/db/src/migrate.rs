//! Versioned migrations: a folder of `NNNN_name.sql` files
//! ([`lord_db_api::Migration`]) applied to a database in version order,
//! each recorded in the database's `lord_migrations` history table with
//! its checksum.
//!
//! Invariant: the history table never says a migration was applied when it
//! was not. On engines whose transactions hold schema changes (PostgreSQL,
//! SQLite) a migration and its history row are one transaction: killed
//! halfway, neither is there; a file that ends that transaction with a
//! `COMMIT` of its own is caught (a savepoint set before it is gone after
//! it) and recorded as `started`, as below. On MySQL/MariaDB, which commit each DDL
//! statement as it runs, the row is written as `started` before the
//! migration and turned `applied` after it; a migration killed or failed
//! halfway stays `started`, and `up` and `down` refuse to go on until
//! someone has looked at the database and settled it.
//!
//! Invariant: nothing runs while an applied migration's file differs from
//! what was applied (its checksum); the error names the file.
//!
//! Invariant: one migrator at a time per database: `up` and `down` hold a
//! server lock (PostgreSQL's advisory lock, MySQL's `GET_LOCK` named after
//! the database, as its names are the whole server's) while they read the
//! history and run migrations; migrators of other databases do not wait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lord_db_api::{
    DbError, Engine, Migration, MigrationName, SqlSession, Value, in_transaction,
    migration_file_name,
};
use serde::Serialize;

/// The history table's name, in every database lord migrates.
pub const HISTORY_TABLE: &str = "lord_migrations";

const APPLIED: &str = "applied";
const STARTED: &str = "started";

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    version: u64,
    name: String,
    checksum: String,
    applied_at: String,
    state: String,
}

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Pending,
    Applied,
    /// Applied, but its file changed since.
    Changed,
    /// Applied, and its file is gone.
    Missing,
    /// Begun on an engine without transactional DDL and not finished.
    Started,
}

/// One line of `lord db migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub version: u64,
    pub name: String,
    pub file: Option<String>,
    pub state: State,
    pub applied_at: Option<String>,
}

/// Reads the migration files in `dir`, in version order. Two files of one
/// version are refused, naming both.
pub fn read_folder(dir: &Path) -> Result<Vec<Migration>, DbError> {
    let io = |what: String| move |source| DbError::Io { what, source };
    let entries = std::fs::read_dir(dir).map_err(io(format!(
        "cannot read the migrations folder `{}` (make one with `lord db migrate new NAME`)",
        dir.display()
    )))?;
    let mut found: BTreeMap<u64, Migration> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(io(format!("cannot list `{}`", dir.display())))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".sql") {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .map_err(io(format!("cannot read `{}`", entry.path().display())))?;
        let Some(migration) = Migration::parse(&file, &bytes)? else {
            continue;
        };
        if let Some(other) = found.get(&migration.version) {
            return Err(DbError::Migration(format!(
                "`{}` and `{}` have the same version {}; renumber one",
                other.file, migration.file, migration.version
            )));
        }
        found.insert(migration.version, migration);
    }
    Ok(found.into_values().collect())
}

/// Writes a new migration `name` in `dir` (made if missing), numbered
/// after the highest there; returns its path.
pub fn new_migration(dir: &Path, name: &str) -> Result<PathBuf, DbError> {
    let name = MigrationName::parse(name)?;
    std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
        what: format!("cannot make the migrations folder `{}`", dir.display()),
        source,
    })?;
    let next = read_folder(dir)?.last().map_or(1, |m| m.version + 1);
    let path = dir.join(migration_file_name(next, &name));
    lord_file::write_atomic(&path, name.template().as_bytes())
        .map_err(|e| DbError::Migration(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(path)
}

/// The SQL for "now" as text, on each engine.
fn now(engine: Engine) -> Result<&'static str, DbError> {
    Ok(match engine {
        Engine::Sqlite => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
        Engine::Postgres => "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        Engine::Mysql => "DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ')",
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => return Err(not_sql(engine)),
    })
}

/// The error for a migration asked of an engine without SQL.
pub fn not_sql(engine: Engine) -> DbError {
    DbError::Migration(format!(
        "migrations are for the SQL engines (sqlite, postgres, mysql); {engine} has no \
         migrations lord runs"
    ))
}

fn ensure_history(session: &mut dyn SqlSession) -> Result<(), DbError> {
    session.run_script(&format!(
        "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         name VARCHAR(200) NOT NULL, \
         checksum VARCHAR(64) NOT NULL, \
         applied_at VARCHAR(40) NOT NULL, \
         state VARCHAR(16) NOT NULL)"
    ))
}

fn history(session: &mut dyn SqlSession) -> Result<Vec<Applied>, DbError> {
    ensure_history(session)?;
    let rows = session.run(
        &format!(
            "SELECT version, name, checksum, applied_at, state FROM {HISTORY_TABLE} \
             ORDER BY version"
        ),
        &[],
    )?;
    Ok(rows
        .rows
        .iter()
        .map(|r| Applied {
            version: r[0]
                .as_i64()
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            name: r[1].as_text().unwrap_or_default(),
            checksum: r[2].as_text().unwrap_or_default(),
            applied_at: r[3].as_text().unwrap_or_default(),
            state: r[4].as_text().unwrap_or_default(),
        })
        .collect())
}

/// Every migration, local or applied, with where it stands.
pub fn status(session: &mut dyn SqlSession, dir: &Path) -> Result<Vec<Status>, DbError> {
    let local = read_folder(dir)?;
    let applied = history(session)?;
    Ok(merge(&local, &applied))
}

fn merge(local: &[Migration], applied: &[Applied]) -> Vec<Status> {
    let mut out: BTreeMap<u64, Status> = BTreeMap::new();
    for m in local {
        out.insert(
            m.version,
            Status {
                version: m.version,
                name: m.name.clone(),
                file: Some(m.file.clone()),
                state: State::Pending,
                applied_at: None,
            },
        );
    }
    for a in applied {
        let file = local.iter().find(|m| m.version == a.version);
        let state = match file {
            _ if a.state == STARTED => State::Started,
            None => State::Missing,
            Some(m) if m.checksum != a.checksum => State::Changed,
            Some(_) => State::Applied,
        };
        out.insert(
            a.version,
            Status {
                version: a.version,
                name: a.name.clone(),
                file: file.map(|m| m.file.clone()),
                state,
                applied_at: Some(a.applied_at.clone()),
            },
        );
    }
    out.into_values().collect()
}

/// Refuses to go on when the history says a migration's file changed
/// since it was applied, or a migration was left half done.
fn check(statuses: &[Status], profile: &str) -> Result<(), DbError> {
    for s in statuses {
        let file = s
            .file
            .clone()
            .unwrap_or_else(|| format!("version {}", s.version));
        match s.state {
            State::Changed => {
                return Err(DbError::Migration(format!(
                    "the migration file `{file}` changed after it was applied to `{profile}`; \
                     put it back as it was, and make the change in a new migration \
                     (`lord db migrate new NAME`)"
                )));
            }
            State::Started => {
                return Err(DbError::Migration(format!(
                    "the migration `{file}` was started on `{profile}` and did not finish \
                     (going up or down), so part of it may be in place (this engine commits \
                     schema changes as they run, or the file ended lord's transaction with a \
                     COMMIT of its own). Check the database, then settle it by hand: \
                     if its up part is now wholly in place, mark it applied with `lord db \
                     query {profile} \"UPDATE {HISTORY_TABLE} SET state = 'applied' WHERE \
                     version = {v}\"`; if none of it is, forget the attempt with `lord db \
                     query {profile} \"DELETE FROM {HISTORY_TABLE} WHERE version = {v}\"`",
                    v = s.version
                )));
            }
            State::Missing => {
                return Err(DbError::Migration(format!(
                    "the migration {} (`{}`) was applied to `{profile}` but its file is no \
                     longer in the migrations folder; put it back as it was (a file renamed or \
                     renumbered would be applied a second time)",
                    s.version, s.name
                )));
            }
            State::Pending | State::Applied => {}
        }
    }
    // A pending migration numbered below one already applied would run
    // out of the order the others were written in.
    let newest = statuses
        .iter()
        .filter(|s| s.state != State::Pending)
        .map(|s| s.version)
        .max();
    if let Some(newest) = newest
        && let Some(late) = statuses
            .iter()
            .find(|s| s.state == State::Pending && s.version < newest)
    {
        return Err(DbError::Migration(format!(
            "the migration `{}` is numbered {}, below {newest}, which `{profile}` already \
             applied; give it a number above {newest} (rename the file) so migrations run in \
             the order they were written",
            late.file.clone().unwrap_or_default(),
            late.version
        )));
    }
    Ok(())
}

/// The key of the server-side lock that lets one migrator at a time work
/// on a database (PostgreSQL's advisory locks take a number).
const LOCK_KEY: i64 = 0x006c_6f72_646d_6967; // "lordmig"

/// How long a migrator waits for another to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Runs `work` holding the database's migration lock, so two `lord db
/// migrate` runs at once take turns and the second reads the history the
/// first left. The lock is the session's: a migrator killed while holding
/// it loses it with its connection. SQLite takes none: its writers are
/// already one at a time, and a second migrator fails on the history's key
/// rather than applying a migration twice.
fn locked<T>(
    session: &mut dyn SqlSession,
    work: impl FnOnce(&mut dyn SqlSession) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let (lock, unlock, params) = match session.engine() {
        Engine::Sqlite => return work(session),
        // Advisory locks are the database's own.
        Engine::Postgres => (
            format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
            format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
            Vec::new(),
        ),
        // `GET_LOCK` names are the whole server's: the name carries the
        // database's, read once so a migration's `USE` cannot change the
        // name released.
        Engine::Mysql => (
            "SELECT GET_LOCK(?, 0)".to_owned(),
            "SELECT RELEASE_LOCK(?)".to_owned(),
            vec![Value::Text(mysql_lock_name(session)?)],
        ),
        engine @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => {
            return Err(not_sql(engine));
        }
    };
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let got = session.run(&lock, &params)?;
        // `true` from PostgreSQL, 1 from MySQL: the lock is ours.
        let cell = got.rows.first().and_then(|r| r.first());
        if matches!(cell, Some(Value::Bool(true))) || cell.and_then(Value::as_i64) == Some(1) {
            break;
        }
        if Instant::now() > deadline {
            return Err(DbError::Migration(format!(
                "another migrator has held the database's migration lock for {} s (a `lord db \
                 migrate` still running, or a migration the server is still running after its \
                 client went away); let it finish or end it, then run this again",
                LOCK_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcome = work(session);
    let released = session.run(&unlock, &params);
    match (outcome, released) {
        (Ok(value), Ok(_)) => Ok(value),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// The name of the session's database's migration lock on MySQL/MariaDB:
/// `lord_migrations.` and the database's name, or, for a name too long for
/// `GET_LOCK`'s 64 characters, the start of its SHA-256.
fn mysql_lock_name(session: &mut dyn SqlSession) -> Result<String, DbError> {
    let named = session.run(
        "SELECT CONCAT('lord_migrations.', IF(CHAR_LENGTH(DATABASE()) <= 48, DATABASE(), \
         LEFT(SHA2(DATABASE(), 256), 48)))",
        &[],
    )?;
    // No database chosen (NULL): the history table cannot be reached
    // either, and that error will say so.
    Ok(named
        .rows
        .first()
        .and_then(|r| r.first())
        .filter(|name| **name != Value::Null)
        .map_or_else(|| HISTORY_TABLE.to_owned(), Value::display))
}

fn version_param(version: u64) -> Result<Value, DbError> {
    i64::try_from(version)
        .map(Value::Int)
        .map_err(|_| DbError::Migration(format!("version {version} is too large")))
}

/// Applies the pending migrations up to `to` (all when `None`), in
/// version order; `before` hears of each before it runs. Returns the
/// versions applied.
pub fn up(
    session: &mut dyn SqlSession,
    profile: &str,
    dir: &Path,
    to: Option<u64>,
    before: impl FnMut(&Migration),
) -> Result<Vec<u64>, DbError> {
    locked(session, |s| up_locked(s, profile, dir, to, before))
}

fn up_locked(
    session: &mut dyn SqlSession,
    profile: &str,
    dir: &Path,
    to: Option<u64>,
    mut before: impl FnMut(&Migration),
) -> Result<Vec<u64>, DbError> {
    let local = read_folder(dir)?;
    let applied = history(session)?;
    check(&merge(&local, &applied), profile)?;
    let engine = session.engine();
    let mut done = Vec::new();
    for m in local
        .iter()
        .filter(|m| to.is_none_or(|to| m.version <= to))
        .filter(|m| applied.iter().all(|a| a.version != m.version))
    {
        before(m);
        let p = |n| engine.placeholder(n);
        let insert = format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, checksum, applied_at, state) \
             VALUES ({}, {}, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            now(engine)?,
            p(4)
        );
        let row = |state: &str| -> Result<Vec<Value>, DbError> {
            Ok(vec![
                version_param(m.version)?,
                Value::Text(m.name.clone()),
                Value::Text(m.checksum.clone()),
                Value::Text(state.to_owned()),
            ])
        };
        if engine.transactional_ddl() {
            with_history(
                session,
                (&m.up, &m.file, profile),
                |s| s.run(&insert, &row(APPLIED)?).map(drop),
                |s| s.run(&insert, &row(STARTED)?).map(drop),
            )?;
        } else {
            session.run(&insert, &row(STARTED)?)?;
            run_part(session, &m.up).map_err(|e| {
                DbError::Migration(format!(
                    "the migration `{}` failed part way on `{profile}`: {e}. This engine \
                     commits schema changes as they run, so the statements before the failure \
                     stay applied; the history records the migration as started",
                    m.file
                ))
            })?;
            session.run(
                &format!(
                    "UPDATE {HISTORY_TABLE} SET state = {}, applied_at = {} WHERE version = {}",
                    p(1),
                    now(engine)?,
                    p(2)
                ),
                &[Value::Text(APPLIED.to_owned()), version_param(m.version)?],
            )?;
        }
        done.push(m.version);
    }
    Ok(done)
}

/// Reverts the newest `steps` applied migrations, newest first; `before`
/// hears of each before it runs. Returns the versions reverted.
pub fn down(
    session: &mut dyn SqlSession,
    profile: &str,
    dir: &Path,
    steps: usize,
    before: impl FnMut(&Migration),
) -> Result<Vec<u64>, DbError> {
    locked(session, |s| down_locked(s, profile, dir, steps, before))
}

fn down_locked(
    session: &mut dyn SqlSession,
    profile: &str,
    dir: &Path,
    steps: usize,
    mut before: impl FnMut(&Migration),
) -> Result<Vec<u64>, DbError> {
    let local = read_folder(dir)?;
    let applied = history(session)?;
    check(&merge(&local, &applied), profile)?;
    let engine = session.engine();
    let delete = format!(
        "DELETE FROM {HISTORY_TABLE} WHERE version = {}",
        engine.placeholder(1)
    );
    let mut done = Vec::new();
    for a in applied.iter().rev().take(steps) {
        let m = local
            .iter()
            .find(|m| m.version == a.version)
            .ok_or_else(|| {
                DbError::Migration(format!(
                    "the migration {} (`{}`) is applied to `{profile}` but its file is not in the \
                 folder, so there is no down part to run",
                    a.version, a.name
                ))
            })?;
        before(m);
        let version = version_param(m.version)?;
        let mark_started = format!(
            "UPDATE {HISTORY_TABLE} SET state = {} WHERE version = {}",
            engine.placeholder(1),
            engine.placeholder(2)
        );
        let started = [Value::Text(STARTED.to_owned()), version.clone()];
        if engine.transactional_ddl() {
            with_history(
                session,
                (&m.down, &m.file, profile),
                |s| s.run(&delete, std::slice::from_ref(&version)).map(drop),
                |s| s.run(&mark_started, &started).map(drop),
            )?;
        } else {
            session.run(&mark_started, &started)?;
            run_part(session, &m.down).map_err(|e| {
                DbError::Migration(format!(
                    "reverting `{}` failed part way on `{profile}`: {e}. This engine commits \
                     schema changes as they run; the history records the migration as started",
                    m.file
                ))
            })?;
            session.run(&delete, &[version])?;
        }
        done.push(m.version);
    }
    Ok(done)
}

/// The savepoint each migration part runs under, to tell whether the part
/// ended lord's transaction.
const SAVEPOINT: &str = "lord_migration_part";

/// Runs one migration part and `record`s it in the history, in one
/// transaction. A part that ends that transaction itself (a `COMMIT` or
/// `ROLLBACK` of its own, common in files written for other tools) would
/// leave what ran before it committed apart from the history: the part
/// runs under a savepoint, and when the savepoint is gone after it the
/// history records the migration as `started` (with
/// `mark_started`, outside any transaction), so nothing runs on until
/// someone has settled it, and the error says why.
fn with_history(
    session: &mut dyn SqlSession,
    (part, file, profile): (&str, &str, &str),
    record: impl FnOnce(&mut dyn SqlSession) -> Result<(), DbError>,
    mark_started: impl FnOnce(&mut dyn SqlSession) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let mut ended = false;
    let outcome = in_transaction(session, |s| {
        s.run_script(&format!("SAVEPOINT {SAVEPOINT}"))?;
        let ran = run_part(s, part);
        // The savepoint lives only in lord's transaction: gone, the part
        // ended it, even if it began another of its own (`COMMIT; BEGIN;`).
        // Outside any transaction, releasing it fails as well.
        let kept = match &ran {
            Ok(()) => s.run_script(&format!("RELEASE SAVEPOINT {SAVEPOINT}")),
            Err(_) => s.run_script(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}")),
        };
        if kept.is_err() {
            ended = true;
            return Err(DbError::Migration(String::new()));
        }
        ran?;
        record(s)
    });
    if !ended {
        return outcome;
    }
    // Whatever the part began after its own COMMIT is rolled back with
    // lord's rollback above; what came before it stays.
    mark_started(session)?;
    Err(DbError::Migration(format!(
        "the migration `{file}` ends lord's transaction itself on `{profile}` (a COMMIT or \
         ROLLBACK in the file): what ran before a COMMIT stays applied, and the history records \
         the migration as started. lord runs each migration in a transaction of its own; take \
         the transaction statements out of the file, then settle the history (`lord db migrate \
         up` says how)"
    )))
}

/// Runs a migration part, unless it holds no statement (see
/// [`lord_db_api::holds_statements`]).
fn run_part(session: &mut dyn SqlSession, part: &str) -> Result<(), DbError> {
    if lord_db_api::holds_statements(part) {
        session.run_script(part)
    } else {
        Ok(())
    }
}
