//! Benchmark fixture: the one-row `SELECT` `lord-bench` also runs natively
//! on the same pool (`db_wasm_query_ratio`), through `lord:plugin/sql`.

use lord_pdk::sql::{self, Value};
use lord_pdk::{Command, Plugin};

struct BenchDb;

/// The one-row SELECT; the name in its row.
fn query() -> Result<String, String> {
    let rows = sql::query(
        "bench",
        "SELECT id, name FROM t WHERE id = ?",
        &[Value::Int(1)],
    )?;
    match rows.rows.first().and_then(|row| row.get(1)) {
        Some(Value::Text(name)) => Ok(name.clone()),
        other => Err(format!("unexpected row: {other:?}")),
    }
}

impl Plugin for BenchDb {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "benchdb-query" => query(),
            // The interface's own cost, the command's entry spread over
            // many queries.
            "benchdb-queries" => {
                let count: u32 = command
                    .arg("count")
                    .and_then(|c| c.parse().ok())
                    .ok_or("count must be a number")?;
                let mut last = String::new();
                for _ in 0..count {
                    last = query()?;
                }
                Ok(last)
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

lord_pdk::export_plugin!(BenchDb);
