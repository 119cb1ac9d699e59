//! Resources over time: per-minute quotas that hold across `lord`
//! processes (each run here is one), a refusal the plugin and the user can
//! read, and a plugin that keeps hitting its quotas disabled with the
//! reason. The hostile fixture `quotaflood` floods events run after run.

use crate::support::Lord;

/// Ten events a minute, and three refusals in ten minutes disable.
const FLOOD: &[&str] = &[
    "--set",
    "quota.plugins.quotaflood.events-per-minute=10",
    "--set",
    "quota.strikes=3",
];

fn flood(lord: &Lord) -> crate::support::Run {
    let mut args = FLOOD.to_vec();
    args.push("quotaflood");
    lord.run(&args)
}

#[test]
fn a_plugin_flooding_events_is_throttled_then_disabled_with_the_reason() {
    let lord = Lord::new();
    lord.install("hostile/quotaflood");

    // First run: ten events pass, the eleventh is refused, and the plugin
    // reads which quota, its limit and when the window resets.
    let first = flood(&lord);
    first.assert_ok();
    let said = first.stdout();
    assert!(said.starts_with("published 10; refused: "), "{said}");
    assert!(
        said.contains("over its events-per-minute quota (10/min)"),
        "{said}"
    );
    assert!(said.contains("the window resets in"), "{said}");
    assert!(
        said.contains("quota.plugins.quotaflood.events-per-minute"),
        "{said}"
    );
    // The refusal is recorded.
    let history = lord.run(&["plugin", "info", "quotaflood"]);
    history.assert_ok();
    assert!(
        history.stdout().contains("throttled (events-per-minute)"),
        "{}",
        history.stdout()
    );
    assert_eq!(lord.info("quotaflood")["state"], "enabled");

    // The window is shared by processes: within this minute a second run
    // gets nothing or (if the minute turned) ten again, and is refused.
    let second = flood(&lord);
    second.assert_ok();
    assert!(second.stdout().contains("refused:"), "{}", second.stdout());
    assert_eq!(lord.info("quotaflood")["state"], "enabled");

    // The third refusal within ten minutes disables it, with the reason.
    flood(&lord).assert_ok();
    let info = lord.info("quotaflood");
    assert_eq!(info["state"], "disabled", "{info}");
    let reason = info["reason"].as_str().expect("reason");
    assert!(
        reason.contains("over its events-per-minute quota (10/min) 3 times in 10 minutes"),
        "{reason}"
    );
    assert!(reason.contains("lord plugin enable quotaflood"), "{reason}");
    let listed = lord
        .list()
        .into_iter()
        .find(|p| p["id"] == "quotaflood")
        .expect("listed");
    assert_eq!(listed["reason"], info["reason"]);
    let text = lord.run(&["plugin", "info", "quotaflood"]);
    text.assert_ok();
    assert!(
        text.stdout()
            .contains("events-per-minute quota (10/min) 3 times"),
        "{}",
        text.stdout()
    );
    flood(&lord)
        .assert_code(2)
        .assert_stderr_contains("is disabled")
        .assert_stderr_contains("events-per-minute quota");

    // Enabling it again clears the strikes: the next refusal is the first.
    lord.run(&["plugin", "enable", "quotaflood"]).assert_ok();
    let again = flood(&lord);
    again.assert_ok();
    assert!(again.stdout().contains("refused:"), "{}", again.stdout());
    assert_eq!(lord.info("quotaflood")["state"], "enabled");
    // Other plugins are not touched by its quota.
    lord.install("hello");
    lord.assert_hello_works();
}

