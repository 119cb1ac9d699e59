//! The local install store: which plugins are installed, in what state, with
//! which grants, plus an append-only audit log.
//!
//! Layout under the store's home (`$LORD_HOME`):
//!
//! ```text
//! lord.db                        SQLite (WAL): plugins, commands, micro,
//!                                audit, kept builds, provider states,
//!                                use counts (only while shared)
//! lock                           held while anything writes
//! staging/<random>/              installs in flight
//! plugins/<id>/<version>-<hash>/ plugin.toml + component, immutable
//! data/<id>/                     the plugin's $PLUGIN_DATA
//! cache/                         compiled code (owned by lord-sandbox)
//! ```
//!
//! Invariant: the database is the truth. A plugin is installed exactly when
//! its row is committed; a folder under `plugins/` without a row is debris
//! from an interrupted install and is swept by the next writer. So a kill at
//! any point of an install or removal leaves either the old state or the new
//! one.

pub mod chain;
mod error;
mod failpoint;
mod layout;
mod providers;
mod read;
mod record;
mod schema;
mod store;
mod usage;

pub use error::{StoreError, is_no_space};
pub use failpoint::Failpoint;
pub use providers::ProviderState;
pub use record::{
    AuditEntry, CommandRecord, GrantedProgram, InstalledPlugin, NewPlugin, PluginState, World,
};
pub use store::{Store, Subscriber};
pub use usage::{UseCount, today};
