//! Calls made for the development kit (`lord pdk test`, `lord pdk
//! record`): one command or micro-plugin call on an installed plugin, with
//! everything the host saw of it. The ordinary paths (`run_command`, the
//! micro manager) keep their instances to themselves; a probe keeps the
//! instance (through the host's public `load` and `micro_instance`) long
//! enough to read its memory peak and its refusals.

use std::time::{Duration, Instant};

use lord_host::{CommandArg, Denial, Failure, Framework, HostError, Invocation, MicroCall};
use lord_manifest::{MicroId, PluginId};

/// What one probed call did.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// The returned text, or how the call failed.
    pub(crate) outcome: Result<String, Failure>,
    /// The most linear memory the instance held, start-up included.
    pub(crate) peak_memory_bytes: u64,
    /// Every distinct access the host refused, with the permission each
    /// needed.
    pub(crate) denials: Vec<Denial>,
    /// Bytes written to standard output and error and through the log.
    pub(crate) output_bytes: usize,
    /// The last lines it wrote through its log and to standard error, for
    /// a failed case's report ([`Probe::explain`]).
    pub(crate) wrote: Vec<String>,
    /// The call alone, without instantiation.
    pub(crate) took: Duration,
}

/// Runs `command` of the installed plugin `id` in a fresh instance (after
/// its on-load hook), then delivers the events it published.
pub(crate) async fn probe_command(
    framework: &mut Framework,
    id: &PluginId,
    command: &str,
    args: Vec<CommandArg>,
) -> Result<Probe, HostError> {
    let mut instance = framework.load(id).await?;
    let invocation = Invocation {
        command: command.to_owned(),
        args,
    };
    let started = Instant::now();
    let result = instance.run_command(&invocation).await;
    let took = started.elapsed();
    let probe = Probe::of(
        result,
        instance.peak_memory_bytes(),
        instance.denials(),
        took,
    );
    let _ = instance.on_unload().await;
    framework
        .after_command(id, command, probe.outcome.is_ok())
        .await;
    Ok(probe)
}

/// Calls the micro-plugin `micro` of the installed plugin `id` on `input`
/// (JSON text) in a fresh instance, under the grants its isolation allows.
/// Schemas are not checked here: the caller judges the output.
pub(crate) async fn probe_micro(
    framework: &Framework,
    id: &PluginId,
    micro: &MicroId,
    input: &str,
) -> Result<Probe, HostError> {
    let mut instance = framework.micro_instance(id, micro).await?;
    let call = MicroCall::new(micro.as_str(), None);
    let started = Instant::now();
    let result = instance.execute(input, &call).await;
    let took = started.elapsed();
    Ok(Probe::of(
        result,
        instance.peak_memory_bytes(),
        instance.denials(),
        took,
    ))
}

impl Probe {
    fn of(
        result: Result<(String, lord_host::Captured), lord_host::CallError>,
        peak_memory_bytes: u64,
        denials: Vec<Denial>,
        took: Duration,
    ) -> Self {
        // A failed call carries what it wrote before failing, if anything.
        let captured = match &result {
            Ok((_, captured)) => Some(captured),
            Err(error) => error.captured.as_deref(),
        };
        Self {
            output_bytes: captured.map_or(0, captured_len),
            wrote: captured.map(last_lines).unwrap_or_default(),
            outcome: result.map(|(text, _)| text).map_err(|e| e.failure),
            peak_memory_bytes,
            denials,
            took,
        }
    }
}

impl Probe {
    /// `reason`, and after it the last lines the plugin wrote, when it
    /// wrote any: a failed case is explained by its plugin's diagnostics
    /// more often than by its answer.
    pub(crate) fn explain(&self, reason: String) -> String {
        if self.wrote.is_empty() {
            return reason;
        }
        let mut text = format!("{reason}\n      it wrote (last lines):");
        for line in &self.wrote {
            text.push_str("\n        ");
            text.push_str(line);
        }
        text
    }
}

/// The last lines `captured` logged and wrote to standard error
/// ([`lord_host::Captured::last_lines`]), each escaped as foreign text: a
/// plugin's escape sequences must not reach the report's terminal.
fn last_lines(captured: &lord_host::Captured) -> Vec<String> {
    captured
        .last_lines()
        .iter()
        .map(|line| lord_terminal::escape_text(line, lord_terminal::Policy::Foreign))
        .collect()
}

fn captured_len(captured: &lord_host::Captured) -> usize {
    captured.stdout.len()
        + captured.stderr.len()
        + captured.logs.iter().map(|l| l.message.len()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lord_host::{Captured, LogLevel, LogRecord};

    #[test]
    fn escapes_in_what_a_plugin_wrote_reach_no_terminal() {
        let captured = Captured {
            stderr: b"err \x1b[2Jcleared\n".to_vec(),
            logs: vec![LogRecord {
                level: LogLevel::Info,
                message: "\u{1b}]52;c;Z290Y2hh\u{7} copied\rhidden".to_owned(),
            }],
            ..Captured::default()
        };
        let lines = last_lines(&captured);
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(
                !line.chars().any(char::is_control),
                "a control character got through: {line:?}"
            );
        }
        assert!(
            lines[0].contains("copied") && lines[0].contains("hidden"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("stderr: err ") && lines[1].contains("cleared"));
    }
}
