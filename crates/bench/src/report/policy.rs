//! The governance figures: one install decision and the policies' load,
//! in the full run and alone (`--policy-only`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Row, alone_json, round, table_head};
use crate::policy::{ITERATIONS, PolicyResults};

/// What `--policy-only` measured.
#[derive(Debug, Clone)]
pub(crate) struct PolicyOnly {
    pub(crate) policy: PolicyResults,
    pub(crate) elapsed: Duration,
}

pub(super) fn policy_rows(policy: &PolicyResults) -> Vec<Row> {
    let us = policy.decide.median_ns() / 1e3;
    vec![Row {
        label: "policy: one install decision (Cedar, 2 layers)",
        subject: format!("{us:.1} µs"),
        baseline: "-".to_owned(),
        key: "policy_eval_us",
        value: us,
        shown: format!("{us:.1} µs"),
        // Goal: a decision stays far below what an install's compile or a
        // command's start costs (milliseconds), so governing every run is
        // affordable.
        min: f64::NEG_INFINITY,
        max: 500.0,
        goal: "<= 500 µs",
    }]
}

pub(super) fn policy_keys(policy: &PolicyResults) -> Map<String, Value> {
    Map::from_iter([
        (
            "policy_eval_us".to_owned(),
            json!(round(policy.decide.median_ns() / 1e3, 2)),
        ),
        (
            "policy_eval_p95_us".to_owned(),
            json!(round(policy.decide.percentile_ns(95.0) / 1e3, 2)),
        ),
        (
            "policy_load_us".to_owned(),
            json!(round(policy.load.median_ns() / 1e3, 1)),
        ),
        ("policy_decisions".to_owned(), json!(ITERATIONS)),
    ])
}

impl PolicyOnly {
    pub(crate) fn table(&self) -> String {
        let mut out =
            format!("lord-bench: governance only; medians over {ITERATIONS} decisions\n\n");
        out.push_str(&table_head());
        for row in policy_rows(&self.policy) {
            out.push_str(&row.line());
        }
        out.push_str(&format!(
            "policies loaded and checked in {:.1} µs (median)\ntotal time: {:.1} s\n",
            self.policy.load.median_ns() / 1e3,
            self.elapsed.as_secs_f64()
        ));
        out
    }

    pub(crate) fn json(&self) -> Value {
        alone_json(
            &policy_rows(&self.policy),
            policy_keys(&self.policy),
            self.elapsed,
        )
    }
}
