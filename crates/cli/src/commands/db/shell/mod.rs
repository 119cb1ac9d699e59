//! `lord db shell NAME`: an interactive SQL shell over one profile.
//!
//! On a terminal: a line editor (`editor`) with a history per profile in
//! `$LORD_HOME/db/history/NAME` (mode 0600), statements over several lines
//! until `;` (`lexer`), highlighting and completion from the live
//! catalogue, tables that fit the screen or records (`view`), a pager for
//! tall results, timing, `\watch`, and a y/N question before a statement
//! that changes every row or drops something (`session`).
//!
//! Standard input not a terminal: a script. Statements are read and run
//! in order, without prompts; the first that fails ends the shell with its
//! error (exit 1), since later statements usually depend on it; a
//! statement that would ask is refused (exit 2) unless `--yes`.
//!
//! History: every input is kept (one that failed is usually the one to
//! fix and run again), except one typed with a leading space (the shell
//! convention for "do not record this") and one carrying a password
//! (`PASSWORD`, `IDENTIFIED BY`), which would otherwise sit in a file.

mod editor;
mod lexer;
mod session;
mod view;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use clap::Args;
use lord_host::{Framework, HostError};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;

use self::editor::SqlHelper;
use self::session::{Flow, Shell};
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct ShellArgs {
    /// The profile.
    name: String,
    /// In a script (standard input not a terminal), run the statements
    /// that ask for a confirmation on a terminal (`DELETE`/`UPDATE`
    /// without `WHERE`, `DROP`, `TRUNCATE`); without it they are refused.
    #[arg(long)]
    yes: bool,
}

/// The pager for results taller than the screen: `$PAGER` (empty: none),
/// else `less -RFX`; none when standard output is not a terminal.
fn pager(ctx: &Context) -> Option<String> {
    if !ctx.terminal.stdout {
        return None;
    }
    match ctx.env.iter().find(|(k, _)| k == "PAGER") {
        Some((_, value)) if value.trim().is_empty() => None,
        Some((_, value)) => Some(value.clone()),
        None => Some("less -RFX".to_owned()),
    }
}

