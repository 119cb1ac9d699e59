//! `monitor_cpu_percent`: what watching the machine costs it. The
//! collector samples everything `lord monitor stream` shows (every
//! process, with threads, and the containers) once a second for a minute
//! on a thread of its own, and the figure is the CPU time this process
//! spent over that wall time, in percent of one core. Nothing else runs
//! in the process meanwhile, so its CPU time is the collector's.
//!
//! Kept out of the default run (it takes a minute whatever the machine);
//! `lord-bench --monitor` runs it.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use lord_monitor::{Collector, Options};

/// What a minute of sampling cost.
#[derive(Debug)]
pub(crate) struct MonitorCost {
    pub(crate) cpu_percent: f64,
    pub(crate) samples: u32,
    pub(crate) processes: usize,
    pub(crate) median_sample_ms: f64,
}

/// This process's CPU time so far: the first field of
/// `/proc/self/schedstat`, in nanoseconds (finer than the clock ticks of
/// `/proc/self/stat`).
fn cpu_time() -> Result<Duration> {
    let text = std::fs::read_to_string("/proc/self/schedstat").context("reading schedstat")?;
    let ns: u64 = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .context("schedstat's first field is not a number")?;
    Ok(Duration::from_nanos(ns))
}

/// Samples at `interval` for `span` and reports the CPU it cost.
pub(crate) fn measure(interval: Duration, span: Duration) -> Result<MonitorCost> {
    let mut collector = Collector::new(Options::default())?;
    let cpu_before = cpu_time()?;
    let started = Instant::now();
    let mut took = Vec::new();
    let mut processes = 0;
    let mut next = started;
    while started.elapsed() < span {
        let t = Instant::now();
        let snapshot = collector.sample()?;
        took.push(t.elapsed().as_secs_f64() * 1e3);
        processes = snapshot.processes.len();
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu_before);
    took.sort_by(f64::total_cmp);
    Ok(MonitorCost {
        cpu_percent: cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        samples: u32::try_from(took.len()).unwrap_or(u32::MAX),
        processes,
        median_sample_ms: took.get(took.len() / 2).copied().unwrap_or(0.0),
    })
}

impl MonitorCost {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "monitor_cpu_percent": (self.cpu_percent * 1000.0).round() / 1000.0,
            "monitor_samples": self.samples,
            "monitor_processes": self.processes,
            "monitor_sample_median_ms": (self.median_sample_ms * 1000.0).round() / 1000.0,
        })
    }
}
