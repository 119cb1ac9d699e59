//! Runs a plugin command: parse → framework → print what the plugin wrote.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::ArgMatches;
use lord_host::{CommandRecord, Framework, LogLevel};

use crate::cli::plugin_args;

pub(crate) async fn run(
    framework: &mut Framework,
    record: &CommandRecord,
    matches: &ArgMatches,
) -> Result<ExitCode> {
    let outcome = framework
        .run_command(&record.name, plugin_args(record, matches))
        .await?;
    let mut stderr = std::io::stderr().lock();
    for log in &outcome.captured.logs {
        let level = match log.level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        writeln!(stderr, "[{}] {level}: {}", outcome.plugin, log.message)?;
    }
    stderr.write_all(&outcome.captured.stderr)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&outcome.captured.stdout)?;
    stdout.write_all(outcome.text.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
