//! Every hostile fixture, installed with `--yes` and run: each must end with
//! a non-zero exit and an error naming the limit or the refused access,
//! within twice its configured limit, and `lord hello World` must work right
//! after.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::Lord;

/// Installs hello and the hostile fixture, runs it, and checks the host
/// survived. Returns the hostile run.
fn run_hostile(name: &str, args: &[&str]) -> (Lord, crate::support::Run) {
    let lord = Lord::new();
    lord.install("hello");
    lord.install(&format!("hostile/{name}"));
    let mut argv = vec![name];
    argv.extend_from_slice(args);
    let run = lord.run(&argv);
    lord.assert_hello_works();
    (lord, run)
}

#[test]
fn an_endless_loop_is_stopped_at_its_time_limit() {
    let (_lord, run) = run_hostile("spin", &[]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its time limit of 300 ms");
    // Twice the limit, plus process start-up and loading.
    assert!(
        run.elapsed < Duration::from_millis(600 + 400),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn a_wait_inside_a_host_call_counts_against_the_same_deadline() {
    let (_lord, run) = run_hostile("sleeper", &[]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its time limit of 300 ms");
    assert!(
        run.elapsed < Duration::from_millis(600 + 400),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn a_memory_bomb_is_stopped_at_its_memory_limit() {
    let (_lord, run) = run_hostile("membomb", &[]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its memory limit of 16 MiB");
}

#[test]
fn runaway_recursion_is_stopped_by_the_wasm_stack_limit() {
    let (_lord, run) = run_hostile("recurse", &[]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded the wasm stack limit");
}

#[test]
fn a_flood_of_output_is_cut_at_the_output_limit_and_never_reaches_the_terminal() {
    let (_lord, run) = run_hostile("flood", &[]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its output limit of 64 KiB");
    assert!(
        run.output.stdout.is_empty(),
        "flood output leaked to stdout"
    );
}

#[test]
fn reads_outside_the_grant_fail_through_dotdot_absolute_paths_and_symlinks() {
    let lord = Lord::new();
    lord.install("hello");
    lord.install("hostile/escape");
    // Links inside the granted project that point out of it.
    std::os::unix::fs::symlink("/etc/passwd", lord.project.path().join("escape-link"))
        .expect("symlink");
    std::os::unix::fs::symlink("/etc", lord.project.path().join("escape-dir")).expect("symlink");
    let run = lord.run(&["escape"]);
    run.assert_code(3)
        .assert_stderr_contains("every read outside the grant was refused");
    let everything = format!("{}{}", run.stdout(), run.stderr());
    assert!(!everything.contains("ESCAPED"), "{everything}");
    assert!(!everything.contains("root:"), "{everything}");
    lord.assert_hello_works();
}

#[test]
fn a_connection_to_an_address_not_granted_is_refused_and_named() {
    // A real listener on loopback: if the sandbox let the plugin through, the
    // connection would arrive here.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port().to_string();
    let (_lord, run) = run_hostile("netdial", &[&port]);
    run.assert_code(3).assert_stderr_contains(&format!(
        "was refused access: net(127.0.0.1:{port}) is not granted"
    ));
    assert!(
        listener.accept().is_err(),
        "the plugin reached the listener"
    );
}

#[test]
fn a_trap_in_a_lifecycle_hook_marks_the_plugin_failed_and_calls_on_error() {
    let lord = Lord::new();
    lord.install("hello");
    let install = lord.run(&[
        "plugin",
        "install",
        crate::support::fixture("hostile/traphook")
            .to_str()
            .expect("utf-8"),
        "--yes",
    ]);
    install
        .assert_code(3)
        .assert_stderr_contains("enabling it failed")
        .assert_stderr_contains("trap in on-enable");
    let info = lord.info("traphook");
    assert_eq!(info["state"], "failed");
    let reason = info["reason"].as_str().expect("reason");
    assert!(reason.contains("on-enable hook failed"), "{reason}");
    // Its on-error hook ran (in a fresh instance) and was told why.
    let history = info["history"].as_array().expect("history");
    assert!(
        history.iter().any(|e| e["action"] == "on-error"
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("on-error received: on-enable hook failed"))),
        "{history:?}"
    );
    let run = lord.run(&["traphook"]);
    run.assert_code(2).assert_stderr_contains("is failed");
    lord.assert_hello_works();
}

#[test]
fn repeated_failures_trip_the_breaker_which_disables_the_plugin_and_says_why() {
    let (lord, first) = run_hostile("failing", &[]);
    first
        .assert_code(3)
        .assert_stderr_contains("failing on purpose");
    lord.run(&["failing"]).assert_code(3);
    lord.run(&["failing"]).assert_code(3);
    let info = lord.info("failing");
    assert_eq!(info["state"], "disabled");
    let reason = info["reason"].as_str().expect("reason");
    assert!(
        reason.contains("breaker tripped after 3 failures in a row"),
        "{reason}"
    );
    assert!(
        info["last_error"]
            .as_str()
            .expect("last error")
            .contains("failing on purpose")
    );
    let text = lord.run(&["plugin", "info", "failing"]);
    text.assert_ok();
    assert!(
        text.stdout().contains("breaker tripped"),
        "{}",
        text.stdout()
    );
    lord.run(&["failing"])
        .assert_code(2)
        .assert_stderr_contains("is disabled");
    lord.assert_hello_works();
}

#[test]
fn what_a_failing_plugin_wrote_before_it_failed_is_shown_with_the_error() {
    let lord = Lord::new();
    lord.install("hostile/failing");
    // An error the plugin returned: its log record, diagnostic and output
    // come first, then the error.
    let run = lord.run(&["failing-politely"]);
    run.assert_code(3)
        .assert_stderr_contains("[failing] warn: about to fail")
        .assert_stderr_contains("diagnostic: no mirror answered")
        .assert_stderr_contains("gave up after the diagnostics above");
    assert_eq!(run.stdout(), "partial result\n");
    let stderr = run.stderr();
    assert!(
        stderr.find("no mirror answered") < stderr.find("gave up"),
        "{stderr}"
    );
    // A trap: the same, and the panic's report only once, in the error.
    let run = lord.run(&["failing"]);
    run.assert_code(3)
        .assert_stderr_contains("diagnostic: no mirror answered")
        .assert_stderr_contains("failing on purpose");
    assert_eq!(run.stdout(), "partial result\n");
    assert_eq!(
        run.stderr().matches("failing on purpose").count(),
        1,
        "{}",
        run.stderr()
    );
}

#[test]
fn a_component_importing_an_undeclared_interface_is_refused_at_install() {
    let lord = Lord::new();
    let run = lord.run(&[
        "plugin",
        "install",
        crate::support::fixture("hostile/undeclared")
            .to_str()
            .expect("utf-8"),
        "--yes",
    ]);
    run.assert_code(2)
        .assert_stderr_contains("imports `wasi:sockets/")
        .assert_stderr_contains("needs a `net` permission");
    assert!(lord.list().is_empty());
}
