//! Running a plugin command: find its owner (one query), make sure the
//! plugin is ready (enabled on first use, subscribers listening), run the
//! command in a fresh instance between its on-load and on-unload hooks,
//! tell subscribers it ran, and deliver what it published.

use lord_manifest::PluginId;
use lord_perf::EntryKind;
use lord_sandbox::{Captured, CommandArg, Invocation, LogLevel, LogRecord};
use lord_store::{InstalledPlugin, PluginState, Store};
use serde_json::json;

use crate::delivery::Delivery;
use crate::error::HostError;
use crate::lifecycle::Lifecycle;
use crate::quota::DataFolder;
use crate::runtime::Runtime;

/// What a command produced.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    pub plugin: PluginId,
    pub text: String,
    pub captured: Captured,
}

/// The parts a command goes through.
pub(crate) struct Dispatch<'a> {
    pub(crate) lifecycle: &'a Lifecycle,
    pub(crate) delivery: &'a Delivery,
    pub(crate) rt: Runtime<'a>,
}

impl Dispatch<'_> {
    /// Runs the plugin command `command` with parsed arguments; `owner`:
    /// the plugin that owns it, when the caller looked it up already.
    pub(crate) async fn run_command(
        &self,
        store: &mut Store,
        command: &str,
        args: Vec<CommandArg>,
        owner: Option<InstalledPlugin>,
    ) -> Result<CommandOutcome, HostError> {
        let owner = match owner {
            Some(owner) => owner,
            None => store
                .command_plugin(command)?
                .ok_or_else(|| HostError::UnknownCommand(command.to_owned()))?,
        };
        let id = owner.id().clone();
        let plugin = self.ready_as(store, owner).await?;
        self.rt.announce(
            store,
            &id,
            "lord.command.started",
            json!({ "command": command }),
        );
        let started = std::time::Instant::now();
        let result = self.run_loaded(store, &plugin, command, args).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.rt
            .global()
            .record_command(command, result.is_ok(), duration_ms);
        // Counted only while shared: without the user's opt-in nothing
        // about use is kept at all. A count that cannot be written is not
        // worth failing the command over.
        if self.rt.shares_usage() {
            let version = plugin.manifest.plugin.version.to_string();
            let _ = store.count_use(id.as_str(), &version, result.is_ok());
        }
        self.finished(store, &id, command, result.is_ok(), Some(duration_ms))
            .await;
        result
    }

    /// Tells subscribers a command of `id` ran, then delivers the events and
    /// messages it queued.
    pub(crate) async fn finished(
        &self,
        store: &mut Store,
        id: &PluginId,
        command: &str,
        ok: bool,
        duration_ms: Option<u64>,
    ) {
        let mut payload = json!({
            "command": command,
            "status": if ok { "ok" } else { "failed" },
        });
        if let Some(ms) = duration_ms {
            payload["duration_ms"] = json!(ms);
        }
        self.rt
            .announce(store, id, "lord.command.finished", payload);
        self.delivery.deliver(self.lifecycle, self.rt, store).await;
        // Requests the command's plugin made to a plugin the policies
        // refuse were noted where no store could be written.
        let _ = crate::governance::record_step_refusals(self.rt.governance(), store);
    }

    /// The installed plugin `id`, ready for a command: enabled if this is
    /// its first use, with every subscriber listening.
    pub(crate) async fn ready(
        &self,
        store: &mut Store,
        id: &PluginId,
    ) -> Result<InstalledPlugin, HostError> {
        let plugin = store.require(id)?;
        self.ready_as(store, plugin).await
    }

    /// [`Dispatch::ready`] for a plugin record already read.
    async fn ready_as(
        &self,
        store: &mut Store,
        mut plugin: InstalledPlugin,
    ) -> Result<InstalledPlugin, HostError> {
        let id = plugin.id().clone();
        let id = &id;
        // A plugin installed from a package and never enabled is enabled by
        // its first use: its on-load and on-enable hooks run now, not at
        // install.
        // The policies decide that `enable` as any other (in the lifecycle).
        if plugin.state == PluginState::Installed {
            self.lifecycle.enable(self.rt, store, id).await?;
            plugin = store.require(id)?;
        }
        // Subscribers must be listening before anything is published.
        if let Err(e) = self.delivery.subscribe(self.rt, store) {
            let _ = store.audit(id, "subscribers not set up", &e.to_string());
        }
        Ok(plugin)
    }

    async fn run_loaded(
        &self,
        store: &mut Store,
        plugin: &InstalledPlugin,
        command: &str,
        args: Vec<CommandArg>,
    ) -> Result<CommandOutcome, HostError> {
        let id = plugin.id().clone();
        let invocation = Invocation {
            command: command.to_owned(),
            args,
        };
        // A plugin that may not run (disabled, failed, its breaker open)
        // says so first: before a cached answer, which would otherwise keep
        // it answering, and before any quota.
        self.lifecycle.may_run(plugin)?;
        // A `pure` command's answer may come from the result cache: then no
        // instance is made and no plugin code runs.
        let cached = self.cache_key(plugin, &invocation)?;
        if let Some(key) = &cached {
            let hit = self.rt.loader().results().get(key);
            let answer = hit.as_deref().and_then(|bytes| answer_from(bytes));
            self.rt.loader().recorder().record_cache(
                &id,
                EntryKind::Command,
                command,
                answer.is_some(),
            );
            if let Some((text, captured)) = answer {
                return Ok(CommandOutcome {
                    plugin: id,
                    text,
                    captured,
                });
            }
        }
        // A plugin whose data folder is over its quota runs nothing until
        // files are removed from it.
        let data = self.rt.data_folder(plugin);
        if let Some(over) = data.as_ref().and_then(DataFolder::over) {
            store.audit(&id, "throttled (data-mib)", &over)?;
            return Err(HostError::Throttled {
                plugin: id,
                message: over,
                disabled: false,
            });
        }
        // Per-minute quotas: a plugin that used up its calls or CPU time
        // runs nothing until its window resets, and each refusal counts
        // towards disabling it.
        let quota = self.rt.quota(&id);
        if let Err(throttle) = quota.admit() {
            let disabled = self
                .lifecycle
                .throttled(self.rt, store, &id, quota.take_throttles())
                .await?;
            return Err(HostError::Throttled {
                plugin: id,
                message: throttle.to_string(),
                disabled,
            });
        }
        let result = self.call(store, plugin, &invocation, cached.as_ref()).await;
        // What the call was refused (events, messages, requests over their
        // quotas) is judged once it ended, whatever its outcome.
        self.lifecycle
            .throttled(self.rt, store, &id, quota.take_throttles())
            .await?;
        // A folder the call filled past its quota is noted now; the next
        // command is refused until it is under again.
        if let Some(over) = data.as_ref().and_then(DataFolder::over) {
            store.audit(&id, "over data quota", &over)?;
        }
        result
    }

    /// Runs the command in a fresh instance between its hooks; a failure
    /// of the plugin's own counts towards its breaker.
    async fn call(
        &self,
        store: &mut Store,
        plugin: &InstalledPlugin,
        invocation: &Invocation,
        cached: Option<&crate::results::ResultKey>,
    ) -> Result<CommandOutcome, HostError> {
        let id = plugin.id().clone();
        // The command's `run` was put to the policies, with its name, by
        // `Framework::run_command` before anything else.
        let mut instance = self.lifecycle.load_decided(self.rt, store, plugin).await?;
        // The call's figures are written to `perf.db` when the process
        // ends (or within seconds): opened now, beside the call, not on
        // the way out. After the load, which waited for the engine's
        // starting thread, so the two do not share the cores.
        self.rt.loader().recorder().open_ahead();
        match instance.run_command(invocation).await {
            Ok((text, captured)) => {
                if let Some(key) = cached {
                    self.rt
                        .loader()
                        .results()
                        .put(key, answer_bytes(&text, &captured));
                }
                // Only a plugin with failures on record needs a write.
                if plugin.consecutive_failures != 0 {
                    store.record_success(&id)?;
                }
                // The unload hook's failure does not undo a command that
                // succeeded; it is recorded for `plugin info`.
                if let Err(e) = instance.on_unload().await {
                    store.audit(&id, "on-unload failed", &e.to_string())?;
                }
                Ok(CommandOutcome {
                    plugin: id,
                    text,
                    captured,
                })
            }
            // Only the plugin's own failures count towards its breaker; a
            // host set-up problem is recorded and left at the host's door.
            Err(e) if e.failure.is_plugin_fault() => {
                self.lifecycle
                    .failed(self.rt, store, &id, &e.to_string())
                    .await?;
                Err(e.into())
            }
            Err(e) => {
                store.audit(&id, "host failure", &e.to_string())?;
                Err(e.into())
            }
        }
    }
}

