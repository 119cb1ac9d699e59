//! `lord:plugin/types`: the shapes the other interfaces share; no
//! functions, no authority.

use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::types;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/types",
    family: None,
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    types::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl types::Host for StoreState {}
