//! Containers, read from control groups: each process's cgroup (from
//! `/proc/PID/cgroup`), then each distinct group's memory, limit and CPU
//! time from its hierarchy, the unified (v2) one first and the v1 memory
//! and cpuacct controllers where the machine mounts those instead (or
//! beside it, as hybrid machines do).
//!
//! Hand-read rather than through a crate: the files are a handful of
//! one-number lines, and the cgroup crates on offer manage groups (create,
//! move, limit) and bring far more than reading needs. Which hierarchy is
//! where comes from `/proc/self/mountinfo`, never from a fixed path, so a
//! machine mounting v2 under `/sys/fs/cgroup/unified` is read right.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::snapshot::{CgroupVersion, Container};

/// Where each hierarchy is mounted. Tests point it at a folder of their
/// own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupRoots {
    pub unified: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
}

impl CgroupRoots {
    /// The hierarchies `/proc/self/mountinfo` lists.
    pub fn discover() -> Self {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|text| Self::from_mountinfo(&text))
            .unwrap_or_default()
    }

    /// Reads mount points from mountinfo text: after the ` - ` separator
    /// come the file system type, the source and the super options, which
    /// name a v1 hierarchy's controllers.
    pub fn from_mountinfo(text: &str) -> Self {
        let mut roots = Self::default();
        for line in text.lines() {
            let Some((head, tail)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount) = head.split(' ').nth(4) else {
                continue;
            };
            let mut tail = tail.split(' ');
            let kind = tail.next().unwrap_or("");
            let options = tail.nth(1).unwrap_or("");
            let path = PathBuf::from(unescape_mount(mount));
            if kind == "cgroup2" && roots.unified.is_none() {
                roots.unified = Some(path);
            } else if kind == "cgroup" {
                let controllers: Vec<&str> = options.split(',').collect();
                if controllers.contains(&"memory") && roots.memory.is_none() {
                    roots.memory = Some(path.clone());
                }
                if controllers.contains(&"cpuacct") && roots.cpuacct.is_none() {
                    roots.cpuacct = Some(path);
                }
            }
        }
        roots
    }
}

/// mountinfo writes space, tab, newline and backslash in paths as octal.
fn unescape_mount(path: &str) -> String {
    path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// A process's groups, from its `/proc/PID/cgroup` text: the unified one
/// (`0::PATH`) and the v1 memory one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) unified: Option<String>,
    pub(crate) memory: Option<String>,
    pub(crate) cpuacct: Option<String>,
}

impl Membership {
    pub(crate) fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if id == "0" && controllers.is_empty() {
                out.unified = Some(path.to_owned());
            }
            for controller in controllers.split(',') {
                if controller == "memory" {
                    out.memory = Some(path.to_owned());
                } else if controller == "cpuacct" {
                    out.cpuacct = Some(path.to_owned());
                }
            }
        }
        out
    }
}

/// The groups holding the given processes (the root group, the host
/// itself, left out), with their figures. `previous` holds each group's
/// CPU seconds at the last sample, for the share over `window_s`.
pub(crate) fn containers(
    roots: &CgroupRoots,
    members: &[Membership],
    previous: &BTreeMap<String, f64>,
    window_s: f64,
) -> Vec<Container> {
    let mut groups: BTreeMap<(String, bool), u32> = BTreeMap::new();
    for member in members {
        // A group under v2 whose memory controller is on reads from there;
        // otherwise from v1, where the memory controller is mounted.
        let v2 = member.unified.as_deref().filter(|p| {
            *p != "/"
                && roots.unified.as_ref().is_some_and(|r| {
                    r.join(p.trim_start_matches('/'))
                        .join("memory.current")
                        .exists()
                })
        });
        if let Some(path) = v2 {
            *groups.entry((path.to_owned(), true)).or_default() += 1;
        } else if let Some(path) = member.memory.as_deref().filter(|p| *p != "/")
            && roots.memory.is_some()
        {
            *groups.entry((path.to_owned(), false)).or_default() += 1;
        }
    }
    groups
        .into_iter()
        .map(|((path, v2), processes)| {
            let mut container = if v2 {
                read_v2(roots, &path)
            } else {
                read_v1(roots, &path)
            };
            container.processes = processes;
            container.cpu_percent = match (container.cpu_seconds, previous.get(&path)) {
                (Some(now), Some(before)) if window_s > 0.0 => {
                    Some(((now - before).max(0.0) / window_s * 100.0) as f32)
                }
                _ => None,
            };
            container
        })
        .collect()
}

fn read_v2(roots: &CgroupRoots, path: &str) -> Container {
    let dir = roots
        .unified
        .as_ref()
        .map(|r| r.join(path.trim_start_matches('/')));
    let file = |name: &str| dir.as_ref().and_then(|d| read_trimmed(&d.join(name)));
    let cpu_seconds = file("cpu.stat").and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|usec| usec as f64 / 1e6)
    });
    Container {
        runtime: runtime_of(path),
        cgroup: path.to_owned(),
        version: CgroupVersion::V2,
        processes: 0,
        memory: file("memory.current").and_then(|v| v.parse().ok()),
        // `max` means no limit.
        memory_limit: file("memory.max").and_then(|v| v.parse().ok()),
        cpu_seconds,
        cpu_percent: None,
    }
}

