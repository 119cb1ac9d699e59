//! The whole analytics report over a window of the usage log: what
//! `lord analytics report` prints as a table, as JSON and as a page.

use lord_perf::CallRow;
use serde::Serialize;

use crate::anomaly::{self, Anomaly};
use crate::health::Finding;
use crate::predict::{self, Model};
use crate::usage::{self, HeatCell, LatencyPoint, PluginUsage, Sequence, Together};

/// Everything the usage log says about a window.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The window, ms since the epoch.
    pub since_ms: u64,
    pub until_ms: u64,
    pub calls: u64,
    pub plugins: Vec<PluginUsage>,
    pub sequences: Vec<Sequence>,
    pub together: Vec<Together>,
    /// The latency predictor per entry point, with its held-out error.
    pub models: Vec<Model>,
    pub anomalies: Vec<Anomaly>,
    pub health: Vec<Finding>,
    /// Each plugin's median latency over the window, for the chart.
    pub latency: Vec<LatencyPoint>,
    /// Calls per weekday and hour, for the heat map.
    pub heat: Vec<HeatCell>,
}

impl Report {
    /// The report over `rows` (the window's calls, oldest first) and the
    /// host's `health` findings.
    pub fn new(rows: &[CallRow], since_ms: u64, until_ms: u64, health: Vec<Finding>) -> Self {
        Self {
            since_ms,
            until_ms,
            calls: rows.len() as u64,
            plugins: usage::plugins(rows),
            sequences: usage::sequences(rows),
            together: usage::together(rows),
            models: predict::models(rows),
            anomalies: anomaly::detect(rows),
            health,
            latency: usage::latency_over_time(rows, since_ms, until_ms),
            heat: usage::heat(rows),
        }
    }
}
