//! Typed errors of the sandbox: what failed to load, and why a call failed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lord_manifest::PluginId;

use crate::instance::Captured;

/// Why a component could not be compiled, cached or accepted.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("`{path}` is not a valid WebAssembly component: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("compiled-code cache at `{path}`: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The component does not fit the contract: an undeclared import, a
    /// missing export, or an API version this host does not speak.
    #[error("plugin `{plugin}` is refused: {reason}")]
    Contract { plugin: PluginId, reason: String },
}

/// A call into a plugin that did not complete normally.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` {failure}")]
pub struct CallError {
    pub plugin: PluginId,
    pub failure: Failure,
    /// What the call wrote before it failed (stdout, stderr, log records),
    /// for the host to show with the error: a plugin's diagnostics matter
    /// most when it fails. `None` when it wrote nothing. Boxed, since most
    /// errors carry none and errors travel by value.
    pub captured: Option<Box<Captured>>,
}

impl CallError {
    pub(crate) fn new(plugin: &PluginId, failure: Failure) -> Self {
        Self {
            plugin: plugin.clone(),
            failure,
            captured: None,
        }
    }

    /// The error with what the call wrote before it failed, if anything.
    pub(crate) fn with_captured(mut self, captured: Captured) -> Self {
        let wrote =
            !(captured.stdout.is_empty() && captured.stderr.is_empty() && captured.logs.is_empty());
        self.captured = wrote.then(|| Box::new(captured));
        self
    }
}

/// What went wrong in a call, from the host's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The wall-clock budget ran out (guest code and host calls together).
    TimeLimit { limit: Duration },
    /// The guest tried to grow its memory past the budget.
    MemoryLimit { limit_bytes: u64 },
    /// The guest's call stack went past the engine's wasm stack limit.
    StackLimit,
    /// The guest wrote more than its output budget (stdout, stderr, logs and
    /// the returned text together).
    OutputLimit { limit_bytes: u64 },
    /// The guest tried to hold more host resources (files, directories,
    /// sockets, streams) open at once than its limit.
    HandleLimit { limit: u64 },
    /// The guest tried to reach something it was not granted.
    Denied { access: String },
    /// The guest trapped (panic, unreachable, bad memory access...).
    Trap { message: String },
    /// The guest returned an error of its own.
    Returned { message: String },
    /// The instance failed earlier and cannot be used again.
    Poisoned,
    /// The host could not set the instance up (e.g. a preopen is missing).
    Setup { message: String },
}

impl Failure {
    /// True when the failure is the plugin's fault (as opposed to a host
    /// set-up problem); such failures count towards the breaker.
    pub fn is_plugin_fault(&self) -> bool {
        match self {
            Failure::TimeLimit { .. }
            | Failure::MemoryLimit { .. }
            | Failure::StackLimit
            | Failure::OutputLimit { .. }
            | Failure::HandleLimit { .. }
            | Failure::Denied { .. }
            | Failure::Trap { .. }
            | Failure::Returned { .. }
            | Failure::Poisoned => true,
            Failure::Setup { .. } => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimeLimit { limit } => write!(
                f,
                "exceeded its time limit of {} ms and was stopped",
                limit.as_millis()
            ),
            Failure::MemoryLimit { limit_bytes } => write!(
                f,
                "exceeded its memory limit of {} MiB and was stopped",
                limit_bytes / (1024 * 1024)
            ),
            Failure::StackLimit => write!(
                f,
                "exceeded the wasm stack limit (runaway recursion) and was stopped"
            ),
            Failure::OutputLimit { limit_bytes } => write!(
                f,
                "exceeded its output limit of {} KiB and was stopped",
                limit_bytes / 1024
            ),
            Failure::HandleLimit { limit } => write!(
                f,
                "exceeded its limit of {limit} open handles (files, directories, sockets, \
                 streams) and was stopped"
            ),
            Failure::Denied { access } => write!(f, "was refused access: {access} is not granted"),
            Failure::Trap { message } => write!(f, "crashed: {message}"),
            Failure::Returned { message } => write!(f, "failed: {message}"),
            Failure::Poisoned => write!(
                f,
                "cannot be called again in this session after an earlier failure"
            ),
            Failure::Setup { message } => write!(f, "could not be started: {message}"),
        }
    }
}
