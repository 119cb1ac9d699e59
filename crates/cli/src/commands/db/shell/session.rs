//! What the shell does with what was typed, the same interactively and in
//! a script: statements (after the confirmation a dangerous one needs),
//! and the backslash commands (`\x`, `\timing`, `\watch`, `\dt`, `\d`,
//! `\q`, `\?`). One session of the profile's pool serves the whole shell,
//! so `BEGIN` in one statement and `COMMIT` in a later one make one
//! transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use lord_db_api::{DbError, Rows, Value};
use lord_host::HostError;

use super::editor::Catalogue;
use super::lexer::{self, Danger, Dialect};
use super::view::{self, Expanded};
use crate::render::{Output, foreign};

/// What the shell does after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Go,
    Quit,
}

/// Asks a yes/no question; `Err` refuses outright (a script without
/// `--yes`).
pub(crate) type Ask<'a> = dyn FnMut(&str) -> Result<bool> + 'a;

pub(crate) const HELP: &str = "\
Statements end with `;` and may span lines. Commands:
  \\dt              the tables
  \\d TABLE         a table's columns, keys and indexes
  \\x [on|off|auto] rows as records (auto: when the table is too wide)
  \\timing [on|off] the time each statement took
  \\watch [N]       the last statement again every N seconds (2), until Ctrl-C
  \\?               this help
  \\q               quit (or Ctrl-D)
DELETE/UPDATE without WHERE, DROP and TRUNCATE ask first.
";

/// The shell's state over one session.
pub(crate) struct Shell {
    session: lord_db::Session,
    pub(crate) dialect: Dialect,
    pub(crate) catalogue: Arc<Mutex<Catalogue>>,
    out: Output,
    expanded: Expanded,
    timing: bool,
    last: Option<String>,
    pager: Option<String>,
    interrupted: Arc<AtomicBool>,
}

impl Shell {
    pub(crate) fn new(
        session: lord_db::Session,
        out: Output,
        pager: Option<String>,
        interrupted: Arc<AtomicBool>,
    ) -> Self {
        let dialect = Dialect::of(session.engine());
        Self {
            session,
            dialect,
            catalogue: Arc::default(),
            out,
            expanded: Expanded::Off,
            timing: false,
            last: None,
            pager,
            interrupted,
        }
    }

    pub(crate) fn set_timing(&mut self, on: bool) {
        self.timing = on;
    }

