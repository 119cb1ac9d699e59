//! The collector: samples the machine through `sysinfo` (CPU, memory,
//! file systems, interfaces, processes) and the cgroup reader
//! (containers). CPU shares and rates are differences between two
//! refreshes, so a collector keeps its previous refresh: the first
//! [`Collector::sample`] waits one short window to have two, and each
//! later one measures over the time since the last (a stream at a 1 s
//! interval reports each second's use).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sysinfo::{
    CpuRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind, ProcessesToUpdate,
    RefreshKind, System, UpdateKind,
};

use crate::cgroup::{self, CgroupRoots, Membership};
use crate::error::MonitorError;
use crate::snapshot::{
    Core, Cpu, Filesystem, Host, Interface, Memory, PluginFigures, Process, Snapshot,
};

/// What a collector reads beyond the machine-wide figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Read every process (needed for the process table and containers).
    pub processes: bool,
    /// Keep each process's command line; off unless asked, since command
    /// lines can hold secrets.
    pub command_lines: bool,
    /// Where the cgroup hierarchies are.
    pub cgroups: CgroupRoots,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            processes: true,
            command_lines: false,
            cgroups: CgroupRoots::discover(),
        }
    }
}

/// The first sample's window: `sysinfo`'s minimum between two CPU
/// refreshes on Linux is 200 ms; a little more keeps short-lived noise
/// from dominating.
pub const FIRST_WINDOW: Duration = Duration::from_millis(250);

/// Where a sample finds lord's own plugins' figures: the host's
/// performance monitor. A trait, so this crate knows nothing of how the
/// host keeps them; a source that cannot read them gives none, and the
/// sample still describes the machine.
pub trait PluginSource: Send + Sync {
    fn plugins(&self) -> Vec<PluginFigures>;
}

