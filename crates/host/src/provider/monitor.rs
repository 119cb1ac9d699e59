//! The `monitor` provider: system monitoring as a first-party plugin. It
//! adds the `lord monitor` commands (snapshots, streams, alert watching,
//! the Prometheus endpoint and Pushgateway pushes) and `lord alert`, over
//! `lord-monitor`, and serves `lord:plugin/metrics` to plugins granted
//! `sys-metrics` through one sampler per process ([`sampler`]). Disabled,
//! the commands are gone and the interface is withheld; the alert log
//! (`monitor.db`) stays as it was.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lord_manifest::{PluginId, Version};
use lord_monitor::{Collector, Options, Snapshot};
use lord_sandbox::SystemMetrics;
use serde_json::json;

use super::{Provider, ProviderCommand};

/// How long a sample answers every plugin that asks. A sample reads every
/// process under `/proc` (milliseconds on a busy machine); a plugin
/// calling in a loop gets the same figures rather than making the host
/// read them again and again, and two plugins see one window.
const REUSE: Duration = Duration::from_secs(1);

/// One collector and its newest sample.
#[derive(Default)]
struct Slot {
    collector: Option<Collector>,
    last: Option<(Instant, Arc<Snapshot>)>,
}

/// The process's sampler for `lord:plugin/metrics`: one collector without
/// command lines, and one with them, made only when a plugin granted
/// `sys-metrics(command-lines)` first asks, so command lines are never
/// read for plugins that may not see them.
#[derive(Default)]
struct Sampler {
    slots: Mutex<[Slot; 2]>,
}

impl SystemMetrics for Sampler {
    fn sample(&self, command_lines: bool) -> Result<Arc<Snapshot>, String> {
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| "the sampler failed in another call; try again".to_owned())?;
        let slot = &mut slots[usize::from(command_lines)];
        if let Some((at, snapshot)) = &slot.last
            && at.elapsed() < REUSE
        {
            return Ok(Arc::clone(snapshot));
        }
        let collector = match &mut slot.collector {
            Some(collector) => collector,
            empty => empty.insert(
                Collector::new(Options {
                    command_lines,
                    ..Options::default()
                })
                .map_err(|e| e.to_string())?,
            ),
        };
        let snapshot = Arc::new(collector.sample().map_err(|e| e.to_string())?);
        slot.last = Some((Instant::now(), Arc::clone(&snapshot)));
        Ok(snapshot)
    }
}

/// The sampler every plugin granted `sys-metrics` in this process reaches.
pub(crate) fn sampler() -> Arc<dyn SystemMetrics> {
    static SAMPLER: OnceLock<Arc<dyn SystemMetrics>> = OnceLock::new();
    Arc::clone(SAMPLER.get_or_init(|| Arc::new(Sampler::default())))
}

/// The `monitor` provider.
#[derive(Debug, Clone, Copy)]
pub struct Monitor;

impl Provider for Monitor {
    fn id(&self) -> PluginId {
        PluginId::from_static("monitor")
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        "System monitoring: CPU, memory, disks, network, processes and containers, as \
         snapshots, streams and Prometheus metrics"
    }

    fn commands(&self) -> Vec<ProviderCommand> {
        vec![
            ProviderCommand {
                name: "monitor",
                about: "Watch the system: snapshots, streams, alerts and Prometheus metrics",
            },
            ProviderCommand {
                name: "alert",
                about: "Alert rules: list them with their state, test their channels, silence them",
            },
        ]
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["lord:plugin/metrics"]
    }

    fn config_schema(&self) -> Option<serde_json::Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "monitor.interval": {
                    "type": "string",
                    "description": "time between samples of `lord monitor stream` and pushes \
                                    when no --interval is given (`1s`, `500ms`, `1m`)"
                }
            }
        }))
    }
}
