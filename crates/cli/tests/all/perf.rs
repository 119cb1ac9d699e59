//! `lord plugin perf` and `lord plugin top`: each call's figures recorded
//! in `perf.db` by the process that made it, time waiting in a host call
//! blamed on that host interface (also when the call is stopped at its
//! deadline mid-wait), and the bottleneck named with its evidence.

use crate::support::Lord;

fn perf_json(lord: &Lord, id: &str) -> serde_json::Value {
    let run = lord.run(&["plugin", "perf", id, "--json"]);
    run.assert_ok();
    serde_json::from_slice(&run.output.stdout).expect("perf is JSON")
}

fn entry<'a>(report: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["entry"] == label)
        .unwrap_or_else(|| panic!("no entry {label} in {report:#}"))
}

#[test]
fn a_plugin_slow_in_a_host_call_is_blamed_on_that_interface() {
    let lord = Lord::new();
    lord.install("hello");
    lord.install("napper");
    for _ in 0..3 {
        lord.run(&["nap", "60"]).assert_ok();
    }
    lord.run(&["hello", "World"]).assert_ok();

    let report = perf_json(&lord, "napper");
    let nap = entry(&report, "command:nap");
    assert_eq!(nap["calls"], 3, "{nap:#}");
    assert_eq!(nap["outcomes"]["ok"], 3, "{nap:#}");
    // Each call slept 60 ms: the p50 covers it, and nearly all of it was
    // spent waiting in WASI's clocks, not in the plugin's own code.
    assert!(
        nap["wall_ns"]["p50"].as_u64().expect("p50") >= 60_000_000,
        "{nap:#}"
    );
    let host = nap["host"].as_array().expect("host");
    assert_eq!(host[0]["area"], "wasi", "{nap:#}");
    assert!(host[0]["share"].as_f64().expect("share") > 0.8, "{nap:#}");
    assert!(
        nap["guest_share"].as_f64().expect("guest share") < 0.2,
        "{nap:#}"
    );
    // Its one log record per call is counted under `log`.
    let log = host.iter().find(|a| a["area"] == "log").expect("log area");
    assert_eq!(log["calls"], 3, "{nap:#}");
    // The hooks around each command are entry points of their own.
    entry(&report, "hook:on-load");

    let bottleneck = report["bottlenecks"]
        .as_array()
        .expect("bottlenecks")
        .iter()
        .find(|b| b["entry"] == "command:nap")
        .unwrap_or_else(|| panic!("no bottleneck named: {report:#}"));
    assert_eq!(bottleneck["plugin"], "napper");
    assert_eq!(bottleneck["area"], "wasi");
    assert!(
        bottleneck["evidence"]
            .as_str()
            .expect("evidence")
            .contains("% of its time is in `wasi`"),
        "{bottleneck:#}"
    );

    // A quick plugin has figures and no bottleneck.
    let hello = perf_json(&lord, "hello");
    assert_eq!(entry(&hello, "command:hello")["calls"], 1);
    assert_eq!(hello["bottlenecks"], serde_json::json!([]), "{hello:#}");

    // The text report names plugin, entry point and interface together.
    let text = lord.run(&["plugin", "perf"]);
    text.assert_ok();
    assert!(
        text.stdout().contains("- napper command:nap in `wasi`: "),
        "{}",
        text.stdout()
    );
}

#[test]
fn a_call_stopped_while_waiting_in_the_host_is_still_blamed_on_the_host() {
    let lord = Lord::new();
    lord.install("hostile/sleeper");
    lord.run(&["sleeper"]).assert_code(3);
    let report = perf_json(&lord, "sleeper");
    let sleeper = entry(&report, "command:sleeper");
    assert_eq!(sleeper["outcomes"]["time-limit"], 1, "{sleeper:#}");
    assert_eq!(sleeper["failures"], 1, "{sleeper:#}");
    let host = sleeper["host"].as_array().expect("host");
    assert_eq!(host[0]["area"], "wasi", "{sleeper:#}");
    assert!(
        host[0]["share"].as_f64().expect("share") > 0.8,
        "{sleeper:#}"
    );
}

#[test]
fn top_shows_one_screen_when_piped_and_clear_forgets() {
    let lord = Lord::new();
    lord.install("napper");
    lord.run(&["nap", "1"]).assert_ok();
    // Piped (the test's stdout is not a terminal): one screen, then exit,
    // with no cursor movement or clearing.
    let top = lord.run(&["plugin", "top"]);
    top.assert_ok();
    assert!(top.stdout().starts_with("PLUGIN"), "{}", top.stdout());
    assert!(top.stdout().contains("napper"), "{}", top.stdout());
    assert!(!top.stdout().contains('\u{1b}'), "{:?}", top.stdout());
    let json = lord.run(&["plugin", "top", "--json"]);
    json.assert_ok();
    let plugins: serde_json::Value = serde_json::from_slice(&json.output.stdout).expect("JSON");
    assert_eq!(plugins[0]["plugin"], "napper", "{plugins:#}");

    lord.run(&["plugin", "perf", "--clear"]).assert_ok();
    let report = perf_json(&lord, "napper");
    assert_eq!(report["entries"], serde_json::json!([]), "{report:#}");
}
