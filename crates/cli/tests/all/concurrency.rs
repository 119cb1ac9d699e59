//! Many `lord` processes at once on one `$LORD_HOME`, as two terminals,
//! `xargs -P` or parallel CI jobs make them: no write is lost, a
//! compare-and-swap in one process conflicts with another process's write,
//! a queued message waits for its receiver and is handled once, and no
//! process reports the database as locked.

use lord_host::lord_state::{
    CasOutcome, EventBus, PluginData, Scope, ScopeGrants, SharedState, StateDb,
};

use crate::support::{Lord, Run};

/// Starts every command at once, then waits for all of them.
fn all_at_once(lord: &Lord, commands: &[Vec<String>]) -> Vec<Run> {
    let started = std::time::Instant::now();
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lord.command(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("lord starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| Run {
            output: child.wait_with_output().expect("lord ends"),
            elapsed: started.elapsed(),
        })
        .collect()
}

/// `notes`' view of the state database under `lord`'s home, from this
/// test's own process.
fn notes_scope(lord: &Lord) -> Scope {
    let db = StateDb::open(lord.home.path()).expect("state.db");
    let granted = ["state-shared(notes.count)".parse().expect("permission")];
    Scope::new(
        &"notes".parse().expect("id"),
        ScopeGrants::from_permissions(&granted, 64 * 1024),
        PluginData::new(db.clone()),
        SharedState::new(db),
        EventBus::new(),
    )
}

fn count(scope: &Scope) -> (u64, u64) {
    let v = scope
        .shared_get("notes.count")
        .expect("read")
        .expect("counted");
    let n = String::from_utf8(v.value)
        .expect("text")
        .parse()
        .expect("number");
    (n, v.version)
}

/// On `main`, 20 of these left 8 notes and a count of 1: each process
/// read the notes, appended its own and wrote them back over the others',
/// and counted in a shared value that lived in its own memory.
#[test]
fn twenty_concurrent_notes_leave_twenty_notes_and_a_count_of_twenty() {
    let lord = Lord::new();
    lord.install("notes");
    lord.install("tally");
    let commands: Vec<Vec<String>> = (0..20)
        .map(|n| vec!["note".to_owned(), format!("n{n}")])
        .collect();
    for run in all_at_once(&lord, &commands) {
        run.assert_ok();
        let stderr = run.stderr();
        assert!(
            !stderr.contains("locked") && !stderr.contains("busy"),
            "a writer saw the database busy: {stderr}"
        );
    }
    let list = lord.run(&["notes"]);
    list.assert_ok();
    let mut listed: Vec<String> = list
        .stdout()
        .lines()
        .map(|l| l.split_once(". ").expect("numbered").1.to_owned())
        .collect();
    listed.sort_by_key(|n| n[1..].parse::<u32>().expect("nN"));
    let expected: Vec<String> = (0..20).map(|n| format!("n{n}")).collect();
    assert_eq!(listed, expected);
    assert_eq!(count(&notes_scope(&lord)).0, 20);
    // tally counted the 20 `notes.added` events, each delivered in its
    // own process at the same time as the others.
    let tally = lord.run(&["tally"]);
    tally.assert_ok();
    assert!(
        tally.stdout().starts_with("notes added: 20\n"),
        "{}",
        tally.stdout()
    );
}

/// This test's process reads `notes`' data and `notes.count` with their
/// versions; a `lord note` process writes both; compare-and-swap here
/// against what was read conflicts, and hands back what the other process
/// wrote.
#[test]
fn a_compare_and_swap_conflicts_with_a_write_made_by_another_process() {
    let lord = Lord::new();
    lord.install("notes");
    lord.run(&["note", "first"]).assert_ok();
    let scope = notes_scope(&lord);
    let notes = scope
        .data_get_versioned("notes")
        .expect("read")
        .expect("written");
    assert_eq!(notes.value, b"first");
    let (one, counted_at) = count(&scope);
    assert_eq!(one, 1);

    lord.run(&["note", "second"]).assert_ok();

    let outcome = scope
        .data_compare_and_swap("notes", notes.version, b"first\nmine".to_vec())
        .expect("cas");
    let CasOutcome::Conflict(Some(now)) = outcome else {
        panic!("the other process's write was not seen: {outcome:?}");
    };
    assert_eq!(now.value, b"first\nsecond");
    let outcome = scope
        .shared_compare_and_swap("notes.count", counted_at, b"2".to_vec())
        .expect("cas");
    let CasOutcome::Conflict(Some(now)) = outcome else {
        panic!("the other process's count was not seen: {outcome:?}");
    };
    assert_eq!(now.value, b"2");
    // Nothing was overwritten.
    let list = lord.run(&["notes"]);
    assert_eq!(list.stdout(), "1. first\n2. second\n");
}

/// statesnoop floods `tally` while it is disabled: the messages wait in its
/// mailbox (bounded, the urgent one kept). Once it is enabled, two
/// commands started together deliver them: each message reaches tally's
/// `handle-message` exactly once (tally refuses junk, and each refusal is
/// audited), the urgent one first.
#[test]
fn a_message_waits_for_its_receiver_and_is_handled_once_by_a_later_command() {
    let lord = Lord::new();
    lord.install("tally");
    lord.install("hostile/statesnoop");
    lord.run(&["plugin", "disable", "tally"]).assert_ok();
    let flood = lord.run(&["statesnoop", "flood"]);
    flood.assert_ok();
    assert_eq!(flood.stdout(), "queued 256 of 1000; urgent queued: true\n");
    assert!(refused(&lord).is_empty(), "delivered to a disabled plugin");

    lord.run(&["plugin", "enable", "tally"]).assert_ok();
    let tally = vec!["tally".to_owned()];
    for run in all_at_once(&lord, &[tally.clone(), tally]) {
        run.assert_ok();
    }
    let refused_once = refused(&lord);
    assert_eq!(
        refused_once.len(),
        256,
        "each message once: {refused_once:?}"
    );
    assert!(
        refused_once[0].contains("urgent junk"),
        "{}",
        refused_once[0]
    );
    let mut distinct = refused_once;
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 256, "a message was handled twice");
    // Nothing is left for a third command.
    lord.run(&["tally"]).assert_ok();
    assert_eq!(refused(&lord).len(), 256);
}

/// What tally's audit says it refused, oldest first.
fn refused(lord: &Lord) -> Vec<String> {
    lord.info("tally")["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["action"] == "message refused")
        .map(|e| e["detail"].as_str().expect("detail").to_owned())
        .collect()
}
