//! Everything lord writes goes through here: results on standard output
//! (text or JSON), status lines, notes, warnings, errors and prompts on
//! standard error, and what plugins wrote. One `Output` is made from the
//! `Terminal` the context detected, so colour and progress follow one rule:
//! only on a terminal, and never when `NO_COLOR` is set.
//!
//! Text lord did not write itself (plugin output, manifest fields, registry
//! answers, event payloads) is marked with [`foreign`] or goes through the
//! `plugin_*` methods, so that it can be sanitised here, in one place.

mod events;
mod plan;
mod plugin;
mod progress;
mod style;

use std::fmt;
use std::io::Write;

use anyhow::{Context as _, Result};
use lord_host::{CommandOutcome, LogLevel};
use serde::Serialize;

use crate::context::Terminal;

pub(crate) use events::event_line;
pub(crate) use plan::{install_plan, permission_changes};
pub(crate) use plugin::{
    history, native_info, native_json, plugin_info, plugin_json, plugin_table, state_note,
    validation,
};
pub(crate) use progress::Spinner;
pub(crate) use style::Paint;

/// Where lord's output goes, and how it may look there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    terminal: Terminal,
}

impl Output {
    pub(crate) fn new(terminal: Terminal) -> Self {
        Self { terminal }
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

    /// A value as indented JSON on standard output, for scripts.
    pub(crate) fn json(&self, value: &impl Serialize) -> Result<()> {
        self.line(serde_json::to_string_pretty(value)?)
    }

    /// A value as JSON on one line of standard output (streams of events,
    /// short answers).
    pub(crate) fn json_line(&self, value: &impl Serialize) -> Result<()> {
        self.line(serde_json::to_string(value)?)
    }

    /// A line on standard error about what lord did or is doing. Losing one
    /// (stderr closed) must not fail the command it describes.
    pub(crate) fn status(&self, line: impl fmt::Display) {
        stderr(format!("{line}\n").as_bytes());
    }

    /// Text for standard error, exactly as given (already line-terminated).
    pub(crate) fn status_text(&self, text: &str) {
        stderr(text.as_bytes());
    }

    /// `note: ...` on standard error.
    pub(crate) fn note(&self, line: impl fmt::Display) {
        self.status(format_args!("note: {line}"));
    }

    /// `lord: warning: ...` on standard error. Lord's own warnings carry its
    /// name, since they may follow a plugin's output.
    pub(crate) fn warning(&self, line: impl fmt::Display) {
        let label = self.paint_stderr(Paint::Warning, "warning:");
        self.status(format_args!("lord: {label} {line}"));
    }

    /// `error: ...` on standard error.
    pub(crate) fn error_line(&self, line: impl fmt::Display) {
        let label = self.paint_stderr(Paint::Error, "error:");
        self.status(format_args!("{label} {line}"));
    }

    /// The error a command ended with, and its causes, on one line.
    pub(crate) fn error(&self, error: &anyhow::Error) {
        self.error_line(error_chain(error));
    }

    /// A question on standard error, without a newline: the answer is
    /// typed after it.
    pub(crate) fn prompt(&self, question: &str) -> Result<()> {
        Ok(write_stderr(question.as_bytes())?)
    }

    /// A question whose answer is not echoed (a secret), asked on the
    /// terminal itself.
    pub(crate) fn prompt_hidden(&self, question: &str) -> Result<String> {
        Ok(rpassword::prompt_password(question)?)
    }

    /// clap's help (standard output) or usage error (standard error).
    pub(crate) fn clap(&self, error: &clap::Error) -> Result<()> {
        Ok(error.print()?)
    }

    /// A spinner naming the current step, on a terminal only.
    pub(crate) fn spinner(&self, what: &str) -> Spinner {
        Spinner::new(self.terminal.stderr, what)
    }

    /// Text coloured for standard error, when it may be.
    pub(crate) fn paint_stderr(&self, paint: Paint, text: &str) -> String {
        paint.apply(self.paints_stderr(), text)
    }

    /// What a plugin command wrote: its log records and stderr on standard
    /// error, its stdout and returned text on standard output.
    pub(crate) fn plugin_outcome(&self, outcome: &CommandOutcome) -> Result<()> {
        let mut text = String::new();
        for log in &outcome.captured.logs {
            let level = match log.level {
                LogLevel::Trace => "trace",
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            };
            text.push_str(&format!(
                "[{}] {level}: {}\n",
                outcome.plugin,
                foreign(&log.message)
            ));
        }
        let mut diagnostics = text.into_bytes();
        diagnostics.extend_from_slice(plugin_bytes(&outcome.captured.stderr));
        write_stderr(&diagnostics)?;
        let mut result = plugin_bytes(&outcome.captured.stdout).to_vec();
        result.extend_from_slice(foreign(&outcome.text).as_str().as_bytes());
        stdout(&result)
    }

    /// The text a pipeline of micro-plugins produced, as its own line.
    pub(crate) fn plugin_text(&self, text: &str) -> Result<()> {
        let text = foreign(text);
        let text = text.as_str();
        if text.ends_with('\n') {
            self.text(text)
        } else {
            self.line(text)
        }
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

/// Text that came from outside lord: a plugin, a manifest, a registry, an
/// event. Shown as it is today; this is where control characters and
/// terminal escapes are to be neutralised, for every caller at once.
pub(crate) fn foreign(text: &str) -> Foreign<'_> {
    Foreign(text)
}

/// See [`foreign`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Foreign<'a>(&'a str);

impl<'a> Foreign<'a> {
    pub(crate) fn as_str(self) -> &'a str {
        self.0
    }
}

impl fmt::Display for Foreign<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so a width in the format string (a table column) holds.
        f.pad(self.0)
    }
}

/// Bytes a plugin wrote to its stdout or stderr, passed through as they
/// are today (the sandbox already capped their size).
fn plugin_bytes(bytes: &[u8]) -> &[u8] {
    bytes
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
