//! Plugin data, shared values and events through real `lord` processes:
//! what one run keeps, the next one sees; what a plugin was not granted, it
//! cannot reach on any channel; the event log survives between processes.

use crate::support::Lord;

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect()
}

#[test]
fn notes_persist_across_runs_and_are_announced_in_the_event_log() {
    let lord = Lord::new();
    lord.install("notes");
    lord.run(&["note", "buy milk"]).assert_ok();
    let second = lord.run(&["note", "call the plumber"]);
    second.assert_ok();
    assert_eq!(second.stdout(), "noted (2 in all)\n");
    let list = lord.run(&["notes"]);
    list.assert_ok();
    assert_eq!(list.stdout(), "1. buy milk\n2. call the plumber\n");

    // A new process replays what earlier ones published, in order.
    let replay = lord.run(&[
        "events", "replay", "--since", "1h", "--topic", "notes.*", "--json",
    ]);
    replay.assert_ok();
    let added = json_lines(&replay.stdout());
    let numbers: Vec<_> = added
        .iter()
        .map(|e| e["payload"]["number"].clone())
        .collect();
    assert_eq!(numbers, [serde_json::json!(1), serde_json::json!(2)]);
    assert!(
        added
            .iter()
            .all(|e| e["source"] == "notes" && e["propagation"] == "global")
    );

    // lord's own lifecycle and command events are there too.
    let system = lord.run(&[
        "events", "replay", "--since", "1h", "--topic", "lord.**", "--json",
    ]);
    system.assert_ok();
    let topics: Vec<String> = json_lines(&system.stdout())
        .iter()
        .map(|e| e["topic"].as_str().expect("topic").to_owned())
        .collect();
    for expected in [
        "lord.plugin.installed",
        "lord.plugin.enabled",
        "lord.command.started",
        "lord.command.finished",
    ] {
        assert!(
            topics.iter().any(|t| t == expected),
            "{expected} missing from {topics:?}"
        );
    }
    let tail = lord.run(&["events", "tail", "-n", "1"]);
    tail.assert_ok();
    assert_eq!(tail.stdout().lines().count(), 1, "{}", tail.stdout());
    assert!(
        tail.stdout().contains("lord.command.finished"),
        "{}",
        tail.stdout()
    );

    // Removing the plugin removes its data, its `$PLUGIN_DATA` and
    // `tmp/` folders included: a reinstall starts empty.
    let folders = [
        lord.home.path().join("data/notes"),
        lord.home.path().join("tmp/notes"),
    ];
    for dir in &folders {
        std::fs::create_dir_all(dir).expect("folder");
        std::fs::write(dir.join("token.txt"), "kept by notes").expect("file");
    }
    lord.run(&["plugin", "remove", "notes"]).assert_ok();
    for dir in &folders {
        assert!(!dir.exists(), "{} outlived its plugin", dir.display());
    }
    // What a removal cut short left behind is gone at the next install.
    std::fs::create_dir_all(&folders[0]).expect("folder");
    std::fs::write(folders[0].join("token.txt"), "left over").expect("file");
    lord.install("notes");
    assert!(
        !folders[0].join("token.txt").exists(),
        "a fresh install inherited files"
    );
    let empty = lord.run(&["notes"]);
    empty.assert_ok();
    assert_eq!(empty.stdout(), "");
}

#[test]
fn a_plugin_reaches_no_channel_it_was_not_granted() {
    let lord = Lord::new();
    lord.install("notes");
    lord.install("hostile/statesnoop");
    lord.run(&["note", "the safe code is 1234"]).assert_ok();

    // Its own channels work (and each success resets its breaker).
    let own = || {
        let run = lord.run(&["statesnoop", "own"]);
        run.assert_ok();
        assert_eq!(run.stdout(), "own channels work\n");
    };
    own();

    // Another plugin's data: its reads land in its own namespace.
    let data = lord.run(&["statesnoop", "data"]);
    data.assert_ok();
    assert_eq!(data.stdout(), "nothing under `notes`\n");

    for (channel, refused) in [
        ("shared", "the shared key `notes.count`"),
        ("shared-write", "the shared key `notes.count`"),
        ("publish", "publishing on `notes.added`"),
        ("system", "publishing on `lord.plugin.installed`"),
    ] {
        let run = lord.run(&["statesnoop", channel]);
        run.assert_code(3).assert_stderr_contains(refused);
        assert!(
            !run.stdout().contains("LEAK"),
            "{channel}: {}",
            run.stdout()
        );
        own();
    }
    let quota = lord.run(&["statesnoop", "quota"]);
    quota
        .assert_code(3)
        .assert_stderr_contains("over its data quota");
    own();

    // Nothing the snoop tried changed the notes or their count.
    let list = lord.run(&["notes"]);
    assert_eq!(list.stdout(), "1. the safe code is 1234\n");
    let replay = lord.run(&[
        "events",
        "replay",
        "--since",
        "1h",
        "--topic",
        "notes.added",
        "--json",
    ]);
    let added = json_lines(&replay.stdout());
    assert_eq!(added.len(), 1, "only notes published on notes.added");
    assert_eq!(added[0]["source"], "notes");
}

