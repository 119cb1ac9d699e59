//! The file an `exec(PROGRAM)` grant runs is fixed when it is granted:
//! resolved from the `PATH` lord had at install, shown in the prompt,
//! recorded with the grant and shown by `plugin info`, and run exactly at
//! every call whatever `PATH` says then. When that file goes, becomes a
//! folder or a link, or stops being executable, runs are refused saying to
//! grant it again, and `lord plugin regrant` records the file as it
//! resolves now. `benchexec` runs `git --version` through the interface.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::support::{Lord, Run};

#[expect(
    clippy::disallowed_methods,
    reason = "the test finds git the way lord does, from the PATH it hands lord"
)]
fn test_path() -> String {
    std::env::var("PATH").expect("PATH")
}

fn real_git() -> PathBuf {
    test_path()
        .split(':')
        .map(|d| Path::new(d).join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH")
        .canonicalize()
        .expect("real path")
}

/// `lord ARGS` with `path` as its whole `PATH`.
fn with_path(lord: &Lord, path: &str, args: &[&str]) -> Run {
    let mut cmd = lord.command(args);
    cmd.env("PATH", path);
    lord.run_cmd(&mut cmd)
}

/// A folder holding a copy of the real git: a program lord can be made
/// to grant and the test can then move, replace or lock.
fn own_git() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("git");
    std::fs::copy(real_git(), &copy).expect("copy git");
    (dir, copy)
}

fn recorded(lord: &Lord) -> serde_json::Value {
    lord.info("benchexec")["programs"].clone()
}

#[test]
fn the_file_recorded_at_install_is_shown_and_run_whatever_path_says_later() {
    let lord = Lord::new();
    let (bin, copy) = own_git();
    let path = format!("{}:{}", bin.path().display(), test_path());
    let dir = crate::support::fixture("benchexec");
    let install = with_path(
        &lord,
        &path,
        &["plugin", "install", dir.to_str().expect("utf-8"), "--yes"],
    );
    install
        .assert_ok()
        .assert_stderr_contains(&format!("exec(git) runs {}", copy.display()));
    assert_eq!(
        recorded(&lord),
        serde_json::json!([{ "name": "git", "path": copy.display().to_string() }])
    );
    let info = lord.run(&["plugin", "info", "benchexec"]);
    info.assert_ok();
    assert!(
        info.stdout().contains(&format!(
            "exec(git) runs {} (recorded when granted)",
            copy.display()
        )),
        "{}",
        info.stdout()
    );

    // A `git` first on PATH now is not what runs: no search at run time.
    let decoy = tempfile::tempdir().expect("tempdir");
    let marker = decoy.path().join("ran");
    let script = decoy.path().join("git");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {}\necho decoy\n", marker.display()),
    )
    .expect("decoy");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = with_path(
        &lord,
        &format!("{}:{}", decoy.path().display(), test_path()),
        &["benchexec-git"],
    );
    run.assert_ok();
    assert!(run.stdout().contains("git version"), "{}", run.stdout());
    assert!(!marker.exists(), "the git first on PATH at run time ran");
}

/// Runs the plugin and checks it was refused saying `what` and how to
/// grant the program again; the breaker is reset after.
#[track_caller]
fn refused(lord: &Lord, what: &str) {
    let run = lord.run(&["benchexec-git"]);
    run.assert_code(3)
        .assert_stderr_contains(what)
        .assert_stderr_contains("lord plugin regrant");
    assert!(!run.stdout().contains("git version"), "{}", run.stdout());
    lord.run(&["plugin", "enable", "benchexec"]);
}

#[test]
fn a_granted_file_gone_or_of_another_kind_is_refused_until_granted_again() {
    let lord = Lord::new();
    let (bin, copy) = own_git();
    let dir = crate::support::fixture("benchexec");
    with_path(
        &lord,
        &format!("{}:{}", bin.path().display(), test_path()),
        &["plugin", "install", dir.to_str().expect("utf-8"), "--yes"],
    )
    .assert_ok();
    lord.run(&["benchexec-git"]).assert_ok();

    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    refused(&lord, "which is no longer executable");

    std::fs::remove_file(&copy).expect("remove");
    refused(&lord, "which is gone");

    std::fs::create_dir(&copy).expect("a folder in its place");
    refused(&lord, "which is no longer a regular file");
    std::fs::remove_dir(&copy).expect("remove the folder");

    std::os::unix::fs::symlink(real_git(), &copy).expect("a link in its place");
    refused(&lord, "which is now a link");

    // Granted again from lord's PATH now: the real git, shown and recorded.
    let regrant = lord.run(&["plugin", "regrant", "benchexec"]);
    regrant
        .assert_code(2)
        .assert_stderr_contains(&format!("exec(git) runs {}", real_git().display()))
        .assert_stderr_contains("rerun with --yes");
    lord.run(&["plugin", "regrant", "benchexec", "--yes"])
        .assert_ok();
    assert_eq!(
        recorded(&lord),
        serde_json::json!([{ "name": "git", "path": real_git().display().to_string() }])
    );
    let run = lord.run(&["benchexec-git"]);
    run.assert_ok();
    assert!(run.stdout().contains("git version"), "{}", run.stdout());
    assert!(
        lord.info("benchexec")["history"]
            .to_string()
            .contains("programs granted")
    );
}

#[test]
fn a_program_not_found_at_install_is_refused_until_granted_again() {
    let lord = Lord::new();
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = crate::support::fixture("benchexec");
    with_path(
        &lord,
        &empty.path().display().to_string(),
        &["plugin", "install", dir.to_str().expect("utf-8"), "--yes"],
    )
    .assert_ok()
    .assert_stderr_contains("no `git` on your PATH");
    assert_eq!(
        recorded(&lord),
        serde_json::json!([{ "name": "git", "path": null }])
    );
    // Even with git on PATH now, nothing is searched for at run time.
    refused(&lord, "no file was recorded when `exec(git)` was granted");
    lord.run(&["plugin", "regrant", "benchexec", "--yes"])
        .assert_ok();
    lord.run(&["benchexec-git"]).assert_ok();
}
