//! Named figures of a snapshot, as alert rules name them: `cpu.percent`,
//! `memory.used_percent`, `load.1m`, `processes`, and per object
//! `filesystem:/home.used_percent`, `network:eth0.received_per_second`,
//! `container:/system.slice/x.scope.memory`, `process:postgres.cpu_percent`
//! (summed over the processes of that name) or `process:postgres.count`,
//! and lord's own plugins: `plugin:git.p95_ms`, `plugin:git.failures`
//! (a rate rule on it watches new failures), `plugin:git.calls`.
//! Parsed once, when the rules are read, so a typo is refused then.

use std::fmt;
use std::str::FromStr;

use crate::snapshot::Snapshot;

/// A figure a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    CpuPercent,
    MemoryUsedPercent,
    MemoryUsed,
    MemoryAvailable,
    SwapUsedPercent,
    Load(usize),
    Processes,
    Filesystem {
        mount: String,
        field: FsField,
    },
    Network {
        interface: String,
        field: NetField,
    },
    Container {
        cgroup: String,
        field: ContainerField,
    },
    Process {
        name: String,
        field: ProcessField,
    },
    Plugin {
        id: String,
        field: PluginField,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsField {
    UsedPercent,
    Available,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetField {
    ReceivedPerSecond,
    TransmittedPerSecond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerField {
    Memory,
    CpuPercent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessField {
    CpuPercent,
    Memory,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginField {
    Calls,
    Failures,
    P95Ms,
}

const KNOWN: &str = "cpu.percent, memory.used_percent, memory.used, memory.available, \
                     swap.used_percent, load.1m|5m|15m, processes, \
                     filesystem:MOUNT.used_percent|available, \
                     network:IFACE.received_per_second|transmitted_per_second, \
                     container:CGROUP.memory|cpu_percent, process:NAME.cpu_percent|memory|count, \
                     plugin:ID.calls|failures|p95_ms";

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let unknown = || format!("`{text}` is not a metric; known: {KNOWN}");
        let simple = match text {
            "cpu.percent" => Some(Self::CpuPercent),
            "memory.used_percent" => Some(Self::MemoryUsedPercent),
            "memory.used" => Some(Self::MemoryUsed),
            "memory.available" => Some(Self::MemoryAvailable),
            "swap.used_percent" => Some(Self::SwapUsedPercent),
            "load.1m" => Some(Self::Load(0)),
            "load.5m" => Some(Self::Load(1)),
            "load.15m" => Some(Self::Load(2)),
            "processes" => Some(Self::Processes),
            _ => None,
        };
        if let Some(metric) = simple {
            return Ok(metric);
        }
        let (kind, rest) = text.split_once(':').ok_or_else(unknown)?;
        // The object's name may hold dots (a cgroup path); the field is
        // after the last one.
        let (object, field) = rest.rsplit_once('.').ok_or_else(unknown)?;
        let object = object.to_owned();
        match (kind, field) {
            ("filesystem", "used_percent") => Ok(Self::Filesystem {
                mount: object,
                field: FsField::UsedPercent,
            }),
            ("filesystem", "available") => Ok(Self::Filesystem {
                mount: object,
                field: FsField::Available,
            }),
            ("network", "received_per_second") => Ok(Self::Network {
                interface: object,
                field: NetField::ReceivedPerSecond,
            }),
            ("network", "transmitted_per_second") => Ok(Self::Network {
                interface: object,
                field: NetField::TransmittedPerSecond,
            }),
            ("container", "memory") => Ok(Self::Container {
                cgroup: object,
                field: ContainerField::Memory,
            }),
            ("container", "cpu_percent") => Ok(Self::Container {
                cgroup: object,
                field: ContainerField::CpuPercent,
            }),
            ("process", "cpu_percent") => Ok(Self::Process {
                name: object,
                field: ProcessField::CpuPercent,
            }),
            ("process", "memory") => Ok(Self::Process {
                name: object,
                field: ProcessField::Memory,
            }),
            ("process", "count") => Ok(Self::Process {
                name: object,
                field: ProcessField::Count,
            }),
            ("plugin", "calls") => Ok(Self::Plugin {
                id: object,
                field: PluginField::Calls,
            }),
            ("plugin", "failures") => Ok(Self::Plugin {
                id: object,
                field: PluginField::Failures,
            }),
            ("plugin", "p95_ms") => Ok(Self::Plugin {
                id: object,
                field: PluginField::P95Ms,
            }),
            _ => Err(unknown()),
        }
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64 * 100.0)
}

impl Metric {
    /// Its value in `s`; `None` when the object it names is not there
    /// (what an absence rule watches for).
    pub fn read(&self, s: &Snapshot) -> Option<f64> {
        let m = &s.memory;
        match self {
            Self::CpuPercent => Some(f64::from(s.cpu.percent)),
            Self::MemoryUsedPercent => percent(m.used, m.total),
            Self::MemoryUsed => Some(m.used as f64),
            Self::MemoryAvailable => Some(m.available as f64),
            Self::SwapUsedPercent => percent(m.swap_used, m.swap_total),
            Self::Load(i) => s.host.load.get(*i).copied(),
            Self::Processes => Some(s.processes.len() as f64),
            Self::Filesystem { mount, field } => {
                let fs = s.filesystems.iter().find(|f| f.mount == *mount)?;
                match field {
                    FsField::UsedPercent => {
                        percent(fs.total - fs.available.min(fs.total), fs.total)
                    }
                    FsField::Available => Some(fs.available as f64),
                }
            }
            Self::Network { interface, field } => {
                let i = s.networks.iter().find(|i| i.name == *interface)?;
                Some(match field {
                    NetField::ReceivedPerSecond => i.received_per_second,
                    NetField::TransmittedPerSecond => i.transmitted_per_second,
                })
            }
            Self::Container { cgroup, field } => {
                let c = s.containers.iter().find(|c| c.cgroup == *cgroup)?;
                match field {
                    ContainerField::Memory => c.memory.map(|v| v as f64),
                    ContainerField::CpuPercent => c.cpu_percent.map(f64::from),
                }
            }
            Self::Process { name, field } => {
                let mut matching = s.processes.iter().filter(|p| p.name == *name).peekable();
                matching.peek()?;
                Some(match field {
                    ProcessField::CpuPercent => matching.map(|p| f64::from(p.cpu_percent)).sum(),
                    ProcessField::Memory => matching.map(|p| p.memory as f64).sum(),
                    ProcessField::Count => matching.count() as f64,
                })
            }
            Self::Plugin { id, field } => {
                let p = s.plugins.iter().find(|p| p.id == *id)?;
                Some(match field {
                    PluginField::Calls => p.calls as f64,
                    PluginField::Failures => p.failures as f64,
                    PluginField::P95Ms => p.p95_ms,
                })
            }
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CpuPercent => f.write_str("cpu.percent"),
            Self::MemoryUsedPercent => f.write_str("memory.used_percent"),
            Self::MemoryUsed => f.write_str("memory.used"),
            Self::MemoryAvailable => f.write_str("memory.available"),
            Self::SwapUsedPercent => f.write_str("swap.used_percent"),
            Self::Load(i) => write!(f, "load.{}", ["1m", "5m", "15m"].get(*i).unwrap_or(&"?")),
            Self::Processes => f.write_str("processes"),
            Self::Filesystem { mount, field } => write!(
                f,
                "filesystem:{mount}.{}",
                match field {
                    FsField::UsedPercent => "used_percent",
                    FsField::Available => "available",
                }
            ),
            Self::Network { interface, field } => write!(
                f,
                "network:{interface}.{}",
                match field {
                    NetField::ReceivedPerSecond => "received_per_second",
                    NetField::TransmittedPerSecond => "transmitted_per_second",
                }
            ),
            Self::Container { cgroup, field } => write!(
                f,
                "container:{cgroup}.{}",
                match field {
                    ContainerField::Memory => "memory",
                    ContainerField::CpuPercent => "cpu_percent",
                }
            ),
            Self::Process { name, field } => write!(
                f,
                "process:{name}.{}",
                match field {
                    ProcessField::CpuPercent => "cpu_percent",
                    ProcessField::Memory => "memory",
                    ProcessField::Count => "count",
                }
            ),
            Self::Plugin { id, field } => write!(
                f,
                "plugin:{id}.{}",
                match field {
                    PluginField::Calls => "calls",
                    PluginField::Failures => "failures",
                    PluginField::P95Ms => "p95_ms",
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_parse_and_print_back() {
        for text in [
            "cpu.percent",
            "load.5m",
            "filesystem:/home.used_percent",
            "container:/system.slice/docker-1.scope.memory",
            "process:postgres.count",
            "plugin:acme.git.p95_ms",
        ] {
            let metric: Metric = text.parse().expect(text);
            assert_eq!(metric.to_string(), text);
        }
        let err = "cpu.pct".parse::<Metric>().unwrap_err();
        assert!(err.contains("cpu.percent"), "{err}");
    }
}
