//! Routing one id between variants: A/B tests with a stable assignment per
//! key, and gradual rollouts that step a new variant's share up and roll
//! back by themselves when it does worse than the old one.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lord_manifest::MicroId;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::MicroError;

/// Assignment resolution: a key falls in one of this many buckets.
const BUCKETS: u64 = 10_000;
/// Latency samples kept per variant for the median.
const SAMPLES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub target: MicroId,
    /// Relative share of calls.
    pub weight: u32,
}

/// What has been recorded for one variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantStats {
    pub name: String,
    pub target: String,
    pub weight: u32,
    pub calls: u64,
    pub errors: u64,
    pub median_latency_us: Option<u64>,
}

/// How a gradual rollout proceeds and when it gives up.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutPolicy {
    /// The new variant's share, in percent, at each step (e.g. 5, 25, 50, 100).
    pub steps: Vec<u32>,
    /// Advance to the next step after this many calls in the current one...
    pub calls_per_step: Option<u64>,
    /// ...or after this much time in it, whichever comes first.
    pub time_per_step: Option<Duration>,
    /// Calls each variant needs before they are compared.
    pub min_samples: u64,
    /// Roll back if the new error rate exceeds the old one by more than this
    /// (0.05 = five percentage points).
    pub max_error_rate_increase: f64,
    /// Roll back if the new median latency exceeds the old one times this.
    pub max_latency_ratio: f64,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Rollout {
    InProgress { step: usize, share_percent: u32 },
    Complete,
    RolledBack { reason: String },
}

#[derive(Debug, Default)]
struct Samples {
    calls: u64,
    errors: u64,
    latencies: VecDeque<u64>,
}

impl Samples {
    fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }

    fn median(&self) -> Option<u64> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut sorted: Vec<u64> = self.latencies.iter().copied().collect();
        sorted.sort_unstable();
        Some(sorted[sorted.len() / 2])
    }
}

#[derive(Debug)]
struct RolloutState {
    policy: RolloutPolicy,
    step: usize,
    step_started: Instant,
    calls_in_step: u64,
    outcome: Rollout,
}

#[derive(Debug)]
struct State {
    weights: Vec<u32>,
    samples: Vec<Samples>,
    rollout: Option<RolloutState>,
}

/// Routes calls for one id between variants.
#[derive(Debug)]
pub struct Router {
    variants: Vec<Variant>,
    state: Mutex<State>,
    /// Spreads calls that carry no key.
    unkeyed: AtomicU64,
}

impl Router {
    /// An A/B split by weight.
    pub fn new(variants: Vec<Variant>) -> Result<Self, MicroError> {
        if variants.is_empty() || variants.iter().all(|v| v.weight == 0) {
            return Err(MicroError::InvalidPipeline(
                "a route needs at least one variant with a weight above zero".to_owned(),
            ));
        }
        let weights = variants.iter().map(|v| v.weight).collect();
        let samples = variants.iter().map(|_| Samples::default()).collect();
        Ok(Self {
            variants,
            state: Mutex::new(State {
                weights,
                samples,
                rollout: None,
            }),
            unkeyed: AtomicU64::new(0),
        })
    }

