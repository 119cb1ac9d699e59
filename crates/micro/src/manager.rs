//! The micro-plugin manager: registry, single calls, pipelines, chain
//! validation, hot swap and routing.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lord_manifest::{Isolation, MicroId, MicroKind, Permission};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::MicroError;
use crate::handler::{Batch, BoxFuture, CallContext, Handler};
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
    /// Bumped by every registration, swap, removal and route change: what a
    /// [`Prepared`] pipeline or a cached compatibility answer was computed
    /// against.
    generation: AtomicU64,
    /// `compatible(a, b)` answers for the current generation.
    compat: Mutex<CompatCache>,
}

/// Cached `compatible(a, b)` answers, and the generation they hold for.
type CompatCache = (u64, HashMap<(MicroId, MicroId), bool>);

/// A pipeline validated against the registry as it was; running it skips
/// the validation until the registry changes (a swap, a new route).
#[derive(Clone)]
pub struct Prepared {
    pipeline: Pipeline,
    generation: u64,
    report: ChainReport,
    /// Per top-level step: what `run` would otherwise look up on every
    /// call (the entry, and whether the next step is proven compatible).
    plan: Vec<StepPlan>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("pipeline", &self.pipeline.to_string())
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct StepPlan {
    covered: bool,
    /// The entry of an unrouted call step, as registered at preparation.
    entry: Option<Arc<Entry>>,
    /// On the first step of a run of neighbouring steps that one batch
    /// serves: the whole run, handed over in one call.
    fused: Option<Arc<Fused>>,
}

/// Neighbouring call steps served by one [`Batch`]: each stops the pipeline
/// on error, none is routed, and every hop inside is proven compatible, so
/// nothing between them needs the manager.
struct Fused {
    batch: Arc<dyn Batch>,
    members: Vec<usize>,
    /// The entries of the run's steps, in order (for errors and checks).
    entries: Vec<Arc<Entry>>,
}

/// Finds the runs a batch can serve in one call and marks their first
/// steps. Only top-level steps: branches are planned when they run.
fn fuse(steps: &[Step], plan: &mut [StepPlan]) {
    let member = |index: usize| {
        let (
            Some(Step::Call { on_error, .. }),
            Some(StepPlan {
                entry: Some(entry), ..
            }),
        ) = (steps.get(index), plan.get(index))
        else {
            return None;
        };
        match on_error {
            OnError::Stop => {}
            // A skip or a fallback needs the failed step's own input back.
            OnError::Skip | OnError::Fallback(_) => return None,
        }
        let membership = entry.plugin.handler.membership()?;
        Some((membership, Arc::clone(entry)))
    };
    let mut runs = Vec::new();
    let mut start = 0;
    while start < plan.len() {
        let Some((first, entry)) = member(start) else {
            start += 1;
            continue;
        };
        let mut members = vec![first.index];
        let mut entries = vec![entry];
        let mut next = start + 1;
        while plan[next - 1].covered
            && let Some((m, entry)) = member(next)
            && m.same_batch(&first)
        {
            members.push(m.index);
            entries.push(entry);
            next += 1;
        }
        if members.len() > 1 {
            runs.push((
                start,
                Fused {
                    batch: first.batch,
                    members,
                    entries,
                },
            ));
        }
        start = next;
    }
    for (start, fused) in runs {
        if let Some(step) = plan.get_mut(start) {
            step.fused = Some(Arc::new(fused));
        }
    }
}

impl Prepared {
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn report(&self) -> &ChainReport {
        &self.report
    }
}

/// A value travelling down a pipeline: parsed, or JSON text straight from a
/// handler that speaks text (kept as text while the next step does too).
enum Payload {
    Value(Value),
    /// `from` is the entry that produced the text, named if it is not JSON.
    Text {
        text: String,
        from: Arc<Entry>,
    },
}

impl Payload {
    fn into_value(self) -> Result<Value, MicroError> {
        match self {
            Payload::Value(v) => Ok(v),
            Payload::Text { text, from } => {
                serde_json::from_str(&text).map_err(|e| MicroError::InvalidOutput {
                    id: from.plugin.id.clone(),
                    reason: format!("not JSON: {e}"),
                })
            }
        }
    }

    fn into_text(self) -> Result<String, MicroError> {
        match self {
            Payload::Value(v) => serde_json::to_string(&v)
                .map_err(|e| MicroError::InvalidPipeline(format!("unserialisable value: {e}"))),
            Payload::Text { text, .. } => Ok(text),
        }
    }