fn read_v1(roots: &CgroupRoots, path: &str) -> Container {
    let under = |root: &Option<PathBuf>, name: &str| {
        root.as_ref()
            .and_then(|r| read_trimmed(&r.join(path.trim_start_matches('/')).join(name)))
    };
    // v1 writes "no limit" as a page-rounded i64::MAX.
    let limit = under(&roots.memory, "memory.limit_in_bytes")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v < (1 << 62));
    Container {
        runtime: runtime_of(path),
        cgroup: path.to_owned(),
        version: CgroupVersion::V1,
        processes: 0,
        memory: under(&roots.memory, "memory.usage_in_bytes").and_then(|v| v.parse().ok()),
        memory_limit: limit,
        cpu_seconds: under(&roots.cpuacct, "cpuacct.usage")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|ns| ns as f64 / 1e9),
        cpu_percent: None,
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The container runtime a cgroup path names, by the names runtimes give
/// their groups.
fn runtime_of(path: &str) -> Option<String> {
    let named = [
        ("kubepods", "kubernetes"),
        ("docker", "docker"),
        ("libpod", "podman"),
        ("crio", "crio"),
        ("containerd", "containerd"),
        ("lxc", "lxc"),
        ("machine.slice", "systemd-nspawn"),
    ];
    named
        .iter()
        .find(|(needle, _)| path.contains(needle))
        .map(|(_, runtime)| (*runtime).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_names_each_hierarchy() {
        let text = "\
30 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
";
        let roots = CgroupRoots::from_mountinfo(text);
        assert_eq!(roots.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(roots.memory, Some(PathBuf::from("/sys/fs/cgroup/memory")));
        assert_eq!(
            roots.cpuacct,
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"))
        );
    }

    #[test]
    fn membership_reads_both_versions() {
        let m = Membership::parse("4:memory:/box\n2:cpu,cpuacct:/box\n0::/system.slice/x.scope\n");
        assert_eq!(m.unified.as_deref(), Some("/system.slice/x.scope"));
        assert_eq!(m.memory.as_deref(), Some("/box"));
        assert_eq!(m.cpuacct.as_deref(), Some("/box"));
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn a_v2_group_reports_memory_limit_and_cpu_share() {
        let tmp = tempfile::tempdir().unwrap();
        let group = tmp.path().join("system.slice/docker-abc.scope");
        write(&group, "memory.current", "1048576\n");
        write(&group, "memory.max", "max\n");
        write(&group, "cpu.stat", "usage_usec 3000000\nuser_usec 1\n");
        let roots = CgroupRoots {
            unified: Some(tmp.path().to_owned()),
            ..CgroupRoots::default()
        };
        let member = Membership {
            unified: Some("/system.slice/docker-abc.scope".into()),
            ..Membership::default()
        };
        let root = Membership {
            unified: Some("/".into()),
            ..Membership::default()
        };
        let before = BTreeMap::from([("/system.slice/docker-abc.scope".to_owned(), 2.5)]);
        let found = containers(&roots, &[member.clone(), member, root], &before, 1.0);
        assert_eq!(found.len(), 1, "{found:?}");
        let c = &found[0];
        assert_eq!(c.runtime.as_deref(), Some("docker"));
        assert_eq!(
            (c.processes, c.memory, c.memory_limit),
            (2, Some(1_048_576), None)
        );
        assert_eq!(c.cpu_seconds, Some(3.0));
        assert_eq!(c.cpu_percent, Some(50.0));
    }

    #[test]
    fn a_v1_group_reports_its_limit_and_ignores_the_unlimited_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = tmp.path().join("memory");
        write(&mem.join("box"), "memory.usage_in_bytes", "4096\n");
        write(&mem.join("box"), "memory.limit_in_bytes", "8192\n");
        write(&mem.join("free"), "memory.usage_in_bytes", "1\n");
        write(
            &mem.join("free"),
            "memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        let acct = tmp.path().join("cpuacct");
        write(&acct.join("box"), "cpuacct.usage", "1500000000\n");
        let roots = CgroupRoots {
            unified: None,
            memory: Some(mem),
            cpuacct: Some(acct),
        };
        let member = |p: &str| Membership {
            unified: Some("/".into()),
            memory: Some(p.into()),
            cpuacct: Some(p.into()),
        };
        let found = containers(
            &roots,
            &[member("/box"), member("/free")],
            &BTreeMap::new(),
            1.0,
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].memory_limit, Some(8192));
        assert_eq!(found[0].cpu_seconds, Some(1.5));
        assert_eq!(found[0].version, CgroupVersion::V1);
        assert_eq!(found[1].memory_limit, None);
    }
}