    /// A gradual rollout from `old` to `new`. The new variant comes first in
    /// bucket order, so as its share grows, keys only ever move to it: a key
    /// never flips back and forth.
    pub fn rollout(old: MicroId, new: MicroId, policy: RolloutPolicy) -> Result<Self, MicroError> {
        let first = *policy.steps.first().ok_or_else(|| {
            MicroError::InvalidPipeline("a rollout needs at least one step".to_owned())
        })?;
        if policy.steps.iter().any(|s| *s > 100) || policy.steps.windows(2).any(|w| w[0] > w[1]) {
            return Err(MicroError::InvalidPipeline(
                "rollout steps are percentages that never decrease".to_owned(),
            ));
        }
        let router = Self::new(vec![
            Variant {
                name: "new".to_owned(),
                target: new,
                weight: first,
            },
            Variant {
                name: "old".to_owned(),
                target: old,
                weight: 100 - first,
            },
        ])?;
        let mut state = router.lock();
        state.rollout = Some(RolloutState {
            policy,
            step: 0,
            step_started: Instant::now(),
            calls_in_step: 0,
            outcome: Rollout::InProgress {
                step: 0,
                share_percent: first,
            },
        });
        drop(state);
        Ok(router)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Picks a variant. The same key always lands in the same bucket, so it
    /// gets the same variant as long as the weights stay put.
    pub fn choose(&self, key: Option<&str>) -> (usize, MicroId) {
        let bucket = match key {
            Some(key) => stable_bucket(key),
            None => self.unkeyed.fetch_add(7919, Ordering::Relaxed) % BUCKETS,
        };
        let state = self.lock();
        let total: u64 = state.weights.iter().map(|w| u64::from(*w)).sum();
        let mut point = bucket * total.max(1) / BUCKETS;
        for (i, weight) in state.weights.iter().enumerate() {
            let weight = u64::from(*weight);
            if point < weight {
                return (i, self.variants[i].target.clone());
            }
            point -= weight;
        }
        let last = self.variants.len() - 1;
        (last, self.variants[last].target.clone())
    }

    /// Records one call's outcome, and moves a rollout on (or back). A
    /// failed call (`ok` false) counts against the variant.
    pub fn observe(&self, variant: usize, latency: Duration, ok: bool) {
        let failure = (!ok).then_some(crate::error::FailureKind::Guest);
        self.observe_outcome(variant, latency, failure);
    }

    /// Records one call's outcome by how it failed, if it did: only a
    /// failure the handler is to blame for (its own error, a limit, a
    /// refused access, a crash) counts against its variant; bad input from
    /// the caller or a host that could not run it does not.
    pub fn observe_outcome(
        &self,
        variant: usize,
        latency: Duration,
        failure: Option<crate::error::FailureKind>,
    ) {
        let ok = !failure.is_some_and(crate::error::FailureKind::is_handler_fault);
        let mut state = self.lock();
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(samples) = state.samples.get_mut(variant) {
            samples.calls += 1;
            if !ok {
                samples.errors += 1;
            }
            if samples.latencies.len() == SAMPLES {
                samples.latencies.pop_front();
            }
            samples.latencies.push_back(latency_us);
        }
        advance_rollout(&mut state);
    }

    pub fn stats(&self) -> Vec<VariantStats> {
        let state = self.lock();
        self.variants
            .iter()
            .zip(&state.samples)
            .zip(&state.weights)
            .map(|((v, s), w)| VariantStats {
                name: v.name.clone(),
                target: v.target.to_string(),
                weight: *w,
                calls: s.calls,
                errors: s.errors,
                median_latency_us: s.median(),
            })
            .collect()
    }

    pub fn rollout_status(&self) -> Option<Rollout> {
        self.lock().rollout.as_ref().map(|r| r.outcome.clone())
    }
}

/// Index 0 is the new variant, 1 the old one (see [`Router::rollout`]).
fn advance_rollout(state: &mut State) {
    let Some(rollout) = state.rollout.as_mut() else {
        return;
    };
    if !matches!(rollout.outcome, Rollout::InProgress { .. }) {
        return;
    }
    let (new, old) = (&state.samples[0], &state.samples[1]);
    let policy = &rollout.policy;
    if new.calls >= policy.min_samples {
        let (new_rate, old_rate) = (new.error_rate(), old.error_rate());
        let reason = if new_rate > old_rate + policy.max_error_rate_increase {
            Some(format!(
                "new variant error rate {:.1}% exceeds old {:.1}% by more than {:.1} points",
                new_rate * 100.0,
                old_rate * 100.0,
                policy.max_error_rate_increase * 100.0
            ))
        } else {
            match (new.median(), old.median()) {
                (Some(n), Some(o))
                    if old.calls >= policy.min_samples
                        && n as f64 > o as f64 * policy.max_latency_ratio =>
                {
                    Some(format!(
                        "new variant median latency {n} µs exceeds old {o} µs by more than {:.0}%",
                        (policy.max_latency_ratio - 1.0) * 100.0
                    ))
                }
                _ => None,
            }
        };
        if let Some(reason) = reason {
            state.weights = vec![0, 100];
            rollout.outcome = Rollout::RolledBack { reason };
            return;
        }
    }
    rollout.calls_in_step += 1;
    let due = policy
        .calls_per_step
        .is_some_and(|n| rollout.calls_in_step >= n)
        || policy
            .time_per_step
            .is_some_and(|d| rollout.step_started.elapsed() >= d);
    if due {
        rollout.step += 1;
        rollout.calls_in_step = 0;
        rollout.step_started = Instant::now();
        match policy.steps.get(rollout.step) {
            Some(share) => {
                state.weights = vec![*share, 100 - share];
                rollout.outcome = Rollout::InProgress {
                    step: rollout.step,
                    share_percent: *share,
                };
            }
            None => {
                state.weights = vec![100, 0];
                rollout.outcome = Rollout::Complete;
            }
        }
    }
}

/// A bucket from a key, the same in every process and on every machine.
fn stable_bucket(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) % BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> MicroId {
        s.parse().expect("id")
    }

