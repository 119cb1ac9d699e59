//! `lord:plugin/metrics` end to end: the hostile `metricsnoop` fixture
//! holds `sys-metrics` and reads the machine's figures (compared here with
//! `/proc`), and looks for a secret in another process's command line,
//! which only `sys-metrics(command-lines)` reveals. The secret sits in the
//! command line of a real process this test starts.

use std::process::{Child, Command, Stdio};

use crate::support::{Lord, variant};

/// A process whose command line holds a secret, killed when dropped.
struct Secretive(Child);

impl Drop for Secretive {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SECRET: &str = "--password=hunter2-metricsnoop";

/// A shell sleeping with the secret as its `$0`, so it is in its command
/// line as a password given as an argument would be.
fn secretive() -> Secretive {
    let child = Command::new("sh")
        .args(["-c", "sleep 30; :", SECRET])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh runs");
    Secretive(child)
}

fn json(run: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(run.stdout().trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout(), run.stderr()))
}

fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .expect("a /proc/meminfo line")
        * 1024
}

#[test]
fn a_plugin_granted_sys_metrics_reads_the_machine_as_proc_tells_it() {
    let lord = Lord::new();
    lord.install("hostile/metricsnoop");
    let run = lord.run(&["metricsnoop-system"]);
    run.assert_ok();
    let figures = json(&run);
    // Totals are exact: both read `/proc/meminfo`.
    assert_eq!(figures["memory_total"], meminfo("MemTotal:"));
    assert_eq!(figures["swap_total"], meminfo("SwapTotal:"));
    let cores = std::fs::read_to_string("/proc/stat")
        .expect("stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    assert_eq!(figures["cores"], cores);
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .expect("uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("uptime");
    let reported = figures["uptime_seconds"].as_f64().expect("uptime");
    assert!((reported - uptime).abs() < 60.0, "{reported} vs {uptime}");
    let cpu = figures["cpu_percent"].as_f64().expect("cpu");
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    assert!(figures["window_ms"].as_u64().expect("window") >= 200);
    assert!(
        figures["interfaces"]
            .as_array()
            .is_some_and(|i| i.iter().any(|n| n == "lo")),
        "{figures}"
    );
}

#[test]
fn command_lines_reach_only_a_plugin_granted_them() {
    let secret = secretive();
    let pid = secret.0.id().to_string();
    let lord = Lord::new();
    lord.install("hostile/metricsnoop");

    // Figures only: the process is seen, no command line reaches the
    // plugin, and the secret is nowhere in what it printed.
    let run = lord.run(&["metricsnoop-find", &pid, "hunter2"]);
    run.assert_ok();
    let seen = json(&run);
    assert!(seen["seen"].is_object(), "{seen}");
    assert!(seen["processes"].as_u64().expect("count") > 1, "{seen}");
    assert_eq!(seen["with_command_line"], 0, "{seen}");
    assert_eq!(seen["found_pid"], serde_json::Value::Null, "{seen}");
    assert!(!run.stdout().contains("hunter2"));

    // The further grant: shown as high risk at install, and then the
    // secret is found in exactly the process that holds it.
    let granted = variant("hostile/metricsnoop", |m| {
        m.replace(
            r#"request = ["sys-metrics"]"#,
            r#"request = ["sys-metrics(command-lines)"]"#,
        )
    });
    let other = Lord::new();
    let prompt = other.run(&["plugin", "install", granted.path().to_str().expect("utf-8")]);
    prompt
        .assert_code(2)
        .assert_stderr_contains("sys-metrics(command-lines)")
        .assert_stderr_contains("passwords")
        .assert_stderr_contains("high risk");
    other
        .run(&[
            "plugin",
            "install",
            granted.path().to_str().expect("utf-8"),
            "--yes",
        ])
        .assert_ok();
    let run = other.run(&["metricsnoop-find", &pid, "hunter2"]);
    run.assert_ok();
    let found = json(&run);
    assert_eq!(found["found_pid"].to_string(), pid, "{found}");
    assert!(found["with_command_line"].as_u64().expect("count") > 0);
}

#[test]
fn importing_metrics_needs_the_grant_and_the_monitor_provider() {
    // Without `sys-metrics` the component's import is refused at install.
    let ungranted = variant("hostile/metricsnoop", |m| {
        m.replace(r#"request = ["sys-metrics"]"#, "request = []")
    });
    let lord = Lord::new();
    lord.run(&[
        "plugin",
        "install",
        ungranted.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("lord:plugin/metrics")
    .assert_stderr_contains("sys-metrics");

    // With the monitor provider disabled the interface is withheld, and
    // the refusal names the provider and the way back.
    lord.install("hostile/metricsnoop");
    lord.run(&["plugin", "disable", "monitor"]).assert_ok();
    lord.run(&["metricsnoop-system"])
        .assert_code(2)
        .assert_stderr_contains("lord:plugin/metrics")
        .assert_stderr_contains("provider `monitor`, which is disabled");
    lord.run(&["plugin", "enable", "monitor"]).assert_ok();
    lord.run(&["metricsnoop-system"]).assert_ok();
}
