//! `lord dev`: build a plugin from source and swap it in; the first install
//! and a build that asks for more are consented to like any install.

use crate::support::{Lord, fixture};

#[test]
fn dev_builds_installs_and_then_swaps_a_new_build() {
    let lord = Lord::new();
    let dir = fixture("hello");
    let first = lord.run(&["dev", dir.to_str().expect("utf-8"), "--once", "--yes"]);
    first
        .assert_ok()
        .assert_stderr_contains("built and installed hello in");
    lord.assert_hello_works();
    // The same permissions again: swapped in without a question.
    let second = lord.run(&["dev", dir.to_str().expect("utf-8"), "--once"]);
    second
        .assert_ok()
        .assert_stderr_contains("rebuilt and swapped hello in");
    lord.assert_hello_works();
    let info = lord.info("hello");
    assert_eq!(info["state"], "enabled");
    let history = info["history"].as_array().expect("history");
    assert!(
        history.iter().any(|e| e["action"] == "replaced"),
        "{history:?}"
    );
    assert_eq!(lord.list().len(), 1);
}

/// A copy of the built `hello` fixture (no `Cargo.toml`, so `lord dev`
/// takes it as built) whose manifest requests `permissions`.
fn hello_requesting(dir: &std::path::Path, permissions: &str) {
    let source = fixture("hello");
    for file in ["plugin.wasm", "plugin.toml"] {
        std::fs::copy(source.join(file), dir.join(file)).expect("copy hello");
    }
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
    assert!(manifest.contains("request = []"), "{manifest}");
    let manifest = manifest.replace("request = []", &format!("request = [{permissions}]"));
    std::fs::write(dir.join("plugin.toml"), manifest).expect("manifest");
}

#[test]
fn dev_without_a_terminal_or_yes_grants_nothing_new() {
    let lord = Lord::new();
    let plugin = tempfile::tempdir().expect("plugin folder");
    let path = plugin.path().to_str().expect("utf-8");
    hello_requesting(plugin.path(), "");

    // The first install asks, as `lord plugin install` does.
    let refused = lord.run(&["dev", path, "--once"]);
    assert_ne!(refused.code(), Some(0), "installed without consent");
    refused.assert_stderr_contains("--yes");
    assert!(lord.list().is_empty());
    lord.run(&["dev", path, "--once", "--yes"]).assert_ok();

    // A build that asks for more is refused and the last one stays.
    hello_requesting(plugin.path(), "\"net(api.example.com)\"");
    let refused = lord.run(&["dev", path, "--once"]);
    assert_ne!(refused.code(), Some(0), "widened without consent");
    refused
        .assert_stderr_contains("+ net(api.example.com)")
        .assert_stderr_contains("not swapping in the new build of `hello`")
        .assert_stderr_contains("--yes");
    let info = lord.info("hello");
    assert_eq!(info["permissions_granted"], serde_json::json!([]));
    assert_eq!(info["permissions_requested"], serde_json::json!([]));
    lord.assert_hello_works();

    // With --yes it is granted and swapped in.
    lord.run(&["dev", path, "--once", "--yes"])
        .assert_ok()
        .assert_stderr_contains("rebuilt and swapped hello in");
    let info = lord.info("hello");
    assert_eq!(
        info["permissions_granted"],
        serde_json::json!(["net(api.example.com)"])
    );
}

/// A JavaScript project made by `lord pdk new`: `lord dev` builds it with
/// the npm toolchain as `lord pdk build` would, and an edit to its source
/// is rebuilt, not the old component swapped in again.
#[test]
fn dev_rebuilds_a_javascript_project_from_its_edited_source() {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    let dir = work.path().join("jsdev");
    let dir_str = crate::pdk::path(&dir);
    crate::pdk::pdk(
        &lord,
        &["new", "jsdev", "--lang", "javascript", "--dir", dir_str],
    )
    .assert_ok();
    let dev = |extra: &[&str]| {
        let mut args = vec!["dev", dir_str, "--once"];
        args.extend_from_slice(extra);
        let mut cmd = lord.command(&args);
        let target = crate::support::repo().join("target");
        cmd.env("LORD_PDK_TOOLS", target.join("pdk-tools"));
        lord.run_cmd(&mut cmd)
    };
    dev(&["--yes"])
        .assert_ok()
        .assert_stderr_contains("built and installed jsdev in");
    let run = lord.run(&["jsdev", "World"]);
    run.assert_ok();
    assert_eq!(run.stdout(), "Hello, World!\n");

    let source = dir.join("src/plugin.js");
    let text = std::fs::read_to_string(&source).expect("source");
    assert!(text.contains("`Hello, ${name}!\\n`"), "{text}");
    std::fs::write(&source, text.replace("`Hello, ", "`Howdy, ")).expect("edit");
    dev(&[])
        .assert_ok()
        .assert_stderr_contains("rebuilt and swapped jsdev in");
    let run = lord.run(&["jsdev", "World"]);
    run.assert_ok();
    assert_eq!(run.stdout(), "Howdy, World!\n");
}