    #[test]
    fn assignment_is_stable_per_key_and_follows_weights() {
        let router = Router::new(vec![
            Variant {
                name: "a".into(),
                target: id("upper"),
                weight: 30,
            },
            Variant {
                name: "b".into(),
                target: id("lower"),
                weight: 70,
            },
        ])
        .expect("router");
        let mut to_a = 0;
        for n in 0..2000 {
            let key = format!("user-{n}");
            let first = router.choose(Some(&key));
            for _ in 0..3 {
                assert_eq!(router.choose(Some(&key)), first, "{key} moved");
            }
            if first.0 == 0 {
                to_a += 1;
            }
        }
        // 30% of 2000 keys, give or take sampling noise.
        assert!((500..700).contains(&to_a), "{to_a}");
        // The assignment does not depend on the router instance.
        let again = Router::new(vec![
            Variant {
                name: "a".into(),
                target: id("upper"),
                weight: 30,
            },
            Variant {
                name: "b".into(),
                target: id("lower"),
                weight: 70,
            },
        ])
        .expect("router");
        assert_eq!(
            again.choose(Some("user-42")),
            router.choose(Some("user-42"))
        );
    }

    fn policy() -> RolloutPolicy {
        RolloutPolicy {
            steps: vec![10, 50, 100],
            calls_per_step: Some(20),
            time_per_step: None,
            min_samples: 10,
            max_error_rate_increase: 0.05,
            max_latency_ratio: 2.0,
        }
    }

    #[test]
    fn a_healthy_rollout_steps_up_to_complete() {
        let router = Router::rollout(id("old"), id("new"), policy()).expect("router");
        for n in 0..200 {
            let (variant, _) = router.choose(Some(&format!("k{n}")));
            router.observe(variant, Duration::from_micros(100), true);
        }
        assert_eq!(router.rollout_status(), Some(Rollout::Complete));
        assert_eq!(router.choose(Some("anyone")).1, id("new"));
    }

    #[test]
    fn a_failing_new_variant_is_rolled_back_by_itself() {
        let router = Router::rollout(id("old"), id("new"), policy()).expect("router");
        for n in 0..400 {
            let (variant, _) = router.choose(Some(&format!("k{n}")));
            // The new variant fails every call; the old one never does.
            router.observe(variant, Duration::from_micros(100), variant != 0);
        }
        match router.rollout_status() {
            Some(Rollout::RolledBack { reason }) => {
                assert!(reason.contains("error rate"), "{reason}")
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
        for n in 0..100 {
            assert_eq!(router.choose(Some(&format!("k{n}"))).1, id("old"));
        }
    }

    /// Only failures the handler is to blame for count: a new variant
    /// handed bad input by its callers, or that the host could not start,
    /// is not rolled back for it; one that times out is.
    #[test]
    fn a_rollout_counts_only_the_handlers_own_failures() {
        use crate::error::FailureKind;
        let run = |failure: FailureKind| {
            let router = Router::rollout(id("old"), id("new"), policy()).expect("router");
            for n in 0..400 {
                let (variant, _) = router.choose(Some(&format!("k{n}")));
                // Variant 0 is the new one, as in the test above.
                let outcome = (variant == 0).then_some(failure);
                router.observe_outcome(variant, Duration::from_micros(100), outcome);
            }
            router.rollout_status()
        };
        for blameless in [FailureKind::InvalidInput, FailureKind::Host] {
            assert_eq!(run(blameless), Some(Rollout::Complete), "{blameless:?}");
        }
        for fault in [
            FailureKind::TimeLimit,
            FailureKind::Denied,
            FailureKind::Trap,
            FailureKind::Guest,
        ] {
            assert!(
                matches!(run(fault), Some(Rollout::RolledBack { .. })),
                "{fault:?}"
            );
        }
    }

    #[test]
    fn a_slower_new_variant_is_rolled_back() {
        let router = Router::rollout(
            id("old"),
            id("new"),
            RolloutPolicy {
                steps: vec![50, 100],
                calls_per_step: Some(1000),
                ..policy()
            },
        )
        .expect("router");
        for n in 0..200 {
            let (variant, _) = router.choose(Some(&format!("k{n}")));
            let latency = if variant == 0 { 900 } else { 100 };
            router.observe(variant, Duration::from_micros(latency), true);
        }
        match router.rollout_status() {
            Some(Rollout::RolledBack { reason }) => assert!(reason.contains("latency"), "{reason}"),
            other => panic!("expected a rollback, got {other:?}"),
        }
    }
}
