//! What a grant gives, and only that: a writable data folder, a readable
//! project, one environment variable, one network address.

use std::io::Read;
use std::net::TcpListener;

use crate::support::{Lord, variant};

#[test]
fn a_plugin_reaches_exactly_its_granted_folders_and_variables() {
    let lord = Lord::new();
    std::fs::write(lord.project.path().join("marker.txt"), "project marker").expect("write");
    lord.install("hostile/probe");
    let mut cmd = lord.command(&["probe"]);
    cmd.env("LORD_PROBE_VISIBLE", "visible value")
        .env("LORD_PROBE_HIDDEN", "hidden value");
    let run = lord.run_cmd(&mut cmd);
    run.assert_ok();
    let out = run.stdout();
    assert!(out.contains("data-write: ok"), "{out}");
    assert!(out.contains("data-read: ok written by probe"), "{out}");
    assert!(out.contains("project-read: ok project marker"), "{out}");
    assert!(out.contains("project-write: refused"), "{out}");
    assert!(out.contains("env-visible: ok visible value"), "{out}");
    assert!(out.contains("env-hidden: refused"), "{out}");
    // Nothing inherited: one variable (the granted one), no arguments.
    assert!(out.contains("env-count: ok 1\n"), "{out}");
    assert!(out.contains("args-count: ok 0\n"), "{out}");
    assert!(!out.contains("hidden value"), "{out}");
    // The data folder is the plugin's own, under LORD_HOME.
    let written = lord.home.path().join("data/probe/probe.txt");
    assert_eq!(
        std::fs::read_to_string(written).expect("data file"),
        "written by probe"
    );
    assert!(!lord.project.path().join("written-by-probe.txt").exists());
}

#[test]
fn a_granted_address_is_reachable_and_only_that_one() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let granted = variant("hostile/netdial", |m| {
        m.replace("net(127.0.0.1:9)", &format!("net(127.0.0.1:{port})"))
    });
    let lord = Lord::new();
    lord.run(&[
        "plugin",
        "install",
        granted.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_ok();
    let accept = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the granted connection arrives");
        let mut got = String::new();
        stream.read_to_string(&mut got).expect("read");
        got
    });
    let run = lord.run(&["netdial", &port.to_string()]);
    run.assert_ok();
    assert!(run.stdout().contains("CONNECTED"), "{}", run.stdout());
    assert_eq!(accept.join().expect("listener thread"), "stolen secrets\n");
    // Another port on the same host stays closed.
    let other = TcpListener::bind("127.0.0.1:0").expect("listen");
    other.set_nonblocking(true).expect("nonblocking");
    let other_port = other.local_addr().expect("addr").port().to_string();
    lord.run(&["netdial", &other_port])
        .assert_code(3)
        .assert_stderr_contains("is not granted");
    assert!(other.accept().is_err());
}