    /// Whether Ctrl-C was pressed since the flag was last cleared.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupted.swap(false, Ordering::SeqCst)
    }

    /// Closes the session rather than returning it to the pool: the user
    /// may have left a transaction open.
    pub(crate) fn close(self) {
        self.session.discard();
    }

    /// One input of the interactive shell: a command, or statements each
    /// ended by `;` (stopping at the first that fails).
    pub(crate) fn input(&mut self, input: &str, ask: &mut Ask<'_>) -> Result<Flow> {
        let trimmed = input.trim();
        // A command, maybe typed on the last line of an unfinished
        // statement: what came before it that `;` ended runs, the rest is
        // set aside.
        if let Some((before, last)) = lexer::trailing_command(trimmed, self.dialect) {
            let (statements, rest) = lexer::split(before, self.dialect);
            for statement in statements {
                self.statement(&statement, ask)?;
            }
            if lexer::has_code(&rest, self.dialect) {
                self.out
                    .status("the unfinished statement before the command was set aside");
            }
            return self.command(last);
        }
        if matches!(trimmed, "exit" | "quit") {
            return Ok(Flow::Quit);
        }
        let (statements, rest) = lexer::split(input, self.dialect);
        for statement in statements {
            self.statement(&statement, ask)?;
        }
        if lexer::has_code(&rest, self.dialect) {
            self.statement(rest.trim(), ask)?;
        }
        Ok(Flow::Go)
    }

    /// Runs one statement (without its `;`), asking first when it would
    /// change or remove every row or a whole object.
    pub(crate) fn statement(&mut self, sql: &str, ask: &mut Ask<'_>) -> Result<()> {
        if let Some(danger) = lexer::danger(sql, self.dialect)
            && !ask(&question(&danger))?
        {
            self.out.status("not run");
            return Ok(());
        }
        self.last = Some(sql.to_owned());
        self.run_and_show(sql, true)?;
        if lexer::changes_catalogue(sql, self.dialect) {
            self.refresh_catalogue();
        }
        Ok(())
    }

    fn run_and_show(&mut self, sql: &str, page: bool) -> Result<()> {
        let start = Instant::now();
        let rows = self.run_cancellable(sql)?;
        let took = start.elapsed();
        match rows.affected {
            Some(affected) => self.out.status(format_args!("{affected} row(s) changed")),
            None => {
                self.show(&rows, page)?;
                self.out
                    .status(format_args!("({} row(s))", rows.rows.len()));
            }
        }
        if self.timing {
            self.out
                .status(format_args!("Time: {:.3} ms", took.as_secs_f64() * 1000.0));
        }
        Ok(())
    }

    /// Runs `sql` while a second thread waits for Ctrl-C and, when it
    /// comes, asks the engine to stop the statement (the flag stays set,
    /// so a script ends after it).
    fn run_cancellable(&mut self, sql: &str) -> Result<Rows> {
        let done = Arc::new(AtomicBool::new(false));
        let watcher = self.session.canceller().map(|canceller| {
            let done = Arc::clone(&done);
            let interrupted = Arc::clone(&self.interrupted);
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    if interrupted.load(Ordering::SeqCst) {
                        return Some(canceller.cancel());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                None
            })
        });
        let result = self.session.run(sql, &[]);
        done.store(true, Ordering::SeqCst);
        let cancel = watcher.and_then(|w| w.join().ok()).flatten();
        match (result, cancel) {
            // MySQL's `SLEEP()` ends without an error when it is killed.
            (_, Some(Ok(()))) => Err(Cancelled.into()),
            (Ok(rows), _) => Ok(rows),
            (Err(e), Some(Err(cancel))) => {
                Err(db_error(e).context(format!("Ctrl-C could not stop it: {cancel}")))
            }
            (Err(e), None) => Err(db_error(e)),
        }
    }

    fn show(&self, rows: &Rows, page: bool) -> Result<()> {
        let size = self.out.screen_size();
        let text = view::render(rows, size.map(|(w, _)| w), self.expanded);
        let pager = page.then_some(self.pager.as_deref()).flatten();
        view::show(&self.out, &text, size.map(|(_, h)| h), pager)
    }

    /// Reads the tables and their columns for completion; a catalogue that
    /// cannot be read leaves completion to keywords, with a warning.
    pub(crate) fn refresh_catalogue(&mut self) {
        let read = (|| -> Result<Catalogue, DbError> {
            let tables = self.session.tables()?;
            let mut columns = std::collections::BTreeSet::new();
            // A catalogue of thousands of tables would make every refresh
            // slow; columns of the first 500 are plenty to complete.
            for table in tables.iter().take(500) {
                if let Some(described) = self.session.describe(table)? {
                    columns.extend(described.columns.into_iter().map(|c| c.name));
                }
            }
            Ok(Catalogue { tables, columns })
        })();
        match read {
            Ok(catalogue) => {
                if let Ok(mut shared) = self.catalogue.lock() {
                    *shared = catalogue;
                }
            }
            Err(e) => self
                .out
                .warning(format_args!("completion cannot read the catalogue: {e}")),
        }
    }

    /// A backslash command.
    fn command(&mut self, line: &str) -> Result<Flow> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let arg = words.next();
        match (name, arg) {
            ("\\q", _) => return Ok(Flow::Quit),
            ("\\?", _) => self.out.text(HELP)?,
            ("\\x", arg) => {
                self.expanded = match arg {
                    None if self.expanded == Expanded::Off => Expanded::On,
                    None => Expanded::Off,
                    Some("on") => Expanded::On,
                    Some("off") => Expanded::Off,
                    Some("auto") => Expanded::Auto,
                    Some(other) => {
                        return Err(usage(format!("`\\x {other}`: use on, off or auto")));
                    }
                };
                self.out
                    .status(format_args!("expanded display is {}", self.expanded.word()));
            }
            ("\\timing", arg) => {
                self.timing = match arg {
                    None => !self.timing,
                    Some("on") => true,
                    Some("off") => false,
                    Some(other) => {
                        return Err(usage(format!("`\\timing {other}`: use on or off")));
                    }
                };
                let word = if self.timing { "on" } else { "off" };
                self.out.status(format_args!("timing is {word}"));
            }
            ("\\dt", _) | ("\\d", None) => {
                let tables = self.session.tables().map_err(db_error)?;
                let rows = Rows {
                    columns: vec!["table".to_owned()],
                    rows: tables.into_iter().map(|t| vec![Value::Text(t)]).collect(),
                    affected: None,
                };
                self.show(&rows, true)?;
            }
            ("\\d", Some(table)) => match self.session.describe(table).map_err(db_error)? {
                Some(described) => self.out.text(&crate::render::db::schema(&[described]))?,
                None => {
                    return Err(usage(format!(
                        "there is no table `{}`; `\\dt` lists them",
                        foreign(table)
                    )));
                }
            },
            ("\\watch", arg) => self.watch(arg)?,
            (other, _) => {
                return Err(usage(format!(
                    "unknown command `{}`; `\\?` lists them",
                    foreign(other)
                )));
            }
        }
        Ok(Flow::Go)
    }

    /// Runs the last statement every `seconds` until Ctrl-C.
    fn watch(&mut self, seconds: Option<&str>) -> Result<()> {
        // At most a day: a longer wait is a typo, and `1e20` seconds is
        // more than a `Duration` holds.
        const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);
        let every = match seconds {
            None => 2.0,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .filter(|d| *d <= LONGEST)
                .map(|d| d.as_secs_f64())
                .ok_or_else(|| {
                    usage(format!(
                        "`\\watch {text}`: give a number of seconds from above 0 to 86400 (a day)"
                    ))
                })?,
        };
        let Some(sql) = self.last.clone() else {
            return Err(usage(
                "no statement to watch yet: run one, then `\\watch N`".to_owned(),
            ));
        };
        if lexer::danger(&sql, self.dialect).is_some() {
            return Err(usage(
                "`\\watch` does not repeat a statement that asks for a confirmation".to_owned(),
            ));
        }
        self.interrupted();
        loop {
            self.out
                .status(format_args!("every {every}s: {sql} (Ctrl-C stops)"));
            // No pager: it would wait for a key between runs. Ctrl-C while
            // the statement runs stops it and the watching.
            match self.run_and_show(&sql, false) {
                Err(e) if e.is::<Cancelled>() => {
                    self.interrupted();
                    return Ok(());
                }
                other => other?,
            }
            let until = Instant::now() + Duration::from_secs_f64(every);
            while Instant::now() < until {
                if self.interrupted() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn question(danger: &Danger) -> String {
    match danger {
        Danger::DeleteAll { table } => format!(
            "DELETE without WHERE removes every row of {}",
            foreign(table)
        ),
        Danger::UpdateAll { table } => format!(
            "UPDATE without WHERE changes every row of {}",
            foreign(table)
        ),
        Danger::Drop { what } => format!("DROP {} removes it", foreign(what)),
        Danger::Truncate { what } => format!("TRUNCATE {} removes every row", foreign(what)),
    }
}

/// A statement Ctrl-C stopped.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled: the statement was stopped (Ctrl-C)")
    }
}

impl std::error::Error for Cancelled {}

fn db_error(error: DbError) -> anyhow::Error {
    anyhow!(HostError::from(error))
}

fn usage(message: String) -> anyhow::Error {
    crate::cli::UsageError(message).into()
}
