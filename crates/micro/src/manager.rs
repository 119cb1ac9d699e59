//! The micro-plugin manager: registry, single calls, pipelines, chain
//! validation, hot swap and routing.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use lord_manifest::{Isolation, MicroId, MicroKind, Permission};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::MicroError;
use crate::handler::{BoxFuture, CallContext, Handler};
use crate::pipeline::{OnError, Pipeline, Step};
use crate::route::Router;
use crate::schema::{self, Schema};

/// The seed's `MicroPluginSecurity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicroSecurity {
    pub max_execution: Duration,
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
struct Entry {
    plugin: MicroPlugin,
    input: Option<Schema>,
    output: Option<Schema>,
}

impl Entry {
    fn new(plugin: MicroPlugin) -> Result<Self, MicroError> {
        Ok(Self {
            input: Schema::compile(&plugin.id, plugin.input_schema.clone())?,
            output: Schema::compile(&plugin.id, plugin.output_schema.clone())?,
            plugin,
        })
    }
}

/// One problem found by [`MicroManager::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "problem")]
pub enum ChainFinding {
    UnknownId {
        id: String,
    },
    SchemaMismatch {
        from: String,
        to: String,
        field: String,
        detail: String,
    },
    NotAValidator {
        id: String,
        kind: String,
    },
}

impl std::fmt::Display for ChainFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainFinding::UnknownId { id } => write!(f, "`{id}` is not a registered micro-plugin"),
            ChainFinding::SchemaMismatch {
                from,
                to,
                field,
                detail,
            } => write!(f, "`{from}` → `{to}`: field `{field}` {detail}"),
            ChainFinding::NotAValidator { id, kind } => write!(
                f,
                "`{id}` guards a conditional step but is a {kind}, not a validator"
            ),
        }
    }
}

/// What a pipeline is before it runs: its problems, and its effective
/// authority (everything any member may do, together).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub findings: Vec<ChainFinding>,
    pub authority: Vec<String>,
    pub isolation: Vec<(String, String)>,
}

impl ChainReport {
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Registered micro-plugins and the routes between their variants. Cheap to
/// clone: clones share one registry.
#[derive(Clone, Default)]
pub struct MicroManager {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: RwLock<HashMap<MicroId, Arc<Entry>>>,
    routes: RwLock<HashMap<MicroId, Arc<Router>>>,
}

impl std::fmt::Debug for MicroManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroManager")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

/// What a value arriving at a step is known to satisfy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// Nothing: check it against the step's input schema.
    None,
    /// The previous step's output schema, structurally compatible with this
    /// step's input schema (established by `validate`): no check needed.
    Compatible,
}

