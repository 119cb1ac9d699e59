//! Where a call's time goes, measured on the store: the engine's call hook
//! stamps every entry into and return from the host, and each
//! `lord:plugin` host function names its interface first, so a host call's
//! time lands in its interface's slot (and anything that named none, WASI
//! or the engine's own runtime calls, in `wasi`). Fixed arrays in the
//! store's data: no allocation and no lock per host call, two clock reads.

use std::time::Instant;

use lord_perf::{AREAS, Area};
use wasmtime::CallHook;

/// One call's host time and host calls, by interface.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meter {
    /// The interface the host call in progress belongs to.
    current: Area,
    /// When the host call in progress began.
    entered: Option<Instant>,
    pub(crate) host_ns: [u64; AREAS],
    pub(crate) host_calls: [u32; AREAS],
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            current: Area::Wasi,
            entered: None,
            host_ns: [0; AREAS],
            host_calls: [0; AREAS],
        }
    }
}

impl Meter {
    /// Called first by every `lord:plugin` host function: the host call in
    /// progress is `area`'s.
    #[inline]
    pub(crate) fn enter(&mut self, area: Area) {
        self.current = area;
    }

    /// Starts a call's figures afresh.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Ends the host call in progress, if any: at its return, or when the
    /// call was stopped at its deadline while waiting in the host (the
    /// engine then never reports the return, and that wait is exactly what
    /// the figures must show).
    pub(crate) fn close(&mut self) {
        if let Some(entered) = self.entered.take() {
            let i = self.current.index();
            let spent = u64::try_from(entered.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.host_ns[i] = self.host_ns[i].saturating_add(spent);
            self.host_calls[i] = self.host_calls[i].saturating_add(1);
        }
        self.current = Area::Wasi;
    }

    /// The engine's call hook.
    #[inline]
    pub(crate) fn hook(&mut self, hook: CallHook) {
        match hook {
            CallHook::CallingHost => self.entered = Some(Instant::now()),
            CallHook::ReturningFromHost => self.close(),
            // Entering and leaving the guest bound the whole call, which the
            // session times itself (the guest's `cabi_realloc`, called while
            // a host call lowers its results, counts as that host call).
            CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
        }
    }
}
