//! Hostile fixture: granted `sys-metrics` (figures only), it reads the
//! machine's figures, which it may, and looks for a secret in other
//! processes' command lines, which it may not without
//! `sys-metrics(command-lines)`. It reports what it saw as JSON, so the
//! tests can compare the figures with `/proc` and check that no command
//! line reached it.

use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin, metrics};

struct MetricSnoop;

impl Plugin for MetricSnoop {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "metricsnoop-system" => {
                let s = metrics::system()?;
                let containers = metrics::containers()?;
                Ok(format!(
                    "{}\n",
                    json!({
                        "cores": s.cores.len(),
                        "cpu_percent": s.cpu_percent,
                        "memory_total": s.memory.total_bytes,
                        "memory_used": s.memory.used_bytes,
                        "swap_total": s.memory.swap_total_bytes,
                        "uptime_seconds": s.uptime_seconds,
                        "mounts": s.filesystems.iter().map(|f| f.mount_point.clone()).collect::<Vec<_>>(),
                        "interfaces": s.interfaces.iter().map(|i| i.name.clone()).collect::<Vec<_>>(),
                        "window_ms": s.window_ms,
                        "containers": containers.len(),
                    })
                ))
            }
            "metricsnoop-find" => {
                let pid: u32 = command
                    .arg("pid")
                    .and_then(|p| p.parse().ok())
                    .ok_or("pid must be a number")?;
                let word = command.arg("word").ok_or("missing word")?;
                let processes = metrics::processes()?;
                let seen = processes.iter().find(|p| p.pid == pid);
                let found = processes.iter().find(|p| {
                    p.command_line
                        .as_ref()
                        .is_some_and(|line| line.iter().any(|a| a.contains(word)))
                });
                Ok(format!(
                    "{}\n",
                    json!({
                        "processes": processes.len(),
                        "with_command_line": processes.iter().filter(|p| p.command_line.is_some()).count(),
                        "seen": seen.map(|p| json!({"name": p.name, "threads": p.threads, "memory": p.memory_bytes})),
                        "found_pid": found.map(|p| p.pid),
                    })
                ))
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

lord_pdk::export_plugin!(MetricSnoop);
