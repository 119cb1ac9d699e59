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
/// `options` follow them; the database comes last, after `--`, so a name
/// starting with `-` is not read as an option.
fn command(
    program: &Tool,
    profile: &Profile,
    password: Option<&Password>,
    tls_in_use: bool,
    options: &[&str],
) -> Result<Command, BackupError> {
    let url = url::Url::parse(&profile.url)
        .map_err(|e| BackupError::NoTool(format!("the profile's URL does not read: {e}")))?;
    let decoded = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    let database = decoded(url.path().trim_start_matches('/'));
    if database.is_empty() {
        return Err(BackupError::Refused(format!(
            "the profile `{}` names no database, and a backup or restore is of one database; \
             add its name to the URL's path (`mysql://HOST/DATABASE`) with `lord db add`",
            profile.name
        )));
    }
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
    command.args(options).arg("--").arg(database);
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

/// Whether the user holds the EVENT privilege on the session's database,
/// granted on it or on every database.
fn may_read_events(session: &mut dyn SqlSession) -> Result<bool, BackupError> {
    let grantee = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
                   SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
    let n = first_text(
        session,
        &format!(
            "SELECT CAST((SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES \
               WHERE PRIVILEGE_TYPE = 'EVENT' AND TABLE_SCHEMA = DATABASE() \
               AND GRANTEE = {grantee}) \
             + (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES \
               WHERE PRIVILEGE_TYPE = 'EVENT' AND GRANTEE = {grantee}) AS CHAR)"
        ),
    )?;
    Ok(n != "0" && !n.is_empty())
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
    let events = may_read_events(&mut *session)?;
    drop(session);
    // The database's own objects only (no CREATE DATABASE), so it loads
    // into a database of any name; `--skip-dump-date` keeps equal
    // databases' dumps equal.
    let command = command(
        &program,
        profile,
        password,
        tls,
        &[
            "--single-transaction",
            "--routines",
            "--triggers",
            "--hex-blob",
            "--no-tablespaces",
            "--skip-dump-date",
            // Without the EVENT privilege the dump program fails on
            // `--events`: then the manifest says they were left out.
            if events { "--events" } else { "--skip-events" },
        ],
    )?;
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
    let left_out = if events {
        Vec::new()
    } else {
        vec![
            "events (the profile's user lacks the EVENT privilege on the database; grant it to \
             include them)"
                .to_owned(),
        ]
    };
    Ok(Dumped {
        server_version,
        tool: program.banner,
        tables,
        left_out,
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
            // A column list (written for tables with invisible columns)
            // is no row.
            let rest = after_values(rest).unwrap_or(rest);
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
            .map(|(name, rows)| TableRows {
                name,
                schema: None,
                rows,
            })
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

/// What follows the `VALUES` keyword of an `INSERT` (after its table),
/// skipping a column list's backquoted names, which may hold anything.
fn after_values(bytes: &[u8]) -> Option<&[u8]> {
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => quoted = !quoted,
            b'V' | b'v'
                if !quoted
                    && bytes
                        .get(i..i + 6)
                        .is_some_and(|word| word.eq_ignore_ascii_case(b"VALUES")) =>
            {
                return bytes.get(i + 6..);
            }
            _ => {}
        }
        i += 1;
    }
    None
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

/// The dump finished, holds the tables and row counts the manifest lists,
/// and holds nothing the client program would run as a command of its own.
pub(super) fn check(opened: &mut archive::Opened) -> Result<(), BackupError> {
    let path = opened.path.clone();
    let reading = || super::io(format!("reading `{}`", path.display()));
    if let Some(found) = client_command(&mut BufReader::new(opened.payload()?)).map_err(reading())?
    {
        return Err(BackupError::Corrupt {
            path,
            message: format!(
                "line {} holds {}, which the mariadb client would run as a command of its \
                 own (a shell command or file access); a dump program never writes one, so \
                 the file was altered",
                found.line, found.what
            ),
        });
    }
    let counted = count_rows(&mut BufReader::new(opened.payload()?)).map_err(reading())?;
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

/// A client command found in a script, and the line it is on (from 1).
#[derive(Debug, PartialEq, Eq)]
struct ClientCommand {
    line: u64,
    what: String,
}

/// The escapes a dump program writes inside strings (`\\`, `\'`, `\"`,
/// `\0`, `\n`, `\r`, `\Z`), and `\-`, the client's "enable sandbox"
/// command newer dumps open with, which only takes power away.
const DUMP_ESCAPES: &[u8] = b"\\'\"0nrZ-";

/// Long-form client commands that reach files, programs or other servers;
/// the client reads them as the first word of a line.
const LONG_COMMANDS: [&str; 7] = ["system", "source", "tee", "pager", "edit", "connect", "use"];

/// The first client command in `script`, as the `mariadb`/`mysql` client
/// would read it: `\!`, `\.`, `\T` and the like, or `system`, `source`,
/// `tee`… opening a line. The client obeys these even with `--batch`, so a
/// crafted backup could run a shell command on restore (the CVE-2024-21096
/// class). Stricter than the client on purpose: a backslash pair that no
/// dump writes is refused wherever it stands, since whether it is inside a
/// string depends on SQL modes the script itself can set, and any
/// backslash outside a string (comments included) is refused too.
fn client_command(script: &mut impl BufRead) -> std::io::Result<Option<ClientCommand>> {
    let mut scanner = Scanner::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if script.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if let Some(found) = scanner.line(&line) {
            return Ok(Some(found));
        }
    }
}

/// The dump on its way to the client, a line at a time, each line
/// scanned ([`Scanner`]) before any of it is passed on: a client command
/// fails the read, so the client never receives it.
struct Screened<R> {
    inner: R,
    scanner: Scanner,
    line: Vec<u8>,
    /// How much of `line` was passed on.
    at: usize,
    /// Why an earlier read failed: every later one fails the same way, so
    /// a caller that tried again gets nothing unscanned.
    failed: Option<String>,
}

impl<R: BufRead> Screened<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            scanner: Scanner::default(),
            line: Vec::new(),
            at: 0,
            failed: None,
        }
    }
}

