//! The one trait every micro-plugin handler implements, whatever runs it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::error::HandlerError;

/// A boxed future, so handlers can be stored as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a handler knows about the call it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The routing key (user, session or machine), when there is one.
    pub key: Option<String>,
}

/// A handler: `execute` turns input into output; `validate` accepts or
/// rejects input without acting on it (validators implement it; the default
/// accepts everything). Errors keep their kind ([`HandlerError`]); the
/// manager adds which micro-plugin failed.
pub trait Handler: Send + Sync {
    fn execute<'a>(
        &'a self,
        input: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, HandlerError>>;

    fn validate<'a>(
        &'a self,
        input: &'a Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let _ = (input, ctx);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Whether the handler works on JSON text natively (a sandboxed one
    /// does: its boundary is text). Between two such steps a pipeline passes
    /// the text straight through instead of parsing and re-serialising it.
    fn speaks_text(&self) -> bool {
        false
    }

    /// `execute` on JSON text. The default parses and serialises around
    /// `execute`; handlers that speak text override it.
    fn execute_text<'a>(
        &'a self,
        input: String,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, HandlerError>> {
        Box::pin(async move {
            let value: Value = serde_json::from_str(&input)
                .map_err(|e| HandlerError::invalid_input(format!("input is not JSON: {e}")))?;
            let output = self.execute(value, ctx).await?;
            serde_json::to_string(&output).map_err(|e| HandlerError::guest(e.to_string()))
        })
    }

    /// The batch this handler runs in, if it shares instances with others.
    /// A handler in a batch must speak text.
    fn membership(&self) -> Option<Membership> {
        None
    }

    /// The plugin whose code serves this handler; `None` for the
    /// embedder's own native handlers. A pipeline leaves a hop between two
    /// steps unchecked only when both are one author's code (one plugin's,
    /// or both the embedder's): a value another plugin produced is checked
    /// at the boundary, whatever that plugin's declared output schema
    /// promises, since nothing else holds it to the promise.
    fn plugin(&self) -> Option<&lord_manifest::PluginId> {
        None
    }
}

/// Handlers that one instance serves together: the micro handlers of one
/// WASM package (same component, same grants). A prepared pipeline hands a
/// run of neighbouring steps of one batch over in a single call, so the run
/// checks out one instance and crosses into the handler once, not once per
/// step. Each step is still its own guest call, under its own deadline.
pub trait Batch: Send + Sync {
    /// Runs `members` (indices into the batch, in pipeline order) on JSON
    /// text, each step's output the next step's input. On failure, says
    /// which position in `members` failed and why.
    fn run_text<'a>(
        &'a self,
        members: &'a [usize],
        input: String,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, BatchFailure>>;
}

/// The step of a batched run that failed, by position in the run, and how
/// (with what it wrote before failing, as [`HandlerError::wrote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    pub position: usize,
    pub kind: crate::error::FailureKind,
    pub reason: String,
    pub wrote: Vec<String>,
}

/// A handler's place in a [`Batch`]: the batch, and its index in it.
#[derive(Clone)]
pub struct Membership {
    pub batch: Arc<dyn Batch>,
    pub index: usize,
}

impl Membership {
    /// Whether two memberships are of the same batch (the same instances).
    pub fn same_batch(&self, other: &Membership) -> bool {
        Arc::ptr_eq(&self.batch, &other.batch)
    }
}

type ExecuteFn = dyn Fn(Value, &CallContext) -> Result<Value, String> + Send + Sync;
type ValidateFn = dyn Fn(&Value, &CallContext) -> Result<(), String> + Send + Sync;

/// A native Rust handler, registered by a CLI that embeds the library:
/// isolation `none`, trusted by construction, called directly. Its
/// closures' plain `Err` reasons are the handler's own errors
/// ([`FailureKind::Guest`](crate::FailureKind::Guest)).
#[derive(Clone)]
pub struct NativeHandler {
    execute: Arc<ExecuteFn>,
    validate: Option<Arc<ValidateFn>>,
}

impl std::fmt::Debug for NativeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeHandler").finish_non_exhaustive()
    }
}

impl NativeHandler {
    pub fn new(
        execute: impl Fn(Value, &CallContext) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            execute: Arc::new(execute),
            validate: None,
        }
    }

    /// Adds a `validate` to the handler (what makes a validator useful in a
    /// conditional step).
    pub fn with_validate(
        mut self,
        validate: impl Fn(&Value, &CallContext) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.validate = Some(Arc::new(validate));
        self
    }
}

impl Handler for NativeHandler {
    fn execute<'a>(
        &'a self,
        input: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, HandlerError>> {
        Box::pin(std::future::ready(
            (self.execute)(input, ctx).map_err(HandlerError::guest),
        ))
    }

    fn validate<'a>(
        &'a self,
        input: &'a Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let result = match &self.validate {
            Some(validate) => validate(input, ctx).map_err(HandlerError::guest),
            None => Ok(()),
        };
        Box::pin(std::future::ready(result))
    }
}
