//! The test harness as a library, the way a Rust author drives it from
//! `cargo test`: declared unit and integration cases, generated security
//! and property cases, all through the real host. Uses the fixture plugins
//! under `plugins/` (built by `cargo xtask plugins`).

use std::path::{Path, PathBuf};

use lord_devkit::harness::{Harness, HarnessOptions, Outcome, Suite, TestReport};

fn fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(name);
    assert!(
        dir.join("plugin.wasm").is_file(),
        "{} has no plugin.wasm; run `cargo xtask plugins` first",
        dir.display()
    );
    dir
}

/// A copy of a fixture with `cases` as its tests/cases.toml.
fn with_cases(name: &str, cases: &str) -> tempfile::TempDir {
    let src = fixture(name);
    let dir = tempfile::tempdir().expect("temp plugin");
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(src.join(file), dir.path().join(file)).expect("copy");
    }
    std::fs::create_dir_all(dir.path().join("tests")).expect("tests");
    std::fs::write(dir.path().join("tests/cases.toml"), cases).expect("cases");
    dir
}

/// Runs only the declared cases of the plugin at `dir`, in a scratch home
/// that lives as long as the returned folder.
async fn run_declared(dir: &Path) -> (tempfile::TempDir, Harness, TestReport) {
    let scratch = tempfile::tempdir().expect("scratch");
    let mut harness = Harness::open(dir, scratch.path()).expect("opens");
    let report = harness
        .run(&HarnessOptions {
            generated: false,
            ..HarnessOptions::default()
        })
        .await
        .expect("runs");
    (scratch, harness, report)
}

#[test]
fn a_rust_author_asserts_a_plugin_passes_from_cargo_test() {
    let dir = with_cases(
        "hello",
        "[[case]]\nname = \"greets\"\ncommand = \"hello\"\nargs = { name = [\"Ada\"] }\n\
         stdout = \"Hello, Ada!\\n\"\n\n\
         [[case]]\nname = \"greets as a micro-plugin\"\nmicro = \"greet\"\ninput = \"Ada\"\n\
         output = \"Hello, Ada!\"\n",
    );
    lord_devkit::harness::assert_passes(dir.path());
}

