//! The live instances the host calls into: a full plugin's
//! ([`PluginInstance`]: lifecycle hooks, commands, micro handlers, events,
//! messages) and a micro-plugin component's ([`MicroInstance`]), each over
//! one [`Session`](crate::session::Session), and what a call produces.

use lord_manifest::PluginId;
use lord_perf::EntryKind;
use wasmtime::Engine;

use crate::bindings::lord::plugin::types;
use crate::bindings::{Plugin, PluginPre};
use crate::capability::{Denial, Grants};
use crate::error::{CallError, Failure};
use crate::limits::Limits;
use crate::links::Links;
use crate::micro_bindings::lord::plugin::types as micro_types;
use crate::micro_bindings::{MicroPlugin, MicroPluginPre};
use crate::session::{Session, StoreState};

/// Severity of a plugin's log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level's name as configuration and reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
}

/// Everything a call wrote, for the host to show or keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub logs: Vec<LogRecord>,
}

impl Captured {
    /// How many lines [`Captured::last_lines`] gives at most.
    pub const LAST_LINES: usize = 12;
    /// How many characters of one line it keeps.
    pub const LINE_CHARS: usize = 240;

    /// Whether the call logged or wrote to stderr: its diagnostics, which
    /// a host shows its user (standard output is a call's answer).
    pub fn has_diagnostics(&self) -> bool {
        !self.logs.is_empty() || !self.stderr.is_empty()
    }

    /// The diagnostics shown with a failed call (`lord pipe`, `lord pdk
    /// test`): the last lines of the log records (`log LEVEL: ...`), then
    /// the last of standard error (`stderr: ...`), blank ones left out:
    /// [`Self::LAST_LINES`] in all, at least half of them for each when
    /// both have that many (a chatty log must not hide the panic message
    /// on stderr), each cut to [`Self::LINE_CHARS`] characters. Standard
    /// output is left out: it is the call's answer, not its diagnostics.
    /// The lines are the plugin's text as it wrote it: whoever shows them
    /// escapes them.
    pub fn last_lines(&self) -> Vec<String> {
        let (most, chars) = (Self::LAST_LINES, Self::LINE_CHARS);
        let cut = |line: &str| match line.char_indices().nth(chars) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line.to_owned(),
        };
        let logs: Vec<String> = self
            .logs
            .iter()
            .flat_map(|record| {
                let level = record.level.name();
                record
                    .message
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(move |line| format!("log {level}: {}", cut(line)))
            })
            .collect();
        let stderr: Vec<String> = String::from_utf8_lossy(&self.stderr)
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| format!("stderr: {}", cut(line)))
            .collect();
        let from_stderr = stderr.len().min(most - logs.len().min(most / 2));
        let from_logs = logs.len().min(most - from_stderr);
        let last = |lines: Vec<String>, n: usize| {
            let skip = lines.len() - n;
            lines.into_iter().skip(skip)
        };
        last(logs, from_logs)
            .chain(last(stderr, from_stderr))
            .collect()
    }
}

/// A command invocation, already parsed against the manifest: the
/// contract's own record (`lord:plugin/types.invocation`), so a call hands
/// it to the guest as it is, with nothing copied.
pub type Invocation = types::Invocation;

/// One argument of a command (`lord:plugin/types.arg`).
pub type CommandArg = types::Arg;

/// A full plugin's instance: lifecycle hooks, commands and micro handlers.
pub struct PluginInstance {
    session: Session,
    bindings: Plugin,
}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.session.plugin)
            .field("limits", &self.session.limits)
            .field("poisoned", &self.session.poisoned)
            .finish_non_exhaustive()
    }
}

impl PluginInstance {
    pub(crate) async fn new(
        plugin: &PluginId,
        engine: &Engine,
        pre: &PluginPre<StoreState>,
        grants: &Grants,
        limits: Limits,
        links: &Links,
    ) -> Result<Self, CallError> {
        let mut session = Session::new(plugin, engine, grants, limits, links, true)?;
        let bindings = session
            .instantiate(async |store| pre.instantiate_async(store).await)
            .await?;
        Ok(Self { session, bindings })
    }

