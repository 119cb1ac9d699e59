//! The `monitor` provider: system monitoring as a first-party plugin. It
//! adds the `lord monitor` commands (snapshots, streams, alert watching,
//! the Prometheus endpoint and Pushgateway pushes) and `lord alert`, over
//! `lord-monitor`. Disabled, the commands are gone; the alert log
//! (`monitor.db`) stays as it was.

use lord_manifest::{PluginId, Version};
use serde_json::json;

use super::{Provider, ProviderCommand};

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
