//! PostgreSQL: `pg_dump --format=custom` in a snapshot lord exports, so
//! the row counts in the manifest are those of the dump exactly, and
//! `pg_restore` in one transaction to load it. The programs are Debian's
//! (`/usr/lib/postgresql/N/bin`) or the `PATH`'s, of the server's major
//! version when there is one, never older than the server.

use std::path::PathBuf;
use std::process::Command;

use lord_db_api::{Password, Profile, SqlSession, TlsMode, Value};

use super::tool::{self, Tool};
use super::{BackupError, Dumped, Step, TableRows, Tools, archive};

/// Tables whose rows a dump holds: ordinary tables outside the system's
/// schemas (a partitioned table's rows are in its partitions).
const TABLES: &str = "SELECT n.nspname, c.relname FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
       AND d.objid = c.oid AND d.deptype = 'e') \
     ORDER BY 1, 2";

fn major(version: &[u64]) -> u64 {
    version.first().copied().unwrap_or_default()
}

/// The program `name` for a server of major version `server`: of the
/// same major version when there is one, else the oldest newer one.
fn pick(name: &str, server: u64, tools: &Tools) -> Result<Tool, BackupError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut found = tool::find(&[name], &dirs, tools.path.as_deref());
    found.sort_by_key(|t| major(&t.version));
    if found.is_empty() {
        return Err(BackupError::NoTool(format!(
            "`{name}` was not found (looked in /usr/lib/postgresql/*/bin and the PATH); \
             install PostgreSQL's client programs, version {server} or newer (Debian: \
             `postgresql-client`)"
        )));
    }
    let newest = found.last().map(|t| major(&t.version)).unwrap_or_default();
    found
        .into_iter()
        .find(|t| major(&t.version) >= server)
        .ok_or_else(|| {
            BackupError::NoTool(format!(
                "`{name}` {newest} is older than the server (PostgreSQL {server}) and cannot \
                 read it; install PostgreSQL's client programs, version {server} or newer"
            ))
        })
}

fn first_text(session: &mut dyn SqlSession, sql: &str) -> Result<String, BackupError> {
    Ok(session
        .run(sql, &[])?
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_text)
        .unwrap_or_default())
}

