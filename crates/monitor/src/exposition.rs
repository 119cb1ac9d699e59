//! A snapshot as Prometheus metrics, in both formats a scraper may ask
//! for: OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`,
//! what Prometheus asks for first) and the classic text format 0.0.4
//! (`text/plain; version=0.0.4`, what `promtool check metrics` and older
//! scrapers read). They differ where counters are concerned: OpenMetrics
//! names the family without `_total` and its sample with it, the classic
//! format names both with it; OpenMetrics adds `# UNIT` and ends with
//! `# EOF`.
//!
//! Written here rather than through a client library: a snapshot is
//! rendered whole once per scrape, so a registry of live metric objects
//! would be rebuilt each time only to be printed; the two grammars are a
//! few lines each, and `promtool` and a real Prometheus check the output
//! in the CLI's tests.

use std::fmt::Write as _;

use crate::snapshot::Snapshot;

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// The format a scraper's `Accept` header asks for: OpenMetrics when
    /// it names it, the classic text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            Some(_) | None => Self::Text,
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

/// One metric family: its name (without `_total`), unit (a suffix of the
/// name), help and samples.
struct Family {
    name: &'static str,
    unit: Option<&'static str>,
    kind: Kind,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn gauge(name: &'static str, unit: Option<&'static str>, help: &'static str) -> Self {
        Self {
            name,
            unit,
            kind: Kind::Gauge,
            help,
            samples: Vec::new(),
        }
    }

    fn counter(name: &'static str, unit: Option<&'static str>, help: &'static str) -> Self {
        Self {
            kind: Kind::Counter,
            ..Self::gauge(name, unit, help)
        }
    }

    fn with(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        self.samples.push((labels, value));
        self
    }

    fn one(self, value: f64) -> Self {
        self.with(Vec::new(), value)
    }
}