    fn duplicate(&self) -> Payload {
        match self {
            Payload::Value(v) => Payload::Value(v.clone()),
            Payload::Text { text, from } => Payload::Text {
                text: text.clone(),
                from: Arc::clone(from),
            },
        }
    }
}

/// Checks need parsed values; a text call takes text. Converts only where
/// a check asks for it.
fn checked_input(entry: &Entry, input: Payload, proof: Proof) -> Result<Payload, MicroError> {
    match (&entry.input, proof) {
        (Some(schema), Proof::None) => {
            let value = input.into_value()?;
            schema
                .check(&value)
                .map_err(|reason| MicroError::InvalidInput {
                    id: entry.plugin.id.clone(),
                    reason,
                })?;
            Ok(Payload::Value(value))
        }
        (Some(_), Proof::Compatible) | (None, Proof::None | Proof::Compatible) => Ok(input),
    }
}

/// Wraps a text step's output, checking it when nothing downstream will.
fn checked_output(
    entry: Arc<Entry>,
    text: String,
    check_output: bool,
) -> Result<Payload, MicroError> {
    match (&entry.output, check_output) {
        (Some(schema), true) => {
            let value: Value =
                serde_json::from_str(&text).map_err(|e| MicroError::InvalidOutput {
                    id: entry.plugin.id.clone(),
                    reason: format!("not JSON: {e}"),
                })?;
            schema
                .check(&value)
                .map_err(|reason| MicroError::InvalidOutput {
                    id: entry.plugin.id.clone(),
                    reason,
                })?;
            Ok(Payload::Value(value))
        }
        (Some(_), false) | (None, true | false) => Ok(Payload::Text { text, from: entry }),
    }
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
        self.bump();
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
        self.bump();
        Ok(())
    }

    pub fn unregister(&self, id: &MicroId) -> bool {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let removed = entries.remove(id).is_some();
        self.bump();
        removed
    }

    fn bump(&self) {
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
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
        self.bump();
        router
    }

    pub fn unroute(&self, id: &MicroId) -> bool {
        let mut routes = self.inner.routes.write().unwrap_or_else(|p| p.into_inner());
        let removed = routes.remove(id).is_some();
        self.bump();
        removed
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
        let prepared = self.prepare(pipeline)?;
        self.run_prepared(&prepared, input, ctx).await
    }

