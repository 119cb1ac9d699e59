//! `lord scan` as CI runs it: a real registry on loopback serving an
//! advisory its operator added with `lord registry advisory add`, a
//! licence policy from lord's configuration, and lord's own hostile
//! fixture (an import its manifest does not declare) packed into a real
//! package. The SARIF it writes is validated against the SARIF 2.1.0
//! schema (`crates/scan/tests/data/`); the exit codes are the ones CI
//! reads; and the registry refuses to publish that package.

use std::path::Path;

use crate::registry::Served;
use crate::support::{Lord, fixture, repo};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// `dir` packed with `lord pdk pack` into `out`; the package's path.
fn pack(lord: &Lord, dir: &Path, out: &Path) -> String {
    let packed = lord.run(&["pdk", "pack", path(dir), "-o", path(out), "--json"]);
    packed.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&packed.stdout()).expect("json");
    report["path"].as_str().expect("path").to_owned()
}

fn sarif_problems(document: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("crates/scan/tests/data/sarif-schema-2.1.0.json"))
            .expect("the schema"),
    )
    .expect("json");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn an_advisory_a_denied_licence_and_an_undeclared_import_are_reported_in_valid_sarif_with_ci_exit_codes()
 {
    let lord = Lord::new();
    let served = Served::start(&lord);
    let work = tempfile::tempdir().expect("work");
    let advisory = work.path().join("LORD-2026-0007.json");
    std::fs::write(
        &advisory,
        serde_json::json!({
            "id": "LORD-2026-0007",
            "modified": "2026-12-01T00:00:00Z",
            "summary": "connects to an address it never asked for",
            "affected": [{
                "package": {"ecosystem": "lord", "name": "undeclared"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.2.0"}]}]
            }],
            "database_specific": {"severity": "HIGH"}
        })
        .to_string(),
    )
    .expect("advisory");
    lord.run(&[
        "registry",
        "advisory",
        "add",
        path(&advisory),
        "--data",
        path(served.data.path()),
    ])
    .assert_ok()
    .assert_stderr_contains("added advisory LORD-2026-0007");
    lord.run(&[
        "config",
        "set",
        "scan.licence-deny",
        "[\"MIT\", \"Apache-2.0\"]",
    ])
    .assert_ok();
    lord.run(&["config", "set", "scan.licence-deny", "\"MIT\""])
        .assert_code(2);
    let package = pack(&lord, &fixture("hostile/undeclared"), work.path());

    let sarif_file = work.path().join("scan.sarif");
    lord.run(&[
        "scan",
        &package,
        "--registry",
        &served.url,
        "--sarif",
        "-o",
        path(&sarif_file),
    ])
    .assert_code(1);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_file).expect("written"))
            .expect("json");
    let problems = sarif_problems(&sarif);
    assert!(
        problems.is_empty(),
        "invalid SARIF: {problems:#?}\n{sarif:#}"
    );
    let rules: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    for rule in ["known-vulnerability", "licence-denied", "undeclared-import"] {
        assert!(rules.contains(&rule), "no `{rule}` in {rules:?}");
    }
    // A document that breaks the schema is refused by the same check.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "critical".into();
    assert!(!sarif_problems(&broken).is_empty());

    // JSON for scripts, text for people; the same findings.
    let json = lord.run(&["scan", &package, "--registry", &served.url, "--json"]);
    json.assert_code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout()).expect("json");
    assert_eq!(report["failed"], true);
    assert_eq!(report["fail_on"], "error");
    assert_eq!(report["reports"][0]["findings"][0]["severity"], "critical");
    let text = lord.run(&["scan", &package, "--offline"]);
    text.assert_code(1);
    assert!(
        text.stdout()
            .contains("critical undeclared-import at import `wasi:sockets/"),
        "{}",
        text.stdout()
    );
    assert!(
        !text.stdout().contains("LORD-2026-0007"),
        "--offline read advisories"
    );

    // The honest fixture passes at the default threshold, and fails only
    // when notes count; as a folder and installed, by id.
    lord.run(&["config", "set", "scan.licence-deny", "[]"])
        .assert_ok();
    lord.run(&["scan", path(&fixture("hello")), "--offline"])
        .assert_ok();
    lord.run(&[
        "scan",
        path(&fixture("hello")),
        "--offline",
        "--fail-on",
        "note",
    ])
    .assert_code(1);
    lord.install("hello").assert_ok();
    lord.run(&["scan", "hello", "--offline", "--json"])
        .assert_ok();
    // What cannot be scanned exits 2.
    lord.run(&["scan", "no-such-plugin", "--offline"])
        .assert_code(2)
        .assert_stderr_contains("neither a file, a folder nor an installed plugin");

    // The registry refuses to publish it: the scan runs at publish.
    let token = served.token(&lord, "publish:*");
    served
        .publish(&lord, &fixture("hostile/undeclared"), &token)
        .assert_code(2)
        .assert_stderr_contains("undeclared-import");
}
