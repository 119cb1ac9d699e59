//! `lord monitor`: snapshots and streams from the real machine, and the
//! Prometheus exposition checked by the real tools: `promtool check
//! metrics`, a real Prometheus scraping `lord monitor export`, and a real
//! Pushgateway receiving `lord monitor push` (Debian's `prometheus` and
//! `prometheus-pushgateway`, which `.ci/run` installs).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::registry::listening;
use crate::support::Lord;

/// Kills the server it holds when the test ends, passed or not.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .expect("MemTotal")
        * 1024
}

#[test]
fn a_snapshot_describes_this_machine_and_keeps_command_lines_out_unless_asked() {
    let lord = Lord::new();
    let run = lord.run(&["monitor", "snapshot", "--json"]);
    run.assert_ok();
    let snapshot: serde_json::Value = serde_json::from_slice(&run.output.stdout).expect("JSON");
    assert_eq!(snapshot["memory"]["total"], mem_total());
    assert_eq!(
        snapshot["cpu"]["cores"].as_array().map(Vec::len),
        std::thread::available_parallelism().ok().map(usize::from)
    );
    let processes = snapshot["processes"].as_array().expect("processes");
    let me = processes
        .iter()
        .find(|p| p["pid"] == std::process::id())
        .expect("the test itself is listed");
    assert!(me.get("command").is_none(), "{me}");
    assert!(processes.iter().all(|p| p.get("command").is_none()));

    let run = lord.run(&["monitor", "snapshot", "--json", "--command-lines"]);
    run.assert_ok();
    let snapshot: serde_json::Value = serde_json::from_slice(&run.output.stdout).expect("JSON");
    let me = snapshot["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["pid"] == std::process::id())
        .expect("listed");
    assert!(me["command"][0].as_str().is_some(), "{me}");

    // For a person: a summary, with the memory line.
    let run = lord.run(&["monitor", "snapshot"]);
    run.assert_ok();
    assert!(run.stdout().contains("memory "), "{}", run.stdout());
}

#[test]
fn a_stream_prints_one_json_sample_per_interval() {
    let lord = Lord::new();
    let run = lord.run(&[
        "monitor",
        "stream",
        "--interval",
        "300ms",
        "--count",
        "3",
        "--json",
    ]);
    run.assert_ok();
    let samples: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(samples.len(), 3);
    // Each later window is the interval since the previous sample.
    for s in &samples[1..] {
        let window = s["window_ms"].as_u64().expect("window");
        assert!((250..2000).contains(&window), "{window}");
    }
    lord.run(&["monitor", "stream", "--interval", "10ms", "--count", "1"])
        .assert_code(2)
        .assert_stderr_contains("200ms");
}

/// `GET path` over plain HTTP/1.1: status line and body.
pub(crate) fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let authority = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host");
    let mut stream = TcpStream::connect(authority).expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head.lines().next().unwrap_or("").to_owned();
    // axum answers these short bodies with a length, not chunked.
    (status, body.to_owned())
}