/// A flag set by Ctrl-C (SIGINT) while a statement runs or `\watch`
/// waits; at the prompt the editor reads Ctrl-C as a key instead.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed here, before the shell starts, so Ctrl-C never has its
        // default (fatal) action while the shell runs.
        if let Ok(mut interrupt) = signal(SignalKind::interrupt()) {
            let set = Arc::clone(&flag);
            tokio::spawn(async move {
                while interrupt.recv().await.is_some() {
                    set.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    }
    flag
}

pub(crate) async fn shell(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: ShellArgs,
) -> Result<()> {
    let (profile, password) = framework.db_connection(&args.name)?;
    let interrupted = interrupt_flag();
    let history = ctx
        .home
        .join("db")
        .join("history")
        .join(profile.name.as_str());
    let pager = pager(ctx);
    let terminal = ctx.terminal;
    let out = *out;
    tokio::task::spawn_blocking(move || -> Result<()> {
        let session = lord_db::pools()
            .session(&profile, password)
            .map_err(HostError::from)?;
        let mut shell = Shell::new(session, out, pager, interrupted);
        let outcome = if terminal.stdin {
            let colour = terminal.stdout && !terminal.no_color;
            interactive(&mut shell, &out, &history, profile.name.as_str(), colour)
        } else {
            script(&mut shell, args.yes)
        };
        shell.close();
        outcome
    })
    .await?
}

fn interactive(
    shell: &mut Shell,
    out: &Output,
    history: &Path,
    name: &str,
    colour: bool,
) -> Result<()> {
    shell.set_timing(true);
    shell.refresh_catalogue();
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .max_history_size(5000)
        .context("could not set up the line editor")?
        .build();
    let mut editor = rustyline::Editor::<SqlHelper, FileHistory>::with_config(config)
        .context("could not start the line editor")?;
    editor.set_helper(Some(SqlHelper {
        dialect: shell.dialect,
        catalogue: Arc::clone(&shell.catalogue),
        colour,
        statements: true,
    }));
    let history = HistoryFile::open(history, &mut editor);
    out.status(format_args!(
        "connected to `{name}`; statements end with `;`, `\\?` for help, `\\q` to quit"
    ));
    let prompt = format!("{}=> ", foreign(name));
    loop {
        let input = match editor.readline(&prompt) {
            Ok(input) => input,
            // Ctrl-C drops the line being typed; Ctrl-D ends the shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("could not read a line"),
        };
        if input.trim().is_empty() {
            continue;
        }
        history.record(&mut editor, &input, shell.dialect, out);
        shell.interrupted();
        let mut ask = |question: &str| confirm(&mut editor, question);
        match shell.input(&input, &mut ask) {
            Ok(Flow::Quit) => break,
            Ok(Flow::Go) => {}
            // The engine's error, and the shell goes on.
            Err(e) => out.error(&e),
        }
    }
    Ok(())
}

/// A y/N question on the editor's line; anything but `y`/`yes` (Ctrl-C
/// and Ctrl-D included) is no.
fn confirm(editor: &mut rustyline::Editor<SqlHelper, FileHistory>, question: &str) -> Result<bool> {
    let set = |editor: &mut rustyline::Editor<SqlHelper, FileHistory>, on: bool| {
        if let Some(helper) = editor.helper_mut() {
            helper.statements = on;
        }
    };
    set(editor, false);
    let answer = editor.readline(&format!("{question}. Run it? [y/N] "));
    set(editor, true);
    Ok(match answer {
        Ok(answer) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        Err(ReadlineError::Interrupted | ReadlineError::Eof) => false,
        Err(e) => return Err(e).context("could not read the answer"),
    })
}

/// The profile's history file: loaded at the start, each input appended
/// as it is run (so a shell that is killed keeps what came before).
struct HistoryFile {
    path: Option<PathBuf>,
    warned: Mutex<bool>,
}

impl HistoryFile {
    fn open(path: &Path, editor: &mut rustyline::Editor<SqlHelper, FileHistory>) -> Self {
        let made = path.parent().map_or(Ok(()), |dir| {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
        });
        // A missing file is a first session, not an error.
        let _ = editor.load_history(path);
        Self {
            path: made.is_ok().then(|| path.to_owned()),
            warned: Mutex::new(false),
        }
    }

    fn record(
        &self,
        editor: &mut rustyline::Editor<SqlHelper, FileHistory>,
        input: &str,
        dialect: lexer::Dialect,
        out: &Output,
    ) {
        if input.starts_with(char::is_whitespace) || lexer::holds_password(input, dialect) {
            return;
        }
        let _ = editor.add_history_entry(input.trim_end());
        let saved = match &self.path {
            // rustyline writes the file with mode 0600.
            Some(path) => editor.append_history(path).map_err(|e| e.to_string()),
            None => Err("its folder could not be made".to_owned()),
        };
        if let Err(e) = saved
            && let Ok(mut warned) = self.warned.lock()
            && !*warned
        {
            *warned = true;
            out.warning(format_args!("the shell's history is not saved: {e}"));
        }
    }
}

/// Statements from standard input, run as they complete.
fn script(shell: &mut Shell, yes: bool) -> Result<()> {
    use std::io::BufRead as _;
    let mut ask = |question: &str| -> Result<bool> {
        if yes {
            Ok(true)
        } else {
            Err(UsageError(format!(
                "refused in a script: {question}; pass --yes to run such statements"
            ))
            .into())
        }
    };
    let mut buffer = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("could not read standard input")?;
        // A command is a line of its own (one that interrupts an
        // unfinished statement sets it aside, as on a terminal).
        if lexer::trailing_command(&format!("{buffer}{line}"), shell.dialect).is_some() {
            let input = format!("{buffer}{line}");
            buffer.clear();
            if shell.input(&input, &mut ask)? == Flow::Quit {
                return Ok(());
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        let (statements, rest) = lexer::split(&buffer, shell.dialect);
        for statement in statements {
            shell.statement(&statement, &mut ask)?;
            if shell.interrupted() {
                return Err(anyhow::anyhow!("interrupted"));
            }
        }
        buffer = rest;
    }
    // A last statement without its `;` still runs.
    if lexer::has_code(&buffer, shell.dialect) {
        shell.statement(buffer.trim(), &mut ask)?;
    }
    Ok(())
}
