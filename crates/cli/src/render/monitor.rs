//! A monitor snapshot for a person: a summary (`lord monitor snapshot`)
//! and one line per sample (`lord monitor stream`). Names the system
//! reports (processes, interfaces, mounts, cgroups) are anyone's to
//! choose, so they are placed as foreign text.

use std::fmt::Write as _;

use lord_monitor::Snapshot;
use lord_monitor::history::Report;

use super::foreign;

/// Bytes in binary units, one decimal.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The whole snapshot, section by section; processes are the ten using
/// the most CPU.
pub(crate) fn summary(s: &Snapshot) -> String {
    let mut out = String::new();
    let m = &s.memory;
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "cpu      {:5.1} %  load {:.2} {:.2} {:.2}",
        s.cpu.percent, s.host.load[0], s.host.load[1], s.host.load[2]
    );
    let cores: Vec<String> = s
        .cpu
        .cores
        .iter()
        .map(|c| format!("{}:{:.0}%", c.index, c.percent))
        .collect();
    let _ = writeln!(out, "cores    {}", cores.join(" "));
    let _ = writeln!(
        out,
        "memory   {} used of {} ({} available)",
        size(m.used),
        size(m.total),
        size(m.available)
    );
    let _ = writeln!(
        out,
        "swap     {} used of {}",
        size(m.swap_used),
        size(m.swap_total)
    );
    for fs in &s.filesystems {
        let _ = writeln!(
            out,
            "disk     {}  {} free of {} ({})",
            foreign(&fs.mount),
            size(fs.available),
            size(fs.total),
            foreign(&fs.kind)
        );
    }
    for i in &s.networks {
        let _ = writeln!(
            out,
            "net      {}  rx {}/s tx {}/s",
            foreign(&i.name),
            size(i.received_per_second as u64),
            size(i.transmitted_per_second as u64)
        );
    }
    for c in &s.containers {
        let _ = writeln!(
            out,
            "cgroup   {} [{}] {} processes, memory {}",
            foreign(&c.cgroup),
            c.runtime.as_deref().unwrap_or("-"),
            c.processes,
            c.memory.map_or_else(|| "?".to_owned(), size)
        );
    }
    let mut top: Vec<_> = s.processes.iter().collect();
    top.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    let _ = writeln!(out, "processes {} (top by CPU):", s.processes.len());
    for p in top.iter().take(10) {
        let _ = writeln!(
            out,
            "  {:>7} {:5.1} % {:>10} {:>3} threads  {}",
            p.pid,
            p.cpu_percent,
            size(p.memory),
            p.threads,
            foreign(&p.name)
        );
    }
    if !s.plugins.is_empty() {
        let _ = writeln!(out, "plugins {} (lord's, by calls):", s.plugins.len());
        let mut plugins: Vec<_> = s.plugins.iter().collect();
        plugins.sort_by_key(|p| std::cmp::Reverse(p.calls));
        for p in plugins.iter().take(10) {
            let _ = writeln!(
                out,
                "  {:>7} calls {:>5} failed  p50 {:>8.2} ms  p95 {:>8.2} ms  {:>10}  {}",
                p.calls,
                p.failures,
                p.p50_ms,
                p.p95_ms,
                size(p.peak_memory_bytes),
                foreign(&p.id)
            );
        }
    }
    out
}

/// One sample as a line: time, CPU, memory, network.
pub(crate) fn one_line(s: &Snapshot) -> String {
    let (rx, tx) = s.networks.iter().fold((0.0, 0.0), |(r, t), i| {
        (r + i.received_per_second, t + i.transmitted_per_second)
    });
    format!(
        "cpu {:5.1} %  mem {} / {}  net rx {}/s tx {}/s  processes {}",
        s.cpu.percent,
        size(s.memory.used),
        size(s.memory.total),
        size(rx as u64),
        size(tx as u64),
        s.processes.len()
    )
}

/// A history report as Markdown: one row per figure, then its anomalies.
pub(crate) fn report(r: &Report) -> String {
    let mut out = String::new();
    let minutes = r.until_ms.saturating_sub(r.since_ms) / 60_000;
    let _ = writeln!(out, "# lord monitor report: the last {minutes} minutes\n");
    if r.series.is_empty() {
        let _ = writeln!(
            out,
            "No history in this window; `lord monitor watch` keeps it while it runs."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "| figure | samples | last | min | median | mean | p95 | max | anomalies |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in &r.series {
        // A `|` in a name (a mount point, say) would end the cell.
        let name = foreign(&s.series).to_string().replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{name}` | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            s.samples,
            s.last,
            s.min,
            s.median,
            s.mean,
            s.p95,
            s.max,
            s.anomalies.len()
        );
    }
    let flagged: Vec<_> = r
        .series
        .iter()
        .filter(|s| !s.anomalies.is_empty())
        .collect();
    if !flagged.is_empty() {
        let _ = writeln!(
            out,
            "\n## Anomalies (more than 3.5 robust deviations from the median)\n"
        );
        for s in flagged {
            for (at, value) in &s.anomalies {
                let _ = writeln!(out, "- `{}` = {value:.2} at {at} ms", foreign(&s.series));
            }
        }
    }
    out
}
