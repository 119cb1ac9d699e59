//! The `lord:plugin` host interfaces, one module each. A module adds its
//! functions to the linker and says which permission family a component
//! needs to import it (the permission table's answer, checked by a test);
//! the contract check and the linker both read [`ALL`], so a new interface
//! is one new module here, one row in the permission table
//! (`lord_manifest::PermissionFamily::meaning`) and its WIT.
//!
//! The services behind the calls (the plugin's channel scope, its
//! messenger) are not grants but live handles: each instance receives them
//! in its [`Links`](crate::Links), and a call whose service is missing
//! fails as refused.

mod ai;
mod config;
mod data;
mod delivery;
mod document;
mod events;
mod exec;
mod kv;
mod log;
mod messaging;
mod metrics;
mod secrets;
mod shared;
mod sql;
mod types;

use lord_manifest::PermissionFamily;
use lord_state::{Scope, StateError};
use wasmtime::component::Linker;

use crate::session::StoreState;

pub(crate) use ai::AiState;
#[expect(
    unreachable_pub,
    reason = "bindgen re-exports the resource's type with `pub use`, which a crate-private type refuses"
)]
pub use ai::ReplyStream;
pub use ai::{AiAnswer, AiAsk, AiFailure, AiPiece, AiService};
pub use document::{DocumentAnswer, DocumentCall, DocumentOp};
pub(crate) use exec::ExecGrants;
pub use exec::Program;
pub use kv::{KvAnswer, KvCall, KvOp};
pub use messaging::{Messaging, Reply};
pub use metrics::{MetricsAccess, SystemMetrics};
pub(crate) use sql::DbState;
pub use sql::{
    DbFailure, DbFuture, DbService, MAX_BATCH, MAX_PARAM_BYTES, MAX_RESULT_BYTES, MAX_ROWS,
    MAX_STATEMENT_BYTES, SqlCall,
};

/// One host interface.
pub(crate) struct HostInterface {
    /// The WIT interface, without its version: `lord:plugin/shared`.
    pub(crate) name: &'static str,
    /// The family a component must hold a permission of to import it;
    /// `None` for interfaces that carry no authority over anything but the
    /// plugin's own (its log, data and configuration).
    pub(crate) family: Option<PermissionFamily>,
    add_to_linker: fn(&mut Linker<StoreState>) -> wasmtime::Result<()>,
}

/// Every host interface this host offers plugins.
pub(crate) const ALL: [HostInterface; 15] = [
    types::INTERFACE,
    log::INTERFACE,
    data::INTERFACE,
    config::INTERFACE,
    shared::INTERFACE,
    events::INTERFACE,
    secrets::INTERFACE,
    messaging::INTERFACE,
    delivery::INTERFACE,
    exec::INTERFACE,
    metrics::INTERFACE,
    ai::INTERFACE,
    sql::INTERFACE,
    kv::INTERFACE,
    document::INTERFACE,
];

/// The host interface named `path` (an import name without `@version`).
pub(crate) fn find(path: &str) -> Option<&'static HostInterface> {
    ALL.iter().find(|interface| interface.name == path)
}

/// Adds every interface not `withheld` to the linker.
pub(crate) fn link(
    linker: &mut Linker<StoreState>,
    withheld: &crate::Withheld,
) -> wasmtime::Result<()> {
    for interface in &ALL {
        if withheld.reason(interface.name).is_none() {
            (interface.add_to_linker)(linker)?;
        }
    }
    Ok(())
}

impl StoreState {
    /// The plugin's channel scope, or the reason there is none.
    fn scope(&self) -> Result<&Scope, String> {
        self.links
            .get::<Scope>()
            .ok_or_else(|| "this host was started without plugin state".to_owned())
    }

    /// Turns a channel error into the guest's `err`, recording refusals.
    fn refused(&self, error: StateError) -> String {
        let message = error.to_string();
        match &error {
            StateError::NotGranted {
                access, permission, ..
            } => {
                // Only a real permission name is worth proposing; the
                // `system` refusal names none.
                let needs = permission
                    .parse::<lord_manifest::Permission>()
                    .ok()
                    .map(|p| p.to_string());
                self.deny(access.clone(), needs);
            }
            StateError::Db(_)
            | StateError::Io { .. }
            | StateError::QuotaExceeded { .. }
            | StateError::Invalid { .. }
            | StateError::Unavailable(_)
            | StateError::SecretMissing(_)
            | StateError::Keyring(_)
            | StateError::TooLarge { .. }
            | StateError::Busy
            | StateError::Corrupt(_) => {}
        }
        message
    }

    /// Runs `call` against the plugin's scope; its error becomes the
    /// guest's `err`.
    fn with_scope<T>(
        &self,
        call: impl FnOnce(&Scope) -> Result<T, StateError>,
    ) -> Result<T, String> {
        let scope = self.scope()?;
        call(scope).map_err(|e| self.refused(e))
    }

    /// Records a refused access, and the permission that would allow it.
    fn deny(&self, access: String, needs: Option<String>) {
        self.denials.push(access, needs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each module's family is the permission table's: the table decides
    /// what importing an interface takes, the module only repeats it where
    /// a reader looks.
    #[test]
    fn every_interface_needs_the_family_the_permission_table_says() {
        for interface in &ALL {
            assert_eq!(
                interface.family,
                PermissionFamily::unlocking(interface.name),
                "{}",
                interface.name
            );
        }
    }

    /// Every `lord:plugin` interface a permission unlocks has a module.
    #[test]
    fn every_lord_interface_in_the_table_is_served() {
        for family in PermissionFamily::ALL {
            for name in family.meaning().interfaces {
                if name.starts_with("lord:plugin/") {
                    assert!(find(name).is_some(), "{name} ({family}) has no module");
                }
            }
        }
    }
}
