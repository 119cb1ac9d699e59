//! Typed errors of micro-plugin calls and pipelines. A handler's failure
//! keeps its kind beside its message ([`HandlerError`]), so a rollout's
//! error rate, the CLI's exit code and a report can each tell a guest's
//! own refusal from a time limit, a refused access or bad input.

use lord_manifest::MicroId;
use serde::Serialize;

/// Why a handler's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The handler's own code returned an error.
    Guest,
    /// The call ran out of its time budget.
    TimeLimit,
    /// The call tried to grow memory past its budget.
    MemoryLimit,
    /// The call wrote more than its output budget.
    OutputLimit,
    /// The call held more handles open than its limit.
    HandleLimit,
    /// The call recursed past the stack limit.
    StackLimit,
    /// The call reached for something it was not granted.
    Denied,
    /// The handler crashed (a trap, a panic).
    Trap,
    /// The input was not what the handler accepts (its schema, or not
    /// JSON at all): the caller's mistake.
    InvalidInput,
    /// The host could not run the handler at all (it would not load or
    /// start): neither the caller's nor the handler's doing.
    Host,
}

impl FailureKind {
    /// Whether the handler itself is to blame: what a rollout counts
    /// against a variant and what makes a plugin failure of a call.
    pub fn is_handler_fault(self) -> bool {
        match self {
            FailureKind::Guest
            | FailureKind::TimeLimit
            | FailureKind::MemoryLimit
            | FailureKind::OutputLimit
            | FailureKind::HandleLimit
            | FailureKind::StackLimit
            | FailureKind::Denied
            | FailureKind::Trap => true,
            FailureKind::InvalidInput | FailureKind::Host => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Guest => "guest",
            FailureKind::TimeLimit => "time-limit",
            FailureKind::MemoryLimit => "memory-limit",
            FailureKind::OutputLimit => "output-limit",
            FailureKind::HandleLimit => "handle-limit",
            FailureKind::StackLimit => "stack-limit",
            FailureKind::Denied => "denied",
            FailureKind::Trap => "trap",
            FailureKind::InvalidInput => "invalid-input",
            FailureKind::Host => "host",
        }
    }
}

/// A handler's failure: what kind, the message that explains it, and the
/// last lines the handler logged or wrote to standard error before it
/// failed (its diagnostics, shown under the error; as the handler wrote
/// them, so whoever shows them escapes them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub kind: FailureKind,
    pub message: String,
    pub wrote: Vec<String>,
}

impl HandlerError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            wrote: Vec::new(),
        }
    }

    /// The error with the last lines the handler wrote before failing.
    pub fn with_wrote(mut self, wrote: Vec<String>) -> Self {
        self.wrote = wrote;
        self
    }

    /// The handler's own error (what a native handler's `Err` is).
    pub fn guest(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Guest, message)
    }

    /// Input the handler cannot take.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(FailureKind::InvalidInput, message)
    }
}

impl From<String> for HandlerError {
    fn from(message: String) -> Self {
        Self::guest(message)
    }
}

impl From<&str> for HandlerError {
    fn from(message: &str) -> Self {
        Self::guest(message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MicroError {
    #[error("no micro-plugin `{0}` is registered; see `lord micro list`")]
    Unknown(MicroId),
    #[error("micro-plugin `{0}` is already registered; replace it to swap it")]
    Duplicate(MicroId),
    #[error("micro-plugin `{id}` rejected its input: {reason}")]
    InvalidInput { id: MicroId, reason: String },
    #[error("micro-plugin `{id}` returned output that breaks its own schema: {reason}")]
    InvalidOutput { id: MicroId, reason: String },
    #[error("micro-plugin `{id}` failed: {reason}")]
    Failed {
        id: MicroId,
        kind: FailureKind,
        reason: String,
        /// The last lines it logged or wrote to standard error before it
        /// failed ([`HandlerError::wrote`]); not part of the message.
        wrote: Vec<String>,
    },
    #[error("micro-plugin `{id}` has an invalid schema: {reason}")]
    BadSchema { id: MicroId, reason: String },
    #[error("the pipeline is not valid: {0}")]
    InvalidPipeline(String),
}

impl MicroError {
    /// `id`'s handler failed with `error`; its kind is kept.
    pub(crate) fn failed(id: &MicroId, error: HandlerError) -> Self {
        MicroError::Failed {
            id: id.clone(),
            kind: error.kind,
            reason: error.message,
            wrote: error.wrote,
        }
    }

    /// What the failed handler wrote before it failed, when it did.
    pub fn wrote(&self) -> &[String] {
        match self {
            MicroError::Failed { wrote, .. } => wrote,
            MicroError::Unknown(_)
            | MicroError::Duplicate(_)
            | MicroError::InvalidInput { .. }
            | MicroError::InvalidOutput { .. }
            | MicroError::BadSchema { .. }
            | MicroError::InvalidPipeline(_) => &[],
        }
    }

    /// How the call failed, when a handler was called at all.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            MicroError::InvalidInput { .. } => Some(FailureKind::InvalidInput),
            // A handler that breaks its own schema is at fault as surely
            // as one that returns an error.
            MicroError::InvalidOutput { .. } => Some(FailureKind::Guest),
            MicroError::Failed { kind, .. } => Some(*kind),
            MicroError::Unknown(_)
            | MicroError::Duplicate(_)
            | MicroError::BadSchema { .. }
            | MicroError::InvalidPipeline(_) => None,
        }
    }

    /// Whether a micro-plugin is to blame (a CLI's "plugin failed").
    pub fn is_handler_fault(&self) -> bool {
        self.kind().is_some_and(FailureKind::is_handler_fault)
    }

    /// Whether the caller can fix it by asking differently: an unknown id,
    /// a bad pipeline, input a handler does not take.
    pub fn is_user_error(&self) -> bool {
        match self {
            MicroError::Unknown(_)
            | MicroError::Duplicate(_)
            | MicroError::InvalidInput { .. }
            | MicroError::InvalidPipeline(_) => true,
            MicroError::Failed { kind, .. } => *kind == FailureKind::InvalidInput,
            MicroError::InvalidOutput { .. } | MicroError::BadSchema { .. } => false,
        }
    }
}