#[test]
fn a_component_importing_shared_state_without_asking_is_refused_at_install() {
    let lord = Lord::new();
    let unasked = crate::support::variant("notes", |m| {
        m.replace("\"state-shared(notes.count)\", ", "")
    });
    lord.run(&[
        "plugin",
        "install",
        unasked.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("lord:plugin/shared");
    assert!(lord.list().is_empty());
}

#[test]
fn two_plugins_cooperate_through_events_alone() {
    let lord = Lord::new();
    lord.install("notes");
    lord.install("tally");
    lord.run(&["note", "first"]).assert_ok();
    lord.run(&["note", "second"]).assert_ok();
    let tally = lord.run(&["tally"]);
    tally.assert_ok();
    // Two notes announced; no command failed (tally's manifest filter lets
    // only failed ones through).
    assert_eq!(tally.stdout(), "notes added: 2\ncommands failed: 0\n");
    lord.run(&["note", "two\nlines"]).assert_code(3);
    let again = lord.run(&["tally"]);
    assert_eq!(again.stdout(), "notes added: 2\ncommands failed: 1\n");
    // tally fails on any event it should not get: it saw none (lord
    // published lord.command.started, successful finishes and notes.*
    // events all along).
    let info = lord.info("tally");
    assert_eq!(info["consecutive_failures"], 0, "{info}");
    assert_eq!(info["last_error"], serde_json::Value::Null, "{info}");
}

#[test]
fn a_request_reaches_a_granted_accepting_plugin_and_no_other() {
    let lord = Lord::new();
    lord.install("notes");
    // The target is not installed yet: the request fails and says so.
    lord.run(&["note-stats"])
        .assert_code(3)
        .assert_stderr_contains("plugin `tally` is not installed");
    lord.install("tally");
    lord.install("hostile/statesnoop");
    lord.run(&["note", "x"]).assert_ok();
    let stats = lord.run(&["note-stats"]);
    stats.assert_ok();
    assert_eq!(
        stats.stdout(),
        "tally says: {\"notes\": 1, \"failed\": 0, \"asked_by\": \"notes\"}\n"
    );
    // statesnoop holds message(tally) only; notes neither is granted to it
    // nor accepts messages.
    let snoop = lord.run(&["statesnoop", "message"]);
    snoop
        .assert_code(3)
        .assert_stderr_contains("requests to plugin `notes`");
    assert!(!snoop.stdout().contains("LEAK"), "{}", snoop.stdout());
}

#[test]
fn a_flood_of_messages_is_bounded_and_cannot_disable_the_receiver() {
    let lord = Lord::new();
    lord.install("tally");
    lord.install("hostile/statesnoop");
    let flood = lord.run(&["statesnoop", "flood"]);
    flood.assert_ok();
    // The mailbox holds 256; the urgent one displaces a junk one.
    assert_eq!(flood.stdout(), "queued 256 of 1000; urgent queued: true\n");
    let info = lord.info("tally");
    assert_eq!(info["state"], "enabled", "{info}");
    assert_eq!(info["consecutive_failures"], 0, "{info}");
    // Every delivered message was refused by tally and audited as such:
    // the 256 the mailbox held, the urgent one first.
    let refused: Vec<String> = info["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["action"] == "message refused")
        .map(|e| e["detail"].as_str().expect("detail").to_owned())
        .collect();
    assert_eq!(refused.len(), 256, "{refused:?}");
    assert!(refused[0].contains("urgent junk"), "{}", refused[0]);
    assert!(refused.iter().all(|d| d.contains("from `statesnoop`")));
    lord.run(&["tally"]).assert_ok();
}

#[test]
fn state_show_reports_the_session_and_the_recorded_history() {
    let lord = Lord::new();
    lord.install("notes");
    lord.run(&["note", "a"]).assert_ok();
    lord.run(&["note", "line\nbreak"]).assert_code(3);
    let shown = lord.run_cmd(
        lord.command(&["state", "show", "--json", "--set", "theme=dark"])
            .env("LORD_LOG__LEVEL", "debug"),
    );
    shown.assert_ok();
    let state: serde_json::Value = serde_json::from_str(&shown.stdout()).expect("json");
    assert_eq!(state["log_level"], "debug");
    assert_eq!(state["theme"], "dark");
    assert_eq!(state["session"]["command"][0], "state");
    assert_eq!(state["commands_recorded"], 2);
    assert_eq!(state["errors_recorded"], 1);
    assert_eq!(state["history"][0]["status"], "ok");
    assert_eq!(state["history"][1]["status"], "failed");
    assert_eq!(state["history"][1]["plugin"], "notes");
}