impl Dispatch<'_> {
    /// The result-cache key of `invocation`, when its command is `pure`.
    fn cache_key(
        &self,
        plugin: &InstalledPlugin,
        invocation: &Invocation,
    ) -> Result<Option<crate::results::ResultKey>, HostError> {
        let pure = plugin
            .manifest
            .commands
            .iter()
            .any(|c| c.pure && c.name.as_str() == invocation.command);
        if !pure {
            return Ok(None);
        }
        let args: Vec<serde_json::Value> = invocation
            .args
            .iter()
            .map(|a| json!([a.name, a.values]))
            .collect();
        let input = serde_json::Value::Array(args).to_string();
        let entry = format!("command:{}", invocation.command);
        Ok(Some(
            self.rt.result_base(plugin)?.key(&entry, input.as_bytes()),
        ))
    }
}

fn level_of(name: &str) -> Option<LogLevel> {
    Some(match name {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        _ => return None,
    })
}

/// A command's answer as the result cache keeps it: what it returned and
/// everything it wrote, so a cached run shows exactly what the real one did.
fn answer_bytes(text: &str, captured: &Captured) -> Vec<u8> {
    let logs: Vec<serde_json::Value> = captured
        .logs
        .iter()
        .map(|l| json!([l.level.name(), l.message]))
        .collect();
    json!({
        "text": text,
        "stdout": captured.stdout,
        "stderr": captured.stderr,
        "logs": logs,
    })
    .to_string()
    .into_bytes()
}

/// The answer kept by [`answer_bytes`]; `None` for anything else (an entry
/// from another lord, a damaged file), which is then a miss.
fn answer_from(bytes: &[u8]) -> Option<(String, Captured)> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let text = value["text"].as_str()?.to_owned();
    let stream =
        |name: &str| -> Option<Vec<u8>> { serde_json::from_value(value.get(name)?.clone()).ok() };
    let mut logs = Vec::new();
    for log in value["logs"].as_array()? {
        logs.push(LogRecord {
            level: level_of(log[0].as_str()?)?,
            message: log[1].as_str()?.to_owned(),
        });
    }
    Some((
        text,
        Captured {
            stdout: stream("stdout")?,
            stderr: stream("stderr")?,
            logs,
        },
    ))
}
