//! Calls made for the development kit (`lord pdk test`, `lord pdk
//! record`): one command or micro-plugin call on an installed plugin, with
//! everything the host saw of it. The ordinary paths (`run_command`, the
//! micro manager) keep their instances to themselves; a probe keeps the
//! instance long enough to read its memory peak and its refusals.

use std::time::{Duration, Instant};

use lord_manifest::{Isolation, MicroId, PluginId};
use lord_sandbox::{CommandArg, Denial, Failure, Grants, Invocation, Limits, MicroCall};
use lord_store::World;

use crate::error::HostError;
use crate::framework::Framework;

/// What one probed call did.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The returned text, or how the call failed.
    pub outcome: Result<String, Failure>,
    /// The most linear memory the instance held, start-up included.
    pub peak_memory_bytes: u64,
    /// Every distinct access the host refused, with the permission each
    /// needed.
    pub denials: Vec<Denial>,
    /// Bytes written to standard output and error and through the log.
    pub output_bytes: usize,
    /// The call alone, without instantiation.
    pub took: Duration,
}

impl Framework {
    /// Runs `command` of the installed plugin `id` in a fresh instance
    /// (after its on-load hook), then delivers the events it published.
    pub async fn probe_command(
        &mut self,
        id: &PluginId,
        command: &str,
        args: Vec<CommandArg>,
    ) -> Result<Probe, HostError> {
        let plugin = self.ready_to_run(id).await?;
        let mut instance = self.load(plugin.id()).await?;
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
        self.announce_for(
            id,
            "lord.command.finished",
            serde_json::json!({
                "command": command,
                "status": if probe.outcome.is_ok() { "ok" } else { "failed" },
            }),
        );
        self.deliver_events().await;
        Ok(probe)
    }

    /// Calls the micro-plugin `micro` of the installed plugin `id` on
    /// `input` (JSON text) in a fresh instance, under the grants its
    /// isolation allows. Schemas are not checked here: the caller judges
    /// the output.
    pub async fn probe_micro(
        &mut self,
        id: &PluginId,
        micro: &MicroId,
        input: &str,
    ) -> Result<Probe, HostError> {
        let plugin = self.store.require(id)?;
        let spec = plugin
            .manifest
            .micro
            .iter()
            .find(|m| &m.id == micro)
            .ok_or_else(|| {
                HostError::Resolve(format!("`{id}` declares no micro-plugin `{micro}`"))
            })?;
        let isolation = spec.isolation;
        let grants = match isolation {
            Isolation::Strict => Grants::default(),
            Isolation::Limited | Isolation::None => self.grants_for(&plugin)?,
        };
        let limits = Limits::from_manifest(&plugin.manifest.limits);
        let call = MicroCall::new(micro.as_str(), None);
        match plugin.world {
            World::Micro => {
                let compiled = self.prepare_micro(&plugin, isolation)?;
                let mut instance = compiled.instantiate(&grants, limits).await?;
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
            World::Plugin => {
                let mut instance = self.load(plugin.id()).await?;
                let started = Instant::now();
                let result = instance.call_micro(input, &call).await;
                let took = started.elapsed();
                Ok(Probe::of(
                    result,
                    instance.peak_memory_bytes(),
                    instance.denials(),
                    took,
                ))
            }
        }
    }
}

impl Probe {
    fn of(
        result: Result<(String, lord_sandbox::Captured), lord_sandbox::CallError>,
        peak_memory_bytes: u64,
        denials: Vec<Denial>,
        took: Duration,
    ) -> Self {
        Self {
            output_bytes: result.as_ref().map_or(0, |(_, c)| captured_len(c)),
            outcome: result.map(|(text, _)| text).map_err(|e| e.failure),
            peak_memory_bytes,
            denials,
            took,
        }
    }
}

fn captured_len(captured: &lord_sandbox::Captured) -> usize {
    captured.stdout.len()
        + captured.stderr.len()
        + captured.logs.iter().map(|l| l.message.len()).sum::<usize>()
}
