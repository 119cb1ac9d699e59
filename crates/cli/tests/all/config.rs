//! The layered configuration through `lord config` and a plugin that reads
//! its own table: origins, profiles, flags, environment, schema checks that
//! keep a bad value out, and no plugin reading another's table.

use crate::support::Lord;

#[test]
fn layers_profiles_and_origins_are_shown_and_obeyed() {
    let lord = Lord::new();
    std::fs::write(
        lord.home.path().join("config.toml"),
        "theme = \"dark\"\n[profile.ci]\ntheme = \"none\"\n",
    )
    .expect("user file");
    std::fs::write(
        lord.project.path().join("lord.toml"),
        "log.level = \"info\"\n",
    )
    .expect("project file");

    let get = |args: &[&str]| {
        let run = lord.run(args);
        run.assert_ok();
        run.stdout().trim().to_owned()
    };
    assert_eq!(get(&["config", "get", "theme"]), "dark");
    assert_eq!(get(&["config", "get", "log.level"]), "info");
    // A profile overlays its own file's layer; higher layers still win.
    assert_eq!(get(&["config", "get", "theme", "--profile", "ci"]), "none");
    assert_eq!(
        get(&["config", "get", "log.level", "--profile", "ci"]),
        "info"
    );
    assert_eq!(
        get(&["config", "get", "log.level", "--set", "log.level=error"]),
        "error"
    );
    let env = lord.run_cmd(
        lord.command(&["config", "get", "theme"])
            .env("LORD_THEME", "light"),
    );
    assert_eq!(env.stdout().trim(), "light");

    let shown = lord.run(&["config", "show", "--origin", "--json"]);
    shown.assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&shown.stdout()).expect("json");
    let layer_of = |key: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["key"] == key)
            .map(|r| r["layer"].as_str().expect("layer").to_owned())
    };
    assert_eq!(layer_of("theme").as_deref(), Some("user"));
    assert_eq!(layer_of("log.level").as_deref(), Some("project"));
    assert_eq!(
        layer_of("events.retention-days").as_deref(),
        Some("default")
    );

    lord.run(&["config", "get", "nope"])
        .assert_code(2)
        .assert_stderr_contains("`nope` is not set");
    lord.run(&["config", "show", "--profile", "nightly"])
        .assert_code(2)
        .assert_stderr_contains("profile `nightly` is not defined");
}

#[test]
fn a_plugin_reads_its_own_table_and_a_bad_value_never_lands() {
    let lord = Lord::new();
    lord.install("notes");
    lord.install("hostile/statesnoop");
    lord.run(&["config", "set", "plugins.notes.max-notes", "1"])
        .assert_ok();
    lord.run(&["note", "one"]).assert_ok();
    lord.run(&["note", "two"])
        .assert_code(3)
        .assert_stderr_contains("the most `plugins.notes.max-notes` allows");

    // Refused by the plugin's schema: the file keeps the old value.
    let user_file = lord.home.path().join("config.toml");
    let before = std::fs::read_to_string(&user_file).expect("user file");
    lord.run(&["config", "set", "plugins.notes.max-notes", "\"lots\""])
        .assert_code(2)
        .assert_stderr_contains("is unchanged");
    assert_eq!(
        std::fs::read_to_string(&user_file).expect("user file"),
        before
    );
    lord.run(&["config", "set", "log.level", "shouting"])
        .assert_code(2)
        .assert_stderr_contains("trace, debug, info, warn, error");
    assert_eq!(
        std::fs::read_to_string(&user_file).expect("user file"),
        before
    );
    lord.run(&["config", "validate"]).assert_ok();

    // A value that breaks the schema from another layer stops the plugin
    // before it runs, and validate says where it came from.
    std::fs::write(
        lord.project.path().join("lord.toml"),
        "[plugins.notes]\nmax-notes = 0\n",
    )
    .expect("project file");
    lord.run(&["notes"])
        .assert_code(2)
        .assert_stderr_contains("configuration of plugin `notes` is invalid");
    let validate = lord.run(&["config", "validate"]);
    validate.assert_code(2);
    assert!(
        validate.stdout().contains("lord.toml"),
        "{}",
        validate.stdout()
    );
    std::fs::remove_file(lord.project.path().join("lord.toml")).expect("remove");

    // Another plugin's table is out of reach: its keys are relative to
    // its own table.
    let snoop = lord.run(&["statesnoop", "config"]);
    snoop.assert_ok();
    assert!(!snoop.stdout().contains("LEAK"), "{}", snoop.stdout());
    assert_eq!(snoop.stdout(), "config seen: {}\n");
}

#[test]
fn watch_applies_a_valid_change_and_rejects_an_invalid_one() {
    use std::io::BufRead as _;
    let lord = Lord::new();
    let project_file = lord.project.path().join("lord.toml");
    std::fs::write(&project_file, "log.level = \"warn\"\n").expect("project file");
    let mut child = lord
        .command(&[
            "config",
            "watch",
            "--interval-ms",
            "20",
            "--count",
            "2",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lord runs");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = || -> serde_json::Value {
        let line = lines.next().expect("a line").expect("utf-8");
        serde_json::from_str(&line).expect("json line")
    };
    assert!(next()["watching"].is_array());
    std::fs::write(&project_file, "log.level = \"debug\"\n").expect("valid change");
    assert_eq!(next(), serde_json::json!({ "applied": ["log.level"] }));
    std::fs::write(&project_file, "log.level = \"shouting\"\n").expect("invalid change");
    let rejected = next();
    assert!(
        rejected["rejected"]
            .as_str()
            .is_some_and(|r| r.contains("log.level")),
        "{rejected}"
    );
    let status = child.wait().expect("lord ends");
    assert!(status.success(), "{status}");
}
