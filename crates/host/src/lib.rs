//! The embedding API: what a Rust CLI uses to get sandboxed plugins.
//!
//! [`Framework`] is the seed's `PluginFramework`: register (install),
//! unregister, load, enable, disable, list and validate, over a persisted
//! lifecycle state machine ([`lifecycle`]) and a breaker that disables a
//! plugin that keeps failing.
//!
//! Invariant: a plugin's code runs only when its persisted state is
//! `enabled` (or while a lifecycle hook decides that), only with the grants
//! recorded at install, and every failure is recorded before it is returned.

mod cases;
pub mod dev;
mod error;
mod framework;
mod grants;
pub mod lifecycle;
mod lockfile;
mod micro;
mod probe;
mod remote;
mod validate;

pub use cases::{CASES_FILE, CaseKind, Target, TestCase, read_cases};
pub use error::HostError;
pub use framework::{
    Channels, CommandOutcome, Framework, HostConfig, InstallPlan, InstallSource, PluginFilter,
    RESERVED_COMMANDS, Registration,
};
pub use lifecycle::{Event, InvalidTransition};
pub use lockfile::{LOCK_FILE, LockEntry, Lockfile};
pub use lord_micro;
pub use lord_package;
pub use lord_registry_client::{Client as RegistryClient, ClientError as RegistryError};
pub use lord_sandbox::{Captured, CommandArg, Denial, Failure, LogLevel, LogRecord};
pub use lord_state;
pub use lord_store::{AuditEntry, CommandRecord, InstalledPlugin, PluginState};
pub use probe::Probe;
pub use remote::{Outdated, Pinned, Progress, RemotePlan, RemoteStep, UpdateOutcome, UpdateStep};
pub use validate::{Category, Finding, Level, Measurements, ValidationReport};
