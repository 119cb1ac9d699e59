//! Per-call budgets and the store's resource limiter.

use std::time::Duration;

use lord_manifest::Limits as ManifestLimits;

/// The budgets one instance runs under. Each call gets the whole time budget
/// afresh; memory and output are caps on the instance and on the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    pub memory_bytes: u64,
    pub output_bytes: u64,
    /// Entries of the store's resource table: open files, directories,
    /// sockets, streams and the rest, at once.
    pub open_handles: u64,
}

impl Limits {
    /// The budgets a manifest asked for.
    pub fn from_manifest(limits: &ManifestLimits) -> Self {
        Self {
            time: limits.max_execution(),
            memory_bytes: limits.max_memory_bytes(),
            output_bytes: limits.max_output_bytes(),
            open_handles: limits.max_open_handles,
        }
    }
}

/// Table elements and instance counts are not in the manifest; these caps only
/// stop a component from exhausting the host through them.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;
const MAX_INSTANCES: usize = 64;
const MAX_MEMORIES: usize = 4;
const MAX_TABLES: usize = 64;

/// Enforces the memory budget and remembers that it did, so a trap that
/// follows a refused growth is reported as a memory-limit failure rather than
/// as a bare crash.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub(crate) memory_refused: bool,
    /// The largest total a memory grew to (granted growths only): what the
    /// instance needed, for `lord pdk test` and `lord pdk validate`.
    pub(crate) peak_memory: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            memory_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            memory_refused: false,
            peak_memory: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refusing (rather than trapping) follows the wasm spec: `memory.grow`
        // returns -1 and a careful guest can recover. Most guests abort, and
        // the recorded flag turns that abort into a memory-limit failure.
        if desired > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
