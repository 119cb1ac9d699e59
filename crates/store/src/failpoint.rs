//! Crash injection for tests: `LORD_FAILPOINT=<name>` (read by the binary's
//! context, never here) kills the process at the named step, the way a power
//! cut or `kill -9` would, so tests can show every step is recoverable.

/// Where a write operation may be cut short.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoint(Option<String>);

impl Failpoint {
    pub fn new(name: Option<String>) -> Self {
        Self(name)
    }

    /// Aborts the process, without unwinding or flushing, if `name` is armed.
    pub(crate) fn hit(&self, name: &str) {
        if self.0.as_deref() == Some(name) {
            std::process::abort();
        }
    }
}
