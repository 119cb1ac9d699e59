//! Local usage analytics: what the usage log (`lord-perf`'s `calls` in
//! `perf.db`) says about how plugins are used, for the user's own eyes.
//!
//! [`Report`] gathers executions, errors by kind and latency per plugin
//! (`usage.rs`), the commands that follow one another and the plugins used
//! together, a latency predictor per entry point with its error on
//! held-out calls (`predict.rs`), anomalies against each entry point's own
//! past by median and MAD (`anomaly.rs`), and the host's ecosystem health
//! [`Finding`]s (`health.rs`); [`html::render`] draws it as one
//! self-contained page.
//!
//! Invariant: no I/O. Rows in, figures out; the host reads the log,
//! checks the installed plugins and writes files.

mod anomaly;
mod health;
pub mod html;
mod predict;
mod report;
mod usage;

pub use anomaly::{Anomaly, Metric};
pub use health::{Check, Finding};
pub use predict::Model;
pub use report::Report;
pub use usage::{HeatCell, LatencyPoint, PluginUsage, Sequence, Together};
