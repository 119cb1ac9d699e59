//! The machine's figures: `sys-metrics` in the manifest, then [`system`],
//! [`processes`] and [`containers`]. A process's `command_line` is `None`
//! unless the plugin holds `sys-metrics(command-lines)` (command lines can
//! carry passwords passed as arguments, so they take a grant of their
//! own). Samples taken within a second of each other are the same sample.
//!
//! ```no_run
//! let figures = lord_pdk::metrics::system()?;
//! let used = figures.memory.used_bytes as f64 / figures.memory.total_bytes as f64;
//! println!("{} cores, {:.0} % of memory in use", figures.cores.len(), used * 100.0);
//! # Ok::<(), String>(())
//! ```

use crate::bindings::lord::plugin::metrics as host;

// The records are the contract's own (plain data with public fields):
// re-exported rather than copied, so they cannot drift from the WIT.
pub use host::{
    ContainerFigures, CoreFigures, FilesystemFigures, InterfaceFigures, MemoryFigures,
    ProcessFigures, SystemFigures,
};

/// CPU, memory, file systems and network interfaces.
pub fn system() -> Result<SystemFigures, String> {
    host::system()
}

/// Every process, in pid order.
pub fn processes() -> Result<Vec<ProcessFigures>, String> {
    host::processes()
}

/// Every control group holding processes (containers among them).
pub fn containers() -> Result<Vec<ContainerFigures>, String> {
    host::containers()
}
