//! `lord:plugin/metrics`: a plugin granted `sys-metrics` reads the
//! machine's figures. The sampling is a service the host links
//! ([`SystemMetrics`], the `monitor` provider's collector), so a disabled
//! provider withholds the interface and a host without one refuses the
//! calls. Command lines reach only a plugin granted
//! `sys-metrics(command-lines)`: without it the host asks the service for
//! none, so they are never read on the plugin's behalf, let alone copied
//! into its memory.

use std::sync::Arc;

use lord_manifest::PermissionFamily;
use lord_monitor::Snapshot;
use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::metrics;
use crate::session::StoreState;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/metrics",
    family: Some(PermissionFamily::SysMetrics),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    metrics::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// What a plugin's `sys-metrics` grants let it read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricsAccess {
    /// No `sys-metrics` grant.
    #[default]
    None,
    /// `sys-metrics`: every figure but command lines.
    Figures,
    /// `sys-metrics(command-lines)`: command lines too.
    CommandLines,
}

/// The host's sampler of the machine, shared by every instance that may
/// read it. Blocking: the interface calls it off the async executor.
pub trait SystemMetrics: Send + Sync {
    /// A sample of the machine; processes' command lines only when
    /// `command_lines`. The error is shown to the plugin as it is.
    fn sample(&self, command_lines: bool) -> Result<Arc<Snapshot>, String>;
}

impl StoreState {
    /// A sample under this instance's grant, taken on a blocking thread so
    /// the call's deadline can still end the call while `/proc` is read.
    async fn metrics_sample(&mut self) -> Result<Arc<Snapshot>, String> {
        self.meter.enter(Area::Metrics);
        let command_lines = match self.metrics {
            MetricsAccess::None => {
                // The contract check refuses the import without a grant;
                // a grant revoked since the load lands here.
                self.deny(
                    "the machine's figures".to_owned(),
                    Some("sys-metrics".to_owned()),
                );
                return Err("refused: the machine's figures".to_owned());
            }
            MetricsAccess::Figures => false,
            MetricsAccess::CommandLines => true,
        };
        let service = self
            .links
            .get::<Arc<dyn SystemMetrics>>()
            .cloned()
            .ok_or_else(|| {
                "this host serves no system metrics (the `monitor` provider is not running in it)"
                    .to_owned()
            })?;
        tokio::task::spawn_blocking(move || service.sample(command_lines))
            .await
            .map_err(|e| format!("sampling the machine failed: {e}"))?
    }
}

impl metrics::Host for StoreState {
    async fn system(&mut self) -> wasmtime::Result<Result<metrics::SystemFigures, String>> {
        Ok(self.metrics_sample().await.map(|s| system(&s)))
    }

    async fn processes(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<metrics::ProcessFigures>, String>> {
        let command_lines = self.metrics == MetricsAccess::CommandLines;
        Ok(self.metrics_sample().await.map(|s| {
            let mut processes: Vec<_> = s
                .processes
                .iter()
                .map(|p| metrics::ProcessFigures {
                    pid: p.pid,
                    parent: p.parent,
                    name: p.name.clone(),
                    cpu_percent: p.cpu_percent,
                    memory_bytes: p.memory,
                    threads: p.threads,
                    // The service was asked for none without the grant;
                    // dropping them here too keeps that true whatever a
                    // service returns.
                    command_line: if command_lines {
                        p.command.clone()
                    } else {
                        None
                    },
                })
                .collect();
            processes.sort_by_key(|p| p.pid);
            processes
        }))
    }

    async fn containers(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<metrics::ContainerFigures>, String>> {
        Ok(self.metrics_sample().await.map(|s| {
            s.containers
                .iter()
                .map(|c| metrics::ContainerFigures {
                    cgroup: c.cgroup.clone(),
                    runtime: c.runtime.clone(),
                    processes: c.processes,
                    memory_bytes: c.memory,
                    memory_limit_bytes: c.memory_limit,
                    cpu_percent: c.cpu_percent,
                })
                .collect()
        }))
    }
}

/// The machine-wide part of a sample, as the WIT record spells it.
fn system(s: &Snapshot) -> metrics::SystemFigures {
    let m = &s.memory;
    metrics::SystemFigures {
        taken_at_ms: s.taken_at_ms,
        window_ms: s.window_ms,
        uptime_seconds: s.host.uptime_seconds,
        load: (s.host.load[0], s.host.load[1], s.host.load[2]),
        cpu_percent: s.cpu.percent,
        cores: s
            .cpu
            .cores
            .iter()
            .map(|c| metrics::CoreFigures {
                index: u32::try_from(c.index).unwrap_or(u32::MAX),
                percent: c.percent,
            })
            .collect(),
        memory: metrics::MemoryFigures {
            total_bytes: m.total,
            used_bytes: m.used,
            available_bytes: m.available,
            free_bytes: m.free,
            swap_total_bytes: m.swap_total,
            swap_used_bytes: m.swap_used,
        },
        filesystems: s
            .filesystems
            .iter()
            .map(|f| metrics::FilesystemFigures {
                device: f.device.clone(),
                mount_point: f.mount.clone(),
                kind: f.kind.clone(),
                total_bytes: f.total,
                available_bytes: f.available,
                read_only: f.read_only,
            })
            .collect(),
        interfaces: s
            .networks
            .iter()
            .map(|i| metrics::InterfaceFigures {
                name: i.name.clone(),
                received_bytes: i.received,
                transmitted_bytes: i.transmitted,
                received_per_second: i.received_per_second,
                transmitted_per_second: i.transmitted_per_second,
            })
            .collect(),
    }
}
