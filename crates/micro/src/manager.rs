//! The micro-plugin manager: the registry of handlers (register, swap,
//! remove, route) and single calls. Pipelines run in `run.rs`; their
//! validation is `check.rs`; what a handler is, `plugin.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use lord_manifest::MicroId;
use serde_json::Value;

use crate::error::{FailureKind, MicroError};
use crate::handler::CallContext;
use crate::pipeline::{Pipeline, Step};
use crate::plugin::{Entry, MicroPlugin};
use crate::route::Router;
use crate::run::{Payload, Prepared, Proof, StepPlan, fuse};

/// Registered micro-plugins and the routes between their variants. Cheap to
/// clone: clones share one registry.
#[derive(Clone, Default)]
pub struct MicroManager {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) entries: RwLock<HashMap<MicroId, Arc<Entry>>>,
    pub(crate) routes: RwLock<HashMap<MicroId, Arc<Router>>>,
    /// Bumped by every registration, swap, removal and route change: what a
    /// [`Prepared`] pipeline or a cached compatibility answer was computed
    /// against.
    pub(crate) generation: AtomicU64,
    /// `compatible(a, b)` answers for the current generation.
    pub(crate) compat: Mutex<CompatCache>,
}

/// Cached `compatible(a, b)` answers, and the generation they hold for.
pub(crate) type CompatCache = (u64, HashMap<(MicroId, MicroId), bool>);

impl std::fmt::Debug for MicroManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroManager")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

impl MicroManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn entries(&self) -> std::sync::RwLockReadGuard<'_, HashMap<MicroId, Arc<Entry>>> {
        self.inner.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn entry(&self, id: &MicroId) -> Option<Arc<Entry>> {
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

    pub(crate) fn bump(&self) {
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn generation(&self) -> u64 {
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

    pub(crate) fn router(&self, id: &MicroId) -> Option<Arc<Router>> {
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
    pub(crate) async fn call(
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
                router.observe_outcome(
                    variant,
                    started.elapsed(),
                    result.as_ref().err().and_then(MicroError::kind),
                );
                result
            }
            None => self.call_entry(id, input, ctx, proof, check_output).await,
        }
    }

    pub(crate) async fn call_entry(
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
        if proof.now(self.generation()) == Proof::None
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
            .map_err(|e| MicroError::failed(id, e))?;
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

    /// Asks a validator whether it accepts `input` (through its router,
    /// as a call would). Its own `no` (an error it returned, or input it
    /// cannot take) is `false`; any other failure (a limit, a trap, a
    /// refusal by a policy or a quota, a handler that would not start) is
    /// the pipeline's error, named, not a quiet `false` that picks the
    /// other branch.
    pub(crate) async fn accepts(
        &self,
        id: &MicroId,
        input: &Value,
        ctx: &CallContext,
    ) -> Result<bool, MicroError> {
        let target = match self.router(id) {
            Some(router) => router.choose(ctx.key.as_deref()).1,
            None => id.clone(),
        };
        let entry = self
            .entry(&target)
            .ok_or_else(|| MicroError::Unknown(target.clone()))?;
        if let Some(schema) = &entry.input
            && schema.check(input).is_err()
        {
            return Ok(false);
        }
        match entry.plugin.handler.validate(input, ctx).await {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.kind, FailureKind::Guest | FailureKind::InvalidInput) => Ok(false),
            Err(e) => Err(MicroError::failed(&target, e)),
        }
    }
}
