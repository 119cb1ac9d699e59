//! `lord-monitor`: what the `monitor` provider knows about the machine.
//!
//! [`Collector`] samples CPU (per core), memory and swap, file systems,
//! network interfaces, processes (CPU, memory, threads, and command lines
//! only when asked) and containers (control groups holding processes, v2
//! and v1) into a [`Snapshot`], with lord's own plugins' figures when the
//! host hands it a [`PluginSource`]; [`exposition::render`] writes a snapshot
//! as Prometheus metrics (OpenMetrics or the classic text format), and
//! with the `http` feature [`http`] serves them at `/metrics` and pushes
//! them to a Pushgateway, and [`web`] serves the web dashboard (live
//! charts over server-sent events).
//!
//! [`history::History`] keeps samples' figures in `monitor.db` with
//! downsampling and retention, and reports over a window with robust
//! anomalies; [`alert`] judges rules (threshold with hysteresis, rate, robust anomaly,
//! absence; each held for a duration) sample by sample, [`AlertLog`]
//! keeps transitions and silences in `monitor.db`, and with the `notify`
//! feature [`notify`] delivers them by signed webhook and by e-mail.
//!
//! Boundary: collecting and judging are pure of configuration; the caller
//! reads rules and channels from lord's configuration and secrets.

pub mod alert;
mod cgroup;
mod collector;
mod error;
pub mod exposition;
pub mod history;
#[cfg(feature = "http")]
pub mod http;
mod log;
mod metric;
#[cfg(feature = "notify")]
pub mod notify;
mod snapshot;
#[cfg(feature = "http")]
pub mod web;

pub use cgroup::CgroupRoots;
pub use collector::{Collector, FIRST_WINDOW, Options, PluginSource};
pub use error::MonitorError;
pub use log::{AlertLog, Entry, Silence};
pub use metric::Metric;
pub use snapshot::{
    CgroupVersion, Container, Core, Cpu, Filesystem, Host, Interface, Memory, PluginFigures,
    Process, Snapshot,
};
