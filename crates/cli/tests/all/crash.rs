//! Kill the install at every step, the way `kill -9` or a power cut would
//! (the failpoint aborts the process: no unwinding, no flushing), and show
//! the store is always consistent afterwards: either as before, or fully
//! installed; and that the next install succeeds.

use std::os::unix::process::ExitStatusExt;

use sha2::{Digest, Sha256};

use crate::support::{Lord, fixture};

const STEPS: &[&str] = &[
    "install:staging",
    "install:staged",
    "install:moved",
    "install:before-commit",
    "install:committed",
];

/// Checks every recorded plugin has its files, with the recorded hash, and
/// that no staging debris survives the next write.
fn assert_consistent(lord: &Lord) -> Option<serde_json::Value> {
    let list = lord.list();
    assert!(list.len() <= 1, "{list:?}");
    let entry = list.into_iter().next();
    if let Some(plugin) = &entry {
        let sha = plugin["wasm_sha256"].as_str().expect("sha");
        let version_dirs: Vec<_> = std::fs::read_dir(lord.home.path().join("plugins/hello"))
            .expect("plugin folder exists")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(version_dirs.len(), 1, "{version_dirs:?}");
        let bytes = std::fs::read(version_dirs[0].join("plugin.wasm")).expect("component");
        assert_eq!(hex(&Sha256::digest(&bytes)), sha);
        assert!(version_dirs[0].join("plugin.toml").is_file());
    }
    entry
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn killing_the_install_at_any_step_leaves_the_old_state_or_the_new_one() {
    for step in STEPS {
        let lord = Lord::new();
        let mut cmd = lord.command(&[
            "plugin",
            "install",
            fixture("hello").to_str().expect("utf-8"),
            "--yes",
        ]);
        cmd.env("LORD_FAILPOINT", step);
        let run = lord.run_cmd(&mut cmd);
        assert_eq!(
            run.output.status.signal(),
            Some(6),
            "{step}: the failpoint did not fire: {}",
            run.stderr()
        );

        match assert_consistent(&lord) {
            None => {
                assert!(
                    !step.ends_with("committed") || step.contains("before"),
                    "{step}: the commit happened, the plugin must be there"
                );
                // As before: the next install cleans up and succeeds.
                lord.install("hello");
            }
            Some(plugin) => {
                assert_eq!(*step, "install:committed", "visible before commit");
                // Fully installed; the enable step had not run yet.
                assert_eq!(plugin["state"], "installed");
                lord.run(&["plugin", "enable", "hello"]).assert_ok();
            }
        }
        lord.assert_hello_works();
        assert!(assert_consistent(&lord).is_some());
        let staging = lord.home.path().join("staging");
        let debris: Vec<_> = std::fs::read_dir(&staging)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(debris.is_empty(), "{step}: staging debris left: {debris:?}");
    }
}

#[test]
fn concurrent_installs_of_the_same_plugin_leave_exactly_one() {
    let lord = Lord::new();
    let path = fixture("hello");
    let children: Vec<_> = (0..4)
        .map(|_| {
            lord.command(&["plugin", "install", path.to_str().expect("utf-8"), "--yes"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let ok = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one install wins");
    for loser in outcomes.iter().filter(|o| !o.status.success()) {
        let stderr = String::from_utf8_lossy(&loser.stderr);
        assert!(stderr.contains("already installed"), "{stderr}");
    }
    assert!(assert_consistent(&lord).is_some());
    lord.assert_hello_works();
}

#[test]
fn killing_a_removal_after_its_commit_leaves_it_removed_and_the_files_are_swept_later() {
    let lord = Lord::new();
    lord.install("hello");
    let mut cmd = lord.command(&["plugin", "remove", "hello"]);
    cmd.env("LORD_FAILPOINT", "remove:committed");
    let run = lord.run_cmd(&mut cmd);
    assert_eq!(run.output.status.signal(), Some(6), "{}", run.stderr());
    assert!(lord.list().is_empty(), "the removal was committed");
    // The next writer sweeps the orphaned files and installs cleanly.
    lord.install("hello");
    assert!(assert_consistent(&lord).is_some());
    lord.assert_hello_works();
}
