//! Everything lord writes goes through here: results on standard output
//! (text or JSON), status lines, notes, warnings, errors and prompts on
//! standard error, and what plugins wrote. One `Output` is made from the
//! `Terminal` the context detected, so colour and progress follow one rule:
//! only on a terminal, and never when `NO_COLOR` is set.
//!
//! Nothing a plugin, a manifest or a registry sends may drive the user's
//! terminal, and this is the one place that sees to it (`lord-terminal`
//! does the escaping):
//!
//! - text lord did not write itself is marked with [`foreign`] where it is
//!   placed in a result, and every control and format character in it is
//!   shown escaped (`\u{1b}`), on any output;
//! - status lines, notes, warnings, errors and prompts are escaped whole,
//!   so each stays one line whatever it quotes; lord's colour is added
//!   after;
//! - JSON writes hidden characters as `\uXXXX`;
//! - a plugin's own output (its stdout, stderr and returned text) keeps
//!   text, line breaks, tabs and colour on a terminal, with the colour
//!   reset after it, and every other sequence escaped; piped, it is data
//!   and passes byte for byte. `--raw`, `output.raw` and
//!   `output.raw-plugins` let it pass on a terminal too.

mod analytics;
pub(crate) mod db;
mod events;
mod foreign;
pub(crate) mod monitor;
mod perf;
mod plan;
mod plugin;
mod progress;
mod style;

use std::fmt;
use std::io::Write;

use anyhow::{Context as _, Result};
use lord_host::{Captured, CommandOutcome, LogLevel, LogRecord};
use lord_terminal::{Policy, Report};
use serde::Serialize;

use crate::context::Terminal;

pub(crate) use analytics::analytics_report;
pub(crate) use events::event_line;
pub(crate) use foreign::foreign;
use foreign::{one_line, plugin_stream};
pub(crate) use perf::{perf_report, top_screen};
pub(crate) use plan::{install_plan, permission_changes, programs};
pub(crate) use plugin::{
    history, last_neutralised, native_info, native_json, plugin_info, plugin_json, plugin_table,
    state_note, validation,
};
pub(crate) use progress::{Counter, Spinner, Transfer};
pub(crate) use style::Paint;

/// Where lord's output goes, and how it may look there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    terminal: Terminal,
    /// The least severe log record shown: a plugin's, or lord's own
    /// `debug` lines (`log.level`, `--verbose`, `--quiet`).
    level: LogLevel,
    /// `--quiet`: lord's status lines and notes are left out too.
    quiet: bool,
}