    pub fn plugin(&self) -> &PluginId {
        &self.session.plugin
    }

    pub fn is_poisoned(&self) -> bool {
        self.session.poisoned
    }

    /// Every distinct access the host refused this instance so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.session.denials()
    }

    /// The most linear memory this instance has held, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.session.peak_memory_bytes()
    }

    pub async fn on_load(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call((EntryKind::Hook, "on-load", 0), async |s| {
                guest.call_on_load(s).await
            })
            .await
            .map(|((), c)| c)
    }

    pub async fn on_enable(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call((EntryKind::Hook, "on-enable", 0), async |s| {
                guest.call_on_enable(s).await
            })
            .await
            .map(|((), c)| c)
    }

    pub async fn on_disable(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call((EntryKind::Hook, "on-disable", 0), async |s| {
                guest.call_on_disable(s).await
            })
            .await
            .map(|((), c)| c)
    }

    pub async fn on_unload(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call((EntryKind::Hook, "on-unload", 0), async |s| {
                guest.call_on_unload(s).await
            })
            .await
            .map(|((), c)| c)
    }

    /// Tells the plugin about a failure; the hook's own failure is returned
    /// but has no further consequence.
    pub async fn on_error(&mut self, message: &str) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call((EntryKind::Hook, "on-error", message.len()), async |s| {
                guest.call_on_error(s, message).await.map(Ok)
            })
            .await
            .map(|((), c)| c)
    }

    /// Runs a declared command; the text is what the plugin returned for the
    /// user's standard output.
    pub async fn run_command(
        &mut self,
        invocation: &Invocation,
    ) -> Result<(String, Captured), CallError> {
        let guest = self.bindings.lord_plugin_guest();
        let (text, captured) = self
            .session
            .call(
                (
                    EntryKind::Command,
                    &invocation.command,
                    invocation_bytes(invocation),
                ),
                async |s| guest.call_run_command(s, invocation).await,
            )
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs one of the plugin's declared micro handlers on JSON text.
    pub async fn call_micro(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<(String, Captured), CallError> {
        let ctx = call.to_wire();
        let guest = self.bindings.lord_plugin_guest();
        let (text, captured) = self
            .session
            .call(
                (EntryKind::Micro, &call.plugin_ctx.id, input.len()),
                async |s| guest.call_call_micro(s, input, ctx).await,
            )
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs several of the plugin's micro handlers in turn, as
    /// [`MicroInstance::execute_each`] does.
    pub async fn call_micro_each(
        &mut self,
        input: String,
        table: &[MicroCall],
        order: &[usize],
        wrote: &mut (dyn FnMut(usize, Captured) + Send),
    ) -> Result<String, (usize, CallError)> {
        let mut text = input;
        for (position, &index) in order.iter().enumerate() {
            let call = lookup(&self.session, table, index).map_err(|e| (position, e))?;
            let (output, captured) = self
                .call_micro(&text, call)
                .await
                .map_err(|e| (position, e))?;
            if captured.has_diagnostics() {
                wrote(position, captured);
            }
            text = output;
        }
        Ok(text)
    }

    /// Delivers one event to the plugin's `handle-event`.
    pub async fn handle_event(&mut self, event: &lord_state::Event) -> Result<Captured, CallError> {
        let wire = types::Event {
            topic: event.topic.clone(),
            source: event.source.clone(),
            payload: event.payload.to_string(),
            at_ms: event.at_ms,
        };
        let guest = self.bindings.lord_plugin_guest();
        self.session.set_handling(Some(event.propagation));
        let outcome = self
            .session
            .call((EntryKind::Event, "", wire.payload.len()), async |s| {
                guest.call_handle_event(s, &wire).await
            })
            .await;
        self.session.set_handling(None);
        outcome.map(|((), c)| c)
    }

    /// Answers a request from plugin `sender` through `handle-message`.
    pub async fn handle_message(
        &mut self,
        sender: &str,
        payload: &str,
    ) -> Result<(String, Captured), CallError> {
        let guest = self.bindings.lord_plugin_guest();
        let (reply, captured) = self
            .session
            .call((EntryKind::Message, "", payload.len()), async |s| {
                guest.call_handle_message(s, sender, payload).await
            })
            .await?;
        self.session.check_returned_output(reply, captured)
    }

    /// Asks one of the plugin's micro handlers whether it accepts `input`.
    pub async fn validate_micro(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<Captured, CallError> {
        let ctx = call.to_wire();
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(
                (EntryKind::Validate, &call.plugin_ctx.id, input.len()),
                async |s| guest.call_validate_micro(s, input, ctx).await,
            )
            .await
            .map(|((), c)| c)
    }
}

/// The size of what a command is handed: its arguments' names and values,
/// in bytes. Only the size is kept (for analytics), never the values.
fn invocation_bytes(invocation: &Invocation) -> usize {
    invocation
        .args
        .iter()
        .map(|arg| arg.name.len() + arg.values.iter().map(String::len).sum::<usize>())
        .sum()
}

/// Entry `index` of a caller's table of call contexts.
fn lookup<'t>(
    session: &Session,
    table: &'t [MicroCall],
    index: usize,
) -> Result<&'t MicroCall, CallError> {
    table.get(index).ok_or_else(|| {
        CallError::new(
            &session.plugin,
            Failure::Setup {
                message: format!("no micro handler #{index} in the call table"),
            },
        )
    })
}

/// Which micro handler a call is for, and the caller's routing key, built
/// once in the shapes both worlds take, so a caller that reuses one pays
/// no allocation per call.
#[derive(Debug, Clone)]
pub struct MicroCall {
    plugin_ctx: types::MicroContext,
    micro_ctx: micro_types::MicroContext,
}

impl MicroCall {
    pub fn new(id: &str, key: Option<&str>) -> Self {
        Self {
            plugin_ctx: types::MicroContext {
                id: id.to_owned(),
                key: key.map(str::to_owned),
            },
            micro_ctx: micro_types::MicroContext {
                id: id.to_owned(),
                key: key.map(str::to_owned),
            },
        }
    }

    fn to_wire(&self) -> &types::MicroContext {
        &self.plugin_ctx
    }

    fn to_micro_wire(&self) -> &micro_types::MicroContext {
        &self.micro_ctx
    }
}

/// A micro-plugin component's instance (world `micro-plugin`).
pub struct MicroInstance {
    session: Session,
    bindings: MicroPlugin,
}

impl std::fmt::Debug for MicroInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroInstance")
            .field("plugin", &self.session.plugin)
            .field("poisoned", &self.session.poisoned)
            .finish_non_exhaustive()
    }
}

