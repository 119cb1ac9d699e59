//! `lord:plugin/exec` against hostile plugins: `execgit` holds `exec(git)`
//! and its project, and tries each way it knows to make git run another
//! program or work outside the project; `execsh` holds `exec(sh)` and
//! leaves children behind at its deadline or floods its output. Every test
//! runs the real `lord`, real git and real processes; a trick that got
//! through would print `RAN`, or leave a marker file the test looks for.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{Lord, Run};

/// Real git, for the test's own set-up, with no configuration of the
/// machine's.
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// A lord with `execgit` installed and a repository as its project.
fn with_repo() -> Lord {
    let lord = Lord::new();
    lord.install("hostile/execgit");
    git(lord.project.path(), &["init", "-q"]);
    lord
}

/// A `lord` command with an identity for git's commits.
fn run(lord: &Lord, args: &[&str]) -> Run {
    let mut cmd = lord.command(args);
    // The plugin is granted these, so they must have values here for a
    // refusal to be git's rule at work rather than a variable lord lacks.
    cmd.env("GIT_DIR", "/nonexistent")
        .env("GIT_SSH_COMMAND", "false")
        .env("LD_PRELOAD", "")
        .env("GIT_AUTHOR_NAME", "Plugin")
        .env("GIT_AUTHOR_EMAIL", "plugin@example.invalid")
        .env("GIT_COMMITTER_NAME", "Plugin")
        .env("GIT_COMMITTER_EMAIL", "plugin@example.invalid")
        .env("https_proxy", "")
        .env("LOCALDOMAIN", "");
    lord.run_cmd(&mut cmd)
}

/// Runs `args` and checks lord refused it, naming `needle`, and nothing ran.
/// Each refusal counts towards the plugin's breaker, so it is enabled
/// again after each (the breaker is not what these tests are about).
#[track_caller]
fn refused(lord: &Lord, args: &[&str], needle: &str) -> Run {
    let run = run(lord, args);
    run.assert_code(3).assert_stderr_contains(needle);
    assert!(!run.stdout().contains("RAN"), "{}", run.stdout());
    lord.run(&["plugin", "enable", "execgit"]);
    run
}

/// A folder outside the project and a marker file in it that a program
/// the plugin sneaked in would create.
fn marker() -> (tempfile::TempDir, PathBuf) {
    let outside = tempfile::tempdir().expect("tempdir");
    let marker = outside.path().join("pwned");
    (outside, marker)
}

#[test]
fn git_runs_in_the_project_with_the_grant() {
    let lord = with_repo();
    let run = run(&lord, &["execgit", "status", "--porcelain"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("RAN git (status Some(0))"),
        "{}",
        run.stdout()
    );
}

#[test]
fn the_install_prompt_names_the_file_and_the_users_authority() {
    let lord = Lord::new();
    let dir = crate::support::fixture("hostile/execgit");
    let run = lord.run(&["plugin", "install", dir.to_str().expect("utf-8")]);
    run.assert_code(2);
    let git = which_git();
    run.assert_stderr_contains(&format!("exec(git) runs {}", git.display()))
        .assert_stderr_contains("outside the sandbox with your own authority")
        .assert_stderr_contains("critical risk");
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test finds git the way lord does, from the PATH it hands lord"
)]
fn which_git() -> PathBuf {
    let path = std::env::var("PATH").expect("PATH");
    path.split(':')
        .map(|d| Path::new(d).join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH")
        .canonicalize()
        .expect("real path")
}

#[test]
fn another_program_is_refused_and_named() {
    let lord = with_repo();
    refused(
        &lord,
        &["execgit-program", "sh"],
        "the program `sh` is not granted",
    );
    // A path is not a program name either.
    refused(
        &lord,
        &["execgit-program", "/usr/bin/git"],
        "the program `/usr/bin/git` is not granted",
    );
}

#[test]
fn git_dash_c_folder_is_refused() {
    let (outside, _) = marker();
    let lord = with_repo();
    git(outside.path(), &["init", "-q"]);
    let path = outside.path().to_str().expect("utf-8");
    refused(
        &lord,
        &["execgit", "-C", path, "status"],
        "git's option `-C`",
    );
}

#[test]
fn git_dir_and_work_tree_are_refused() {
    let lord = with_repo();
    refused(
        &lord,
        &["execgit", "--git-dir=/tmp", "status"],
        "`--git-dir`",
    );
    refused(
        &lord,
        &["execgit", "--work-tree", "/", "status"],
        "`--work-tree`",
    );
    refused(&lord, &["execgit", "log", "--git-dir=/tmp"], "`--git-dir`");
}

#[test]
fn git_dash_c_config_is_refused_in_every_form() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let fsmonitor = format!("core.fsmonitor=touch {}", marker.display());
    refused(
        &lord,
        &["execgit", "-c", &fsmonitor, "status"],
        "git's option `-c`",
    );
    refused(
        &lord,
        &["execgit", "-c", "alias.st=!touch x", "st"],
        "git's option `-c`",
    );
    refused(
        &lord,
        &["execgit", "--config-env=core.pager=HOME", "log"],
        "`--config-env`",
    );
    refused(
        &lord,
        &["execgit", "clone", "-c", &fsmonitor, ".", "copy"],
        "`-c`",
    );
    refused(
        &lord,
        &["execgit", "clone", "--config", &fsmonitor, ".", "copy"],
        "`--config`",
    );
    assert!(!marker.exists(), "a configured program ran");
}