    /// Validates a pipeline once, for running many times.
    pub fn prepare(&self, pipeline: &Pipeline) -> Result<Prepared, MicroError> {
        let generation = self.generation();
        let report = self.validate(pipeline);
        if let Some(first) = report.findings.first() {
            return Err(MicroError::InvalidPipeline(first.to_string()));
        }
        let mut plan: Vec<StepPlan> = pipeline
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| match step {
                Step::Call { id, .. } => StepPlan {
                    covered: pipeline
                        .steps
                        .get(index + 1)
                        .is_some_and(|next| self.compatible(id, next)),
                    entry: if self.router(id).is_some() {
                        None
                    } else {
                        self.entry(id)
                    },
                    fused: None,
                },
                Step::Parallel { .. } | Step::If { .. } => StepPlan {
                    covered: false,
                    entry: None,
                    fused: None,
                },
            })
            .collect();
        fuse(&pipeline.steps, &mut plan);
        Ok(Prepared {
            pipeline: pipeline.clone(),
            generation,
            report,
            plan,
        })
    }

    /// Runs a prepared pipeline; if the registry changed since it was
    /// prepared, it is validated again first.
    pub async fn run_prepared(
        &self,
        prepared: &Prepared,
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, MicroError> {
        // The plan holds entries as registered when it was made: after any
        // change (a swap above all) it is made again, so new calls see the
        // new versions.
        if prepared.generation != self.generation() {
            let fresh = self.prepare(&prepared.pipeline)?;
            return self
                .run_planned(&fresh.pipeline, &fresh.plan, Payload::Value(input), ctx)
                .await?
                .into_value();
        }
        self.run_planned(
            &prepared.pipeline,
            &prepared.plan,
            Payload::Value(input),
            ctx,
        )
        .await?
        .into_value()
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

    async fn run_planned(
        &self,
        pipeline: &Pipeline,
        plan: &[StepPlan],
        input: Payload,
        ctx: &CallContext,
    ) -> Result<Payload, MicroError> {
        self.steps(pipeline, Some(plan), input, ctx, Proof::None)
            .await
    }

    fn run_steps<'a>(
        &'a self,
        pipeline: &'a Pipeline,
        input: Payload,
        ctx: &'a CallContext,
        proof: Proof,
    ) -> BoxFuture<'a, Result<Payload, MicroError>> {
        Box::pin(self.steps(pipeline, None, input, ctx, proof))
    }

    async fn steps(
        &self,
        pipeline: &Pipeline,
        plan: Option<&[StepPlan]>,
        input: Payload,
        ctx: &CallContext,
        mut proof: Proof,
    ) -> Result<Payload, MicroError> {
        {
            let mut value = input;
            let mut index = 0;
            while let Some(step) = pipeline.steps.get(index) {
                let planned = plan.and_then(|p| p.get(index));
                if let Some(fused) = planned.and_then(|p| p.fused.as_ref()) {
                    let last = index + fused.entries.len() - 1;
                    let covered = plan.and_then(|p| p.get(last)).is_some_and(|p| p.covered);
                    value = self.run_fused(fused, value, ctx, proof, !covered).await?;
                    proof = if covered {
                        Proof::Compatible
                    } else {
                        Proof::None
                    };
                    index = last + 1;
                    continue;
                }
                let next = pipeline.steps.get(index + 1);
                index += 1;
                match step {
                    Step::Call { id, on_error } => {
                        // Check the output only when nothing downstream will:
                        // the last step, or a neighbour not proven compatible.
                        let covered = match planned {
                            Some(p) => p.covered,
                            None => next.is_some_and(|n| self.compatible(id, n)),
                        };
                        let resolved = planned.and_then(|p| p.entry.clone());
                        // Keep the input only when a failure would need it.
                        let kept = match on_error {
                            OnError::Stop => None,
                            OnError::Skip | OnError::Fallback(_) => Some(value.duplicate()),
                        };
                        let result = self
                            .call_payload(id, resolved, value, ctx, proof, !covered)
                            .await;
                        value = match (result, on_error, kept) {
                            (Ok(out), _, _) => {
                                proof = if covered {
                                    Proof::Compatible
                                } else {
                                    Proof::None
                                };
                                out
                            }
                            (Err(e), OnError::Stop, _) | (Err(e), _, None) => return Err(e),
                            (Err(_), OnError::Skip, Some(kept)) => {
                                proof = Proof::None;
                                kept
                            }
                            (Err(_), OnError::Fallback(other), Some(kept)) => {
                                proof = Proof::None;
                                self.call_payload(other, None, kept, ctx, Proof::None, true)
                                    .await?
                            }
                        };
                    }
                    Step::Parallel { branches } => {
                        let input = value.into_value()?;
                        value = Payload::Value(self.fan_out(branches, input, ctx).await);
                        proof = Proof::None;
                    }
                    Step::If {
                        check,
                        then,
                        otherwise,
                    } => {
                        let input = value.into_value()?;
                        let branch = if self.accepts(check, &input, ctx).await? {
                            Some(then)
                        } else {
                            otherwise.as_ref()
                        };
                        value = match branch {
                            Some(branch) => {
                                self.run_steps(branch, Payload::Value(input), ctx, Proof::None)
                                    .await?
                            }
                            None => Payload::Value(input),
                        };
                        proof = Proof::None;
                    }
                }
            }
            Ok(value)
        }
    }

    /// One call step. A handler that speaks text gets the text straight
    /// through when no schema check needs the parsed value.
    async fn call_payload(
        &self,
        id: &MicroId,
        resolved: Option<Arc<Entry>>,
        input: Payload,
        ctx: &CallContext,
        proof: Proof,
        check_output: bool,
    ) -> Result<Payload, MicroError> {
        let entry = match resolved {
            Some(entry) => Some(entry),
            None if self.router(id).is_none() => self.entry(id),
            None => None,
        };
        if let Some(entry) = entry
            && entry.plugin.handler.speaks_text()
        {
            let input = checked_input(&entry, input, proof)?;
            let out = entry
                .plugin
                .handler
                .execute_text(input.into_text()?, ctx)
                .await
                .map_err(|reason| MicroError::Failed {
                    id: id.clone(),
                    reason,
                })?;
            return checked_output(entry, out, check_output);
        }
        let value = input.into_value()?;
        self.call(id, value, ctx, proof, check_output)
            .await
            .map(Payload::Value)
    }

    /// A fused run: the first step's input and the last step's output are
    /// checked as for single steps; the hops between were proven.
    async fn run_fused(
        &self,
        fused: &Fused,
        input: Payload,
        ctx: &CallContext,
        proof: Proof,
        check_output: bool,
    ) -> Result<Payload, MicroError> {
        let (Some(first), Some(last)) = (fused.entries.first(), fused.entries.last()) else {
            return Ok(input);
        };
        let input = checked_input(first, input, proof)?;
        let out = fused
            .batch
            .run_text(&fused.members, input.into_text()?, ctx)
            .await
            .map_err(|failure| MicroError::Failed {
                id: fused
                    .entries
                    .get(failure.position)
                    .map_or_else(|| first.plugin.id.clone(), |e| e.plugin.id.clone()),
                reason: failure.reason,
            })?;
        checked_output(Arc::clone(last), out, check_output)
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
                tokio::spawn(async move {
                    manager
                        .run_steps(&branch, Payload::Value(input), &ctx, Proof::None)
                        .await?
                        .into_value()
                })
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
    /// Answers are cached until the registry changes.
    fn compatible(&self, id: &MicroId, next: &Step) -> bool {
        let Step::Call { id: next_id, .. } = next else {
            return false;
        };
        let generation = self.generation();
        let key = (id.clone(), next_id.clone());
        {
            let cache = self.inner.compat.lock().unwrap_or_else(|p| p.into_inner());
            if cache.0 == generation
                && let Some(answer) = cache.1.get(&key)
            {
                return *answer;
            }
        }
        let answer = self.compute_compatible(id, next_id);
        let mut cache = self.inner.compat.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0 != generation {
            *cache = (generation, HashMap::new());
        }
        cache.1.insert(key, answer);
        answer
    }

    fn compute_compatible(&self, id: &MicroId, next_id: &MicroId) -> bool {
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
