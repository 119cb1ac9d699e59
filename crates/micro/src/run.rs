//! Running pipelines: a prepared plan (entries looked up once, runs of
//! one batch fused into one call), values passed as text between handlers
//! that speak it, schema checks only where no proof covers them, error
//! policies per step, conditionals and parallel branches.

use std::sync::Arc;

use lord_manifest::MicroId;
use serde_json::{Value, json};

use crate::check::ChainReport;
use crate::error::MicroError;
use crate::handler::{Batch, BoxFuture, CallContext};
use crate::manager::MicroManager;
use crate::pipeline::{OnError, Pipeline, Step};
use crate::plugin::Entry;

/// A pipeline validated against the registry as it was; running it skips
/// the validation until the registry changes (a swap, a new route).
#[derive(Clone)]
pub struct Prepared {
    pub(crate) pipeline: Pipeline,
    pub(crate) generation: u64,
    pub(crate) report: ChainReport,
    /// Per top-level step: what `run` would otherwise look up on every
    /// call (the entry, and whether the next step is proven compatible).
    pub(crate) plan: Vec<StepPlan>,
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
pub(crate) struct StepPlan {
    pub(crate) covered: bool,
    /// The entry of an unrouted call step, as registered at preparation.
    pub(crate) entry: Option<Arc<Entry>>,
    /// On the first step of a run of neighbouring steps that one batch
    /// serves: the whole run, handed over in one call.
    pub(crate) fused: Option<Arc<Fused>>,
}

/// Neighbouring call steps served by one [`Batch`]: each stops the pipeline
/// on error, none is routed, and every hop inside is proven compatible, so
/// nothing between them needs the manager.
pub(crate) struct Fused {
    batch: Arc<dyn Batch>,
    members: Vec<usize>,
    /// The entries of the run's steps, in order (for errors and checks).
    entries: Vec<Arc<Entry>>,
}

/// Finds the runs a batch can serve in one call and marks their first
/// steps. Only top-level steps: branches are planned when they run.
pub(crate) fn fuse(steps: &[Step], plan: &mut [StepPlan]) {
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
pub(crate) enum Payload {
    Value(Value),
    /// `from` is the entry that produced the text, named if it is not JSON.
    Text {
        text: String,
        from: Arc<Entry>,
    },
}

impl Payload {
    pub(crate) fn into_value(self) -> Result<Value, MicroError> {
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

    pub(crate) fn into_text(self) -> Result<String, MicroError> {
        match self {
            Payload::Value(v) => serde_json::to_string(&v)
                .map_err(|e| MicroError::InvalidPipeline(format!("unserialisable value: {e}"))),
            Payload::Text { text, .. } => Ok(text),
        }
    }

    pub(crate) fn duplicate(&self) -> Payload {
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
pub(crate) fn checked_input(
    entry: &Entry,
    input: Payload,
    proof: Proof,
) -> Result<Payload, MicroError> {
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
        (Some(_), Proof::Compatible { .. }) | (None, Proof::None | Proof::Compatible { .. }) => {
            Ok(input)
        }
    }
}

/// Wraps a text step's output, checking it when nothing downstream will.
pub(crate) fn checked_output(
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

/// What a value arriving at a step is known to satisfy.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Nothing: check it against the step's input schema.
    None,
    /// The previous step's output schema, structurally compatible with this
    /// step's input schema, and the previous step of the same author
    /// ([`MicroManager::compatible`]): no check needed, while the registry
    /// is still at `generation`. Once it moved (a swap, a route), the step
    /// that runs may be another handler than the one proven, so the value
    /// is checked after all ([`Proof::now`]).
    Compatible { generation: u64 },
}

impl Proof {
    /// The proof for a step whose neighbour was proven compatible, or not.
    fn after(covered: bool, generation: u64) -> Self {
        if covered {
            Proof::Compatible { generation }
        } else {
            Proof::None
        }
    }

    /// What the proof still says with the registry at `generation`.
    pub(crate) fn now(self, generation: u64) -> Self {
        match self {
            Proof::Compatible { generation: proven } if proven == generation => self,
            Proof::Compatible { .. } | Proof::None => Proof::None,
        }
    }
}

impl MicroManager {
    pub(crate) async fn run_planned(
        &self,
        pipeline: &Pipeline,
        plan: &[StepPlan],
        input: Payload,
        ctx: &CallContext,
    ) -> Result<Payload, MicroError> {
        self.steps(pipeline, Some(plan), input, ctx, Proof::None)
            .await
    }

    pub(crate) fn run_steps<'a>(
        &'a self,
        pipeline: &'a Pipeline,
        input: Payload,
        ctx: &'a CallContext,
        proof: Proof,
    ) -> BoxFuture<'a, Result<Payload, MicroError>> {
        Box::pin(self.steps(pipeline, None, input, ctx, proof))
    }

    pub(crate) async fn steps(
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
                // Read before any proof this step makes: a registry change
                // after it voids the proof ([`Proof::now`]).
                let generation = self.generation();
                let planned = plan.and_then(|p| p.get(index));
                if let Some(fused) = planned.and_then(|p| p.fused.as_ref()) {
                    let last = index + fused.entries.len() - 1;
                    let covered = plan.and_then(|p| p.get(last)).is_some_and(|p| p.covered);
                    value = self.run_fused(fused, value, ctx, proof, !covered).await?;
                    proof = Proof::after(covered, generation);
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
                                proof = Proof::after(covered, generation);
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
    pub(crate) async fn call_payload(
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
        let proof = proof.now(self.generation());
        if let Some(entry) = entry
            && entry.plugin.handler.speaks_text()
        {
            let input = checked_input(&entry, input, proof)?;
            let out = entry
                .plugin
                .handler
                .execute_text(input.into_text()?, ctx)
                .await
                .map_err(|e| MicroError::failed(id, e))?;
            return checked_output(entry, out, check_output);
        }
        let value = input.into_value()?;
        self.call(id, value, ctx, proof, check_output)
            .await
            .map(Payload::Value)
    }

    /// A fused run: the first step's input and the last step's output are
    /// checked as for single steps; the hops between were proven.
    pub(crate) async fn run_fused(
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
        let input = checked_input(first, input, proof.now(self.generation()))?;
        let out = fused
            .batch
            .run_text(&fused.members, input.into_text()?, ctx)
            .await
            .map_err(|failure| MicroError::Failed {
                id: fused
                    .entries
                    .get(failure.position)
                    .map_or_else(|| first.plugin.id.clone(), |e| e.plugin.id.clone()),
                kind: failure.kind,
                reason: failure.reason,
                wrote: failure.wrote,
            })?;
        checked_output(Arc::clone(last), out, check_output)
    }

    /// Runs every branch on its own task (so a multi-threaded runtime uses
    /// every core) and joins the results in branch order.
    pub(crate) async fn fan_out(
        &self,
        branches: &[Pipeline],
        input: Value,
        ctx: &CallContext,
    ) -> Value {
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
                // What a failed branch wrote before failing goes beside
                // its reason, as `lord pipe` shows a failed step's (the
                // branch's own output and error reach the next step
                // anyway: the user chained them).
                Ok(Err(e)) if !e.wrote().is_empty() => {
                    json!({ "error": e.to_string(), "wrote": e.wrote() })
                }
                Ok(Err(e)) => json!({ "error": e.to_string() }),
                Err(join) => json!({ "error": format!("branch crashed: {join}") }),
            });
        }
        Value::Array(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::Proof;

    /// A proof made while the registry was at one generation says nothing
    /// once it moved: the step about to run may be a swapped-in handler,
    /// perhaps of another plugin.
    #[test]
    fn a_proof_holds_only_at_the_generation_it_was_made_in() {
        let proof = Proof::after(true, 7);
        assert!(proof.now(7) == Proof::Compatible { generation: 7 });
        assert!(proof.now(8) == Proof::None);
        assert!(Proof::after(false, 7).now(7) == Proof::None);
    }
}
