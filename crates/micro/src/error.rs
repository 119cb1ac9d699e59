//! Typed errors of micro-plugin calls and pipelines.

use lord_manifest::MicroId;

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
    Failed { id: MicroId, reason: String },
    #[error("micro-plugin `{id}` has an invalid schema: {reason}")]
    BadSchema { id: MicroId, reason: String },
    #[error("the pipeline is not valid: {0}")]
    InvalidPipeline(String),
}
