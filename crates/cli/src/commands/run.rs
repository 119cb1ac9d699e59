//! Runs a plugin command: its arguments from the matches, one framework
//! call, what the plugin wrote through the renderer (also when the call
//! failed: what it wrote before), and a note in the plugin's audit log when
//! the renderer neutralised any of it.

use std::process::ExitCode;

use anyhow::Result;
use clap::ArgMatches;
use lord_host::{CommandOutcome, CommandRecord, Framework};

use crate::cli::plugin_args;
use crate::render::Output;

pub(crate) async fn run(
    out: &Output,
    framework: &mut Framework,
    record: &CommandRecord,
    matches: &ArgMatches,
    raw: bool,
) -> Result<ExitCode> {
    let raw = raw || raw_by_config(framework, record);
    let outcome = match framework
        .run_command(&record.name, plugin_args(record, matches))
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            // What the plugin wrote before it failed is shown first, as it
            // would have been had it succeeded: its diagnostics explain the
            // error that follows.
            if let Some((plugin, captured)) = error.captured() {
                let partial = CommandOutcome {
                    plugin: plugin.clone(),
                    text: String::new(),
                    captured: captured.clone(),
                };
                show(out, framework, &partial, raw)?;
            }
            return Err(error.into());
        }
    };
    show(out, framework, &outcome, raw)?;
    out.debug(format_args!(
        "`{}` ran `{}`: {} log records, {} bytes of output",
        outcome.plugin,
        record.name,
        outcome.captured.logs.len(),
        outcome.text.len() + outcome.captured.stdout.len() + outcome.captured.stderr.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Writes what a plugin wrote through the renderer, and notes in its audit
/// log when any of it was neutralised.
fn show(
    out: &Output,
    framework: &mut Framework,
    outcome: &CommandOutcome,
    raw: bool,
) -> Result<()> {
    let neutralised = out.plugin_outcome(outcome, raw)?;
    if !neutralised.is_clean()
        && let Err(e) = framework.record_output_neutralised(&outcome.plugin, &neutralised.summary())
    {
        out.warning(format_args!(
            "could not record that `{}`'s output was neutralised: {e}",
            outcome.plugin
        ));
    }
    Ok(())
}

/// Whether the configuration lets this plugin's output pass as written:
/// `output.raw = true`, or its id in `output.raw-plugins`.
fn raw_by_config(framework: &Framework, record: &CommandRecord) -> bool {
    let Ok(settings) = framework.settings() else {
        return false;
    };
    let all = settings.get("output.raw").and_then(|v| v.as_bool()) == Some(true);
    let named = settings
        .get("output.raw-plugins")
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(&record.plugin)));
    all || named
}
