//! MySQL/MariaDB: `mariadb-dump` (or `mysqldump`) in one consistent
//! transaction with routines and triggers, binary columns in hex, and the
//! `mariadb` (or `mysql`) client to load it. The manifest's row counts are
//! read from the dump itself, so they are exactly what it holds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::Command;

use lord_db_api::{Password, Profile, SqlSession, TlsMode, Value};

use super::tool::{self, Tool};
use super::{BackupError, Dumped, Step, TableRows, Tools, archive};

const DUMPS: [&str; 2] = ["mariadb-dump", "mysqldump"];
const CLIENTS: [&str; 2] = ["mariadb", "mysql"];

fn is_mariadb(text: &str) -> bool {
    text.contains("MariaDB")
}

/// A program of the server's kind (MariaDB or MySQL) and at least its
/// version, else one of the other kind that is not older.
fn pick(names: &[&str], server_version: &str, tools: &Tools) -> Result<Tool, BackupError> {
    let found = tool::find(names, &[], tools.path.as_deref());
    let server: Vec<u64> = tool::version_numbers(server_version)
        .into_iter()
        .take(2)
        .collect();
    let new_enough = |t: &&Tool| t.version.iter().take(2).copied().collect::<Vec<_>>() >= server;
    let kind = is_mariadb(server_version);
    let chosen = found
        .iter()
        .filter(new_enough)
        .find(|t| is_mariadb(&t.banner) == kind)
        .or_else(|| found.iter().find(new_enough));
    match (chosen, found.first()) {
        (Some(tool), _) => Ok(tool.clone()),
        (None, None) => Err(BackupError::NoTool(format!(
            "none of {} was found on the PATH; install the MariaDB or MySQL client programs \
             (Debian: `mariadb-client`)",
            names.join(", ")
        ))),
        (None, Some(old)) => Err(BackupError::NoTool(format!(
            "`{}` ({}) is older than the server ({server_version}); install client programs \
             of the server's version or newer",
            old.path.display(),
            old.banner
        ))),
    }
}

/// The program's connection options, mirroring the profile: host, port,
/// user, lord's TLS decision with the CA file, and the password in
/// `MYSQL_PWD`. `--no-defaults` keeps option files from changing them.
fn command(
    program: &Tool,
    profile: &Profile,
    password: Option<&Password>,
    tls_in_use: bool,
) -> Result<Command, BackupError> {
    let url = url::Url::parse(&profile.url)
        .map_err(|e| BackupError::NoTool(format!("the profile's URL does not read: {e}")))?;
    let decoded = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    let database = decoded(url.path().trim_start_matches('/'));
    let mut command = Command::new(&program.path);
    command
        .arg("--no-defaults")
        .arg("--protocol=tcp")
        .arg(format!("--host={}", url.host_str().unwrap_or("127.0.0.1")))
        .arg(format!("--port={}", url.port().unwrap_or(3306)))
        .arg("--default-character-set=utf8mb4");
    if !url.username().is_empty() {
        command.arg(format!("--user={}", decoded(url.username())));
    }
    match password {
        Some(p) => command.env("MYSQL_PWD", p.expose()),
        None => command.env_remove("MYSQL_PWD"),
    };
    let verify = match profile.tls_mode {
        TlsMode::Disable => false,
        TlsMode::Require | TlsMode::VerifyFull => true,
        TlsMode::Prefer => tls_in_use,
    };
    let mariadb = is_mariadb(&program.banner);
    match (verify, mariadb) {
        (false, true) => command.arg("--skip-ssl"),
        (false, false) => command.arg("--ssl-mode=DISABLED"),
        (true, true) => command.args(["--ssl", "--ssl-verify-server-cert"]),
        (true, false) => command.arg("--ssl-mode=VERIFY_IDENTITY"),
    };
    if verify && let Some(ca) = &profile.ca_file {
        command.arg(format!("--ssl-ca={}", ca.display()));
    }
    command.arg(database);
    Ok(command)
}

