//! `lord:plugin/shared`: versioned values shared between plugins, each key
//! behind a `state-shared(KEY)` grant that the plugin's scope checks.

use lord_manifest::PermissionFamily;
use lord_perf::Area;
use lord_state::{CasOutcome, Versioned};
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::shared;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/shared",
    family: Some(PermissionFamily::StateShared),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    shared::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

fn versioned(v: Versioned) -> shared::Versioned {
    shared::Versioned {
        value: v.value,
        version: v.version,
    }
}

impl shared::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<shared::Versioned>, String>> {
        self.meter.enter(Area::Shared);
        Ok(self.with_scope(|s| s.shared_get(&key).map(|v| v.map(versioned))))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, String>> {
        self.meter.enter(Area::Shared);
        Ok(self.with_scope(|s| s.shared_set(&key, value)))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<shared::CasOutcome, String>> {
        self.meter.enter(Area::Shared);
        Ok(self.with_scope(|s| {
            s.shared_compare_and_swap(&key, expected, value)
                .map(|outcome| match outcome {
                    CasOutcome::Swapped(version) => shared::CasOutcome::Swapped(version),
                    CasOutcome::Conflict(current) => {
                        shared::CasOutcome::Conflict(current.map(versioned))
                    }
                })
        }))
    }
}