/// Calls per minute are counted across processes and checked before a
/// call starts: the refused run says which quota and runs no plugin code.
#[test]
fn calls_over_the_per_minute_quota_are_refused_before_they_start() {
    let lord = Lord::new();
    lord.install("hello");
    let set = [
        "--set",
        "quota.plugins.hello.calls-per-minute=2",
        "--set",
        "quota.strikes=0",
    ];
    let run = |lord: &Lord| {
        let mut args = set.to_vec();
        args.extend(["hello", "World"]);
        lord.run(&args)
    };
    let first = run(&lord);
    let second = run(&lord);
    let third = run(&lord);
    // Two calls fit in one window; a run that crossed into the next minute
    // starts a fresh one, so at least one of the three fits again.
    let refused: Vec<_> = [&first, &second, &third]
        .into_iter()
        .filter(|r| r.code() != Some(0))
        .collect();
    if refused.is_empty() {
        eprintln!("the minute turned between runs; the refusal is not checked this time");
        return;
    }
    let no = refused[0];
    no.assert_code(3)
        .assert_stderr_contains("over its calls-per-minute quota (2/min)")
        .assert_stderr_contains("the window resets in");
    assert!(!no.stdout().contains("Hello"), "{}", no.stdout());
    // `quota.strikes = 0`: refusals never disable.
    assert_eq!(lord.info("hello")["state"], "enabled");
}

/// `config validate` names the key and what it may hold; it reports on
/// stdout, so both streams are read.
#[test]
fn quota_settings_are_checked() {
    let lord = Lord::new();
    let said = |set: &str| {
        let run = lord.run(&["--set", set, "config", "validate"]);
        (run.code(), format!("{}{}", run.stdout(), run.stderr()))
    };
    let (code, text) = said("quota.events-per-minute=0");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("`quota.events-per-minute` must be a whole number from 1"),
        "{text}"
    );
    let (code, text) = said("quota.plugins.notes.events-per-mnute=5");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("is not a plugin's quota"), "{text}");
    let (code, text) = said("quota.plugins.notes.events-per-minute=5");
    assert_eq!(code, Some(0), "{text}");
}

/// A project's `lord.toml` cannot raise a plugin's budgets: a plugin
/// granted `fs-write($PROJECT)` can write that file, and would otherwise
/// lift its own quotas and its share of the event log. The file is written
/// here as such a plugin would write it.
#[test]
fn a_project_cannot_raise_a_plugins_budgets() {
    let lord = Lord::new();
    lord.install("hostile/quotaflood");
    for raised in [
        "[quota.plugins.quotaflood]\nevents-per-minute = 1000000000\n",
        "[quota]\nstrikes = 1000000000\n",
        "[events]\nplugin-budget-kib = 1000000000\n",
        "[shared]\nmax-value-kib = 1000000\n",
    ] {
        std::fs::write(lord.project.path().join("lord.toml"), raised).expect("project config");
        let run = lord.run(&["quotaflood"]);
        assert_ne!(run.code(), Some(0), "{raised}: {}", run.stdout());
        run.assert_stderr_contains("may not be set by a project");
    }
    // In the user's own configuration the same setting is theirs to make.
    std::fs::remove_file(lord.project.path().join("lord.toml")).expect("remove");
    lord.run(&[
        "config",
        "set",
        "quota.plugins.quotaflood.events-per-minute",
        "1000",
    ])
    .assert_ok();
    lord.run(&["quotaflood"]).assert_ok();
}