fn first_text(session: &mut dyn SqlSession, sql: &str) -> Result<String, BackupError> {
    Ok(session
        .run(sql, &[])?
        .rows
        .first()
        .and_then(|r| r.get(r.len().saturating_sub(1)))
        .and_then(Value::as_text)
        .unwrap_or_default())
}

fn tls_in_use(session: &mut dyn SqlSession) -> Result<bool, BackupError> {
    Ok(!first_text(session, "SHOW SESSION STATUS LIKE 'Ssl_version'")?.is_empty())
}

pub(super) fn dump(
    profile: &Profile,
    password: Option<&Password>,
    out: &mut std::fs::File,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Dumped, BackupError> {
    let mut session = crate::connect(profile, password)?;
    let server_version = first_text(&mut *session, "SELECT VERSION()")?;
    let program = pick(&DUMPS, &server_version, tools)?;
    let tls = tls_in_use(&mut *session)?;
    drop(session);
    let mut command = command(&program, profile, password, tls)?;
    // The database's own objects only (no CREATE DATABASE), so it loads
    // into a database of any name; `--skip-dump-date` keeps equal
    // databases' dumps equal.
    command.args([
        "--single-transaction",
        "--routines",
        "--triggers",
        "--hex-blob",
        "--no-tablespaces",
        "--skip-dump-date",
    ]);
    let mut writer = std::io::BufWriter::new(&mut *out);
    tool::stream_out(command, "mariadb-dump", &mut writer, progress)?;
    std::io::Write::flush(&mut writer).map_err(super::io("writing the dump"))?;
    drop(writer);
    std::io::Seek::rewind(out).map_err(super::io("reading the dump"))?;
    let tables = count_rows(&mut BufReader::new(&mut *out))
        .map_err(super::io("reading the dump"))?
        .ok_or_else(|| BackupError::Tool {
            tool: "mariadb-dump".to_owned(),
            message: "its dump does not end with `-- Dump completed`".to_owned(),
        })?;
    Ok(Dumped {
        server_version,
        tool: program.banner,
        tables,
    })
}

/// Each table a dump creates and how many rows its `INSERT`s hold; `None`
/// when the dump does not end as a finished one does. An `INSERT` may
/// span lines (newer dumps put each row on its own), so the scan of its
/// rows carries on until its `;`.
fn count_rows(dump: &mut impl BufRead) -> std::io::Result<Option<Vec<TableRows>>> {
    let mut tables: BTreeMap<String, u64> = BTreeMap::new();
    let mut line = Vec::new();
    let mut completed = false;
    let mut insert: Option<(String, Rows)> = None;
    loop {
        line.clear();
        if dump.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if let Some((name, rows)) = insert.as_mut() {
            let ended = rows.scan(&line);
            *tables.entry(name.clone()).or_insert(0) += std::mem::take(&mut rows.count);
            if ended {
                insert = None;
            }
            continue;
        }
        completed = line.starts_with(b"-- Dump completed");
        if let Some(rest) = line.strip_prefix(b"CREATE TABLE `") {
            let (name, _) = identifier(rest);
            tables.entry(name).or_insert(0);
        } else if let Some(rest) = line.strip_prefix(b"INSERT INTO `") {
            let (name, rest) = identifier(rest);
            let mut rows = Rows::default();
            let ended = rows.scan(rest);
            *tables.entry(name.clone()).or_insert(0) += rows.count;
            rows.count = 0;
            if !ended {
                insert = Some((name, rows));
            }
        }
    }
    Ok((completed && insert.is_none()).then(|| {
        tables
            .into_iter()
            .map(|(name, rows)| TableRows { name, rows })
            .collect()
    }))
}

/// A backquoted identifier (its opening quote already read) and what
/// follows it; a doubled backquote is one.
fn identifier(bytes: &[u8]) -> (String, &[u8]) {
    let mut name = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            if bytes.get(i + 1) == Some(&b'`') {
                name.push(b'`');
                i += 2;
                continue;
            }
            return (String::from_utf8_lossy(&name).into_owned(), &bytes[i + 1..]);
        }
        name.push(bytes[i]);
        i += 1;
    }
    (String::from_utf8_lossy(&name).into_owned(), &[])
}

