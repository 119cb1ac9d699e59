//! A command that only reads makes no `fsync`: its bookkeeping (events,
//! telemetry) is committed without a sync and checkpointed in batches,
//! while installs keep full durability. Counted with `strace -c`, the
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
        // CI installs strace (`.ci/run`): there, a missing one is a failure.
        // (The rule against reading the environment is for the CLI's own
        // code; a test harness asks whether it runs in CI.)
        #[allow(clippy::disallowed_methods)]
        let in_ci = std::env::var_os("CI").is_some();
        assert!(!in_ci, "strace is not available, and CI must count syncs");
        eprintln!("skipped: strace is not available here");
        return;
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
