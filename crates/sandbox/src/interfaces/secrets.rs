//! `lord:plugin/secrets`: the user's stored secrets, each name behind a
//! `secret(NAME)` grant that the plugin's scope checks. The value handed
//! over is the plugin's to guard; lord never logs or keeps it.

use lord_manifest::PermissionFamily;
use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::secrets;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/secrets",
    family: Some(PermissionFamily::Secret),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    secrets::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl secrets::Host for StoreState {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, String>> {
        self.meter.enter(Area::Secrets);
        Ok(self.with_scope(|s| s.secret(&name).map(|v| v.expose().to_owned())))
    }
}