/// A log level's place in severity order.
fn severity(level: LogLevel) -> u8 {
    match level {
        LogLevel::Trace => 0,
        LogLevel::Debug => 1,
        LogLevel::Info => 2,
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

/// `log.level`'s words, as the configuration checks them.
pub(crate) fn log_level(word: &str) -> Option<LogLevel> {
    match word {
        "trace" => Some(LogLevel::Trace),
        "debug" => Some(LogLevel::Debug),
        "info" => Some(LogLevel::Info),
        "warn" => Some(LogLevel::Warn),
        "error" => Some(LogLevel::Error),
        _ => None,
    }
}

impl Output {
    pub(crate) fn new(terminal: Terminal) -> Self {
        Self {
            terminal,
            // `log.level`'s default, until the configuration is read.
            level: LogLevel::Warn,
            quiet: false,
        }
    }

    /// This output showing log records from `level` up, and, when `quiet`,
    /// no status lines or notes.
    pub(crate) fn with_verbosity(self, level: LogLevel, quiet: bool) -> Self {
        Self {
            level,
            quiet,
            ..self
        }
    }

    fn shows(&self, level: LogLevel) -> bool {
        severity(level) >= severity(self.level)
    }

    /// `lord: debug: ...` on standard error, shown from `log.level = debug`
    /// (or `--verbose`) only.
    pub(crate) fn debug(&self, line: impl fmt::Display) {
        if self.shows(LogLevel::Debug) {
            let label = self.paint_stderr(Paint::Debug, "debug:");
            stderr(format!("lord: {label} {}\n", one_line(line)).as_bytes());
        }
    }

    /// Whether text bound for standard output may carry colour.
    pub(crate) fn paints_stdout(&self) -> bool {
        self.terminal.stdout && !self.terminal.no_color
    }

    /// Whether text bound for standard error may carry colour.
    pub(crate) fn paints_stderr(&self) -> bool {
        self.terminal.stderr && !self.terminal.no_color
    }

    /// How clap may colour help (stdout) and usage errors (stderr): as it
    /// judges each stream, unless the user asked for no colour at all.
    pub(crate) fn clap_color(&self) -> clap::ColorChoice {
        if self.terminal.no_color {
            clap::ColorChoice::Never
        } else {
            clap::ColorChoice::Auto
        }
    }

    /// A result on standard output, exactly as given.
    pub(crate) fn text(&self, text: &str) -> Result<()> {
        stdout(text.as_bytes())
    }

    /// A result on standard output, as one line.
    pub(crate) fn line(&self, line: impl fmt::Display) -> Result<()> {
        stdout(format!("{line}\n").as_bytes())
    }

    /// A screen that replaces the last one: on a terminal the cursor goes
    /// home and the screen is cleared first; piped, the text alone.
    pub(crate) fn screen(&self, text: &str) -> Result<()> {
        if self.terminal.stdout {
            stdout(format!("\x1b[H\x1b[2J{text}").as_bytes())
        } else {
            stdout(text.as_bytes())
        }
    }

    /// A value as indented JSON on standard output, for scripts. Hidden
    /// characters in its strings are written as `\uXXXX`.
    pub(crate) fn json(&self, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(lord_terminal::escape_json(&text))
    }

    /// A value as JSON on one line of standard output (streams of events,
    /// short answers).
    pub(crate) fn json_line(&self, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string(value)?;
        self.line(lord_terminal::escape_json(&text))
    }

    /// A line on standard error about what lord did or is doing, kept to
    /// one line whatever it quotes. Losing one (stderr closed) must not
    /// fail the command it describes.
    pub(crate) fn status(&self, line: impl fmt::Display) {
        if !self.quiet {
            stderr(format!("{}\n", one_line(line)).as_bytes());
        }
    }

    /// Text for standard error that lord composed line by line (an install
    /// plan), foreign parts already marked; written as given.
    pub(crate) fn status_text(&self, text: &str) {
        stderr(text.as_bytes());
    }

    /// `note: ...` on standard error.
    pub(crate) fn note(&self, line: impl fmt::Display) {
        if !self.quiet {
            stderr(format!("note: {}\n", one_line(line)).as_bytes());
        }
    }

    /// `lord: warning: ...` on standard error. Lord's own warnings carry its
    /// name, since they may follow a plugin's output.
    pub(crate) fn warning(&self, line: impl fmt::Display) {
        let label = self.paint_stderr(Paint::Warning, "warning:");
        stderr(format!("lord: {label} {}\n", one_line(line)).as_bytes());
    }

    /// `error: ...` on standard error.
    pub(crate) fn error_line(&self, line: impl fmt::Display) {
        let label = self.paint_stderr(Paint::Error, "error:");
        stderr(format!("{label} {}\n", one_line(line)).as_bytes());
    }

    /// The last lines a failed plugin wrote (`who` names it), before its
    /// error: foreign text, one escaped line each on standard error, shown
    /// whatever the log level, since they explain the error that follows.
    pub(crate) fn plugin_wrote(&self, who: &str, lines: &[String]) -> Result<()> {
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(format!("[{who}] ").as_bytes());
            lord_terminal::escape(line.as_bytes(), Policy::Foreign, &mut text);
            text.push(b'\n');
        }
        Ok(write_stderr(&text)?)
    }

    /// The error a command ended with, and its causes, on one line.
    pub(crate) fn error(&self, error: &anyhow::Error) {
        self.error_line(error_chain(error));
    }

    /// A question on standard error, without a newline: the answer is
    /// typed after it.
    pub(crate) fn prompt(&self, question: &str) -> Result<()> {
        Ok(write_stderr(one_line(question).as_bytes())?)
    }

    /// A question whose answer is not echoed (a secret), asked on the
    /// terminal itself.
    pub(crate) fn prompt_hidden(&self, question: &str) -> Result<String> {
        Ok(rpassword::prompt_password(one_line(question))?)
    }

    /// clap's help (standard output) or usage error (standard error).
    pub(crate) fn clap(&self, error: &clap::Error) -> Result<()> {
        Ok(error.print()?)
    }

    /// A spinner naming the current step, on a terminal only.
    pub(crate) fn spinner(&self, what: &str) -> Spinner {
        Spinner::new(self.terminal.stderr, &one_line(what))
    }

    /// A progress bar for a long copy, on a terminal only and not when
    /// `--quiet`.
    pub(crate) fn transfer(&self) -> Transfer {
        Transfer::new(self.terminal.stderr && !self.quiet)
    }

    /// The columns and rows of the terminal standard output shows on, read
    /// afresh (it may have been resized); `None` when it is not one.
    #[expect(
        clippy::disallowed_methods,
        reason = "the renderer is the one place that holds standard output"
    )]
    pub(crate) fn screen_size(&self) -> Option<(usize, usize)> {
        if !self.terminal.stdout {
            return None;
        }
        let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
        (size.ws_col > 0 && size.ws_row > 0)
            .then(|| (usize::from(size.ws_col), usize::from(size.ws_row)))
    }

    /// A count of `what` done so far with its rate, on a terminal only.
    pub(crate) fn counter(&self, what: &str) -> Counter {
        Counter::new(self.terminal.stderr && !self.quiet, &one_line(what))
    }

    /// Text coloured for standard error, when it may be.
    pub(crate) fn paint_stderr(&self, paint: Paint, text: &str) -> String {
        paint.apply(self.paints_stderr(), text)
    }

    /// What a plugin command wrote: its log records (foreign text, one
    /// escaped line each, on any output) and stderr on standard error, its
    /// stdout and returned text on standard output. `raw` lets the plugin's
    /// own output reach a terminal as written. Returns what was escaped in
    /// that output (not in the log records, which are lord's lines), so
    /// the caller can record that the plugin's output was neutralised.
    pub(crate) fn plugin_outcome(&self, outcome: &CommandOutcome, raw: bool) -> Result<Report> {
        let mut report = Report::default();
        let mut diagnostics = Vec::new();
        self.log_records(
            outcome.plugin.as_str(),
            &outcome.captured.logs,
            &mut diagnostics,
        );
        let neutralise_stderr = self.terminal.stderr && !raw;
        report.merge(plugin_stream(
            &outcome.captured.stderr,
            neutralise_stderr,
            &mut diagnostics,
        ));
        write_stderr(&diagnostics)?;
        let mut written = outcome.captured.stdout.clone();
        written.extend_from_slice(outcome.text.as_bytes());
        let mut result = Vec::with_capacity(written.len());
        let neutralise_stdout = self.terminal.stdout && !raw;
        report.merge(plugin_stream(&written, neutralise_stdout, &mut result));
        stdout(&result)?;
        Ok(report)
    }

    /// A plugin's log records, one escaped line each naming `who`; records
    /// below `log.level` are left out, and the level's colour is lord's,
    /// added on a terminal only.
    fn log_records(&self, who: &str, logs: &[LogRecord], out: &mut Vec<u8>) {
        for log in logs.iter().filter(|l| self.shows(l.level)) {
            let (word, paint) = match log.level {
                LogLevel::Trace => ("trace", Paint::Debug),
                LogLevel::Debug => ("debug", Paint::Debug),
                LogLevel::Info => ("info", Paint::Info),
                LogLevel::Warn => ("warn", Paint::Warning),
                LogLevel::Error => ("error", Paint::Error),
            };
            let label = self.paint_stderr(paint, &format!("{word}:"));
            out.extend_from_slice(format!("[{who}] {label} ").as_bytes());
            lord_terminal::escape(log.message.as_bytes(), Policy::Foreign, out);
            out.push(b'\n');
        }
    }

    /// What a micro handler logged or wrote to stderr on a call that
    /// succeeded, on standard error: its log records as a command's are
    /// shown, then its stderr, one escaped line each, `[who] stderr: ...`.
    /// Several steps write in turn, so each line names its step and none
    /// may leave the terminal in a state the next one's would inherit.
    /// Losing them (stderr closed) must not fail the pipeline.
    pub(crate) fn micro_wrote(&self, who: &str, captured: &Captured) {
        let mut text = Vec::new();
        self.log_records(who, &captured.logs, &mut text);
        for line in String::from_utf8_lossy(&captured.stderr).lines() {
            if line.trim().is_empty() {
                continue;
            }
            text.extend_from_slice(format!("[{who}] stderr: ").as_bytes());
            lord_terminal::escape(line.as_bytes(), Policy::Foreign, &mut text);
            text.push(b'\n');
        }
        stderr(&text);
    }

    /// A piece of a model's reply as it streams in: foreign text,
    /// neutralised on a terminal as a plugin's output is, written at once
    /// so the reader sees each token as it arrives.
    pub(crate) fn model_text(&self, text: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(text.len());
        plugin_stream(text.as_bytes(), self.terminal.stdout, &mut bytes);
        stdout(&bytes)
    }

    /// The text a pipeline of micro-plugins produced, as its own line: a
    /// plugin's output, so neutralised on a terminal (unless `raw`) and
    /// data when piped.
    pub(crate) fn plugin_text(&self, text: &str, raw: bool) -> Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        plugin_stream(text.as_bytes(), self.terminal.stdout && !raw, &mut bytes);
        if !text.ends_with('\n') {
            bytes.push(b'\n');
        }
        stdout(&bytes)
    }
}

/// Writes to standard output; a closed pipe is an error for the command.
#[expect(
    clippy::disallowed_methods,
    reason = "the renderer is the one place that holds standard output"
)]
fn stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("could not write to standard output")
}

/// Writes to standard error, at once (a prompt has no newline to flush it).
#[expect(
    clippy::disallowed_methods,
    reason = "the renderer is the one place that holds standard error"
)]
fn write_stderr(bytes: &[u8]) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    err.write_all(bytes).and_then(|()| err.flush())
}

/// Writes a status to standard error, where a failure has nowhere to be
/// reported.
fn stderr(bytes: &[u8]) {
    let _ = write_stderr(bytes);
}

/// An error and its causes as one sentence-like line, without repeating a
/// cause that the message already contains.
pub(crate) fn error_chain(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str(": ");
            out.push_str(&cause);
        }
    }
    out
}
