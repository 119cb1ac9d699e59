//! `lord-state`: the channels between plugins, all owned by the host.
//!
//! - [`PluginData`]: each plugin's own key-value data. Session values live
//!   in memory; persistent ones in `$LORD_HOME/state.db`, versioned for
//!   compare-and-swap, under a per-plugin quota checked in the same
//!   transaction as the write.
//! - [`SharedState`]: named values shared between plugins and processes,
//!   in `state.db`, each with a version, for get, set and
//!   compare-and-swap, with watch subscriptions that see other processes'
//!   writes within [`WATCH_POLL`].
//! - [`EventBus`]: publish/subscribe on dotted topics with `*` and `**`
//!   patterns and field filters; each subscriber has a bounded queue, so a
//!   stalled one loses events (counted) instead of slowing publishers.
//!   `global` and `system` events go to the [`EventLog`] with retention, and
//!   can be replayed in order.
//! - [`Mailboxes`]: queued messages between plugins, in `state.db` until a
//!   process delivers them (each to exactly one), one bounded mailbox per
//!   receiver, highest priority first; a full one drops (counted) rather
//!   than blocking the sender.
//! - [`Secrets`]: named values in the OS keyring where one runs, else
//!   encrypted at rest in a file, read by a plugin only with a
//!   `secret(NAME)` grant.
//! - [`GlobalState`]: the session (user, project, command, version, start,
//!   lord's environment), its telemetry (commands, errors, history,
//!   metrics), and logger level and theme, each with typed subscriptions.
//! - [`Quotas`]: each plugin's calls, CPU time, events, messages and HTTP
//!   requests per minute, counted in one-minute windows in `state.db` that
//!   every process adds to, so a quota holds across processes.
//! - [`Scope`]: one plugin's view of all of these, holding its grants. Every
//!   check of a plugin's access to a channel happens here.
//!
//! Invariant: a plugin reaches another plugin's data through no call of
//! this crate: [`Scope`] fixes the namespace to its own plugin id.
//! Invariant: publishing never waits for a subscriber.
//! Invariant: every write to `state.db` is one `BEGIN IMMEDIATE`
//! transaction, and waiting for another process's write never surfaces as
//! `SQLITE_BUSY` (see `db.rs`).

mod bus;
mod data;
mod db;
mod error;
mod event;
mod keyring;
mod log;
mod mailbox;
mod quota;
mod scope;
mod secrets;
mod session;
mod shared;

pub use bus::{DEFAULT_QUEUE, EventBus, PublishReport, Subscription, SubscriptionStats, now_ms};
pub use data::PluginData;
pub use db::{BUSY_WAIT, StateDb};
pub use error::StateError;
pub use event::{Event, FieldFilter, Propagation};
pub use log::{Dropped, EVENT_OVERHEAD, EventLog, LogBudget, Retention};
pub use mailbox::{MAILBOX_CAPACITY, MailboxStats, Mailboxes, Message, Posted};
pub use quota::{PluginQuota, QuotaKind, QuotaLimits, Quotas, REFRESH, REFRESH_MS, Throttle};
pub use scope::{ChannelLimits, Scope, ScopeGrants, Staged};
pub use secrets::{
    Sealer, SecretValue, Secrets, SecretsBackend, SecretsLocation, check_name as check_secret_name,
};
pub use session::{CommandRun, GlobalState, SessionInfo, Telemetry};
pub use shared::{CasOutcome, SharedState, Versioned, WATCH_POLL};
