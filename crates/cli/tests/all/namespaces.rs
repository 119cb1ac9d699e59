//! The names that mean lord: plugin ids, lord's topics and shared keys are
//! refused at install, and a subscriber can tell lord's own events from
//! anything a plugin publishes.

use crate::support::{Lord, fixture, repo, variant};

fn install_dir(lord: &Lord, dir: &std::path::Path) -> crate::support::Run {
    lord.run(&["plugin", "install", dir.to_str().expect("utf-8"), "--yes"])
}

#[test]
fn a_plugin_id_that_means_lord_is_refused() {
    let lord = Lord::new();
    for (id, why) in [
        ("lord", "lord's own events carry it as their source"),
        ("config", "`lord config` is one of lord's own commands"),
        ("secrets", "a provider built into lord has it"),
    ] {
        let dir = variant("hello", |m| {
            m.replace("id = \"hello\"", &format!("id = \"{id}\""))
        });
        install_dir(&lord, dir.path())
            .assert_code(2)
            .assert_stderr_contains(&format!("plugin id `{id}` is reserved"))
            .assert_stderr_contains(why);
    }
    assert!(lord.list().is_empty());
}

#[test]
fn publishing_on_lords_topics_or_holding_its_shared_keys_is_refused_at_install() {
    let lord = Lord::new();
    install_dir(&lord, &fixture("hostile/forger"))
        .assert_code(2)
        .assert_stderr_contains(
            "requests `events-publish(lord.command.finished)` in [permissions] request",
        )
        .assert_stderr_contains("only lord publishes on them");
    let shared = variant("notes", |m| {
        m.replace("state-shared(notes.count)", "state-shared(lord.session)")
    });
    install_dir(&lord, shared.path())
        .assert_code(2)
        .assert_stderr_contains("`state-shared(lord.session)`")
        .assert_stderr_contains("shared keys under `lord.` are lord's own");
    // Listening to lord is fine.
    lord.install("tally");
}

/// On `main` before this rule, `forger` installed and its forged
/// `lord.command.finished` reached `tally`, which counted it.
#[test]
fn tally_cannot_be_fooled_into_counting_a_forged_failed_command() {
    let lord = Lord::new();
    lord.install("tally");
    lord.install("hostile/failing");
    install_dir(&lord, &fixture("hostile/forger")).assert_code(2);
    let forged = lord.run(&["forge"]);
    assert!(!forged.stdout().contains("FORGED"), "{}", forged.stdout());
    assert_eq!(
        lord.run(&["tally"]).stdout(),
        "notes added: 0\ncommands failed: 0\n"
    );
    // A real failure is lord's word, and counts.
    lord.run(&["failing"]).assert_code(3);
    assert_eq!(
        lord.run(&["tally"]).stdout(),
        "notes added: 0\ncommands failed: 1\n"
    );
}

/// 0.2.1 only added an interface: `tests/fixtures/tally-0.2.0` is `tally`
/// as built against `lord:plugin@0.2.0` (before `delivery` existed), kept
/// as bytes, and it still installs, runs and handles events.
#[test]
fn a_guest_built_against_0_2_0_still_runs() {
    let lord = Lord::new();
    let old = repo().join("crates/cli/tests/fixtures/tally-0.2.0");
    install_dir(&lord, &old).assert_ok();
    lord.install("hostile/failing");
    lord.run(&["failing"]).assert_code(3);
    let tally = lord.run(&["tally"]);
    tally.assert_ok();
    assert_eq!(tally.stdout(), "notes added: 0\ncommands failed: 1\n");
}
