//! Test fixture: `nap` sleeps in a host call (`std::thread::sleep` is
//! WASI's `monotonic-clock.subscribe-duration` and a poll), logs once
//! through `lord:plugin/log` and answers. Almost all of its time is spent
//! waiting in the host, which `lord plugin perf` must attribute to `wasi`.
//!
//! `tick` is declared `pure` although it is not: it counts each real run
//! in its persistent data and answers with the count, so a test sees at
//! once whether an answer came from the result cache (the count repeats)
//! or from running the plugin (the count grows).

use lord_pdk::serde_json::json;
use lord_pdk::{Command, Json, MicroContext, Plugin};

struct Napper;

impl Plugin for Napper {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "nap" => {
                let ms: u64 = command
                    .arg("ms")
                    .unwrap_or("40")
                    .parse()
                    .map_err(|e| format!("--ms: {e}"))?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                lord_pdk::log::info(&format!("slept {ms} ms"));
                Ok(format!("slept {ms} ms\n"))
            }
            "tick" => {
                let runs = count_run()?;
                let word = lord_pdk::config::get("word")
                    .and_then(|w| w.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let label = command.arg("label").unwrap_or("");
                Ok(format!("run {runs} label={label} word={word}\n"))
            }
            other => Err(format!("napper has no command `{other}`")),
        }
    }

    fn micro(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        match ctx.id.as_str() {
            "napper.count" => Ok(json!({ "input": input, "runs": count_run()? })),
            other => Err(format!("napper has no micro-plugin `{other}`")),
        }
    }
}

/// Counts one real run in the plugin's persistent data; returns the count.
fn count_run() -> Result<u64, String> {
    let mut runs = 0;
    lord_pdk::data::update("runs", |old| {
        runs = old
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        Ok(runs.to_string().into_bytes())
    })?;
    Ok(runs)
}

lord_pdk::export_plugin!(Napper);