/// A pipeline's micro handlers count against their plugin's calls quota
/// and are refused before they start when it is used up, strict ones
/// included (`micro-text`'s `trim` is strict); refusals count as strikes,
/// judged when the pipeline ends, as a command's are.
#[test]
fn micro_handlers_over_the_calls_quota_are_refused_and_strikes_disable() {
    let lord = Lord::new();
    lord.install("micro/text");
    let run = |lord: &Lord| {
        lord.run(&[
            "--set",
            "quota.plugins.micro-text.calls-per-minute=2",
            "--set",
            "quota.strikes=2",
            "pipe",
            "trim",
        ])
    };
    let runs: Vec<_> = (0..4).map(|_| run(&lord)).collect();
    let codes: Vec<_> = runs.iter().map(crate::support::Run::code).collect();
    if codes != [Some(0), Some(0), Some(3), Some(3)] {
        // A minute boundary between runs opens a fresh window.
        eprintln!("the minute turned between runs ({codes:?}); not checked this time");
        return;
    }
    runs[2]
        .assert_stderr_contains("over its calls-per-minute quota (2/min)")
        .assert_stderr_contains("the window resets in");
    // The second refusal within ten minutes disables the package.
    runs[3].assert_stderr_contains("`micro-text` was disabled: it kept going over its quotas");
    assert_eq!(lord.info("micro-text")["state"], "disabled");
    let info = lord.run(&["plugin", "info", "micro-text"]);
    assert!(
        info.stdout().contains("throttled (calls-per-minute)"),
        "{}",
        info.stdout()
    );
}

/// Work another plugin sends counts against the receiver's quota, but a
/// refusal of it is no strike against the receiver: `notes` publishing
/// more events than `tally` may handle in a minute cannot get `tally`
/// disabled. The refusals are in the audit log.
#[test]
fn events_refused_for_the_receivers_quota_are_no_strike_against_it() {
    let lord = Lord::new();
    lord.install("notes");
    lord.install("tally");
    let set = [
        "--set",
        "quota.plugins.tally.calls-per-minute=1",
        "--set",
        "quota.strikes=2",
    ];
    for n in 0..5 {
        let mut args = set.to_vec();
        let text = format!("note {n}");
        args.extend(["note", text.as_str()]);
        lord.run(&args).assert_ok();
    }
    assert_eq!(lord.info("tally")["state"], "enabled");
    let audit = lord.run(&["audit", "report", "--json"]);
    audit.assert_ok();
    assert!(
        audit.stdout().contains("events not delivered"),
        "{}",
        audit.stdout()
    );
}