#[test]
#[should_panic(expected = "greets wrongly")]
fn assert_passes_panics_naming_the_failing_case() {
    let dir = with_cases(
        "hello",
        "[[case]]\nname = \"greets wrongly\"\ncommand = \"hello\"\nstdout = \"Bye\\n\"\n",
    );
    lord_devkit::harness::assert_passes(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_cases_see_other_plugins_events_and_messages() {
    let tally = fixture("tally");
    let cases = format!(
        "[[case]]\nname = \"a note is announced\"\nkind = \"integration\"\nplugins = [{tally:?}]\n\
         shared = {{ \"notes.count\" = \"41\" }}\ncommand = \"note\"\nargs = {{ text = [\"hello\"] }}\n\
         stdout = \"noted (1 in all)\\n\"\npublishes = [\"notes.added\"]\n\n\
         [[case]]\nname = \"tally heard it\"\nkind = \"integration\"\ncommand = \"note-stats\"\n\
         contains = \"\\\"notes\\\": 1\"\n\n\
         [[case]]\nname = \"claims an event it never sends\"\nkind = \"integration\"\n\
         command = \"notes\"\npublishes = [\"notes.added\"]\n",
        tally = tally.display().to_string()
    );
    let dir = with_cases("notes", &cases);
    let (_scratch, mut harness, report) = run_declared(dir.path()).await;
    let outcome = |name: &str| {
        report
            .results
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no case {name}: {}", report.to_text()))
            .outcome
            .clone()
    };
    assert_eq!(
        outcome("a note is announced"),
        Outcome::Passed,
        "{}",
        report.to_text()
    );
    assert_eq!(
        outcome("tally heard it"),
        Outcome::Passed,
        "{}",
        report.to_text()
    );
    match outcome("claims an event it never sends") {
        Outcome::Failed(reason) => assert!(
            reason.contains("did not publish on `notes.added`"),
            "{reason}"
        ),
        other @ (Outcome::Passed | Outcome::Skipped(_)) => panic!("{other:?}"),
    }
    // The shared value set before the first case was counted on from 41.
    let count = harness
        .framework()
        .channels()
        .shared
        .get("notes.count")
        .expect("readable")
        .expect("notes.count");
    assert_eq!(count.value, b"42");
}

/// The notes fixture declaring a dependency on the tally fixture, with
/// `cases` as its tests/cases.toml.
fn notes_needing_tally(cases: &str) -> tempfile::TempDir {
    let dir = with_cases("notes", cases);
    let manifest = dir.path().join("plugin.toml");
    let mut text = std::fs::read_to_string(&manifest).expect("plugin.toml");
    text.push_str("\n[dependencies]\ntally = \"^0.1\"\n");
    std::fs::write(&manifest, text).expect("plugin.toml");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_with_dependencies_is_tested_after_them() {
    let tally = fixture("tally").display().to_string();
    // The unit case comes first and names no plugin: the dependency still
    // goes in before the plugin under test, from the folder another case
    // names; the integration case then finds it there already.
    let dir = notes_needing_tally(&format!(
        "[[case]]\nname = \"lists notes\"\ncommand = \"notes\"\n\n\
         [[case]]\nname = \"a note is announced\"\nkind = \"integration\"\nplugins = [{tally:?}]\n\
         command = \"note\"\nargs = {{ text = [\"hello\"] }}\npublishes = [\"notes.added\"]\n\n\
         [[case]]\nname = \"tally heard it\"\nkind = \"integration\"\ncommand = \"note-stats\"\n\
         contains = \"\\\"notes\\\": 1\"\n"
    ));
    let (_scratch, mut harness, report) = run_declared(dir.path()).await;
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.results.len(), 3, "{}", report.to_text());
    let tally_id = "tally".parse().expect("id");
    harness.framework().get(&tally_id).expect("tally installed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_no_case_provides_is_named_with_the_fix() {
    let dir = notes_needing_tally("[[case]]\nname = \"lists notes\"\ncommand = \"notes\"\n");
    let (_scratch, _harness, report) = run_declared(dir.path()).await;
    let result = report
        .results
        .iter()
        .find(|r| r.name == "lists notes")
        .unwrap_or_else(|| panic!("no case: {}", report.to_text()));
    match &result.outcome {
        Outcome::Failed(reason) => {
            assert!(
                reason.contains("`notes` depends on `tally` ^0.1"),
                "{reason}"
            );
            assert!(reason.contains("`plugins = [...]`"), "{reason}");
        }
        other @ (Outcome::Passed | Outcome::Skipped(_)) => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_cases_withhold_each_permission_and_stay_contained() {
    // notes requests three permissions; every declared case runs again
    // without each, and the host must refuse only the one withheld.
    let dir = with_cases(
        "notes",
        "[[case]]\nname = \"adds a note\"\ncommand = \"note\"\nargs = { text = [\"x\"] }\n\
         contains = \"noted\"\n",
    );
    let scratch = tempfile::tempdir().expect("scratch");
    let mut harness = Harness::open(dir.path(), scratch.path()).expect("opens");
    let report = harness.run(&HarnessOptions::default()).await.expect("runs");
    assert!(report.passed(), "{}", report.to_text());
    let withheld: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.suite == Suite::Security && r.name.contains(" without "))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(withheld.len(), 3, "{withheld:?}");
    assert!(
        report.results.iter().any(|r| r.suite == Suite::Property),
        "{}",
        report.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_performance_budget_too_tight_fails_with_the_measurement() {
    let dir = with_cases(
        "hello",
        "[[case]]\nname = \"fits in no memory\"\nkind = \"performance\"\ncommand = \"hello\"\n\
         iterations = 3\nbudget-mib = 0\n",
    );
    let (_scratch, _harness, report) = run_declared(dir.path()).await;
    let result = &report.results[0];
    let perf = result.perf.as_ref().expect("measured");
    assert_eq!(perf.iterations, 3);
    assert!(perf.peak_mib > 0.0);
    match &result.outcome {
        Outcome::Failed(reason) => assert!(reason.contains("over the 0 MiB budget"), "{reason}"),
        other @ (Outcome::Passed | Outcome::Skipped(_)) => panic!("{other:?}"),
    }
    assert!(
        report.to_text().contains("performance        calls"),
        "{}",
        report.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_case_shows_what_the_plugin_wrote_before_it_failed() {
    // One case the plugin fails by returning an error, one by trapping:
    // both reports end with its log record and its diagnostic, the panic's
    // report only once (in the reason).
    let dir = with_cases(
        "hostile/failing",
        "[[case]]\nname = \"politely\"\ncommand = \"failing-politely\"\nstdout = \"done\\n\"\n\n\
         [[case]]\nname = \"trapping\"\ncommand = \"failing\"\nstdout = \"done\\n\"\n",
    );
    let (_scratch, _harness, report) = run_declared(dir.path()).await;
    assert_eq!(report.results.len(), 2, "{}", report.to_text());
    for result in &report.results {
        let Outcome::Failed(reason) = &result.outcome else {
            panic!("{} passed: {}", result.name, report.to_text());
        };
        let wrote = reason
            .split_once("\n      it wrote (last lines):\n")
            .map(|(_, lines)| lines);
        assert_eq!(
            wrote,
            Some("        log warn: about to fail\n        stderr: diagnostic: no mirror answered"),
            "{}: {reason}",
            result.name
        );
        assert_eq!(
            reason.matches("failing on purpose").count(),
            usize::from(result.name == "trapping"),
            "{reason}"
        );
    }
    assert!(
        report
            .to_text()
            .contains("FAIL  unit        politely\n      "),
        "{}",
        report.to_text()
    );
}