impl<R: BufRead> Read for Screened<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = &self.failed {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                why.clone(),
            ));
        }
        if self.at == self.line.len() {
            self.line.clear();
            self.at = 0;
            let read = self.inner.read_until(b'\n', &mut self.line);
            let why = match read {
                Ok(0) => return Ok(0),
                Ok(_) => self.scanner.line(&self.line).map(|found| {
                    format!(
                        "line {} holds {}, which the mariadb client would run as a command \
                         of its own; it was not there when the file was checked, so the file \
                         was altered during the restore",
                        found.line, found.what
                    )
                }),
                Err(e) => {
                    // Part of a line may have been read: none of it is
                    // passed on unscanned.
                    self.line.clear();
                    self.failed = Some(e.to_string());
                    return Err(e);
                }
            };
            if let Some(why) = why {
                self.line.clear();
                self.failed = Some(why.clone());
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
            }
        }
        let rest = self.line.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.at += n;
        Ok(n)
    }
}

/// [`client_command`]'s reading, a line at a time: which quote or comment
/// is open carries over from one line to the next.
#[derive(Debug, Default)]
struct Scanner {
    /// The quote of the string or quoted name we are in; `*` for a
    /// `/* … */` comment.
    open: Option<u8>,
    /// Lines read so far.
    number: u64,
}