#[test]
fn git_exec_path_is_refused() {
    let lord = with_repo();
    refused(
        &lord,
        &["execgit", "--exec-path=/tmp", "status"],
        "`--exec-path`",
    );
}

#[test]
fn upload_pack_and_receive_pack_are_refused() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let touch = format!("--upload-pack=touch {}", marker.display());
    refused(&lord, &["execgit", "fetch", &touch, "."], "`--upload-pack`");
    refused(
        &lord,
        &["execgit", "clone", "-u", "touch x", ".", "copy"],
        "`-u`",
    );
    refused(
        &lord,
        &["execgit", "push", "--receive-pack=touch x", "."],
        "`--receive-pack`",
    );
    refused(
        &lord,
        &["execgit", "ls-remote", "--exec=touch x", "."],
        "`--exec`",
    );
    assert!(!marker.exists(), "git ran the upload-pack program");
}

#[test]
fn abbreviated_and_clustered_spellings_of_refused_options_are_refused() {
    // Each of these runs the program with git itself when the filter
    // compares only whole option names.
    let (_outside, marker) = marker();
    let lord = with_repo();
    let touch = format!("touch {};", marker.display());
    let upload_pa = format!("--upload-pa={touch}");
    refused(
        &lord,
        &["execgit", "ls-remote", &upload_pa, "."],
        "`--upload-pack`",
    );
    let attached = format!("-u{touch}");
    refused(
        &lord,
        &["execgit", "clone", &attached, "file:///project", "copy"],
        "`-u`",
    );
    refused(
        &lord,
        &["execgit", "clone", "-qu", &touch, ".", "copy"],
        "`-u`",
    );
    let smudge = format!("-cfilter.x.smudge={touch}");
    refused(&lord, &["execgit", "clone", &smudge, ".", "copy"], "`-c`");
    // And `diff -b` is a flag, so the path after it is checked, not
    // skipped as its value (git would compare the file outside).
    refused(
        &lord,
        &["execgit", "diff", "-b", "/etc/passwd", "x"],
        "outside the plugin's granted folders",
    );
    assert!(!marker.exists(), "git ran the program");
}

#[test]
fn ext_urls_and_other_remote_helpers_are_refused() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let url = format!("ext::sh -c touch% {}", marker.display());
    refused(&lord, &["execgit", "clone", &url, "copy"], "`ext::...`");
    refused(&lord, &["execgit", "fetch", "fd::3"], "`fd::...`");
    assert!(!marker.exists(), "git ran the ext:: command");
}

#[test]
fn ssh_remotes_and_ungranted_hosts_are_refused() {
    let lord = with_repo();
    refused(
        &lord,
        &["execgit", "clone", "git@example.com:x/y.git", "c"],
        "over ssh",
    );
    refused(
        &lord,
        &["execgit", "clone", "ssh://example.com/x", "c"],
        "`ssh` transport",
    );
    refused(
        &lord,
        &["execgit", "clone", "https://example.com/x", "c"],
        "net(example.com:443) for git",
    );
}