impl MicroInstance {
    pub(crate) async fn new(
        plugin: &PluginId,
        engine: &Engine,
        pre: &MicroPluginPre<StoreState>,
        grants: &Grants,
        limits: Limits,
        links: &Links,
        strict: bool,
    ) -> Result<Self, CallError> {
        let mut session = Session::new(plugin, engine, grants, limits, links, !strict)?;
        let bindings = session
            .instantiate(async |store| pre.instantiate_async(store).await)
            .await?;
        Ok(Self { session, bindings })
    }

    pub fn is_poisoned(&self) -> bool {
        self.session.poisoned
    }

    /// Every distinct access the host refused this instance so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.session.denials()
    }

    /// The most linear memory this instance has held, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.session.peak_memory_bytes()
    }

    /// Runs the handler on JSON text and returns JSON text.
    pub async fn execute(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<(String, Captured), CallError> {
        let ctx = call.to_micro_wire();
        let micro = self.bindings.lord_plugin_micro();
        let (text, captured) = self
            .session
            .call(
                (EntryKind::Micro, &call.micro_ctx.id, input.len()),
                async |s| micro.call_execute(s, input, ctx).await,
            )
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs several handlers in turn on this instance, each output the next
    /// input. Each is its own guest call under its own deadline and output
    /// budget; the first failure stops the run and says at which position.
    /// The calls are `table[order[0]]`, `table[order[1]]`, ... so a caller
    /// with prebuilt contexts passes them without building a list per run.
    /// What a step that succeeded logged or wrote to stderr goes to
    /// `wrote`, with the step's position, as it finishes.
    pub async fn execute_each(
        &mut self,
        input: String,
        table: &[MicroCall],
        order: &[usize],
        wrote: &mut (dyn FnMut(usize, Captured) + Send),
    ) -> Result<String, (usize, CallError)> {
        let micro = self.bindings.lord_plugin_micro();
        let mut text = input;
        for (position, &index) in order.iter().enumerate() {
            let ctx = lookup(&self.session, table, index).map_err(|e| (position, e))?;
            let (output, captured) = self
                .session
                .call(
                    (EntryKind::Micro, &ctx.micro_ctx.id, text.len()),
                    async |s| micro.call_execute(s, &text, ctx.to_micro_wire()).await,
                )
                .await
                .map_err(|e| (position, e))?;
            self.session
                .check_output_size(&output, &captured)
                .map_err(|e| (position, e))?;
            if captured.has_diagnostics() {
                wrote(position, captured);
            }
            text = output;
        }
        Ok(text)
    }

    /// Asks the handler whether it accepts `input`.
    pub async fn validate(&mut self, input: &str, call: &MicroCall) -> Result<Captured, CallError> {
        let ctx = call.to_micro_wire();
        let micro = self.bindings.lord_plugin_micro();
        self.session
            .call(
                (EntryKind::Validate, &call.micro_ctx.id, input.len()),
                async |s| micro.call_validate(s, input, ctx).await,
            )
            .await
            .map(|((), c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_lines_are_kept_each_cut_to_a_readable_length() {
        let captured = Captured {
            stdout: b"not shown: it is the answer\n".to_vec(),
            stderr: format!(
                "{}\n\n{}\n",
                (0..20)
                    .map(|i| format!("line {i}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                "x".repeat(300)
            )
            .into_bytes(),
            logs: vec![LogRecord {
                level: LogLevel::Error,
                message: "first\n\nsecond".to_owned(),
            }],
        };
        let lines = captured.last_lines();
        assert_eq!(lines.len(), 12);
        // Both log lines (fewer than half), then the last of stderr.
        assert_eq!(
            lines[..3],
            ["log error: first", "log error: second", "stderr: line 11"]
        );
        assert_eq!(lines[10], "stderr: line 19");
        let long = &lines[11];
        assert_eq!(long.chars().count(), "stderr: ".len() + 240 + 1);
        assert!(
            long.starts_with("stderr: xxx") && long.ends_with("x…"),
            "{long}"
        );
    }

    #[test]
    fn a_chatty_log_leaves_half_the_lines_to_stderr() {
        let captured = Captured {
            stderr: (0..20)
                .map(|i| format!("err {i}\n"))
                .collect::<String>()
                .into_bytes(),
            logs: (0..20)
                .map(|i| LogRecord {
                    level: LogLevel::Info,
                    message: format!("log {i}"),
                })
                .collect(),
            ..Captured::default()
        };
        let lines = captured.last_lines();
        assert_eq!(lines.len(), 12);
        assert_eq!(lines[0], "log info: log 14");
        assert_eq!(lines[5], "log info: log 19");
        assert_eq!(lines[6], "stderr: err 14");
        assert_eq!(lines[11], "stderr: err 19");
        // A quiet stderr leaves the rest to the log, and nothing is asked
        // of an empty capture.
        let logs_only = Captured {
            stderr: Vec::new(),
            ..captured
        };
        assert_eq!(logs_only.last_lines()[0], "log info: log 8");
        assert!(Captured::default().last_lines().is_empty());
    }
}
