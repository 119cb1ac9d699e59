//! Micro-plugin pipelines through `lord pipe`, with the micro-plugin
//! packages under `plugins/micro` running in the sandbox.

use std::io::Write;
use std::process::Stdio;

use crate::support::{Lord, Run, fixture, variant};

fn with_micro() -> Lord {
    let lord = Lord::new();
    for package in ["text", "validate", "format", "redact", "enhance"] {
        lord.install(&format!("micro/{package}"));
    }
    lord
}

/// `lord pipe ARGS` with `stdin` written to it.
pub(crate) fn pipe(lord: &Lord, args: &[&str], stdin: &str) -> Run {
    let mut argv = vec!["pipe"];
    argv.extend_from_slice(args);
    let start = std::time::Instant::now();
    let mut child = lord
        .command(&argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait");
    Run {
        output,
        elapsed: start.elapsed(),
    }
}

#[test]
fn a_sequential_pipeline_transforms_stdin() {
    let lord = with_micro();
    let run = pipe(&lord, &["trim | slug"], "  My Blog Post: Title!  \n");
    run.assert_ok();
    assert_eq!(run.stdout(), "my-blog-post-title\n");
}

#[test]
fn a_conditional_step_follows_the_validator() {
    let lord = with_micro();
    let p = "trim | if validate.email then upper else lower end";
    assert_eq!(
        pipe(&lord, &[p], " ada@example.org ").stdout(),
        "ADA@EXAMPLE.ORG\n"
    );
    assert_eq!(
        pipe(&lord, &[p], " Not An Address ").stdout(),
        "not an address\n"
    );
}

#[test]
fn parallel_branches_report_each_result_or_error() {
    let lord = with_micro();
    let run = pipe(&lord, &["[upper, validate.email, slug]"], "Hi There");
    run.assert_ok();
    let joined: serde_json::Value = serde_json::from_slice(&run.output.stdout).expect("JSON");
    assert_eq!(joined[0]["ok"], "HI THERE");
    assert!(
        joined[1]["error"]
            .as_str()
            .expect("error")
            .contains("no `@`"),
        "{joined}"
    );
    assert_eq!(joined[2]["ok"], "hi-there");
    // A branch that wrote nothing before failing has no `wrote`.
    assert!(joined[1].get("wrote").is_none(), "{joined}");
}

#[test]
fn error_policies_stop_skip_and_fall_back() {
    let lord = with_micro();
    let stop = pipe(&lord, &["validate.email | upper"], "nope");
    stop.assert_code(3)
        .assert_stderr_contains("micro-plugin `validate.email` failed");
    let skip = pipe(&lord, &["validate.email? | upper"], "nope");
    skip.assert_ok();
    assert_eq!(skip.stdout(), "NOPE\n");
    let fallback = pipe(&lord, &["validate.email ?? slug | upper"], "Not An Email");
    fallback.assert_ok();
    assert_eq!(fallback.stdout(), "NOT-AN-EMAIL\n");
}

#[test]
fn a_pipeline_file_runs_the_same_as_inline() {
    let lord = with_micro();
    let file = lord.project.path().join("pipeline.toml");
    std::fs::write(
        &file,
        "[[step]]\nuse = \"trim\"\n\n[[step]]\nuse = \"validate.email\"\non-error = { fallback = \"slug\" }\n\n[[step]]\nuse = \"upper\"\n",
    )
    .expect("write");
    let run = pipe(
        &lord,
        &["--file", file.to_str().expect("utf-8")],
        " Hello World ",
    );
    run.assert_ok();
    assert_eq!(run.stdout(), "HELLO-WORLD\n");
}

#[test]
fn check_names_both_neighbours_and_the_field_and_shows_authority() {
    let lord = with_micro();
    let bad = lord.run(&["pipe", "--check", "trim | text.count | upper"]);
    bad.assert_code(2);
    assert!(
        bad.stdout()
            .contains("`text.count` → `upper`: field `(the value)` produces type object but the next step expects string"),
        "{}",
        bad.stdout()
    );
    let good = lord.run(&["pipe", "--check", "trim | validate.email | lower"]);
    good.assert_ok();
    assert!(
        good.stdout().contains("authority: none (pure computation)"),
        "{}",
        good.stdout()
    );
    // A pipeline through a micro-plugin with grants shows them.
    lord.install("hostile/strict-escape");
    let granted = lord.run(&["pipe", "--check", "--json", "trim | escape.limited"]);
    granted.assert_ok();
    let report: serde_json::Value = serde_json::from_slice(&granted.output.stdout).expect("JSON");
    assert_eq!(
        report["authority"],
        serde_json::json!(["env(HOME)", "fs-read($PROJECT)"])
    );
    // And running a broken pipeline is refused before anything runs.
    pipe(&lord, &["trim | text.count | upper"], "x")
        .assert_code(2)
        .assert_stderr_contains("cannot run");
}

#[test]
fn a_strict_micro_plugin_cannot_reach_any_host_interface() {
    let lord = Lord::new();
    std::fs::write(lord.project.path().join("visible.txt"), "x").expect("write");
    lord.install("hostile/strict-escape");
    for id in ["escape.log", "escape.env", "escape.files"] {
        let run = pipe(&lord, &[id], "");
        run.assert_code(3);
        let everything = format!("{}{}", run.stdout(), run.stderr());
        assert!(!everything.contains("ESCAPED"), "{id}: {everything}");
        assert!(!everything.contains("visible.txt"), "{id}: {everything}");
        assert!(
            everything.contains(id),
            "{id}: the error names it: {everything}"
        );
        assert!(
            everything.contains("was refused access: host interface `")
                && everything.contains("strict isolation links none"),
            "{id}: {everything}"
        );
    }
    // The same code, declared limited, gets its grant: the refusal above
    // came from the isolation, not from a missing folder.
    let limited = pipe(&lord, &["escape.limited"], "");
    limited.assert_ok();
    assert!(
        limited.stdout().contains("visible.txt"),
        "{}",
        limited.stdout()
    );
    lord.install("hello");
    lord.assert_hello_works();
}

#[test]
fn redact_and_enhance_work_on_command_output() {
    let lord = with_micro();
    let run = pipe(
        &lord,
        &["redact.secrets"],
        "token: ghp_abcdefghijklmnop1234 password=hunter2hunter2",
    );
    run.assert_ok();
    assert_eq!(run.stdout(), "token: ghp_**** password=hunt****\n");
    let json = pipe(&lord, &["enhance.json"], "name: lord\nversion: 0.1.0\n");
    json.assert_ok();
    let value: serde_json::Value = serde_json::from_slice(&json.output.stdout).expect("JSON");
    assert_eq!(
        value,
        serde_json::json!({"name": "lord", "version": "0.1.0"})
    );
    let table = pipe(
        &lord,
        &["--json-input", "format.table"],
        r#"[{"id":1,"name":"ada"},{"id":22}]"#,
    );
    table.assert_ok();
    assert_eq!(table.stdout(), "ID  NAME\n1   ada\n22\n");
}

#[test]
fn micro_packages_are_checked_at_install() {
    let lord = Lord::new();
    lord.install("micro/text");
    let clash = variant("micro/text", |m| {
        m.replace("id = \"micro-text\"", "id = \"micro-text-two\"")
    });
    lord.run(&[
        "plugin",
        "install",
        clash.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("micro-plugin `trim` is already provided by plugin `micro-text`");
    let with_commands = variant("micro/validate", |m| {
        format!("{m}\n[[commands]]\nname = \"check\"\nabout = \"Check things\"\n")
    });
    lord.run(&[
        "plugin",
        "install",
        with_commands.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("cannot serve [[commands]]");
    let listed = lord.run(&["micro", "list", "--json"]);
    listed.assert_ok();
    let list: serde_json::Value = serde_json::from_slice(&listed.output.stdout).expect("JSON");
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|m| m["id"] == "slug" && m["isolation"] == "strict")
    );
    let _ = fixture("micro/text");
}

#[test]
fn a_full_plugin_serves_its_declared_micro_plugin_in_a_pipeline() {
    let lord = with_micro();
    lord.install("hello");
    let run = pipe(&lord, &["trim | greet | upper"], "  Ada  ");
    run.assert_ok();
    assert_eq!(run.stdout(), "HELLO, ADA!\n");
    // Its command still works beside it.
    lord.assert_hello_works();
}

/// The exit code follows how a pipeline failed: a handler at fault is a
/// plugin failure (3), input a handler's schema does not take is the
/// caller's (2).
#[test]
fn a_pipeline_exit_code_follows_the_kind_of_failure() {
    let lord = with_micro();
    pipe(&lord, &["validate.email"], "nope")
        .assert_code(3)
        .assert_stderr_contains("failed");
    pipe(&lord, &["--json-input", "trim"], "42")
        .assert_code(2)
        .assert_stderr_contains("rejected its input");
}

/// Routes from the configuration (`[[micro.routes]]`): an A/B split gives
/// each routing key one variant, the same on every run and across
/// processes, and both variants serve some keys; a rollout sends its new
/// handler the share its first step names; `lord micro routes` names a
/// target that is not installed; a malformed route is refused.
#[test]
fn configured_routes_split_calls_between_variants_by_key() {
    let lord = Lord::new();
    lord.install("micro/text");
    let config = lord.home.path().join("config.toml");
    std::fs::write(
        &config,
        "[[micro.routes]]\nid = \"shout\"\nvariants = [\n  \
         { name = \"loud\", target = \"upper\", weight = 1 },\n  \
         { name = \"soft\", target = \"lower\", weight = 1 },\n]\n",
    )
    .expect("config");
    let said = |key: &str| {
        let run = pipe(&lord, &["shout", "--key", key], "Ab");
        run.assert_ok();
        run.stdout()
    };
    let mut loud = 0;
    for n in 0..12 {
        let key = format!("user-{n}");
        let first = said(&key);
        assert!(first == "AB\n" || first == "ab\n", "{first:?}");
        assert_eq!(said(&key), first, "{key} moved between variants");
        loud += usize::from(first == "AB\n");
    }
    assert!((1..12).contains(&loud), "{loud} of 12 keys went loud");

    let routes = lord.run(&["micro", "routes", "--json"]);
    routes.assert_ok();
    let listed: serde_json::Value = serde_json::from_str(&routes.stdout()).expect("json");
    assert_eq!(listed[0]["route"]["id"], "shout");
    assert_eq!(listed[0]["missing"], serde_json::json!([]));
    assert_eq!(listed[0]["from"], "configuration");

    std::fs::write(
        &config,
        "[[micro.routes]]\nid = \"shout\"\n\
         rollout = { old = \"upper\", new = \"quiet\", steps = [100], calls-per-step = 10 }\n",
    )
    .expect("config");
    let listed = lord.run(&["micro", "routes"]);
    listed.assert_ok();
    assert_eq!(
        listed.stdout(),
        "shout  rollout upper -> quiet (100%)  [configuration]\n    not installed: quiet\n"
    );
    std::fs::write(
        &config,
        "[[micro.routes]]\nid = \"shout\"\n\
         rollout = { old = \"upper\", new = \"lower\", steps = [100], calls-per-step = 10 }\n",
    )
    .expect("config");
    assert_eq!(
        said("anyone"),
        "ab\n",
        "the new handler takes its first step's share"
    );

    std::fs::write(&config, "[[micro.routes]]\nid = \"shout\"\n").expect("config");
    pipe(&lord, &["shout"], "Ab")
        .assert_code(2)
        .assert_stderr_contains("give `variants` (an A/B split) or a `rollout`");
}

/// A project's `lord.toml` cannot route a micro-plugin id: a cloned
/// repository, or a plugin able to write the project, would hand another
/// plugin's id to a handler of its choosing.
#[test]
fn a_project_cannot_route_a_micro_plugin_id() {
    let lord = Lord::new();
    lord.install("micro/text");
    std::fs::write(
        lord.project.path().join("lord.toml"),
        "[[micro.routes]]\nid = \"upper\"\n\
         variants = [{ name = \"taken\", target = \"lower\", weight = 1 }]\n",
    )
    .expect("project config");
    let run = pipe(&lord, &["upper"], "Ab");
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("may not be set by a project");
    assert_ne!(run.stdout(), "ab\n");
}

/// A plugin's own `[[routes]]` send its micro id through a router: here
/// every call of `greet` goes to `greet-next`, which hello's component
/// does not serve, so the route is seen in the error; the configuration's
/// route for the same id wins over the manifest's.
#[test]
fn a_manifests_route_sends_its_id_through_its_router_and_configuration_overrides_it() {
    let lord = Lord::new();
    let routed = variant("hello", |text| {
        text + "\n[[micro]]\nid = \"greet-next\"\nkind = \"transformer\"\n\
                input-schema = { type = \"string\" }\n\
                \n[[routes]]\nid = \"greet\"\nvariants = [\n  \
                { name = \"next\", target = \"greet-next\", weight = 1 },\n  \
                { name = \"now\", target = \"greet\", weight = 0 },\n]\n"
    });
    lord.run(&[
        "plugin",
        "install",
        routed.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_ok();
    pipe(&lord, &["greet"], "Ada")
        .assert_code(3)
        .assert_stderr_contains("hello has no micro-plugin `greet-next`");
    let routes = lord.run(&["micro", "routes", "--json"]);
    routes.assert_ok();
    let listed: serde_json::Value = serde_json::from_str(&routes.stdout()).expect("json");
    assert_eq!(listed[0]["from"], "hello");
    assert_eq!(listed[0]["route"]["variants"][0]["target"], "greet-next");
    std::fs::write(
        lord.home.path().join("config.toml"),
        "[[micro.routes]]\nid = \"greet\"\n\
         variants = [{ name = \"now\", target = \"greet\", weight = 1 }]\n",
    )
    .expect("config");
    let run = pipe(&lord, &["greet"], "Ada");
    run.assert_ok();
    assert_eq!(run.stdout(), "Hello, Ada!\n");
}

/// A step that fails shows what it logged and wrote to stderr before the
/// error, as `lord run` shows a failed command's, each line escaped: the
/// diagnostic's OSC 52 clipboard write and carriage return reach the
/// terminal as text. In a parallel branch the lines go beside the error as
/// data. A trap's panic message is in its error, once.
#[test]
fn a_failed_step_shows_what_it_wrote_before_the_error_escaped() {
    let lord = with_micro();
    lord.install("hostile/grumbler");

    let run = pipe(&lord, &["trim | grumble.fail | upper"], "x\n");
    run.assert_code(3);
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
    };
    let logged = at("[grumble.fail] log warn: looked at \"x\"");
    let wrote = at(
        "[grumble.fail] stderr: diagnostic: \\u{1b}]52;c;Z290Y2hh\\u{7}copied\\u{d}no mirror answered",
    );
    let error = at("micro-plugin `grumble.fail` failed: gave up after the diagnostics above");
    assert!(logged < wrote && wrote < error, "{stderr}");
    assert!(
        !run.output
            .stderr
            .iter()
            .any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
        "a control byte reached the terminal: {stderr:?}"
    );
    assert!(run.stdout().is_empty(), "{}", run.stdout());

    // In a parallel branch, what it wrote goes beside its error, as data
    // (JSON escapes the control characters).
    let branches = pipe(&lord, &["[upper, grumble.fail]"], "z\n");
    branches.assert_ok();
    let joined: serde_json::Value = serde_json::from_slice(&branches.output.stdout).expect("JSON");
    assert_eq!(joined[0]["ok"], "Z");
    assert_eq!(
        joined[1]["wrote"],
        serde_json::json!([
            "log warn: looked at \"z\"",
            "stderr: diagnostic: \u{1b}]52;c;Z290Y2hh\u{7}copied\rno mirror answered"
        ]),
        "{joined}"
    );
    assert!(
        joined[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after the diagnostics above")),
        "{joined}"
    );
    assert!(
        !branches
            .output
            .stdout
            .iter()
            .any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
        "a control byte reached the terminal"
    );

    let trap = pipe(&lord, &["grumble.trap"], "y\n");
    trap.assert_code(3);
    let stderr = trap.stderr();
    assert!(
        stderr.contains("[grumble.trap] log warn: looked at \"y\""),
        "{stderr}"
    );
    // The panic's message is in the error, once: not repeated as a line
    // the handler wrote.
    assert_eq!(
        stderr.matches("grumbling on purpose").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.lines().last().is_some_and(|line| line
            .contains("micro-plugin `grumble.trap` failed: crashed")
            && line.contains("grumbling on purpose")),
        "{stderr}"
    );
}

#[test]
fn a_step_that_succeeds_still_shows_what_it_logged_and_wrote_escaped() {
    let lord = with_micro();
    lord.install("hostile/grumbler");

    // Alone, and twice in a row (two steps of one package run as a batch
    // on one instance): each step's warning and stderr are shown, naming
    // it, below `log.level`'s records left out; the answer is untouched.
    for (pipeline, steps, answer) in [
        ("grumble.pass | upper", 1, "W"),
        ("grumble.pass | grumble.pass", 2, "w"),
    ] {
        let run = pipe(&lord, &[pipeline], "w\n");
        run.assert_ok();
        assert_eq!(run.stdout().trim_end(), answer, "{pipeline}");
        let stderr = run.stderr();
        assert_eq!(
            stderr
                .matches("[grumble.pass] warn: looked at \"w\"")
                .count(),
            steps,
            "{pipeline}: {stderr}"
        );
        assert_eq!(
            stderr
                .matches(
                    "[grumble.pass] stderr: diagnostic: \\u{1b}]52;c;Z290Y2hh\\u{7}copied\\u{d}passed it on"
                )
                .count(),
            steps,
            "{pipeline}: {stderr}"
        );
        assert!(!stderr.contains("counting the grumbles"), "{stderr}");
        assert!(
            !run.output
                .stderr
                .iter()
                .chain(&run.output.stdout)
                .any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
            "a control byte reached the terminal: {stderr:?}"
        );
    }

    // `log.level = debug` lets the debug record through; `--quiet` keeps
    // only errors, so neither record shows (stderr is not a log level's).
    let verbose = pipe(&lord, &["--set", "log.level=debug", "grumble.pass"], "v\n");
    verbose.assert_ok();
    assert!(
        verbose
            .stderr()
            .contains("[grumble.pass] debug: counting the grumbles"),
        "{}",
        verbose.stderr()
    );
    let quiet = pipe(&lord, &["--quiet", "grumble.pass"], "q\n");
    quiet.assert_ok();
    assert!(!quiet.stderr().contains("looked at"), "{}", quiet.stderr());
}

/// A package that declares the id of one of lord's built-in micro-plugins
/// is refused at install, naming it: both in one manager would stop every
/// pipeline, and `lord pipe` keeps working.
#[test]
fn a_micro_id_lord_has_built_in_is_refused_at_install() {
    let lord = Lord::new();
    let taken = variant("micro/text", |manifest| {
        manifest.replacen("id = \"trim\"", "id = \"lines\"", 1)
    });
    lord.run(&[
        "plugin",
        "install",
        taken.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("the micro-plugin id `lines` is built into lord (provider `text`)");
    assert!(lord.list().is_empty(), "the refused package was stored");
    pipe(&lord, &["lines"], "a\nb\n").assert_ok();
}

/// A step of one plugin hands the next, of another plugin, a value its
/// declared output schema rules out: the pipeline stops at the boundary
/// naming the producer, though the two schemas fit and the consumer's
/// code never sees the value. `datahog-fill` passes its input on; a copy
/// of its manifest declares that output a string, as `upper` takes.
#[test]
fn a_value_crossing_from_one_plugin_to_another_is_checked_at_the_boundary() {
    let lord = Lord::new();
    lord.install("micro/text");
    let liar = crate::support::variant("hostile/datahog", |manifest| {
        manifest.replace(
            "isolation = \"limited\"",
            "isolation = \"limited\"\noutput-schema = { type = \"string\" }",
        )
    });
    let path = liar.path().to_str().expect("utf-8 path");
    lord.run(&["plugin", "install", path, "--yes"]).assert_ok();

    let crossed = pipe(&lord, &["--json-input", "datahog-fill | upper"], "42");
    assert!(!crossed.output.status.success(), "{}", crossed.stdout());
    crossed.assert_stderr_contains(
        "micro-plugin `datahog-fill` returned output that breaks its own schema",
    );
    // A value that keeps the promise crosses.
    let kept = pipe(
        &lord,
        &["--json-input", "datahog-fill | upper"],
        "\"quiet\"",
    );
    kept.assert_ok();
    assert_eq!(kept.stdout().trim(), "QUIET");
}
