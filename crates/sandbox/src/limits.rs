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
/// as a bare crash. The budget is the instance's: every linear memory of
/// every core module in the component counts against one total (a
/// component may hold up to [`MAX_MEMORIES`]), so several memories cannot
/// each take the whole budget.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub(crate) memory_refused: bool,
    /// The bytes all the instance's memories hold together (granted
    /// growths only; linear memories never shrink).
    memory_used: usize,
    /// The largest total the memories grew to: what the instance needed,
    /// for `lord pdk test` and `lord pdk validate`.
    pub(crate) peak_memory: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            memory_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            memory_refused: false,
            memory_used: 0,
            peak_memory: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refusing (rather than trapping) follows the wasm spec: `memory.grow`
        // returns -1 and a careful guest can recover. Most guests abort, and
        // the recorded flag turns that abort into a memory-limit failure.
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
        self.memory_used = total;
        self.peak_memory = self.peak_memory.max(total);
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

#[cfg(test)]
mod tests {
    use wasmtime::ResourceLimiter as _;

    use super::*;

    const MIB: usize = 1 << 20;

    fn limiter(mib: u64) -> Limiter {
        Limiter::new(&Limits {
            time: Duration::from_secs(1),
            memory_bytes: mib << 20,
            output_bytes: 0,
            open_handles: 0,
        })
    }

    #[test]
    fn all_memories_share_one_budget() {
        let mut limiter = limiter(16);
        // Two memories made at 6 MiB each: 12 of 16.
        assert!(limiter.memory_growing(0, 6 * MIB, None).expect("grow"));
        assert!(limiter.memory_growing(0, 6 * MIB, None).expect("grow"));
        // The first grows by 4 MiB: 16 of 16, exactly the budget.
        assert!(
            limiter
                .memory_growing(6 * MIB, 10 * MIB, None)
                .expect("grow")
        );
        assert!(!limiter.memory_refused);
        // Any more, in either, is refused, though each alone is under 16.
        assert!(
            !limiter
                .memory_growing(6 * MIB, 7 * MIB, None)
                .expect("grow")
        );
        assert!(limiter.memory_refused);
        assert_eq!(limiter.peak_memory, 16 * MIB);
        // A third memory fits nowhere either.
        assert!(!limiter.memory_growing(0, MIB, None).expect("grow"));
    }
}