/// A plugin's event and message handlers write into its data folder as its
/// commands do, and stop at the same quota: once the folder is over it,
/// no event is handed to the plugin, its messages wait in its mailbox
/// (also the rest of a round that filled it) and requests are refused,
/// each refusal audited with the quota to raise. The fixture `datahog`
/// writes 2 MiB per event, message or request; a copy under another id
/// sends it two messages at a time, or asks it.
#[test]
fn a_plugin_over_its_data_quota_is_handed_no_events_and_its_messages_wait() {
    let lord = Lord::new();
    lord.install("hello");
    lord.install("hostile/datahog");
    let feeder = crate::support::variant("hostile/datahog", |manifest| {
        manifest
            .replace("id = \"datahog\"", "id = \"datafeeder\"")
            .replace(
                "request = [\"fs-write($PLUGIN_DATA)\", \"events-subscribe(lord.command.finished)\", \"message(datafeeder)\"]",
                "request = [\"message(datahog)\"]",
            )
            .replace("name = \"datahog-send\"", "name = \"datafeeder-send\"")
            .replace("name = \"datahog-ask\"", "name = \"datafeeder-ask\"")
            .replace("id = \"datahog-fill\"", "id = \"datafeeder-fill\"")
    });
    let path = feeder.path().to_str().expect("utf-8 path");
    lord.run(&["plugin", "install", path, "--yes"]).assert_ok();
    let run = |args: &[&str]| {
        let mut all = vec!["--set", "quota.plugins.datahog.data-mib=1"];
        all.extend_from_slice(args);
        let run = lord.run(&all);
        run.assert_ok();
        run
    };
    let folder = lord.home.path().join("data/datahog");
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };

    // The first command's `lord.command.finished`: 2 MiB, over its 1 MiB.
    run(&["hello", "World"]);
    assert_eq!(files(), ["event-lord.command.finished-0.bin"]);
    // Later commands run, but the handler is handed nothing more.
    run(&["hello", "World"]);
    run(&["hello", "World"]);
    assert_eq!(files().len(), 1, "{:?}", files());
    // Messages wait in its mailbox rather than filling the folder.
    assert_eq!(run(&["datafeeder-send"]).stdout(), "sent\n");
    assert_eq!(files().len(), 1, "{:?}", files());
    // A request is refused, saying why, and writes nothing.
    let refused = lord.run(&[
        "--set",
        "quota.plugins.datahog.data-mib=1",
        "datafeeder-ask",
    ]);
    assert!(!refused.output.status.success(), "{}", refused.stdout());
    refused
        .assert_stderr_contains("`datahog` cannot take a request now")
        .assert_stderr_contains("over its `quota.data-mib` (1 MiB)");
    assert_eq!(files().len(), 1, "{:?}", files());

    let audit = || {
        let report = lord.run(&["audit", "report", "--json"]);
        report.assert_ok();
        report.stdout()
    };
    let said = audit();
    for expected in [
        "over data quota",
        "events not delivered",
        "messages not delivered",
        "over its `quota.data-mib` (1 MiB)",
        "quota.plugins.datahog.data-mib",
    ] {
        assert!(
            said.contains(expected),
            "`{expected}` missing from:\n{said}"
        );
    }
    // The plugin is throttled, not disabled: the user decides what to keep.
    assert_eq!(lord.info("datahog")["state"], "enabled");

    // Once files are removed, the first waiting message is handed over
    // with the next command and fills the folder again: the second goes
    // back to the mailbox, and this command's event is not delivered.
    let empty = || {
        for name in files() {
            std::fs::remove_file(folder.join(name)).expect("remove");
        }
    };
    empty();
    run(&["hello", "World"]);
    assert_eq!(files(), ["message-0.bin"]);
    let said = audit();
    assert!(
        said.contains("1 later message(s) wait in its mailbox"),
        "{said}"
    );
    // The second message, kept, comes with the command after.
    empty();
    run(&["hello", "World"]);
    assert_eq!(files(), ["message-0.bin"]);
    // Then the mailbox is empty: the next command hands over its event.
    empty();
    run(&["hello", "World"]);
    assert_eq!(files(), ["event-lord.command.finished-0.bin"]);
    // Under its quota again, it answers requests.
    empty();
    assert_eq!(run(&["datafeeder-ask"]).stdout(), "filled\n");
}

/// A pipeline's micro handler is measured against the same quota before
/// each call: once `datahog-fill` has filled the folder, the next call is
/// refused, naming the quota to raise, and writes nothing. The refusal is
/// in the audit log, as a command's is.
#[test]
fn a_micro_handler_over_its_data_quota_is_refused() {
    let lord = Lord::new();
    lord.install("hostile/datahog");
    let pipe = || {
        crate::micro::pipe(
            &lord,
            &["--set", "quota.plugins.datahog.data-mib=1", "datahog-fill"],
            "\"kept\"",
        )
    };
    let folder = lord.home.path().join("data/datahog");
    let files = || std::fs::read_dir(&folder).map_or(0, Iterator::count);

    let first = pipe();
    first.assert_ok();
    assert_eq!(first.stdout().trim(), "\"kept\"");
    assert_eq!(files(), 1);

    let second = pipe();
    assert!(!second.output.status.success(), "{}", second.stdout());
    second
        .assert_stderr_contains("over its `quota.data-mib` (1 MiB)")
        .assert_stderr_contains("quota.plugins.datahog.data-mib");
    assert_eq!(files(), 1);

    let info = lord.info("datahog");
    let refused: Vec<&serde_json::Value> = info["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["action"] == "throttled (data-mib)")
        .collect();
    assert_eq!(refused.len(), 1, "{}", info["history"]);
    let detail = refused[0]["detail"].as_str().expect("a detail");
    assert!(
        detail.contains("over its `quota.data-mib` (1 MiB)")
            && detail.ends_with("; 1 pipeline step(s) refused"),
        "{detail}"
    );
}
