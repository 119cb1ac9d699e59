//! A command that only reads makes no `fsync`: its bookkeeping (events,
//! telemetry) is committed without a sync and checkpointed in batches,
//! while installs keep full durability. And a command that makes files
//! (`lord pdk new`) syncs each before the rename that shows them. Counted with `strace -c`, the
//! kernel's own view (`.ci/run` installs strace; without it the test says
//! it skips).

use std::process::Command;

use crate::support::{Lord, fixture};

/// How many `fsync`/`fdatasync` calls `lord args…` made, or `None` when
/// strace cannot run here.
fn syncs(lord: &Lord, args: &[&str]) -> Option<usize> {
    let log = tempfile::NamedTempFile::new().expect("strace log");
    let inner = lord.command(args);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(log.path())
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(lord.project.path())
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    let out = cmd.output().ok()?;
    assert!(
        out.status.success(),
        "lord {args:?} failed under strace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(log.path()).ok()?;
    // `strace -c` prints a table whose rows end in the syscall's name; no
    // row means no call.
    Some(
        summary
            .lines()
            .filter(|l| l.ends_with(" fsync") || l.ends_with(" fdatasync"))
            .filter_map(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
            .sum(),
    )
}

/// A test that needs strace, where it cannot run: skipped with a word,
/// except in CI, which installs strace (`.ci/run`), where it fails.
fn skipped_without_strace() {
    // (The rule against reading the environment is for the CLI's own
    // code; a test harness asks whether it runs in CI.)
    #[allow(clippy::disallowed_methods)]
    let in_ci = std::env::var_os("CI").is_some();
    assert!(!in_ci, "strace is not available, and CI must count syncs");
    eprintln!("skipped: strace is not available here");
}

#[test]
fn a_command_that_only_reads_makes_no_fsync() {
    let lord = Lord::new();
    let Some(install) = syncs(
        &lord,
        &[
            "plugin",
            "install",
            fixture("hello").to_str().expect("utf-8"),
            "--yes",
        ],
    ) else {
        return skipped_without_strace();
    };
    // The counter sees syncs where there are some: an install is durable.
    assert!(install > 0, "an install made no fsync: the count is broken");
    lord.install("notes");
    lord.install("tally");
    // The first run of a plugin writes its compiled code to the cache
    // (durably, by rename); what follows only reads.
    lord.run(&["hello", "World"]).assert_ok();
    lord.run(&["notes"]).assert_ok();
    for args in [
        &["hello", "World"][..],
        &["notes"],
        &["tally"],
        &["plugin", "list"],
        &["plugin", "info", "hello"],
        &["--help"],
    ] {
        assert_eq!(
            syncs(&lord, args),
            Some(0),
            "`lord {}` synced",
            args.join(" ")
        );
    }
}

/// What `lord args…` synced, renamed and removed, in order, as strace saw
/// it: `("sync", path)` for each `fsync`/`fdatasync`, `("rename", to)` for
/// each rename and `("rmdir", path)`; `None` when strace cannot run here.
fn syncs_and_renames(lord: &Lord, args: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let log = tempfile::NamedTempFile::new().expect("strace log");
    let inner = lord.command(args);
    let out = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,rmdir,unlinkat",
            "-o",
        ])
        .arg(log.path())
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(lord.project.path())
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "lord {args:?} failed under strace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(log.path()).ok()?;
    // `PID fsync(3</the/path>) = 0`; with several threads strace may split
    // a call into `… <unfinished ...>` and a `resumed` line, so the path is
    // read from the call's own line. A sync that failed would have failed
    // the command, which is asserted above.
    let mut seen = Vec::new();
    for line in trace.lines() {
        if line.contains("sync(") {
            if let Some(path) = line.split_once('<').and_then(|(_, r)| r.split_once('>')) {
                seen.push(("sync", path.0.to_owned()));
            }
        } else if (line.contains("rmdir(") || line.contains("AT_REMOVEDIR")) && line.contains('"') {
            if let Some(path) = line.split('"').nth(1) {
                seen.push(("rmdir", path.to_owned()));
            }
        } else if line.contains("rename") && line.contains('"') {
            // The destination is the call's last quoted name.
            let quoted: Vec<&str> = line.split('"').collect();
            if quoted.len() >= 4 {
                seen.push(("rename", quoted[quoted.len() - 2].to_owned()));
            }
        }
    }
    Some(seen)
}

/// The other side: `lord pdk new` makes a project in a scratch folder
/// beside its destination, here an empty folder the user made, and shows
/// it with one rename. Every file and folder of it is synced in the
/// scratch folder before that rename, so a power cut cannot leave a
/// project whose files are empty, and a failed sync leaves the user's
/// folder as it was.
#[test]
fn a_new_project_is_synced_before_it_is_moved_into_place() {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    let dir = work.path().join("synced");
    std::fs::create_dir(&dir).expect("the user's empty folder");
    let Some(seen) = syncs_and_renames(
        &lord,
        &[
            "pdk",
            "new",
            "synced",
            "--lang",
            "rust",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
    ) else {
        return skipped_without_strace();
    };
    // The user's folder is replaced by the rename itself, never removed
    // first: had anything failed before the rename, it would still be
    // there.
    let user_folder = dir.display().to_string();
    assert!(
        !seen
            .iter()
            .any(|(call, p)| *call == "rmdir" && *p == user_folder),
        "the user's folder was removed before the project replaced it"
    );
    // What was synced under the scratch folder before the rename that
    // moved it to `dir`, relative to it ("" for the folder itself).
    let shown = seen
        .iter()
        .position(|(call, to)| *call == "rename" && to.ends_with("/synced"))
        .expect("the project was renamed into place");
    let scratch = format!("{}/.lord-new-", work.path().display());
    let in_scratch: std::collections::BTreeSet<String> = seen[..shown]
        .iter()
        .filter(|(call, _)| *call == "sync")
        .filter_map(|(_, p)| p.strip_prefix(&scratch))
        .map(|rest| rest.split_once('/').map_or("", |(_, r)| r).to_owned())
        .collect();
    let mut made = vec![String::new()];
    let mut pending = vec![dir.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read").flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(&dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            if entry.file_type().expect("type").is_dir() {
                pending.push(path);
            }
            made.push(relative);
        }
    }
    assert!(made.len() > 2, "the project holds {made:?}");
    let unsynced: Vec<&String> = made.iter().filter(|m| !in_scratch.contains(*m)).collect();
    assert!(
        unsynced.is_empty(),
        "not synced before the rename: {unsynced:?}"
    );
    // And the folder it was moved into, after.
    let parent = work.path().display().to_string();
    assert!(
        seen[shown..]
            .iter()
            .any(|(call, p)| *call == "sync" && *p == parent),
        "{seen:?}"
    );
}
