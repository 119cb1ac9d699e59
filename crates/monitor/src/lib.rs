//! `lord-monitor`: what the `monitor` provider knows about the machine.
//!
//! [`Collector`] samples CPU (per core), memory and swap, file systems,
//! network interfaces, processes (CPU, memory, threads, and command lines
//! only when asked) and containers (control groups holding processes, v2
//! and v1) into a [`Snapshot`]; [`exposition::render`] writes a snapshot
//! as Prometheus metrics (OpenMetrics or the classic text format).
//!
//! Boundary: this crate reads the system and returns plain data; serving,
//! storing and alerting are its callers'.

mod cgroup;
mod collector;
mod error;
pub mod exposition;
mod snapshot;

pub use cgroup::CgroupRoots;
pub use collector::{Collector, FIRST_WINDOW, Options};
pub use error::MonitorError;
pub use snapshot::{
    CgroupVersion, Container, Core, Cpu, Filesystem, Host, Interface, Memory, Process, Snapshot,
};
