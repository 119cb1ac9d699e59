//! The embedding API: what a Rust CLI uses to get sandboxed plugins.
//!
//! [`Framework`] is the seed's `PluginFramework`: install (plan, consent,
//! store), remove, enable, disable, list and validate, run commands and
//! micro-plugins, over a persisted lifecycle state machine ([`lifecycle`])
//! and a breaker that disables a plugin that keeps failing. See
//! `examples/embed.rs` for a CLI that is not `lord` loading a plugin.
//!
//! Two ways to call a plugin: [`Framework::run_command`] makes a fresh
//! instance per call (nothing leaks from one call to the next: the
//! default), and [`Framework::load`] hands back an instance to keep and
//! call repeatedly (its state lives on between calls, at the cost of one
//! instantiation in all).
//!
//! Invariant: a plugin's code runs only when its persisted state is
//! `enabled` (or while a lifecycle hook decides that), only with the grants
//! recorded at install, and every failure is recorded before it is returned.
//! Invariant: the framework reads no environment: [`HostConfig`] carries
//! the home, the project folder, the environment and the failpoint.

pub mod analytics;
pub mod audit;
mod cases;
mod channels;
mod config;
mod delivery;
mod dependencies;
mod dispatch;
mod error;
mod framework;
pub mod governance;
mod grants;
mod install;
pub mod lifecycle;
mod loader;
mod lockfile;
mod messenger;
mod micro;
mod perf;
mod policy_sync;
mod project;
pub mod provider;
mod quota;
mod release;
mod remote;
mod results;
mod rollout;
mod runtime;
mod sandbox_start;
mod scratch;
mod settings;
mod usage;
mod validate;

pub use cases::{CASES_FILE, CaseKind, Target, TestCase, read_cases};
pub use channels::Channels;
pub use config::HostConfig;
pub use dependencies::Unmet;
pub use dispatch::CommandOutcome;
pub use error::HostError;
pub use framework::{Framework, OUTPUT_NEUTRALISED, PluginFilter};
pub use governance::PolicyPlaces;
pub use grants::resolve_program;
pub use install::{
    InstallPlan, InstallSource, PermissionDiff, RESERVED_COMMANDS, RESERVED_IDS, Registration,
    RegistryFacts,
};
pub use lifecycle::{Event, InvalidTransition};
pub use lockfile::{LOCK_FILE, LockEntry, Lockfile};
pub use lord_analytics;
pub use lord_micro;
pub use lord_package;
pub use lord_perf;
pub use lord_policy;
pub use lord_registry_client::{Client as RegistryClient, ClientError as RegistryError};
pub use lord_sandbox::{
    CallError, Captured, CommandArg, Denial, Failure, Invocation, LogLevel, LogRecord, MicroCall,
    PluginInstance,
};
pub use lord_state;
pub use lord_store::{AuditEntry, CommandRecord, InstalledPlugin, PluginState, is_no_space};
pub use micro::{HandlerInstance, MicroWrote};
pub use policy_sync::PolicySync;
pub use project::{PROJECT_MARKERS, Protected, find_project};
pub use provider::{NativePlugin, Provider, ProviderCommand};
pub use release::{Release, install_release, previous_of, roll_back_release};
pub use remote::{Outdated, Pinned, Progress, RemotePlan, RemoteStep, UpdateOutcome, UpdateStep};
pub use rollout::Retreat;
pub use runtime::MICRO_ROUTES;
pub use scratch::{scratch_dir, sweep_dead};
pub use validate::{Category, Finding, Level, Measurements, ValidationReport};