fn export(lord: &Lord, extra: &[&str]) -> (Killed, String) {
    let mut args = vec!["monitor", "export", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (child, url, _) = listening(lord.command(&args));
    let base = url.trim_end_matches("/metrics").to_owned();
    (Killed(child), base)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn the_exposition_passes_promtool_and_a_real_prometheus_scrapes_it() {
    let lord = Lord::new();
    // A plugin with calls recorded, so its families are checked too.
    lord.install("napper");
    lord.run(&["nap", "1"]).assert_ok();
    let (_exporter, base) = export(&lord, &[]);
    let (status, text) = get(&base, "/metrics", &[]);
    assert!(status.contains("200"), "{status}");
    assert!(
        text.contains("lord_plugin_calls_total{plugin=\"napper\"} "),
        "{text}"
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let (_, open) = get(
        &base,
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert!(open.ends_with("# EOF\n"), "{open}");

    // A real Prometheus scrapes it (asking for OpenMetrics first) and
    // answers a query with this machine's memory size.
    let dir = tempfile::tempdir().expect("prometheus dir");
    let target = base.trim_start_matches("http://");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lord\n    \
             static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let port = free_port();
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian's package) is installed");
    let _prometheus = Killed(prometheus);
    let api = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        assert!(Instant::now() < deadline, "Prometheus never had the sample");
        std::thread::sleep(Duration::from_millis(500));
        if TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            continue;
        }
        let (_, body) = get(&api, "/api/v1/query?query=lord_memory_size_bytes", &[]);
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        if json["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break json;
        }
    };
    let value = answer["data"]["result"][0]["value"][1]
        .as_str()
        .expect("a value");
    assert_eq!(
        value.parse::<f64>().ok(),
        Some(mem_total() as f64),
        "{answer}"
    );
    let (_, targets) = get(&api, "/api/v1/targets", &[]);
    let targets: serde_json::Value = serde_json::from_str(&targets).expect("targets");
    let active = &targets["data"]["activeTargets"][0];
    assert_eq!(active["health"], "up", "{active}");
    assert_eq!(active["lastError"], "", "{active}");
}

/// What plugins' calls cost reaches the monitor from lord's performance
/// monitor: in the snapshot, and as a figure alert rules can watch.
#[test]
fn plugin_figures_reach_the_snapshot_and_alert_rules() {
    let lord = Lord::new();
    lord.install("napper");
    let calls_of = |snapshot: &serde_json::Value| -> serde_json::Value {
        snapshot["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .find(|p| p["id"] == "napper")
            .cloned()
            .unwrap_or_else(|| panic!("napper is listed: {snapshot}"))
    };
    let snapshot_now = || -> serde_json::Value {
        let run = lord.run(&["monitor", "snapshot", "--json"]);
        run.assert_ok();
        serde_json::from_slice(&run.output.stdout).expect("JSON")
    };
    // Installing ran its lifecycle hooks, which are calls too.
    let before = calls_of(&snapshot_now())["calls"].as_u64().expect("calls");

    for _ in 0..3 {
        lord.run(&["nap", "30"]).assert_ok();
    }
    let napper = calls_of(&snapshot_now());
    // Three commands, and each process's load hooks.
    let calls = napper["calls"].as_u64().expect("calls");
    assert!(calls >= before + 3, "{before} then {napper}");
    assert_eq!(napper["failures"], 0, "{napper}");
    // Each command slept 30 ms in the host: the slowest calls say so, and
    // the time is blamed on the host, not the guest.
    let max = napper["max_ms"].as_f64().expect("max");
    assert!(max >= 30.0, "{napper}");
    assert_eq!(napper["top_interface"][0], "wasi", "{napper}");
    let text = lord.run(&["monitor", "snapshot"]);
    text.assert_ok();
    assert!(text.stdout().contains("napper"), "{}", text.stdout());

    // An alert rule on the plugin's latency fires on the next sample.
    std::fs::write(
        lord.home.path().join("config.toml"),
        "[[monitor.alerts]]\nname = \"slow-napper\"\nmetric = \"plugin:napper.p95_ms\"\nabove = 10\n",
    )
    .expect("config");
    let watch = lord.run(&["monitor", "watch", "--count", "1", "--json"]);
    watch.assert_ok();
    assert!(watch.stdout().contains("slow-napper"), "{}", watch.stdout());
}

#[test]
fn export_beyond_loopback_needs_a_token_and_checks_it() {
    let lord = Lord::new();
    lord.run(&["monitor", "export", "--listen", "0.0.0.0:0"])
        .assert_code(2)
        .assert_stderr_contains("--token-file");
    let token = lord.project.path().join("token");
    std::fs::write(&token, "s3cret-token\n").expect("token");
    let (_exporter, base) = export(&lord, &["--token-file", token.to_str().expect("utf-8")]);
    let (status, body) = get(&base, "/metrics", &[]);
    assert!(status.contains("401"), "{status}");
    assert!(!body.contains("s3cret"), "{body}");
    let (status, _) = get(
        &base,
        "/metrics",
        &[("Authorization", "Bearer wrong-token!!")],
    );
    assert!(status.contains("401"), "{status}");
    let (status, body) = get(
        &base,
        "/metrics",
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("lord_memory_size_bytes"));
}

#[test]
fn push_reaches_a_real_pushgateway() {
    let lord = Lord::new();
    let port = free_port();
    let gateway = Command::new("prometheus-pushgateway")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-pushgateway (Debian's package) is installed");
    let mut gateway = Killed(gateway);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(Instant::now() < deadline, "the Pushgateway never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    lord.run(&[
        "monitor",
        "push",
        "--gateway",
        &url,
        "--instance",
        "test-box",
        "--count",
        "2",
        "--interval",
        "200ms",
    ])
    .assert_ok();
    let (_, body) = get(&url, "/metrics", &[]);
    let line = body
        .lines()
        .find(|l| l.starts_with("lord_memory_size_bytes{"))
        .unwrap_or_else(|| panic!("no pushed sample in {body}"));
    assert!(
        line.contains("instance=\"test-box\"") && line.contains("job=\"lord\""),
        "{line}"
    );
    let value = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    assert_eq!(value, Some(mem_total() as f64), "{line}");
    // A gateway that is not there is named, with what to check.
    let _ = gateway.0.kill();
    let _ = gateway.0.wait();
    lord.run(&["monitor", "push", "--gateway", &url, "--count", "1"])
        .assert_code(1)
        .assert_stderr_contains("Pushgateway");
}

#[test]
fn watch_keeps_a_history_that_report_summarises() {
    let lord = Lord::new();
    let empty = lord.run(&["monitor", "report"]);
    empty.assert_ok();
    assert!(empty.stdout().contains("No history"), "{}", empty.stdout());
    let run = lord.run(&["monitor", "watch", "--interval", "200ms", "--count", "5"]);
    run.assert_ok();
    assert!(run.stderr().contains("history only"), "{}", run.stderr());
    let report = lord.run(&["monitor", "report", "--since", "1h", "--json"]);
    report.assert_ok();
    let report: serde_json::Value = serde_json::from_slice(&report.output.stdout).expect("JSON");
    let memory = report["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["series"] == "memory.used_percent")
        .expect("memory in the history");
    assert_eq!(memory["samples"], 5);
    let f = |k: &str| memory[k].as_f64().expect(k);
    assert!(
        f("min") <= f("median") && f("median") <= f("max"),
        "{memory}"
    );
    assert!((f("min")..=f("max")).contains(&f("last")), "{memory}");
    assert!(f("max") > 0.0 && f("max") < 100.0, "{memory}");
    let markdown = lord.run(&["monitor", "report"]);
    markdown.assert_ok();
    assert!(
        markdown.stdout().contains("| `memory.used_percent` | 5 |"),
        "{}",
        markdown.stdout()
    );
}
