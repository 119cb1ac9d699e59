//! What one sample of the system holds: plain data, serialised as the
//! `lord monitor snapshot --json` document and rendered by the exposition.
//! Sizes are bytes, rates are per second, CPU shares are percent of one
//! core (a process may exceed 100 on several cores; the machine's total
//! and each core's stay within 0..=100).

use serde::{Deserialize, Serialize};

/// One sample of the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the sample ended, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// The window the CPU shares and rates were measured over.
    pub window_ms: u64,
    pub host: Host,
    pub cpu: Cpu,
    pub memory: Memory,
    pub filesystems: Vec<Filesystem>,
    pub networks: Vec<Interface>,
    pub processes: Vec<Process>,
    pub containers: Vec<Container>,
    /// lord's own plugins, from its performance monitor, when the
    /// collector was given a [`PluginSource`](crate::PluginSource): their
    /// calls since their figures were last cleared, not a window's.
    #[serde(default)]
    pub plugins: Vec<PluginFigures>,
}

/// The machine as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: Option<String>,
    pub uptime_seconds: u64,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
}

/// CPU use over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// All cores together, 0..=100.
    pub percent: f32,
    pub cores: Vec<Core>,
}

/// One logical core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Core {
    /// Its index, as in `/proc/stat`'s `cpuN`.
    pub index: usize,
    pub percent: f32,
}

/// Memory and swap, as `/proc/meminfo` and `free` count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    pub total: u64,
    /// What `free` calls used: total less available.
    pub used: u64,
    pub available: u64,
    pub free: u64,
    pub swap_total: u64,
    pub swap_used: u64,
}

/// One mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    pub device: String,
    pub mount: String,
    pub kind: String,
    pub total: u64,
    pub available: u64,
    pub read_only: bool,
    pub removable: bool,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// Counters since the interface came up.
    pub received: u64,
    pub transmitted: u64,
    pub receive_errors: u64,
    pub transmit_errors: u64,
    /// Over the window.
    pub received_per_second: f64,
    pub transmitted_per_second: f64,
}

/// One process (threads are counted in it, not listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub parent: Option<u32>,
    pub name: String,
    /// Percent of one core over the window.
    pub cpu_percent: f32,
    /// Resident set size.
    pub memory: u64,
    pub virtual_memory: u64,
    pub threads: u32,
    /// Its command line, only when the collector was asked for command
    /// lines: they can hold secrets passed as arguments.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<Vec<String>>,
}

/// Which cgroup hierarchy a container's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// A control group holding processes: a container when a runtime made it
/// (`runtime` says which), otherwise a service or session group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// The cgroup's path inside its hierarchy (`/system.slice/docker-ID.scope`).
    pub cgroup: String,
    pub version: CgroupVersion,
    /// The runtime its path names (`docker`, `podman`, `containerd`,
    /// `crio`, `lxc`, `kubernetes`), if any.
    pub runtime: Option<String>,
    /// Processes whose cgroup it is.
    pub processes: u32,
    pub memory: Option<u64>,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// CPU time used since it was made.
    pub cpu_seconds: Option<f64>,
    /// CPU over the window, percent of one core.
    pub cpu_percent: Option<f32>,
}

/// What one plugin's calls have cost, as lord's performance monitor keeps
/// them (over every call recorded, across processes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginFigures {
    pub id: String,
    pub calls: u64,
    /// Calls that ended in an error, a trap or a budget.
    pub failures: u64,
    /// Wall time of a call, over all its entry points, in milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub peak_memory_bytes: u64,
    /// The host interface where most of its time went, and that share
    /// (0..=1).
    pub top_interface: Option<(String, f64)>,
    /// Of its `pure` calls, the share answered from the cache.
    pub cache_hit_rate: Option<f64>,
    /// When it last ran, in milliseconds since the Unix epoch.
    pub last_ms: u64,
}
