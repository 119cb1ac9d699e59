//! `lord:plugin/data`: the plugin's own keys, which no other plugin can
//! read (no permission), within its data quota; persistent keys versioned
//! for compare-and-swap across processes.

use lord_perf::Area;
use lord_state::{CasOutcome, Versioned};
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::data;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/data",
    family: None,
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    data::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

fn versioned(v: Versioned) -> data::Versioned {
    data::Versioned {
        value: v.value,
        version: v.version,
    }
}

impl data::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(|s| s.data_get(&key)))
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        persistent: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(|s| s.data_set(&key, value, persistent)))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(|s| s.data_delete(&key)))
    }

    fn keys(&mut self) -> wasmtime::Result<Result<Vec<String>, String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(lord_state::Scope::data_keys))
    }

    fn get_versioned(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<data::Versioned>, String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(|s| s.data_get_versioned(&key).map(|v| v.map(versioned))))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<data::CasOutcome, String>> {
        self.meter.enter(Area::Data);
        Ok(self.with_scope(|s| {
            s.data_compare_and_swap(&key, expected, value)
                .map(|outcome| match outcome {
                    CasOutcome::Swapped(version) => data::CasOutcome::Swapped(version),
                    CasOutcome::Conflict(current) => {
                        data::CasOutcome::Conflict(current.map(versioned))
                    }
                })
        }))
    }
}