/// The snapshot in `format`.
pub fn render(snapshot: &Snapshot, format: Format) -> String {
    let mut out = String::new();
    for family in families(snapshot) {
        write_family(&mut out, &family, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn write_family(out: &mut String, family: &Family, format: Format) {
    let sample_name = match family.kind {
        Kind::Counter => format!("{}_total", family.name),
        Kind::Gauge => family.name.to_owned(),
    };
    let kind = match family.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    // Writing to a String cannot fail.
    match format {
        Format::OpenMetrics => {
            let _ = writeln!(out, "# TYPE {} {kind}", family.name);
            if let Some(unit) = family.unit {
                let _ = writeln!(out, "# UNIT {} {unit}", family.name);
            }
            let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
        }
        Format::Text => {
            let _ = writeln!(out, "# HELP {sample_name} {}", escape_help(family.help));
            let _ = writeln!(out, "# TYPE {sample_name} {kind}");
        }
    }
    for (labels, value) in &family.samples {
        out.push_str(&sample_name);
        if !labels.is_empty() {
            out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{key}=\"{}\"", escape_label(val));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", number(*value));
    }
}

/// Both grammars read Go's float syntax; Rust's `Display` writes no
/// exponent, which both accept, and the specials are spelled their way.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Every family a snapshot gives.
fn families(s: &Snapshot) -> Vec<Family> {
    let mut all = machine(s);
    all.extend(storage_and_network(s));
    all.extend(containers(s));
    if !s.plugins.is_empty() {
        all.extend(plugins(s));
    }
    all
}

fn machine(s: &Snapshot) -> Vec<Family> {
    let mut cores = Family::gauge(
        "lord_cpu_core_usage_ratio",
        Some("ratio"),
        "Share of one logical core in use over the last sampling window.",
    );
    for core in &s.cpu.cores {
        cores = cores.with(
            vec![("core", core.index.to_string())],
            f64::from(core.percent) / 100.0,
        );
    }
    let mut load = Family::gauge("lord_load_average", None, "System load average.");
    for (window, value) in ["1m", "5m", "15m"].iter().zip(s.host.load) {
        load = load.with(vec![("window", (*window).to_owned())], value);
    }
    let m = &s.memory;
    vec![
        Family::gauge(
            "lord_cpu_usage_ratio",
            Some("ratio"),
            "Share of all logical cores in use over the last sampling window.",
        )
        .one(f64::from(s.cpu.percent) / 100.0),
        cores,
        load,
        Family::gauge("lord_uptime_seconds", Some("seconds"), "Time since boot.")
            .one(s.host.uptime_seconds as f64),
        Family::gauge("lord_memory_size_bytes", Some("bytes"), "Physical memory.")
            .one(m.total as f64),
        Family::gauge(
            "lord_memory_used_bytes",
            Some("bytes"),
            "Memory in use (size less available), as free(1) counts it.",
        )
        .one(m.used as f64),
        Family::gauge(
            "lord_memory_available_bytes",
            Some("bytes"),
            "Memory available to new work without swapping.",
        )
        .one(m.available as f64),
        Family::gauge("lord_memory_free_bytes", Some("bytes"), "Memory unused.").one(m.free as f64),
        Family::gauge("lord_swap_size_bytes", Some("bytes"), "Swap space.")
            .one(m.swap_total as f64),
        Family::gauge("lord_swap_used_bytes", Some("bytes"), "Swap space in use.")
            .one(m.swap_used as f64),
        Family::gauge("lord_processes", None, "Processes running.").one(s.processes.len() as f64),
        Family::gauge("lord_threads", None, "Threads in all processes.")
            .one(s.processes.iter().map(|p| f64::from(p.threads)).sum()),
    ]
}

fn storage_and_network(s: &Snapshot) -> Vec<Family> {
    let mut size = Family::gauge(
        "lord_filesystem_size_bytes",
        Some("bytes"),
        "Size of a mounted file system.",
    );
    let mut avail = Family::gauge(
        "lord_filesystem_available_bytes",
        Some("bytes"),
        "Space on a mounted file system available to unprivileged users.",
    );
    for fs in &s.filesystems {
        let labels = vec![
            ("device", fs.device.clone()),
            ("mountpoint", fs.mount.clone()),
            ("fstype", fs.kind.clone()),
        ];
        size = size.with(labels.clone(), fs.total as f64);
        avail = avail.with(labels, fs.available as f64);
    }
    let mut rx = Family::counter(
        "lord_network_receive_bytes",
        Some("bytes"),
        "Bytes received on an interface.",
    );
    let mut tx = Family::counter(
        "lord_network_transmit_bytes",
        Some("bytes"),
        "Bytes sent on an interface.",
    );
    let mut rx_err = Family::counter(
        "lord_network_receive_errors",
        None,
        "Receive errors on an interface.",
    );
    let mut tx_err = Family::counter(
        "lord_network_transmit_errors",
        None,
        "Transmit errors on an interface.",
    );
    for i in &s.networks {
        let labels = vec![("interface", i.name.clone())];
        rx = rx.with(labels.clone(), i.received as f64);
        tx = tx.with(labels.clone(), i.transmitted as f64);
        rx_err = rx_err.with(labels.clone(), i.receive_errors as f64);
        tx_err = tx_err.with(labels, i.transmit_errors as f64);
    }
    vec![size, avail, rx, tx, rx_err, tx_err]
}

fn containers(s: &Snapshot) -> Vec<Family> {
    let mut memory = Family::gauge(
        "lord_container_memory_bytes",
        Some("bytes"),
        "Memory charged to a control group.",
    );
    let mut limit = Family::gauge(
        "lord_container_memory_limit_bytes",
        Some("bytes"),
        "Memory limit of a control group (absent when unlimited).",
    );
    let mut cpu = Family::counter(
        "lord_container_cpu_seconds",
        Some("seconds"),
        "CPU time used by a control group.",
    );
    let mut procs = Family::gauge(
        "lord_container_processes",
        None,
        "Processes in a control group.",
    );
    for c in &s.containers {
        let labels = vec![
            ("cgroup", c.cgroup.clone()),
            ("runtime", c.runtime.clone().unwrap_or_default()),
        ];
        if let Some(v) = c.memory {
            memory = memory.with(labels.clone(), v as f64);
        }
        if let Some(v) = c.memory_limit {
            limit = limit.with(labels.clone(), v as f64);
        }
        if let Some(v) = c.cpu_seconds {
            cpu = cpu.with(labels.clone(), v);
        }
        procs = procs.with(labels, f64::from(c.processes));
    }
    vec![memory, limit, cpu, procs]
}

/// lord's own plugins, from its performance monitor. Latency is given as
/// gauges per quantile rather than a summary: the quantiles are over every
/// call recorded, and a summary's `_sum` is not kept.
fn plugins(s: &Snapshot) -> Vec<Family> {
    let mut calls = Family::counter("lord_plugin_calls", None, "Calls into a plugin recorded.");
    let mut failures = Family::counter(
        "lord_plugin_failures",
        None,
        "Calls into a plugin that ended in an error, a trap or a budget.",
    );
    let mut p50 = Family::gauge(
        "lord_plugin_call_p50_seconds",
        Some("seconds"),
        "Median wall time of a call into a plugin.",
    );
    let mut p95 = Family::gauge(
        "lord_plugin_call_p95_seconds",
        Some("seconds"),
        "95th percentile of a call's wall time.",
    );
    let mut p99 = Family::gauge(
        "lord_plugin_call_p99_seconds",
        Some("seconds"),
        "99th percentile of a call's wall time.",
    );
    let mut memory = Family::gauge(
        "lord_plugin_peak_memory_bytes",
        Some("bytes"),
        "Largest linear memory a call into a plugin reached.",
    );
    for p in &s.plugins {
        let labels = vec![("plugin", p.id.clone())];
        calls = calls.with(labels.clone(), p.calls as f64);
        failures = failures.with(labels.clone(), p.failures as f64);
        p50 = p50.with(labels.clone(), p.p50_ms / 1e3);
        p95 = p95.with(labels.clone(), p.p95_ms / 1e3);
        p99 = p99.with(labels.clone(), p.p99_ms / 1e3);
        memory = memory.with(labels, p.peak_memory_bytes as f64);
    }
    vec![calls, failures, p50, p95, p99, memory]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::*;

    fn sample() -> Snapshot {
        Snapshot {
            taken_at_ms: 1,
            window_ms: 1000,
            host: Host {
                name: None,
                uptime_seconds: 5,
                load: [0.5, 0.25, 0.125],
            },
            cpu: Cpu {
                percent: 50.0,
                cores: vec![Core {
                    index: 0,
                    percent: 25.0,
                }],
            },
            memory: Memory {
                total: 100,
                used: 40,
                available: 60,
                free: 10,
                swap_total: 0,
                swap_used: 0,
            },
            filesystems: Vec::new(),
            networks: vec![Interface {
                name: "e\"th\\0\n".into(),
                received: 7,
                transmitted: 8,
                receive_errors: 0,
                transmit_errors: 0,
                received_per_second: 0.0,
                transmitted_per_second: 0.0,
            }],
            processes: Vec::new(),
            containers: Vec::new(),
            plugins: Vec::new(),
        }
    }

    #[test]
    fn plugins_appear_only_when_the_sample_has_them() {
        let bare = render(&sample(), Format::OpenMetrics);
        assert!(!bare.contains("lord_plugin_"), "{bare}");
        let mut with = sample();
        with.plugins.push(PluginFigures {
            id: "acme.git".into(),
            calls: 12,
            failures: 1,
            p50_ms: 2.0,
            p95_ms: 40.0,
            p99_ms: 50.0,
            max_ms: 60.0,
            peak_memory_bytes: 1 << 20,
            top_interface: Some(("exec".into(), 0.9)),
            cache_hit_rate: None,
            last_ms: 1,
        });
        let om = render(&with, Format::OpenMetrics);
        assert!(om.contains("# TYPE lord_plugin_calls counter\n"), "{om}");
        assert!(
            om.contains("lord_plugin_calls_total{plugin=\"acme.git\"} 12\n"),
            "{om}"
        );
        assert!(
            om.contains("lord_plugin_call_p95_seconds{plugin=\"acme.git\"} 0.04\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
    }

    #[test]
    fn counters_are_named_per_format() {
        let om = render(&sample(), Format::OpenMetrics);
        assert!(
            om.contains("# TYPE lord_network_receive_bytes counter\n"),
            "{om}"
        );
        assert!(
            om.contains("# UNIT lord_network_receive_bytes bytes\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
        let text = render(&sample(), Format::Text);
        assert!(
            text.contains("# TYPE lord_network_receive_bytes_total counter\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
        for body in [&om, &text] {
            assert!(
                body.contains(
                    "lord_network_receive_bytes_total{interface=\"e\\\"th\\\\0\\n\"} 7\n"
                ),
                "{body}"
            );
            assert!(body.contains("lord_cpu_core_usage_ratio{core=\"0\"} 0.25\n"));
        }
    }

    #[test]
    fn accept_headers_choose_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }
}
