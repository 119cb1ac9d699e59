//! What every plugin call costs, kept so it can be acted on.
//!
//! The sandbox measures each call ([`Sample`]: wall time, time and calls in
//! each host interface, memory, output, how it ended) and hands it to a
//! [`Recorder`], which only appends it to a buffer: histograms are folded
//! off the call path and written to `$LORD_HOME/perf.db` in one
//! transaction per flush, like the event log. [`Report`] reads them back
//! per plugin and entry point (p50/p95/p99/max) and names bottlenecks with
//! their evidence and what to change.
//!
//! Invariant: nothing a call was given or returned is kept: only counts,
//! times and sizes, per plugin and entry point (a command's or micro
//! handler's name, never its arguments, input or output).
//!
//! Beside the histograms, each call is a row of the usage log (`calls`
//! in the same file: time, process, entry point, outcome, wall time, input
//! size) while analytics is on, which `lord-analytics` reads for order,
//! trends and input size.

mod calls;
mod db;
mod error;
mod recorder;
mod report;
mod sample;
mod stats;

pub use calls::{CallRow, MAX_ROWS, RETENTION};
pub use db::{FILE as DB_FILE, PerfDb};
pub use error::PerfError;
pub use recorder::Recorder;
pub use report::{AreaReport, Bottleneck, EntryReport, PluginSummary, Quantiles, Report};
pub use sample::{AREAS, Area, EntryKind, OUTCOMES, Outcome, Sample};
pub use stats::{EntryKey, EntryStats};
