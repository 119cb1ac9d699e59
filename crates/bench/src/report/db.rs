//! The database figures: `lord db query`'s machinery and `lord:plugin/sql`
//! against the bare session on the same pool, in the full run and alone
//! (`--db-only`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Row, alone_json, round, table_head};
use crate::db::DbResults;

/// What `--db-only` measured.
#[derive(Debug, Clone)]
pub(crate) struct DbOnly {
    pub(crate) db: DbResults,
    pub(crate) batches: usize,
    pub(crate) elapsed: Duration,
}

pub(super) fn db_rows(db: &DbResults) -> Vec<Row> {
    let us = |ns: f64| format!("{:.2} µs", ns / 1e3);
    vec![
        Row {
            label: "db: one-row SELECT, lord db query / session",
            subject: us(db.query.subject.median_ns()),
            baseline: us(db.query.baseline.median_ns()),
            key: "db_query_overhead_ratio",
            value: db.query.ratio(),
            shown: format!("{:.3}", db.query.ratio()),
            min: f64::NEG_INFINITY,
            max: 1.1,
            goal: "<= 1.1",
        },
        Row {
            label: "db: one-row SELECT, plugin via sql / native",
            subject: us(db.wasm.subject.median_ns()),
            baseline: us(db.wasm.baseline.median_ns()),
            key: "db_wasm_query_ratio",
            value: db.wasm.ratio(),
            shown: format!("{:.3}", db.wasm.ratio()),
            min: f64::NEG_INFINITY,
            max: 1.5,
            goal: "<= 1.5",
        },
    ]
}

pub(super) fn db_keys(db: &DbResults) -> Map<String, Value> {
    Map::from_iter([
        (
            "db_query_overhead_ratio".to_owned(),
            json!(round(db.query.ratio(), 3)),
        ),
        (
            "db_query_ours_us".to_owned(),
            json!(round(db.query.subject.median_ns() / 1e3, 3)),
        ),
        (
            "db_query_bare_us".to_owned(),
            json!(round(db.query.baseline.median_ns() / 1e3, 3)),
        ),
        (
            "db_wasm_query_ratio".to_owned(),
            json!(round(db.wasm.ratio(), 3)),
        ),
        (
            "db_wasm_query_ours_us".to_owned(),
            json!(round(db.wasm.subject.median_ns() / 1e3, 3)),
        ),
        (
            "db_wasm_query_native_us".to_owned(),
            json!(round(db.wasm.baseline.median_ns() / 1e3, 3)),
        ),
        (
            "db_query_resolve_us".to_owned(),
            json!(round(db.resolve.median_ns() / 1e3, 3)),
        ),
        (
            "db_query_collect_us".to_owned(),
            json!(round(db.collect.median_ns() / 1e3, 3)),
        ),
        (
            "db_wasm_query_in_call_ratio".to_owned(),
            json!(round(db.in_call.ratio(), 3)),
        ),
        (
            "db_wasm_query_in_call_ours_us".to_owned(),
            json!(round(
                db.in_call.subject.median_ns() / 1e3 / f64::from(crate::db::IN_CALL),
                3
            )),
        ),
    ])
}

impl DbOnly {
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "lord-bench: databases only; medians over {} alternated batches per side; SQLite, \
             one process pool\n\n",
            self.batches
        );
        out.push_str(&table_head());
        for row in db_rows(&self.db) {
            out.push_str(&row.line());
        }
        out.push_str(&format!(
            "total time: {:.1} s\n",
            self.elapsed.as_secs_f64()
        ));
        out
    }

    pub(crate) fn json(&self) -> Value {
        alone_json(&db_rows(&self.db), db_keys(&self.db), self.elapsed)
    }
}