impl MicroManager {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::RwLockReadGuard<'_, HashMap<MicroId, Arc<Entry>>> {
        self.inner.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, id: &MicroId) -> Option<Arc<Entry>> {
        self.entries().get(id).cloned()
    }

    pub fn register(&self, plugin: MicroPlugin) -> Result<(), MicroError> {
        let entry = Arc::new(Entry::new(plugin)?);
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let id = entry.plugin.id.clone();
        if entries.contains_key(&id) {
            return Err(MicroError::Duplicate(id));
        }
        entries.insert(id, entry);
        Ok(())
    }

    /// Hot swap: new calls get `plugin`; calls already running keep the
    /// version they started with (they hold their own reference to it), so
    /// nothing fails because of the swap.
    pub fn replace(&self, plugin: MicroPlugin) -> Result<(), MicroError> {
        let entry = Arc::new(Entry::new(plugin)?);
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        entries.insert(entry.plugin.id.clone(), entry);
        Ok(())
    }

    pub fn unregister(&self, id: &MicroId) -> bool {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        entries.remove(id).is_some()
    }

    pub fn ids(&self) -> Vec<MicroId> {
        let mut ids: Vec<MicroId> = self.entries().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The registered micro-plugin (its current version).
    pub fn get(&self, id: &MicroId) -> Option<MicroPlugin> {
        self.entry(id).map(|e| e.plugin.clone())
    }

    /// Sends calls for `id` through `router` (A/B test or rollout). `id`
    /// need not be registered itself; the router's targets must be.
    pub fn route(&self, id: MicroId, router: Router) -> Arc<Router> {
        let router = Arc::new(router);
        let mut routes = self.inner.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.insert(id, Arc::clone(&router));
        router
    }

    pub fn unroute(&self, id: &MicroId) -> bool {
        let mut routes = self.inner.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.remove(id).is_some()
    }

    fn router(&self, id: &MicroId) -> Option<Arc<Router>> {
        let routes = self.inner.routes.read().unwrap_or_else(|p| p.into_inner());
        routes.get(id).cloned()
    }

    /// Runs one micro-plugin, checking input and output against its schemas.
    pub async fn execute(
        &self,
        id: &MicroId,
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, MicroError> {
        self.call(id, input, ctx, Proof::None, true).await
    }

    /// The seed's `chainMicroPlugins`: a plain sequence that stops on error.
    pub async fn chain(
        &self,
        ids: &[MicroId],
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, MicroError> {
        self.run(&Pipeline::chain(ids.iter().cloned()), input, ctx)
            .await
    }

    /// Validates, then runs a pipeline. Schema checks run at the pipeline's
    /// edges and only between neighbours whose compatibility `validate`
    /// could not establish.
    pub async fn run(
        &self,
        pipeline: &Pipeline,
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, MicroError> {
        let report = self.validate(pipeline);
        if let Some(first) = report.findings.first() {
            return Err(MicroError::InvalidPipeline(first.to_string()));
        }
        let output = self.run_steps(pipeline, input, ctx, Proof::None).await?;
        Ok(output)
    }

    /// Calls one id (through its router, if it has one).
    async fn call(
        &self,
        id: &MicroId,
        input: Value,
        ctx: &CallContext,
        proof: Proof,
        check_output: bool,
    ) -> Result<Value, MicroError> {
        match self.router(id) {
            Some(router) => {
                let (variant, target) = router.choose(ctx.key.as_deref());
                let started = Instant::now();
                let result = self
                    .call_entry(&target, input, ctx, Proof::None, true)
                    .await;
                router.observe(variant, started.elapsed(), result.is_ok());
                result
            }
            None => self.call_entry(id, input, ctx, proof, check_output).await,
        }
    }

    async fn call_entry(
        &self,
        id: &MicroId,
        input: Value,
        ctx: &CallContext,
        proof: Proof,
        check_output: bool,
    ) -> Result<Value, MicroError> {
        // The call holds this version for its whole run: a swap meanwhile
        // affects only later calls.
        let entry = self
            .entry(id)
            .ok_or_else(|| MicroError::Unknown(id.clone()))?;
        if proof == Proof::None
            && let Some(schema) = &entry.input
        {
            schema
                .check(&input)
                .map_err(|reason| MicroError::InvalidInput {
                    id: id.clone(),
                    reason,
                })?;
        }
        let output = entry
            .plugin
            .handler
            .execute(input, ctx)
            .await
            .map_err(|reason| MicroError::Failed {
                id: id.clone(),
                reason,
            })?;
        if check_output && let Some(schema) = &entry.output {
            schema
                .check(&output)
                .map_err(|reason| MicroError::InvalidOutput {
                    id: id.clone(),
                    reason,
                })?;
        }
        Ok(output)
    }

    /// Asks a validator whether it accepts `input`.
    async fn accepts(
        &self,
        id: &MicroId,
        input: &Value,
        ctx: &CallContext,
    ) -> Result<bool, MicroError> {
        let entry = self
            .entry(id)
            .ok_or_else(|| MicroError::Unknown(id.clone()))?;
        if let Some(schema) = &entry.input
            && schema.check(input).is_err()
        {
            return Ok(false);
        }
        Ok(entry.plugin.handler.validate(input, ctx).await.is_ok())
    }

    fn run_steps<'a>(
        &'a self,
        pipeline: &'a Pipeline,
        input: Value,
        ctx: &'a CallContext,
        mut proof: Proof,
    ) -> BoxFuture<'a, Result<Value, MicroError>> {
        Box::pin(async move {
            let mut value = input;
            for (index, step) in pipeline.steps.iter().enumerate() {
                let next = pipeline.steps.get(index + 1);
                match step {
                    Step::Call { id, on_error } => {
                        // Check the output only when nothing downstream will:
                        // the last step, or a neighbour not proven compatible.
                        let covered = next.is_some_and(|n| self.compatible(id, n));
                        let result = self.call(id, value.clone(), ctx, proof, !covered).await;
                        value = match (result, on_error) {
                            (Ok(out), _) => {
                                proof = if covered {
                                    Proof::Compatible
                                } else {
                                    Proof::None
                                };
                                out
                            }
                            (Err(e), OnError::Stop) => return Err(e),
                            (Err(_), OnError::Skip) => {
                                proof = Proof::None;
                                value
                            }
                            (Err(_), OnError::Fallback(other)) => {
                                proof = Proof::None;
                                self.call(other, value, ctx, Proof::None, true).await?
                            }
                        };
                    }
                    Step::Parallel { branches } => {
                        value = self.fan_out(branches, value, ctx).await;
                        proof = Proof::None;
                    }
                    Step::If {
                        check,
                        then,
                        otherwise,
                    } => {
                        let branch = if self.accepts(check, &value, ctx).await? {
                            Some(then)
                        } else {
                            otherwise.as_ref()
                        };
                        if let Some(branch) = branch {
                            value = self.run_steps(branch, value, ctx, Proof::None).await?;
                        }
                        proof = Proof::None;
                    }
                }
            }
            Ok(value)
        })
    }

    /// Runs every branch on its own task (so a multi-threaded runtime uses
    /// every core) and joins the results in branch order.
    async fn fan_out(&self, branches: &[Pipeline], input: Value, ctx: &CallContext) -> Value {
        let tasks: Vec<_> = branches
            .iter()
            .map(|branch| {
                let manager = self.clone();
                let branch = branch.clone();
                let input = input.clone();
                let ctx = ctx.clone();
                tokio::spawn(
                    async move { manager.run_steps(&branch, input, &ctx, Proof::None).await },
                )
            })
            .collect();
        let mut joined = Vec::with_capacity(tasks.len());
        for task in tasks {
            joined.push(match task.await {
                Ok(Ok(value)) => json!({ "ok": value }),
                Ok(Err(e)) => json!({ "error": e.to_string() }),
                Err(join) => json!({ "error": format!("branch crashed: {join}") }),
            });
        }
        Value::Array(joined)
    }

    /// Whether `id`'s output schema is proven to fit the next step's input.
    fn compatible(&self, id: &MicroId, next: &Step) -> bool {
        let Step::Call { id: next_id, .. } = next else {
            return false;
        };
        if self.router(id).is_some() || self.router(next_id).is_some() {
            return false;
        }
        match (self.entry(id), self.entry(next_id)) {
            (Some(a), Some(b)) => match (&a.output, &b.input) {
                (Some(out), Some(inp)) => schema::mismatch(&out.source, &inp.source).is_none(),
                // No input schema: anything fits, nothing to check.
                (_, None) => true,
                (None, Some(_)) => false,
            },
            _ => false,
        }
    }

    /// The seed's `validateMicroPluginChain`, for any pipeline: unknown ids,
    /// schema mismatches between neighbours (naming both and the field), a
    /// conditional guarded by something that is not a validator, and the
    /// pipeline's effective authority.
    pub fn validate(&self, pipeline: &Pipeline) -> ChainReport {
        let mut report = ChainReport::default();
        let mut authority = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for id in pipeline.ids() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let targets: Vec<MicroId> = match self.router(id) {
                Some(router) => router
                    .stats()
                    .iter()
                    .filter_map(|s| s.target.parse().ok())
                    .collect(),
                None => vec![id.clone()],
            };
            for target in targets {
                match self.entry(&target) {
                    Some(entry) => {
                        for p in &entry.plugin.security.allowed {
                            authority.insert(p.to_string());
                        }
                        report.isolation.push((
                            target.to_string(),
                            entry.plugin.security.isolation.to_string(),
                        ));
                    }
                    None => report.findings.push(ChainFinding::UnknownId {
                        id: target.to_string(),
                    }),
                }
            }
        }
        self.check_neighbours(pipeline, &mut report);
        report.authority = authority.into_iter().collect();
        report
    }

    /// Takes no lock across the recursion: entries are fetched one by one,
    /// so a concurrent `replace` never waits behind a nested read.
    fn check_neighbours(&self, pipeline: &Pipeline, report: &mut ChainReport) {
        for pair in pipeline.steps.windows(2) {
            if let [Step::Call { id: a, .. }, Step::Call { id: b, .. }] = pair
                && let (Some(ea), Some(eb)) = (self.entry(a), self.entry(b))
                && let (Some(out), Some(inp)) = (&ea.output, &eb.input)
                && let Some((field, detail)) = schema::mismatch(&out.source, &inp.source)
            {
                report.findings.push(ChainFinding::SchemaMismatch {
                    from: a.to_string(),
                    to: b.to_string(),
                    field,
                    detail,
                });
            }
        }
        for step in &pipeline.steps {
            match step {
                Step::Call { .. } => {}
                Step::Parallel { branches } => {
                    for b in branches {
                        self.check_neighbours(b, report);
                    }
                }
                Step::If {
                    check,
                    then,
                    otherwise,
                } => {
                    if let Some(entry) = self.entry(check)
                        && entry.plugin.kind != MicroKind::Validator
                    {
                        report.findings.push(ChainFinding::NotAValidator {
                            id: check.to_string(),
                            kind: entry.plugin.kind.to_string(),
                        });
                    }
                    self.check_neighbours(then, report);
                    if let Some(o) = otherwise {
                        self.check_neighbours(o, report);
                    }
                }
            }
        }
    }
}
