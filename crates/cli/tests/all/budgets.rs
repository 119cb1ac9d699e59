//! What one plugin can make lord hold: its share of the event log, the
//! size of an event, a shared value or a message, and the handles one
//! instance keeps open. Each bound has a hostile fixture that would take
//! without it.

use std::process::{Command, Stdio};

use crate::support::{Lord, Run};

/// `state.db` and its write-ahead log, in bytes.
fn state_bytes(lord: &Lord) -> u64 {
    ["state.db", "state.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(lord.home.path().join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// On `main`, one call of a plugin like this grew `state.db` by hundreds
/// of megabytes.
#[test]
fn a_plugin_publishing_as_fast_as_it_can_grows_state_db_by_less_than_its_budget() {
    let lord = Lord::new();
    lord.install("hostile/eventflood");
    let budget: u64 = 1024 * 1024;
    let set = "events.plugin-budget-kib=1024";
    // The log exists before measuring (lord's own events made it).
    lord.run(&["--set", set, "plugin", "list"]).assert_ok();
    lord.run(&["--set", set, "events", "tail"]).assert_ok();
    let before = state_bytes(&lord);
    for _ in 0..3 {
        let run = lord.run(&["--set", set, "eventflood"]);
        run.assert_ok();
        let said = run.stdout();
        assert!(said.contains("all that one call may"), "{said}");
    }
    let grown = state_bytes(&lord).saturating_sub(before);
    eprintln!("state.db grew by {grown} bytes (budget {budget})");
    assert!(grown < budget, "grew by {grown} bytes, budget {budget}");
    let dropped = lord.run(&["events", "dropped", "--json"]);
    dropped.assert_ok();
    let dropped: serde_json::Value = serde_json::from_str(&dropped.stdout()).expect("JSON");
    assert_eq!(dropped[0]["source"], "eventflood", "{dropped}");
    assert!(dropped[0]["dropped"].as_u64().unwrap_or(0) > 0, "{dropped}");
    lord.run(&["events", "tail"])
        .assert_ok()
        .assert_stderr_contains("lord events dropped");
}

#[test]
fn an_event_over_the_payload_limit_is_refused_and_a_failed_call_publishes_nothing() {
    let lord = Lord::new();
    lord.install("hostile/eventflood");
    let huge = lord.run(&["eventflood-huge"]);
    huge.assert_code(3)
        .assert_stderr_contains("over the limit of 65536 bytes")
        .assert_stderr_contains("events.max-payload-kib");
    assert!(!huge.stdout().contains("HUGE"), "{}", huge.stdout());
    lord.run(&["eventflood-then-fail"]).assert_code(3);
    let log = lord.run(&["events", "tail", "--topic", "eventflood.**", "--json"]);
    log.assert_ok();
    assert_eq!(log.stdout(), "", "a failed call's events were kept");
}

/// Runs `lord pipe PIPELINE` with at most `files` descriptors for the
/// whole process, as a busy machine or a small ulimit would leave it.
fn pipe_with_few_descriptors(lord: &Lord, pipeline: &str, files: u32) -> Run {
    let lord_cmd = lord.command(&["pipe", pipeline]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(lord_cmd.get_program())
        .args(lord_cmd.get_args())
        .current_dir(lord.project.path())
        .stdin(Stdio::null());
    for (key, value) in lord_cmd.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    lord.run_cmd(&mut cmd)
}

/// On `main`, `handles.hog` took every descriptor the process had, and the
/// reader beside it in the same process failed.
#[test]
fn a_plugin_opening_files_in_a_loop_is_stopped_and_its_neighbour_is_unaffected() {
    let lord = Lord::new();
    lord.install("hostile/handles");
    std::fs::write(lord.project.path().join("data.txt"), "still readable\n").expect("write");
    let run = pipe_with_few_descriptors(&lord, "[handles.hog, handles.read]", 600);
    run.assert_ok();
    let joined: serde_json::Value = serde_json::from_slice(&run.output.stdout).expect("JSON");
    let hog = joined[0]["error"].as_str().unwrap_or_default();
    assert!(
        hog.contains("exceeded its limit of 256 open handles"),
        "{joined}"
    );
    assert_eq!(joined[1]["ok"], "still readable", "{joined}");
}

/// On `main`, 200 values of 8 MiB were all kept, in memory.
#[test]
fn shared_values_are_bounded_in_size_and_count_against_the_writers_quota() {
    let lord = Lord::new();
    lord.install("hostile/sharedbomb");
    let bomb = lord.run(&["sharedbomb"]);
    bomb.assert_code(3)
        .assert_stderr_contains("value 0 refused")
        .assert_stderr_contains("shared.max-value-kib");
    assert!(!bomb.stdout().contains("BOMB"), "{}", bomb.stdout());
    let quota = lord.run(&["sharedbomb-quota"]);
    quota
        .assert_code(3)
        .assert_stderr_contains("over its data quota");
    assert!(!quota.stdout().contains("QUOTA"), "{}", quota.stdout());
}

/// On `main`, a mailbox held 200 messages of 8 MiB for `tally`.
#[test]
fn messages_and_requests_over_the_size_limit_are_refused() {
    let lord = Lord::new();
    lord.install("tally");
    lord.install("hostile/mailbomb");
    for command in ["mailbomb", "mailbomb-request"] {
        let run = lord.run(&[command]);
        run.assert_code(3)
            .assert_stderr_contains("messages.max-payload-kib");
        assert!(!run.stdout().contains("BOMB"), "{}", run.stdout());
    }
}
