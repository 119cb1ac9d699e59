//! The AI client's figures: time to the first streamed token through
//! lord-ai against plain reqwest, in the full run and alone
//! (`--ai-only`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Row, alone_json, round, table_head};
use crate::ai::{AiResults, ITERATIONS};

/// What `--ai-only` measured.
#[derive(Debug, Clone)]
pub(crate) struct AiOnly {
    pub(crate) ai: AiResults,
    pub(crate) elapsed: Duration,
}

pub(super) fn ai_rows(ai: &AiResults) -> Vec<Row> {
    let ms = |ns: f64| format!("{:.3} ms", ns / 1e6);
    vec![Row {
        label: "ai: first streamed token, lord-ai / reqwest",
        subject: ms(ai.ours.median_ns()),
        baseline: ms(ai.direct.median_ns()),
        key: "ai_stream_overhead_ms",
        value: ai.overhead_ms(),
        shown: format!("{:+.3} ms", ai.overhead_ms()),
        // Goal: what lord adds before the first token stays under 1 ms,
        // far below what a person notices or a model takes to start.
        min: f64::NEG_INFINITY,
        max: 1.0,
        goal: "<= +1 ms",
    }]
}

pub(super) fn ai_keys(ai: &AiResults) -> Map<String, Value> {
    Map::from_iter([
        (
            "ai_stream_overhead_ms".to_owned(),
            json!(round(ai.overhead_ms(), 4)),
        ),
        (
            "ai_stream_overhead_ratio".to_owned(),
            json!(round(ai.ratio(), 3)),
        ),
        (
            "ai_first_token_ours_ms".to_owned(),
            json!(round(ai.ours.median_ns() / 1e6, 4)),
        ),
        (
            "ai_first_token_direct_ms".to_owned(),
            json!(round(ai.direct.median_ns() / 1e6, 4)),
        ),
        (
            "ai_first_token_ours_p95_ms".to_owned(),
            json!(round(ai.ours.percentile_ns(95.0) / 1e6, 4)),
        ),
        (
            "ai_first_token_direct_p95_ms".to_owned(),
            json!(round(ai.direct.percentile_ns(95.0) / 1e6, 4)),
        ),
        ("ai_stream_pairs".to_owned(), json!(ITERATIONS)),
    ])
}

impl AiOnly {
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "lord-bench: AI client only; medians over {ITERATIONS} alternated requests per side; \
             ours is lord-ai, bare plain reqwest\n\n"
        );
        out.push_str(&table_head());
        for row in ai_rows(&self.ai) {
            out.push_str(&row.line());
        }
        out.push_str(&format!(
            "total time: {:.1} s\n",
            self.elapsed.as_secs_f64()
        ));
        out
    }

    pub(crate) fn json(&self) -> Value {
        alone_json(&ai_rows(&self.ai), ai_keys(&self.ai), self.elapsed)
    }
}