impl Scanner {
    /// The client command on `line`, the next line of the script, if any.
    fn line(&mut self, line: &[u8]) -> Option<ClientCommand> {
        self.number += 1;
        let number = self.number;
        let found = |what: String| Some(ClientCommand { line: number, what });
        let open = &mut self.open;
        if open.is_none() {
            let text = String::from_utf8_lossy(line);
            let word = text
                .trim_start()
                .split(|c: char| c.is_whitespace() || c == ';')
                .next()
                .unwrap_or_default();
            if LONG_COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(word)) {
                return found(format!("the client command `{word}`"));
            }
        }
        let mut i = 0;
        while i < line.len() {
            let b = line[i];
            let next = line.get(i + 1).copied();
            if b == b'\\' {
                let pair = next.unwrap_or(b' ');
                let in_string = matches!(*open, Some(b'\'' | b'"'));
                if !DUMP_ESCAPES.contains(&pair) || (!in_string && pair != b'-') {
                    return found(format!(
                        "`\\{}` outside a string",
                        String::from_utf8_lossy(&[pair])
                    ));
                }
                i += 2;
                continue;
            }
            match *open {
                Some(b'*') if b == b'*' && next == Some(b'/') => {
                    *open = None;
                    i += 1;
                }
                Some(b'*') => {}
                Some(q) if b == q && next == Some(q) => i += 1,
                Some(q) if b == q => *open = None,
                Some(_) => {}
                None => match b {
                    b'\'' | b'"' | b'`' => *open = Some(b),
                    // `/*!…*/` and `/*M!…*/` are run as SQL, so read on.
                    b'/' if next == Some(b'*') && !matches!(line.get(i + 2), Some(b'!' | b'M')) => {
                        *open = Some(b'*');
                        i += 1;
                    }
                    // A comment to the end of the line: the client reads no
                    // quotes in it, but still no backslash may stand there.
                    b'#' | b'-'
                        if b == b'#'
                            || (next == Some(b'-')
                                && line.get(i + 2).is_some_and(u8::is_ascii_whitespace)) =>
                    {
                        if let Some(at) = line[i..].iter().position(|c| *c == b'\\') {
                            let pair = line.get(i + at + 1).copied().unwrap_or(b' ');
                            return found(format!(
                                "`\\{}` in a comment",
                                String::from_utf8_lossy(&[pair])
                            ));
                        }
                        break;
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        None
    }
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
    // `check` refused any client command already; the sandbox (where the
    // client has one) keeps the client itself from reaching files or
    // programs should one slip through, and no `LOAD DATA LOCAL` may read
    // this machine's files.
    let mut options = vec!["--batch", "--local-infile=0"];
    if has_sandbox(&program) {
        options.push("--sandbox");
    }
    let command = command(&program, profile, password, tls, &options)?;
    let total = opened.manifest.payload_bytes;
    let file = opened.path.display().to_string();
    let path = opened.path.clone();
    // What the client reads is screened again line by line, and fed
    // through the checksum: `check` read the file earlier, and a file
    // changed since must not reach the client with a command in it.
    let mut payload: Box<dyn Read> =
        Box::new(Screened::new(BufReader::new(opened.verified_payload()?)));
    // The server commits each table as it loads, so a failure part way
    // leaves part of the backup in place.
    tool::stream_in(command, "the mariadb client", &mut payload, total, progress).map_err(|e| {
        // The client ran every line before the one it was stopped at, so
        // a dump refused on the way says so as a partial load does.
        let e = match archive::failed_read(tool::from_input(e, &path)) {
            Ok(message) => BackupError::Tool {
                tool: "the mariadb client".to_owned(),
                message: archive::stopped_by_change(&file, &message),
            },
            Err(other) => other,
        };
        let BackupError::Tool { tool, message } = e else {
            return e;
        };
        BackupError::Tool {
            tool,
            message: format!(
                "{message}; the database of `{name}` may now hold part of the backup: fix the \
                 cause, then run `lord db restore {name} {file} --replace` again",
                name = profile.name,
            ),
        }
    })?;
    Ok(())
}

/// Whether the client has `--sandbox`: MariaDB 10.5.25, 10.6.18, 10.11.8,
/// 11.0.6, 11.1.5, 11.2.4, 11.4.2 and later. MySQL's client has none.
fn has_sandbox(client: &Tool) -> bool {
    if !is_mariadb(&client.banner) {
        return false;
    }
    let at = |i: usize| client.version.get(i).copied().unwrap_or(0);
    let first_patch = match (at(0), at(1)) {
        (10, 5) => 25,
        (10, 6) => 18,
        (10, 11) => 8,
        (11, 0) => 6,
        (11, 1) => 5,
        (11, 2) | (11, 3) => 4,
        (11, 4) => 2,
        (major, minor) => return (major, minor) > (11, 4),
    };
    at(2) >= first_patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_from_a_dump() {
        let dump = "CREATE TABLE `a``b` (\n  `x` int\n);\n\
            INSERT INTO `a``b` VALUES (1,'(x)'),(2,'it\\'s ('),(3,'a''b)');\n\
            INSERT INTO `a``b` VALUES\n(4,0x28),\n(5,'two\\nlines;'),\n(6,NULL);\n\
            INSERT INTO `a``b` (`x`,`y('`) VALUES (7,8),(9,10);\n\
            CREATE TABLE `empty` (x int);\n\
            /*!50001 CREATE TABLE `view` */;\n\
            -- Dump completed\n";
        let tables = count_rows(&mut dump.as_bytes()).unwrap().unwrap();
        assert_eq!(
            tables,
            [
                TableRows {
                    name: "a`b".into(),
                    schema: None,
                    rows: 8
                },
                TableRows {
                    name: "empty".into(),
                    schema: None,
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

    fn command_in(script: &str) -> Option<(u64, String)> {
        client_command(&mut script.as_bytes())
            .unwrap()
            .map(|c| (c.line, c.what))
    }

    #[test]
    fn the_client_is_fed_nothing_from_the_line_of_a_client_command_on() {
        use std::io::Read as _;
        let script = "SELECT 1;\nSELECT 'a\nb';\n\\! touch x\nSELECT 2;\n";
        let mut screened = super::Screened::new(script.as_bytes());
        let mut fed = Vec::new();
        let failed = screened.read_to_end(&mut fed).expect_err("refused");
        assert_eq!(failed.kind(), std::io::ErrorKind::InvalidData);
        assert!(failed.to_string().contains("line 4 holds"), "{failed}");
        assert_eq!(String::from_utf8_lossy(&fed), "SELECT 1;\nSELECT 'a\nb';\n");
        // Reading on passes nothing after it either.
        assert!(screened.read_to_end(&mut fed).is_err());
        assert_eq!(String::from_utf8_lossy(&fed), "SELECT 1;\nSELECT 'a\nb';\n");
        // An honest script passes through byte for byte.
        let honest = "SELECT 'x\\'y';\n-- done\n";
        let mut fed = Vec::new();
        super::Screened::new(honest.as_bytes())
            .read_to_end(&mut fed)
            .expect("passed");
        assert_eq!(fed, honest.as_bytes());
    }

    #[test]
    fn client_commands_are_found_in_a_script() {
        let honest = "/*M!999999\\- enable the sandbox mode */ \n\
            -- MariaDB dump 10.19\n\
            /*!40101 SET NAMES utf8mb4 */;\n\
            INSERT INTO `t` VALUES (1,'a\\'b\\\\!\\n'),(2,\"x\\\"\");\n\
            /* a comment's ' quote */ SELECT 1;\n\
            -- it's a comment\n\
            SELECT '\n\\\\';\n";
        assert_eq!(command_in(honest), None);
        for (script, line) in [
            ("SELECT 1;\n\\! touch x\n", 2),
            ("SELECT 1; \\! touch x\n", 1),
            ("SELECT 'a';\\. /etc/passwd\n", 1),
            ("SELECT 'a\\!';\n", 1),
            ("\\T /tmp/x\n", 1),
            ("  system touch x\n", 1),
            ("SELECT 1;\nSOURCE /etc/x;\n", 2),
            ("SELECT `a\\n`;\n", 1),
            ("-- x \\! touch y\n", 1),
            ("/* \\! */\n", 1),
        ] {
            assert_eq!(command_in(script).map(|c| c.0), Some(line), "{script}");
        }
    }

    #[test]
    fn the_sandbox_is_used_where_the_client_has_it() {
        let client = |banner: &str| Tool {
            path: "mariadb".into(),
            banner: banner.to_owned(),
            version: tool::version_numbers(banner.split_once("Distrib ").map_or(banner, |p| p.1)),
        };
        assert!(has_sandbox(&client(
            "mariadb Ver 15.1 Distrib 10.11.14-MariaDB"
        )));
        assert!(has_sandbox(&client(
            "mariadb Ver 15.1 Distrib 11.8.1-MariaDB"
        )));
        assert!(!has_sandbox(&client(
            "mariadb Ver 15.1 Distrib 10.11.7-MariaDB"
        )));
        assert!(!has_sandbox(&client(
            "mariadb Ver 15.1 Distrib 10.9.8-MariaDB"
        )));
        assert!(!has_sandbox(&client("mysql Ver 8.0.36")));
    }
}
