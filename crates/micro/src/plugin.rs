//! What a micro-plugin is: the seed's `MicroPlugin` and
//! `MicroPluginSecurity`, and a registered one with its schemas compiled.

use std::sync::Arc;
use std::time::Duration;

use lord_manifest::{Isolation, MicroId, MicroKind, Permission};
use serde_json::Value;

use crate::error::MicroError;
use crate::handler::Handler;
use crate::schema::Schema;

/// The seed's `MicroPluginSecurity`: what a handler declares (`allowed`
/// makes a pipeline's authority in `validate`). The manager enforces none
/// of the limits itself: a sandboxed handler's time and memory are
/// bounded by its sandbox (lord-sandbox, from its package's manifest), and
/// a native handler is the embedder's own code, run in its process, which
/// nothing here can stop part way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicroSecurity {
    /// The longest one call may run (enforced by the sandbox for a
    /// sandboxed handler; declared only for a native one).
    pub max_execution: Duration,
    /// The most memory one instance may hold (as `max_execution`).
    pub max_memory_bytes: u64,
    /// What the handler may do: a subset of the permission vocabulary.
    pub allowed: Vec<Permission>,
    pub isolation: Isolation,
}

/// The seed's `MicroPlugin`.
#[derive(Clone)]
pub struct MicroPlugin {
    pub id: MicroId,
    pub kind: MicroKind,
    pub description: String,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    pub security: MicroSecurity,
    pub handler: Arc<dyn Handler>,
}

impl std::fmt::Debug for MicroPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroPlugin")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// A registered micro-plugin with its schemas compiled.
pub(crate) struct Entry {
    pub(crate) plugin: MicroPlugin,
    pub(crate) input: Option<Schema>,
    pub(crate) output: Option<Schema>,
}

impl Entry {
    pub(crate) fn new(plugin: MicroPlugin) -> Result<Self, MicroError> {
        Ok(Self {
            input: Schema::compile(&plugin.id, plugin.input_schema.clone())?,
            output: Schema::compile(&plugin.id, plugin.output_schema.clone())?,
            plugin,
        })
    }
}
