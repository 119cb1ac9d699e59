//! The result cache of `pure` commands: a hit runs no plugin code (the
//! `napper` fixture's `tick` counts its real runs in its data, so a cached
//! answer repeats the count, and no instance is made: its `on-load` hook
//! does not run), answers persist on disk for the next process, and an
//! update, a rollback and a configuration change each make the next call
//! run the plugin again.

use lord_host::lord_perf::Report;
use lord_host::{Framework, HostConfig};
use lord_manifest::PluginId;

use crate::{arg, fixture, runtime, setup};

fn tick(framework: &mut Framework, label: &str) -> String {
    runtime()
        .block_on(framework.run_command("tick", arg("label", label)))
        .expect("tick runs")
        .text
}

fn calls(report: &Report, entry: &str) -> u64 {
    report
        .entries
        .iter()
        .find(|e| e.entry == entry)
        .map_or(0, |e| e.calls)
}

/// The napper fixture with `from` in its manifest replaced by `to`.
fn napper_with(from: &str, to: &str) -> tempfile::TempDir {
    let src = fixture("napper");
    let dir = tempfile::tempdir().expect("variant dir");
    std::fs::copy(src.join("plugin.wasm"), dir.path().join("plugin.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(dir.path().join("plugin.toml"), manifest.replace(from, to))
        .expect("write manifest");
    dir
}

/// The napper fixture with its version changed: an update.
fn napper_at(version: &str) -> tempfile::TempDir {
    napper_with("version = \"0.1.0\"", &format!("version = \"{version}\""))
}

#[test]
fn a_cache_hit_runs_no_plugin_code_until_an_update_rollback_or_reconfiguration() {
    let mut s = setup(&["napper"]);
    let id = PluginId::new("napper").expect("id");
    assert_eq!(tick(&mut s.framework, "a"), "run 1 label=a word=\n");
    let loads = calls(
        &s.framework.perf_report(Some(&id)).expect("report"),
        "hook:on-load",
    );

    // The same input again: answered from the cache. The count did not
    // move, so no guest code ran, and no instance was made for it.
    assert_eq!(tick(&mut s.framework, "a"), "run 1 label=a word=\n");
    let report = s.framework.perf_report(Some(&id)).expect("report");
    assert_eq!(
        calls(&report, "hook:on-load"),
        loads,
        "an instance was made"
    );
    let entry = report
        .entries
        .iter()
        .find(|e| e.entry == "command:tick")
        .expect("tick");
    assert_eq!(
        (entry.calls, entry.cache_hits, entry.cache_misses),
        (1, 1, 1)
    );
    // Another input is another answer.
    assert_eq!(tick(&mut s.framework, "b"), "run 2 label=b word=\n");

    // Another process finds the answer on disk.
    let home = s.home().to_path_buf();
    let project = s.project().to_path_buf();
    let mut other = Framework::open(HostConfig::new(home.clone(), project.clone())).expect("opens");
    assert_eq!(tick(&mut other, "a"), "run 1 label=a word=\n");
    drop(other);

    // An update forgets the plugin's answers.
    let update = napper_at("0.1.1");
    let plan = s.framework.plan_replace(update.path()).expect("plan");
    runtime()
        .block_on(s.framework.install(plan))
        .expect("update");
    assert_eq!(tick(&mut s.framework, "a"), "run 3 label=a word=\n");
    assert_eq!(tick(&mut s.framework, "a"), "run 3 label=a word=\n");

    // So does a rollback.
    runtime()
        .block_on(s.framework.rollback(&id))
        .expect("rollback");
    assert_eq!(tick(&mut s.framework, "a"), "run 4 label=a word=\n");
    assert_eq!(tick(&mut s.framework, "a"), "run 4 label=a word=\n");

    // A process configured differently misses, and runs the plugin.
    let mut configured = Framework::open(HostConfig::new(home, project)).expect("opens");
    configured.configure(None, vec!["plugins.napper.word=\"hi\"".to_owned()]);
    assert_eq!(tick(&mut configured, "a"), "run 5 label=a word=hi\n");
    assert_eq!(tick(&mut configured, "a"), "run 5 label=a word=hi\n");

    // `lord cache clear` forgets everything.
    assert!(configured.clear_results().expect("clear") > 0);
    assert_eq!(tick(&mut configured, "a"), "run 6 label=a word=hi\n");

    // A disabled plugin answers nothing, cached or not.
    runtime()
        .block_on(configured.disable(&id))
        .expect("disable");
    let refused = runtime()
        .block_on(configured.run_command("tick", arg("label", "a")))
        .expect_err("a disabled plugin answered from the cache");
    assert!(refused.to_string().contains("disabled"), "{refused}");
}

#[test]
fn a_pure_micro_handler_is_answered_from_the_cache() {
    use lord_host::lord_micro::CallContext;
    use serde_json::json;

    let s = setup(&["napper"]);
    let manager = s.framework.micro_manager().expect("manager");
    let rt = runtime();
    let id: lord_manifest::MicroId = "napper.count".parse().expect("id");
    let run = |input: serde_json::Value| {
        rt.block_on(manager.execute(&id, input, &CallContext::default()))
            .expect("runs")
    };
    assert_eq!(run(json!("x")), json!({ "input": "x", "runs": 1 }));
    // The same input: no guest code ran, the count repeats.
    assert_eq!(run(json!("x")), json!({ "input": "x", "runs": 1 }));
    assert_eq!(run(json!("y")), json!({ "input": "y", "runs": 2 }));
    let napper = PluginId::new("napper").expect("id");
    let report = s.framework.perf_report(Some(&napper)).expect("report");
    let entry = report
        .entries
        .iter()
        .find(|e| e.entry == "micro:napper.count")
        .expect("micro entry");
    assert_eq!(
        (entry.calls, entry.cache_hits, entry.cache_misses),
        (2, 1, 2)
    );
    assert_eq!(entry.cache_hit_rate, Some(1.0 / 3.0));
}

/// The napper fixture granted `fs-read($PROJECT)`: its answers may depend
/// on the project a command runs in.
fn napper_reading_the_project() -> tempfile::TempDir {
    napper_with("request = []", "request = [\"fs-read($PROJECT)\"]")
}

#[test]
fn a_pure_answer_is_not_shared_between_projects() {
    let home = tempfile::tempdir().expect("home");
    let first = tempfile::tempdir().expect("project");
    let second = tempfile::tempdir().expect("project");
    for project in [&first, &second] {
        std::fs::create_dir(project.path().join(".git")).expect("marker");
    }
    let open = |project: &tempfile::TempDir| {
        Framework::open(HostConfig::new(
            home.path().to_path_buf(),
            project.path().to_path_buf(),
        ))
        .expect("framework opens")
    };
    let mut framework = open(&first);
    let variant = napper_reading_the_project();
    runtime()
        .block_on(framework.register(variant.path(), |_| true))
        .expect("installs");
    assert_eq!(tick(&mut framework, "a"), "run 1 label=a word=\n");
    assert_eq!(tick(&mut framework, "a"), "run 1 label=a word=\n");
    drop(framework);

    // The same command and input in another project runs the plugin.
    let mut elsewhere = open(&second);
    assert_eq!(tick(&mut elsewhere, "a"), "run 2 label=a word=\n");
    assert_eq!(tick(&mut elsewhere, "a"), "run 2 label=a word=\n");
    drop(elsewhere);

    // Back in the first project, its own answer is still there.
    let mut back = open(&first);
    assert_eq!(tick(&mut back, "a"), "run 1 label=a word=\n");
}