#[test]
fn paths_outside_the_project_are_refused() {
    let (outside, _) = marker();
    let lord = with_repo();
    git(outside.path(), &["init", "-q", "--bare", "remote.git"]);
    let remote = outside.path().join("remote.git");
    let remote = remote.to_str().expect("utf-8");
    refused(
        &lord,
        &["execgit", "clone", remote, "copy"],
        "outside the plugin's granted folders",
    );
    refused(
        &lord,
        &["execgit", "clone", ".", "../copy"],
        "outside the plugin's granted folders",
    );
    refused(
        &lord,
        &["execgit", "diff", "--no-index", "/etc/passwd", "x"],
        "`--no-index`",
    );
    refused(
        &lord,
        &["execgit", "init", "--template=/etc"],
        "`--template`",
    );
    refused(
        &lord,
        &["execgit", "init", "--separate-git-dir=/tmp/x"],
        "`--separate-git-dir`",
    );
    let file_url = format!("file://{remote}");
    refused(
        &lord,
        &["execgit", "clone", &file_url, "copy"],
        "outside the plugin's granted folders",
    );
}

#[test]
fn a_link_inside_the_project_does_not_lead_out() {
    let (outside, _) = marker();
    let lord = with_repo();
    git(outside.path(), &["init", "-q"]);
    std::os::unix::fs::symlink(outside.path(), lord.project.path().join("elsewhere"))
        .expect("symlink");
    refused(
        &lord,
        &["execgit", "clone", "elsewhere", "copy"],
        "through a link",
    );
}

#[test]
fn git_variables_and_the_loader_are_refused_even_when_granted() {
    let lord = with_repo();
    refused(
        &lord,
        &["execgit-env", "GIT_DIR", "/tmp"],
        "`GIT_DIR` for git",
    );
    refused(
        &lord,
        &["execgit-env", "GIT_SSH_COMMAND", "touch x"],
        "`GIT_SSH_COMMAND`",
    );
    refused(
        &lord,
        &["execgit-env", "LD_PRELOAD", "/tmp/x.so"],
        "`LD_PRELOAD`",
    );
    // A proxy it names would reach hosts no grant checks, and look names
    // up past the addresses lord checked.
    refused(
        &lord,
        &["execgit-env", "https_proxy", "http://127.0.0.1:6379"],
        "`https_proxy` set for git",
    );
    refused(
        &lord,
        &["execgit-env", "LOCALDOMAIN", "evil.example"],
        "`LOCALDOMAIN` set for git",
    );
    // And one the plugin holds no grant for at all.
    refused(
        &lord,
        &["execgit-env", "HOME", "/"],
        "the environment variable `HOME`",
    );
}

#[test]
fn an_alias_is_not_a_subcommand() {
    let lord = with_repo();
    refused(&lord, &["execgit", "st"], "the git subcommand `st`");
    refused(
        &lord,
        &["execgit", "config", "core.fsmonitor", "x"],
        "the git subcommand `config`",
    );
    refused(
        &lord,
        &["execgit", "help", "log"],
        "the git subcommand `help`",
    );
}

#[test]
fn a_planted_fsmonitor_in_the_repository_config_is_refused() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let target = marker.to_str().expect("utf-8");
    refused(
        &lord,
        &["execgit-plant", "fsmonitor", target],
        "sets `core.fsmonitor`",
    );
    assert!(!marker.exists(), "the planted fsmonitor ran");
}

/// Only git's own `--version` skips the repository's check: the word
/// ending another run is a path or a pattern, and that run reads the
/// configuration (here a clean filter, which `git add` runs).
#[test]
fn a_trailing_version_argument_skips_no_check() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let project = lord.project.path();
    std::fs::write(project.join("--version"), "x").expect("file");
    std::fs::write(project.join(".gitattributes"), "--version filter=evil\n").expect("attributes");
    let clean = format!("touch {}", marker.display());
    git(project, &["config", "filter.evil.clean", &clean]);
    refused(
        &lord,
        &["execgit", "add", "--", "--version"],
        "sets `filter.evil.clean`",
    );
    assert!(!marker.exists(), "the planted filter ran");
}

#[test]
fn a_planted_alias_include_or_worktree_is_refused() {
    let (outside, marker) = marker();
    let target = marker.to_str().expect("utf-8");
    let lord = with_repo();
    refused(
        &lord,
        &["execgit-plant", "alias", target],
        "the git subcommand `st`",
    );
    let lord = with_repo();
    let include = outside.path().join("included");
    std::fs::write(&include, "[core]\n\tfsmonitor = touch x\n").expect("write");
    refused(
        &lord,
        &["execgit-plant", "include", include.to_str().expect("utf-8")],
        "sets `include.path`",
    );
    let lord = with_repo();
    refused(
        &lord,
        &[
            "execgit-plant",
            "worktree",
            outside.path().to_str().expect("utf-8"),
        ],
        "sets `core.worktree`",
    );
    assert!(!marker.exists());
}