/// Samples the machine; keeps the last refresh to measure the next
/// window against.
pub struct Collector {
    options: Options,
    system: System,
    disks: Disks,
    networks: Networks,
    last: Option<Instant>,
    container_cpu: BTreeMap<String, f64>,
    plugins: Option<Arc<dyn PluginSource>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Collector {
    pub fn new(options: Options) -> Result<Self, MonitorError> {
        let system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_usage())
                .with_memory(MemoryRefreshKind::everything()),
        )
        .map_err(unreadable("CPU and memory"))?;
        Ok(Self {
            options,
            system,
            disks: Disks::new_with_refreshed_list().map_err(unreadable("file system"))?,
            networks: Networks::new_with_refreshed_list().map_err(unreadable("network"))?,
            last: None,
            container_cpu: BTreeMap::new(),
            plugins: None,
        })
    }

    /// Each sample also carries the plugins' figures `source` gives.
    #[must_use]
    pub fn with_plugins(mut self, source: Arc<dyn PluginSource>) -> Self {
        self.plugins = Some(source);
        self
    }

    /// One sample. The first call refreshes, waits [`FIRST_WINDOW`] and
    /// refreshes again; later calls measure over the time since the last.
    pub fn sample(&mut self) -> Result<Snapshot, MonitorError> {
        if self.last.is_none() {
            self.refresh();
            self.last = Some(Instant::now());
            std::thread::sleep(FIRST_WINDOW);
        }
        let window = self.last.map(|t| t.elapsed()).unwrap_or(FIRST_WINDOW);
        self.refresh();
        self.last = Some(Instant::now());
        let window_s = window.as_secs_f64().max(1e-3);
        let (processes, members) = self.processes();
        let containers = cgroup::containers(
            &self.options.cgroups,
            &members,
            &self.container_cpu,
            window_s,
        );
        self.container_cpu = containers
            .iter()
            .filter_map(|c| c.cpu_seconds.map(|s| (c.cgroup.clone(), s)))
            .collect();
        Ok(Snapshot {
            taken_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            window_ms: window.as_millis() as u64,
            host: host(),
            cpu: self.cpu(),
            memory: self.memory(),
            filesystems: self.filesystems(),
            networks: self.networks(window_s),
            processes,
            containers,
            plugins: self
                .plugins
                .as_ref()
                .map(|source| source.plugins())
                .unwrap_or_default(),
        })
    }

    fn refresh(&mut self) {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(true);
        self.networks.refresh(true);
        if self.options.processes {
            let commands = if self.options.command_lines {
                UpdateKind::OnlyIfNotSet
            } else {
                UpdateKind::Never
            };
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing()
                    .with_cpu()
                    .with_memory()
                    .with_cmd(commands)
                    .with_tasks(),
            );
        }
    }

    fn cpu(&self) -> Cpu {
        Cpu {
            percent: self.system.global_cpu_usage(),
            cores: self
                .system
                .cpus()
                .iter()
                .enumerate()
                .map(|(index, c)| Core {
                    index,
                    percent: c.usage(),
                })
                .collect(),
        }
    }

    fn memory(&self) -> Memory {
        let s = &self.system;
        Memory {
            total: s.total_memory(),
            used: s.total_memory().saturating_sub(s.available_memory()),
            available: s.available_memory(),
            free: s.free_memory(),
            swap_total: s.total_swap(),
            swap_used: s.used_swap(),
        }
    }

    fn filesystems(&self) -> Vec<Filesystem> {
        let mut out: Vec<Filesystem> = self
            .disks
            .iter()
            .map(|d| Filesystem {
                device: d.name().to_string_lossy().into_owned(),
                mount: d.mount_point().to_string_lossy().into_owned(),
                kind: d.file_system().to_string_lossy().into_owned(),
                total: d.total_space(),
                available: d.available_space(),
                read_only: d.is_read_only(),
                removable: d.is_removable(),
            })
            .collect();
        out.sort_by(|a, b| a.mount.cmp(&b.mount));
        out
    }

    fn networks(&self, window_s: f64) -> Vec<Interface> {
        let mut out: Vec<Interface> = self
            .networks
            .iter()
            .map(|(name, n)| Interface {
                name: name.to_string_lossy().into_owned(),
                received: n.total_received(),
                transmitted: n.total_transmitted(),
                receive_errors: n.total_errors_on_received(),
                transmit_errors: n.total_errors_on_transmitted(),
                received_per_second: n.received() as f64 / window_s,
                transmitted_per_second: n.transmitted() as f64 / window_s,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Processes (threads folded into theirs) and each one's cgroups.
    fn processes(&self) -> (Vec<Process>, Vec<Membership>) {
        if !self.options.processes {
            return (Vec::new(), Vec::new());
        }
        let mut processes = Vec::new();
        let mut members = Vec::new();
        for p in self.system.processes().values() {
            // sysinfo lists a process's threads as processes of their own
            // on Linux; they are counted in their process instead.
            if p.thread_kind().is_some() {
                continue;
            }
            let pid = p.pid().as_u32();
            processes.push(Process {
                pid,
                parent: p.parent().map(|p| p.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                cpu_percent: p.cpu_usage(),
                memory: p.memory(),
                virtual_memory: p.virtual_memory(),
                // sysinfo lists a process's other threads, not its main one.
                threads: p.tasks().map_or(1, |t| t.len() as u32 + 1),
                command: self.options.command_lines.then(|| {
                    p.cmd()
                        .iter()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect()
                }),
            });
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) {
                members.push(Membership::parse(&text));
            }
        }
        processes.sort_by_key(|p| p.pid);
        (processes, members)
    }
}

fn unreadable(what: &'static str) -> impl Fn(sysinfo::Error) -> MonitorError {
    move |e| MonitorError::Unreadable {
        what,
        reason: e.to_string(),
    }
}

fn host() -> Host {
    let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
        one: 0.0,
        five: 0.0,
        fifteen: 0.0,
    });
    Host {
        name: System::host_name().ok(),
        uptime_seconds: System::uptime().unwrap_or(0),
        load: [load.one, load.five, load.fifteen],
    }
}
