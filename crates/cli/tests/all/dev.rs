//! `lord dev`: build a plugin from source and swap it in.

use crate::support::{Lord, fixture};

#[test]
fn dev_builds_installs_and_then_swaps_a_new_build() {
    let lord = Lord::new();
    let dir = fixture("hello");
    let first = lord.run(&["dev", dir.to_str().expect("utf-8"), "--once"]);
    first
        .assert_ok()
        .assert_stderr_contains("built and installed hello in");
    lord.assert_hello_works();
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