#[test]
fn a_planted_hook_never_runs() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let run = run(
        &lord,
        &["execgit-plant", "hook", marker.to_str().expect("utf-8")],
    );
    // The commit itself is the plugin's right; the hook is not.
    run.assert_ok();
    assert!(run.stdout().contains("planted"), "{}", run.stdout());
    assert!(!marker.exists(), "the planted pre-commit hook ran");
}

#[test]
fn a_git_file_pointing_out_of_the_project_is_refused() {
    let (outside, _) = marker();
    git(outside.path(), &["init", "-q"]);
    let lord = with_repo();
    let gitdir = outside.path().join(".git");
    refused(
        &lord,
        &["execgit-plant", "gitfile", gitdir.to_str().expect("utf-8")],
        "outside the plugin's folders",
    );
}

/// git runs the receiving half of a push to a local repository in that
/// repository, without lord's settings, so its hooks would run: a plugin
/// able to write the project can make one (`git add --chmod=+x`, a clone
/// into `hooks`), so the push is refused. The test makes the repository
/// and its hook itself, as such a plugin would.
#[test]
fn a_push_to_a_local_repository_never_runs_its_hooks() {
    let (_outside, marker) = marker();
    let lord = with_repo();
    let project = lord.project.path();
    std::fs::write(project.join("file.txt"), "x").expect("file");
    git(project, &["add", "file.txt"]);
    git(project, &["commit", "-q", "-m", "one"]);
    git(project, &["init", "-q", "--bare", "tgt"]);
    let hook = project.join("tgt/hooks/pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("hook");
    let mut mode = std::fs::metadata(&hook).expect("hook").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&hook, mode).expect("chmod");
    for target in ["tgt", ".", "file:///project/tgt", "file:///project/tg%74"] {
        refused(
            &lord,
            &["execgit", "push", target, "HEAD:refs/heads/x"],
            "git push to the local repository",
        );
    }
    // From a folder below the top: git reads a relative path from the top
    // of the work tree, where it has moved by then.
    std::fs::create_dir_all(project.join("sub")).expect("sub-folder");
    for target in ["tgt", "."] {
        refused(
            &lord,
            &[
                "execgit-in",
                "/project/sub",
                "push",
                target,
                "HEAD:refs/heads/x",
            ],
            "git push to the local repository",
        );
    }
    // Nor through a remote in the old `remotes/` form, which `git config`
    // does not list.
    std::fs::create_dir_all(project.join(".git/remotes")).expect("remotes");
    std::fs::write(project.join(".git/remotes/legacy"), "URL: /project/tgt\n").expect("remote");
    refused(
        &lord,
        &["execgit", "push", "legacy", "HEAD:refs/heads/x"],
        "remotes in `remotes/`",
    );
    std::fs::remove_dir_all(project.join(".git/remotes")).expect("remove");
    // Nor through a remote configured as a local path.
    git(project, &["remote", "add", "mirror", "tgt"]);
    refused(
        &lord,
        &["execgit", "push", "mirror", "HEAD:refs/heads/x"],
        "git push to the local repository",
    );
    refused(
        &lord,
        &["execgit", "push"],
        "git push to the local repository",
    );
    // Nor through a branch's push remote written as a path, which names
    // no configured remote.
    git(project, &["remote", "remove", "mirror"]);
    for branch in ["master", "main"] {
        git(
            project,
            &["config", &format!("branch.{branch}.pushremote"), "tgt"],
        );
    }
    refused(
        &lord,
        &["execgit", "push"],
        "git push to the local repository",
    );
    // Remote names are matched as git matches them, exactly: a push remote
    // `origin` beside a remote `Origin` is the path `./origin`.
    std::fs::rename(project.join("tgt"), project.join("origin")).expect("rename");
    git(project, &["remote", "add", "Origin", "none"]);
    for branch in ["master", "main"] {
        git(
            project,
            &["config", &format!("branch.{branch}.pushremote"), "origin"],
        );
    }
    refused(
        &lord,
        &["execgit", "push"],
        "git push to the local repository",
    );
    for branch in ["master", "main"] {
        git(
            project,
            &["config", "--unset", &format!("branch.{branch}.pushremote")],
        );
    }
    git(project, &["remote", "remove", "Origin"]);
    std::fs::rename(project.join("origin"), project.join("tgt")).expect("rename");
    assert!(!marker.exists(), "the other repository's hook ran");
    // Fetching from it runs no hook, and is the plugin's right.
    run(&lord, &["execgit", "fetch", "tgt"]).assert_ok();
}

