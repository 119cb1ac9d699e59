//! The `git` plugin end to end, on real repositories made here: a bare
//! remote on disk to clone from, commits on both sides for ahead and
//! behind, branches, and failures that name the git command.

use std::path::Path;
use std::process::Command;

use crate::support::{Lord, Run};

/// The test's own git, with no configuration of the machine's.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Remote")
        .env("GIT_AUTHOR_EMAIL", "remote@example.invalid")
        .env("GIT_COMMITTER_NAME", "Remote")
        .env("GIT_COMMITTER_EMAIL", "remote@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `lord ARGS` in `dir`, with an identity for commits.
fn lord_in(lord: &Lord, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = lord.command(args);
    cmd.current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.invalid")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.invalid");
    lord.run_cmd(&mut cmd)
}

fn json(run: &Run) -> serde_json::Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

/// A bare remote with one commit on `main`, inside the project folder.
fn remote(lord: &Lord) {
    let root = lord.project.path();
    git(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    git(root, &["clone", "-q", "remote.git", "seed"]);
    let seed = root.join("seed");
    std::fs::write(seed.join("README.md"), "hello\n").expect("write");
    git(&seed, &["add", "README.md"]);
    git(&seed, &["commit", "-q", "-m", "first"]);
    git(&seed, &["push", "-q", "origin", "main"]);
}

#[test]
fn clone_status_ahead_behind_commit_log_and_branches() {
    let lord = Lord::new();
    lord.install("git");
    remote(&lord);
    let root = lord.project.path();
    lord_in(&lord, root, &["git", "clone", "remote.git", "work"]).assert_ok();
    let work = root.join("work");
    assert!(work.join("README.md").is_file(), "the clone has the file");

    let status = json(&lord_in(&lord, &work, &["git", "status", "--json"]));
    assert_eq!(status["branch"], "main");
    assert_eq!(status["upstream"], "origin/main");
    assert_eq!(status["clean"], true);
    assert_eq!(
        lord_in(&lord, &work, &["git", "is-clean"]).stdout(),
        "true\n"
    );

    // Staged, unstaged and untracked, each seen.
    std::fs::write(work.join("README.md"), "hello again\n").expect("write");
    std::fs::write(work.join("new.txt"), "new\n").expect("write");
    std::fs::write(work.join("loose.txt"), "loose\n").expect("write");
    lord_in(&lord, &work, &["git", "add", "new.txt"]).assert_ok();
    let status = json(&lord_in(&lord, &work, &["git", "status", "--json"]));
    assert_eq!(status["staged"][0]["path"], "new.txt");
    assert_eq!(status["unstaged"][0]["path"], "README.md");
    assert_eq!(status["untracked"][0], "loose.txt");
    assert_eq!(status["clean"], false);
    let diff = lord_in(&lord, &work, &["git", "diff"]);
    diff.assert_ok();
    assert!(diff.stdout().contains("+hello again"), "{}", diff.stdout());

    // A commit of our own: one ahead.
    let commit = json(&lord_in(
        &lord,
        &work,
        &["git", "commit", "-m", "second", "--all", "--json"],
    ));
    let id = commit["commit"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 40);
    assert_eq!(
        lord_in(&lord, &work, &["git", "current-commit"])
            .stdout()
            .trim(),
        id
    );
    let log = json(&lord_in(&lord, &work, &["git", "log", "-n", "5", "--json"]));
    assert_eq!(log[0]["subject"], "second");
    assert_eq!(log[0]["author"], "Ada");
    assert_eq!(log[1]["subject"], "first");

    // One commit on the remote, fetched by the test's own git: one behind.
    let seed = root.join("seed");
    std::fs::write(seed.join("other.txt"), "other\n").expect("write");
    git(&seed, &["add", "other.txt"]);
    git(&seed, &["commit", "-q", "-m", "remote side"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    git(&work, &["fetch", "-q"]);
    let status = json(&lord_in(&lord, &work, &["git", "status", "--json"]));
    assert_eq!(
        (status["ahead"].as_u64(), status["behind"].as_u64()),
        (Some(1), Some(1))
    );

    // Branches: create, list, check out.
    lord_in(&lord, &work, &["git", "branch", "feature"]).assert_ok();
    let branches = json(&lord_in(&lord, &work, &["git", "branches", "--json"]));
    let names: Vec<&str> = branches
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, vec!["feature", "main"]);
    lord_in(&lord, &work, &["git", "checkout", "feature"]).assert_ok();
    let status = json(&lord_in(&lord, &work, &["git", "status", "--json"]));
    assert_eq!(status["branch"], "feature");
}

#[test]
fn init_then_a_failure_names_the_git_command_and_its_stderr() {
    let lord = Lord::new();
    lord.install("git");
    let root = lord.project.path();
    let run = lord_in(&lord, root, &["git", "init"]);
    run.assert_ok();
    assert!(root.join(".git").is_dir());
    let run = lord_in(&lord, root, &["git", "checkout", "nowhere"]);
    run.assert_code(3)
        .assert_stderr_contains("`git checkout --quiet nowhere` failed (exit 1)")
        .assert_stderr_contains("did not match any file(s) known to git");
    let run = lord_in(&lord, root, &["git", "current-commit"]);
    run.assert_code(3)
        .assert_stderr_contains("`git rev-parse --verify HEAD` failed");
}

#[test]
fn the_git_plugin_passes_its_own_cases() {
    let lord = Lord::new();
    let dir = crate::support::fixture("git");
    let run = lord.run(&["pdk", "test", dir.to_str().expect("utf-8")]);
    run.assert_ok();
}