/// The rows of one `INSERT … VALUES`, scanned a piece at a time:
/// parentheses outside quoted strings, at the top level, until a `;`.
#[derive(Default)]
struct Rows {
    count: u64,
    depth: u32,
    quoted: bool,
    /// A backslash ended the last piece inside a string.
    escaped: bool,
}

impl Rows {
    /// Scans `bytes`; whether the statement ended in them.
    fn scan(&mut self, bytes: &[u8]) -> bool {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if self.escaped {
                self.escaped = false;
            } else if self.quoted {
                match b {
                    b'\\' => self.escaped = true,
                    b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 1,
                    b'\'' => self.quoted = false,
                    _ => {}
                }
            } else {
                match b {
                    b'\'' => self.quoted = true,
                    b'(' => {
                        if self.depth == 0 {
                            self.count += 1;
                        }
                        self.depth += 1;
                    }
                    b')' => self.depth = self.depth.saturating_sub(1),
                    b';' if self.depth == 0 => return true,
                    _ => {}
                }
            }
            i += 1;
        }
        false
    }
}

/// The dump finished, and holds the tables and row counts the manifest
/// lists.
pub(super) fn check(opened: &mut archive::Opened) -> Result<(), BackupError> {
    let counted = count_rows(&mut BufReader::new(opened.payload()?))
        .map_err(super::io(format!("reading `{}`", opened.path.display())))?;
    let message = match counted {
        None => "its dump was not finished (no `-- Dump completed` at its end)",
        Some(tables) if tables != opened.manifest.tables => {
            "its dump holds other tables or row counts than its manifest lists"
        }
        Some(_) => return Ok(()),
    };
    Err(BackupError::Corrupt {
        path: opened.path.clone(),
        message: message.to_owned(),
    })
}

/// What the target holds already, if anything: tables, views or routines.
pub(super) fn held(session: &mut dyn SqlSession) -> Result<Option<String>, BackupError> {
    let n = first_text(
        session,
        "SELECT CAST((SELECT COUNT(*) FROM information_schema.tables \
           WHERE table_schema = DATABASE()) \
         + (SELECT COUNT(*) FROM information_schema.routines \
           WHERE routine_schema = DATABASE()) AS CHAR)",
    )?;
    Ok((n != "0").then(|| format!("it holds {n} table(s), view(s) or routine(s)")))
}

/// Loads the dump with the client program. The dump drops each table and
/// view before creating it, so `--replace` needs nothing more here.
pub(super) fn load(
    profile: &Profile,
    password: Option<&Password>,
    opened: &mut archive::Opened,
    tools: &Tools,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let mut session = crate::connect(profile, password)?;
    let server_version = first_text(&mut *session, "SELECT VERSION()")?;
    let tls = tls_in_use(&mut *session)?;
    drop(session);
    let program = pick(&CLIENTS, &server_version, tools)?;
    let mut command = command(&program, profile, password, tls)?;
    command.arg("--batch");
    let total = opened.manifest.payload_bytes;
    let mut payload: Box<dyn Read> = Box::new(opened.payload()?);
    tool::stream_in(command, "the mariadb client", &mut payload, total, progress)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_from_a_dump() {
        let dump = "CREATE TABLE `a``b` (\n  `x` int\n);\n\
            INSERT INTO `a``b` VALUES (1,'(x)'),(2,'it\\'s ('),(3,'a''b)');\n\
            INSERT INTO `a``b` VALUES\n(4,0x28),\n(5,'two\\nlines;'),\n(6,NULL);\n\
            CREATE TABLE `empty` (x int);\n\
            /*!50001 CREATE TABLE `view` */;\n\
            -- Dump completed\n";
        let tables = count_rows(&mut dump.as_bytes()).unwrap().unwrap();
        assert_eq!(
            tables,
            [
                TableRows {
                    name: "a`b".into(),
                    rows: 6
                },
                TableRows {
                    name: "empty".into(),
                    rows: 0
                }
            ]
        );
        assert!(
            count_rows(&mut "CREATE TABLE `a` (x int);\n".as_bytes())
                .unwrap()
                .is_none()
        );
    }
}