/// A repository fetched or cloned from is checked as the working one is:
/// a `.git` file in it, or a relative remote, cannot lead git to a
/// repository outside the plugin's folders.
#[test]
fn a_local_repository_leading_out_of_the_project_is_not_read() {
    let (outside, _) = marker();
    git(outside.path(), &["init", "-q"]);
    let lord = with_repo();
    let project = lord.project.path();
    std::fs::create_dir_all(project.join("evil")).expect("folder");
    std::fs::write(
        project.join("evil/.git"),
        format!("gitdir: {}\n", outside.path().join(".git").display()),
    )
    .expect("git file");
    std::fs::create_dir_all(project.join("sub")).expect("sub-folder");
    for args in [
        &["execgit", "ls-remote", "evil"][..],
        &["execgit", "fetch", "evil"],
        &["execgit", "clone", "evil", "copy"],
        &["execgit", "clone", "-q", "file:///project/evil", "copy"],
        &["execgit", "clone", "-q", "file:///project/ev%69l", "copy"],
        &["execgit-in", "/project/sub", "ls-remote", "evil"],
    ] {
        refused(&lord, args, "outside the plugin's folders");
    }
    assert!(!project.join("copy").exists(), "the clone was made");
    // A remote configured with a path that climbs out of the project.
    let climb = format!(
        "{}/{}",
        "../".repeat(project.components().count()),
        outside.path().display()
    );
    git(project, &["remote", "add", "up", &climb]);
    refused(&lord, &["execgit", "fetch", "up"], "holding `..`");
}

#[test]
fn a_repository_above_the_project_is_not_found() {
    let lord = Lord::new();
    lord.install("hostile/execgit");
    // The repository is the folder holding the project, not the project.
    git(lord.project.path(), &["init", "-q"]);
    let inner = lord.project.path().join("inner");
    std::fs::create_dir(&inner).expect("mkdir");
    std::fs::write(inner.join("lord.toml"), "").expect("marker");
    let mut cmd = lord.command(&["execgit", "status"]);
    cmd.current_dir(&inner);
    let run = lord.run_cmd(&mut cmd);
    run.assert_ok();
    assert!(
        run.stdout().contains("not a git repository"),
        "{}",
        run.stdout()
    );
}

/// Processes whose command line is exactly `words`.
fn processes(words: &[&str]) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .collect();
        if args.len() == words.len() && args.iter().zip(words).all(|(a, w)| *a == w.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn children_are_killed_with_their_group_at_the_deadline() {
    let lord = Lord::new();
    lord.install("hostile/execsh");
    // A number no other process sleeps for, to find the children by.
    let marker = format!("{}.{}", 600 + std::process::id() % 1000, std::process::id());
    let run = lord.run(&["execsh-sleep", &marker]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its time limit of 1000 ms");
    assert!(!run.stdout().contains("SURVIVED"));
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    // The kill is sent before lord exits; give the kernel a moment to reap.
    let mut left = processes(&["sleep", &marker]);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = processes(&["sleep", &marker]);
    }
    assert!(left.is_empty(), "children outlived the deadline: {left:?}");
}

#[test]
fn a_captured_flood_is_cut_at_the_output_budget() {
    let lord = Lord::new();
    lord.install("hostile/execsh");
    let run = lord.run(&["execsh-flood", "capture"]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its output limit of 64 KiB");
    assert!(!run.stdout().contains("FLOOD"));
    assert!(processes(&["yes", "lord-flood"]).is_empty());
}

#[test]
fn a_streamed_flood_is_cut_at_the_output_budget() {
    let lord = Lord::new();
    lord.install("hostile/execsh");
    let run = lord.run(&["execsh-flood", "stream"]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its output limit of 64 KiB");
    assert!(
        run.output.stdout.len() < 64 * 1024 + 1024,
        "{}",
        run.output.stdout.len()
    );
}
