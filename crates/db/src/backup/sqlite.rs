//! SQLite: the online backup API copies the database page by page into a
//! temporary file while other connections keep reading and writing (a
//! write restarts the copy, so the result is one consistent state); the
//! copy is checked with `PRAGMA integrity_check` and its tables counted.
//! A restore copies the checked file into the target the same way, so a
//! connection open on the target sees the old database or the new one;
//! the whole file is replaced, so a `--replace` over a target holding
//! tables, views, triggers or indexes the backup does not is refused unless
//! the caller accepts that.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use lord_db_api::{DbError, Profile, SqlSession};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{BackupError, Dumped, Step, TableRows, archive, io};

/// Pages copied per step: small enough for progress and for writers to
/// get in between.
const PAGES_PER_STEP: i32 = 256;

fn engine_error(profile: &str, e: &rusqlite::Error) -> BackupError {
    BackupError::Db(DbError::Engine {
        profile: profile.to_owned(),
        engine: "sqlite",
        message: e.to_string(),
    })
}

/// Copies `from` into `to` with the backup API, reporting bytes; waits
/// out another connection's lock up to `patience`.
fn copy(
    from: &Connection,
    to: &mut Connection,
    patience: Duration,
    progress: &mut dyn FnMut(Step<'_>),
) -> rusqlite::Result<()> {
    let page_size: i64 = from.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let page_size = u64::try_from(page_size).unwrap_or_default();
    let backup = Backup::new(from, to)?;
    let mut waited_since: Option<Instant> = None;
    loop {
        let step = backup.step(PAGES_PER_STEP)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or_default() * page_size;
        let left = u64::try_from(p.remaining).unwrap_or_default() * page_size;
        progress(Step::Bytes {
            done: total.saturating_sub(left),
            total: Some(total),
        });
        match step {
            StepResult::Done => return Ok(()),
            StepResult::More => waited_since = None,
            StepResult::Busy | StepResult::Locked => {
                let since = *waited_since.get_or_insert_with(Instant::now);
                if since.elapsed() > patience {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("another connection held the database locked too long".into()),
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Every table's row count, after `PRAGMA integrity_check` says `ok`.
fn checked_counts(conn: &Connection) -> rusqlite::Result<Result<Vec<TableRows>, String>> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Ok(Err(format!("SQLite's integrity check says: {verdict}")));
    }
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
         ESCAPE '\\' ORDER BY name",
    )?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for name in names {
        let sql = format!(
            "SELECT COUNT(*) FROM {}",
            super::quoted(lord_db_api::Engine::Sqlite, None, &name)
        );
        let rows: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        tables.push(TableRows {
            name,
            schema: None,
            rows: u64::try_from(rows).unwrap_or_default(),
        });
    }
    Ok(Ok(tables))
}

pub(super) fn dump(
    profile: &Profile,
    into: &Path,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Dumped, BackupError> {
    let name = profile.name.as_str();
    let path = profile.sqlite_path()?;
    // Read-only: a backup never creates the database it was pointed at.
    let from = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        BackupError::Db(DbError::Connect {
            profile: name.to_owned(),
            engine: "sqlite",
            message: format!("{e} (file `{}`)", path.display()),
        })
    })?;
    let fail = |e: rusqlite::Error| engine_error(name, &e);
    from.busy_timeout(profile.connect_timeout).map_err(fail)?;
    let mut to = Connection::open(into).map_err(fail)?;
    copy(&from, &mut to, profile.connect_timeout, progress).map_err(fail)?;
    // The copy keeps the source's journal mode; a WAL copy would leave
    // `-wal` files beside every temporary file that opens it.
    to.pragma_update(None, "journal_mode", "DELETE")
        .map_err(fail)?;
    let tables = checked_counts(&to)
        .map_err(fail)?
        .map_err(|message| BackupError::Tool {
            tool: "the SQLite backup".to_owned(),
            message,
        })?;
    let server_version: String = to
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .map_err(fail)?;
    Ok(Dumped {
        tool: format!("SQLite {server_version} online backup"),
        server_version,
        tables,
        left_out: Vec::new(),
    })
}

/// A backup's database written out once and checked ([`check`]): the
/// very file a restore then copies in ([`load`]). Deleted when dropped.
pub(super) struct Checked(tempfile::NamedTempFile);

/// The dump, written out to a temporary file in `scratch` (SQLite reads
/// databases from files), its checksum checked as it is copied.
fn extract(
    opened: &mut archive::Opened,
    scratch: &Path,
) -> Result<tempfile::NamedTempFile, BackupError> {
    let mut temp = archive::locked_temp(scratch, ".lord-restore-").map_err(io(format!(
        "making a temporary file in `{}`",
        scratch.display()
    )))?;
    opened.copy_payload(temp.as_file_mut())?;
    temp.as_file_mut()
        .flush()
        .map_err(io("copying the SQLite database out of the backup"))?;
    Ok(temp)
}

/// The dump opens as a SQLite database, passes its integrity check, and
/// holds the tables and row counts its manifest lists; the checked file.
pub(super) fn check(opened: &mut archive::Opened, scratch: &Path) -> Result<Checked, BackupError> {
    let temp = extract(opened, scratch)?;
    let corrupt = |message: String| BackupError::Corrupt {
        path: opened.path.clone(),
        message,
    };
    let conn = Connection::open_with_flags(temp.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| corrupt(format!("its database does not open: {e}")))?;
    let tables = checked_counts(&conn)
        .map_err(|e| corrupt(format!("its database does not read: {e}")))?
        .map_err(&corrupt)?;
    if tables != opened.manifest.tables {
        return Err(corrupt(
            "its database holds other tables or row counts than its manifest lists".to_owned(),
        ));
    }
    drop(conn);
    Ok(Checked(temp))
}

/// What the target holds already, if anything.
pub(super) fn held(session: &mut dyn SqlSession) -> Result<Option<String>, BackupError> {
    let n = session
        .run("SELECT COUNT(*) FROM sqlite_schema", &[])?
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(lord_db_api::Value::as_i64)
        .unwrap_or_default();
    Ok((n > 0).then(|| format!("it holds {n} table(s), index(es), view(s) or trigger(s)")))
}

/// The schema objects a user made (tables, views, triggers, indexes), as
/// (kind, name) in order: what a whole-file restore would drop if the
/// backup lacked them. SQLite's own (`sqlite_*`, automatic indexes) are
/// left out, since the backup remakes them with its tables.
fn objects(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view', 'trigger', \
         'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
    )?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Refuses a `--replace` that would lose what the target holds and the
/// backup does not: SQLite's backup API replaces the whole database file,
/// so a table, view, trigger or index only the target has would be gone
/// after it (the row counts checked afterwards would still agree).
fn nothing_beyond(
    profile: &Profile,
    from: &Connection,
    to: &Connection,
) -> Result<(), BackupError> {
    let fail = |e: rusqlite::Error| engine_error(profile.name.as_str(), &e);
    let kept = objects(from).map_err(fail)?;
    let beyond: Vec<String> = objects(to)
        .map_err(fail)?
        .into_iter()
        .filter(|object| !kept.contains(object))
        .map(|(kind, name)| format!("{kind} `{}`", name.escape_debug()))
        .collect();
    if beyond.is_empty() {
        return Ok(());
    }
    let name = &profile.name;
    Err(BackupError::Refused(format!(
        "the database of the profile `{name}` holds {} schema object(s) the backup does not \
         ({}); on SQLite `--replace` replaces the whole database file, so they would be lost: \
         back them up first (`lord db backup {name} FILE`), or pass `--whole-file` with \
         `--replace` to replace the whole file anyway",
        beyond.len(),
        beyond.join(", ")
    )))
}

/// Copies the backup's checked database into the profile's file; with
/// `guard`, only when the file holds nothing the backup lacks
/// ([`nothing_beyond`]), checked against the very copy that is about to
/// be restored.
pub(super) fn load(
    profile: &Profile,
    checked: &Checked,
    guard: bool,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let name = profile.name.as_str();
    let fail = |e: rusqlite::Error| engine_error(name, &e);
    let from = Connection::open_with_flags(checked.0.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(fail)?;
    let mut to = Connection::open(profile.sqlite_path()?).map_err(fail)?;
    to.busy_timeout(profile.connect_timeout).map_err(fail)?;
    if guard {
        nothing_beyond(profile, &from, &to)?;
    }
    copy(&from, &mut to, profile.connect_timeout, progress).map_err(fail)
}
