//! Micro-plugins: typed single-purpose handlers, and what is built from them.
//!
//! A [`MicroPlugin`] has an id, a kind, a [`Handler`], metadata (JSON
//! Schemas for input and output) and security (limits, allowed operations,
//! isolation). Handlers come from three sources behind one trait: native
//! Rust (isolation `none`), micro-plugin components and the micro handlers of
//! full plugins (both run by lord-host in the sandbox).
//!
//! [`MicroManager`] registers them, runs them alone or as a [`Pipeline`]
//! (sequence, parallel fan-out with a join, conditional steps, an error
//! policy per step), validates a pipeline before it runs (unknown ids, schema
//! mismatches between neighbours, and its effective authority: the union of
//! what its members may do), swaps a handler while calls are in flight, and
//! routes an id between variants ([`Router`]) for A/B tests and gradual
//! rollouts that roll back by themselves, as code builds them or as the
//! configuration's `[[micro.routes]]` and a manifest's `[[routes]]`
//! describe them ([`router_for`]).
//!
//! Invariant: no I/O and no sandbox here; this crate composes handlers and
//! knows nothing of how a handler runs.

mod check;
mod error;
mod handler;
mod manager;
mod pipeline;
mod plugin;
mod route;
mod route_spec;
mod run;
mod schema;

pub use check::{ChainFinding, ChainReport};
pub use error::{FailureKind, HandlerError, MicroError};
pub use handler::{
    Batch, BatchFailure, BoxFuture, CallContext, Handler, Membership, NativeHandler,
};
pub use manager::MicroManager;
pub use pipeline::{OnError, Pipeline, PipelineError, Step};
pub use plugin::{MicroPlugin, MicroSecurity};
pub use route::{Rollout, RolloutPolicy, Router, Variant, VariantStats};
pub use route_spec::{parse_routes, router_for};
pub use run::Prepared;