/// The libpq connection string and environment for a program, mirroring
/// the profile: its URL with lord's TLS decision as `sslmode`, the CA
/// file, the connect timeout, and the password in `PGPASSWORD`.
fn command(
    program: &Tool,
    profile: &Profile,
    password: Option<&Password>,
    tls_in_use: bool,
) -> Result<Command, BackupError> {
    // lord verifies every TLS connection it makes; libpq does so only in
    // `verify-full`. `prefer` is settled by what lord's own connection did.
    let sslmode = match profile.tls_mode {
        TlsMode::Disable => "disable",
        TlsMode::Require | TlsMode::VerifyFull => "verify-full",
        TlsMode::Prefer if tls_in_use => "verify-full",
        TlsMode::Prefer => "disable",
    };
    let mut url = url::Url::parse(&profile.url)
        .map_err(|e| BackupError::NoTool(format!("the profile's URL does not read: {e}")))?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !matches!(k.as_ref(), "sslmode" | "sslrootcert" | "password"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    url.query_pairs_mut()
        .extend_pairs(kept)
        .append_pair("sslmode", sslmode);
    let mut command = Command::new(&program.path);
    command
        .arg("--no-password")
        .arg(format!("--dbname={url}"))
        .env(
            "PGCONNECT_TIMEOUT",
            profile.connect_timeout.as_secs().to_string(),
        )
        .env("PGAPPNAME", "lord")
        .env_remove("PGPASSFILE")
        .env_remove("PGSSLROOTCERT");
    match password {
        Some(p) => command.env("PGPASSWORD", p.expose()),
        None => command.env_remove("PGPASSWORD"),
    };
    match &profile.ca_file {
        Some(ca) => {
            command.env("PGSSLROOTCERT", ca);
        }
        // libpq 16 and newer can trust the system's roots, as lord does.
        None if sslmode == "verify-full" && major(&program.version) >= 16 => {
            command.env("PGSSLROOTCERT", "system");
        }
        None => {}
    }
    Ok(command)
}

fn tls_in_use(session: &mut dyn SqlSession) -> Result<bool, BackupError> {
    let ssl = first_text(
        session,
        "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )?;
    Ok(ssl == "true")
}

pub(super) fn dump(
    profile: &Profile,
    password: Option<&Password>,
    out: &mut std::fs::File,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Dumped, BackupError> {
    let mut session = crate::connect(profile, password)?;
    let server_version = first_text(&mut *session, "SHOW server_version")?;
    let server = major(&tool::version_numbers(&server_version));
    let program = pick("pg_dump", server, tools)?;
    let tls = tls_in_use(&mut *session)?;
    // The counts and the dump see one snapshot: exported here, held open
    // by this transaction until pg_dump is done.
    session.run_script("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    let snapshot = first_text(&mut *session, "SELECT pg_export_snapshot()")?;
    let names: Vec<(String, String)> = session
        .run(TABLES, &[])?
        .rows
        .iter()
        .filter_map(|r| Some((r.first()?.as_text()?, r.get(1)?.as_text()?)))
        .collect();
    let mut tables = Vec::new();
    for (schema, table) in names {
        let rows = super::count(&mut *session, Some(&schema), &table)?;
        tables.push(TableRows {
            name: format!("{schema}.{table}"),
            schema: Some(schema),
            rows,
        });
    }
    let mut command = command(&program, profile, password, tls)?;
    command.args(["--format=custom", "--compress=6"]);
    command.arg(format!("--snapshot={snapshot}"));
    let mut writer = std::io::BufWriter::new(out);
    tool::stream_out(command, "pg_dump", &mut writer, progress)?;
    std::io::Write::flush(&mut writer).map_err(super::io("writing the dump"))?;
    session.run_script("COMMIT")?;
    Ok(Dumped {
        server_version,
        tool: program.banner,
        tables,
        left_out: Vec::new(),
    })
}

/// `pg_restore --list` reads the whole archive and lists a data entry for
/// every table the manifest counts.
pub(super) fn check(opened: &mut archive::Opened, tools: &Tools) -> Result<(), BackupError> {
    let made_by = major(&tool::version_numbers(&opened.manifest.tool));
    let program = pick("pg_restore", made_by, tools)?;
    let mut command = Command::new(&program.path);
    command.arg("--list");
    let total = opened.manifest.payload_bytes;
    let listing = tool::stream_in(
        command,
        "pg_restore --list",
        &mut opened.payload()?,
        total,
        &mut |_| {},
    )?;
    let missing: Vec<&str> = opened
        .manifest
        .tables
        .iter()
        .filter(|t| {
            let (schema, table) = t.parts(lord_db_api::Engine::Postgres);
            let schema = schema.unwrap_or("public");
            let entry = format!(" TABLE DATA {schema} {table} ");
            !listing.lines().any(|line| line.contains(&entry))
        })
        .map(|t| t.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(BackupError::Corrupt {
            path: opened.path.clone(),
            message: format!("its archive holds no data for {}", missing.join(", ")),
        })
    }
}

/// What the target holds already, if anything: relations or types of its
/// own outside the system's schemas.
pub(super) fn held(session: &mut dyn SqlSession) -> Result<Option<String>, BackupError> {
    let n = first_text(
        session,
        "SELECT ((SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%') \
         + (SELECT COUNT(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE t.typtype IN ('e', 'd', 'r', 'm') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')))::text",
    )?;
    Ok((n != "0").then(|| format!("it holds {n} relation(s) or type(s)")))
}

pub(super) fn load(
    profile: &Profile,
    password: Option<&Password>,
    opened: &mut archive::Opened,
    replace: bool,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let mut session = crate::connect(profile, password)?;
    let server_version = first_text(&mut *session, "SHOW server_version")?;
    let server = major(&tool::version_numbers(&server_version));
    let made_by = major(&tool::version_numbers(&opened.manifest.tool));
    let program = pick("pg_restore", server.max(made_by), tools)?;
    let tls = tls_in_use(&mut *session)?;
    drop(session);
    let mut command = command(&program, profile, password, tls)?;
    // Owners and grants name roles, which belong to the server rather
    // than the database: the restored objects belong to the profile's user.
    command.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]);
    if replace {
        command.args(["--clean", "--if-exists"]);
    }
    let total = opened.manifest.payload_bytes;
    let path = opened.path.clone();
    // Fed through the checksum: a dump changed since it was checked fails
    // before pg_restore reads its end, and the one transaction it loads in
    // is never committed.
    tool::stream_in(
        command,
        "pg_restore",
        &mut opened.verified_payload()?,
        total,
        progress,
    )
    .map_err(|e| tool::from_input(e, &path))?;
    Ok(())
}
