//! `lord:plugin/data`: the plugin's own keys, which no other plugin can
//! read (no permission), within its data quota.

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

impl data::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        Ok(self.with_scope(|s| s.data_get(&key)))
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        persistent: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(self.with_scope(|s| s.data_set(&key, value, persistent)))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        Ok(self.with_scope(|s| s.data_delete(&key)))
    }

    fn keys(&mut self) -> wasmtime::Result<Result<Vec<String>, String>> {
        Ok(self.with_scope(lord_state::Scope::data_keys))
    }
}
