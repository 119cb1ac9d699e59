//! Bad input gets a clear error, the right exit code, and changes nothing.

use crate::support::{Lord, fixture, variant};

#[test]
fn without_a_terminal_and_without_yes_install_refuses_and_says_why() {
    let lord = Lord::new();
    lord.run(&[
        "plugin",
        "install",
        fixture("hello").to_str().expect("utf-8"),
    ])
    .assert_code(2)
    .assert_stderr_contains("rerun with --yes");
    assert!(lord.list().is_empty());
}

#[test]
fn a_plugin_for_another_host_api_is_refused_naming_both_versions() {
    let lord = Lord::new();
    let future = variant("hello", |m| {
        m.replace("host-api = \"^0.2\"", "host-api = \"^0.3\"")
    });
    lord.run(&[
        "plugin",
        "install",
        future.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("requires host API ^0.3")
    .assert_stderr_contains("lord:plugin@0.2.1");
    assert!(lord.list().is_empty());
}

#[test]
fn a_malformed_manifest_is_reported_with_file_line_and_column() {
    let lord = Lord::new();
    let bad = variant("hello", |m| {
        m.replace("request = []", "request = [\"fs-raed($PROJECT)\"]")
    });
    let run = lord.run(&[
        "plugin",
        "install",
        bad.path().to_str().expect("utf-8"),
        "--yes",
    ]);
    run.assert_code(2).assert_stderr_contains("fs-raed");
    let stderr = run.stderr();
    let line = bad.path().join("plugin.toml").display().to_string();
    assert!(stderr.contains(&format!("{line}:14:")), "{stderr}");
    assert!(
        stderr.contains("fs-read"),
        "lists what is allowed: {stderr}"
    );
}

#[test]
fn a_manifest_cannot_declare_its_own_risk() {
    let lord = Lord::new();
    let bad = variant("hello", |m| {
        m.replace("[permissions]", "[permissions]\nrisk-level = \"low\"")
    });
    lord.run(&[
        "plugin",
        "install",
        bad.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("derived");
}

#[test]
fn a_plugin_folder_without_its_component_says_how_to_build_it() {
    let lord = Lord::new();
    let dir = variant("hello", |m| m);
    std::fs::remove_file(dir.path().join("plugin.wasm")).expect("remove");
    lord.run(&[
        "plugin",
        "install",
        dir.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("cargo xtask plugins");
}

#[test]
fn a_plugin_command_may_not_take_a_name_lord_reserves() {
    let lord = Lord::new();
    let bad = variant("hello", |m| {
        m.replace("name = \"hello\"\nabout", "name = \"plugin\"\nabout")
    });
    lord.run(&[
        "plugin",
        "install",
        bad.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("reserved");
}

#[test]
fn unknown_commands_and_ids_are_user_errors() {
    let lord = Lord::new();
    lord.run(&["no-such-command"]).assert_code(2);
    lord.run(&["plugin", "info", "nobody"])
        .assert_code(2)
        .assert_stderr_contains("not installed");
    lord.run(&["plugin", "info", "Not An Id"]).assert_code(2);
}

#[test]
fn validate_reports_errors_warnings_and_security_findings() {
    let lord = Lord::new();
    let run = lord.run(&[
        "plugin",
        "validate",
        fixture("hostile/netdial").to_str().expect("utf-8"),
        "--json",
    ]);
    run.assert_ok();
    let report: serde_json::Value = serde_json::from_slice(&run.output.stdout).expect("JSON");
    assert_eq!(report["risk"], "high");
    let findings = report["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["code"] == "high-risk-permission"),
        "{report}"
    );
    let undeclared = lord.run(&[
        "plugin",
        "validate",
        fixture("hostile/undeclared").to_str().expect("utf-8"),
        "--json",
    ]);
    undeclared.assert_code(2);
    let report: serde_json::Value =
        serde_json::from_slice(&undeclared.output.stdout).expect("JSON");
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "undeclared-import"),
        "{report}"
    );
}
