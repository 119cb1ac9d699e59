//! First-party providers: listed beside plugins as kind `native`, and
//! disabled like any plugin, which takes away their commands, their
//! micro-plugins and the host interfaces they serve.

use crate::support::{Lord, variant};

fn natives(lord: &Lord) -> Vec<serde_json::Value> {
    let run = lord.run(&["plugin", "list", "--json"]);
    run.assert_ok();
    let all: Vec<serde_json::Value> = serde_json::from_slice(&run.output.stdout).expect("JSON");
    all.into_iter().filter(|p| p["kind"] == "native").collect()
}

#[test]
fn plugin_list_shows_the_built_in_providers_as_native() {
    let lord = Lord::new();
    lord.install("hello");
    let natives = natives(&lord);
    let ids: Vec<&str> = natives.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "secrets",
            "text",
            "monitor",
            "ai",
            "openai",
            "anthropic",
            "ollama",
            "huggingface",
            "gemini",
            "db",
            "sqlite",
            "postgres",
            "mysql",
            "redis",
            "mongodb",
            "cassandra"
        ],
        "{natives:#?}"
    );
    assert_eq!(natives[2]["commands"][0], "monitor");
    let secrets = &natives[0];
    assert_eq!(secrets["state"], "enabled");
    assert_eq!(secrets["commands"][0], "secret");
    assert_eq!(secrets["interfaces"][0], "lord:plugin/secrets");
    assert_eq!(
        natives[1]["micro"],
        serde_json::json!(["json.parse", "lines"])
    );
    // The table says the same to a person.
    let table = lord.run(&["plugin", "list"]);
    table.assert_ok();
    assert!(table.stdout().contains("native"), "{}", table.stdout());
    let info = lord.info("secrets");
    assert_eq!(info["kind"], "native");
}

#[test]
fn disabling_the_secrets_provider_takes_its_command_and_its_interface_away() {
    let lord = Lord::new();
    lord.install("vault");
    lord.run(&["plugin", "disable", "secrets"]).assert_ok();

    // Its command is gone from the help and refused with the way back.
    let help = lord.run(&["--help"]);
    help.assert_ok();
    assert!(
        !help
            .stdout()
            .lines()
            .any(|l| l.trim_start().starts_with("secret ")),
        "{}",
        help.stdout()
    );
    lord.run(&["secret", "list"])
        .assert_code(2)
        .assert_stderr_contains("provider `secrets`, which is disabled")
        .assert_stderr_contains("lord plugin enable secrets");

    // A plugin importing its interface is refused before any of its code
    // runs, naming the provider.
    lord.run(&["vault"])
        .assert_code(2)
        .assert_stderr_contains("lord:plugin/secrets")
        .assert_stderr_contains("provider `secrets`, which is disabled");
    assert_eq!(natives(&lord)[0]["state"], "disabled");

    // Enabled again, both come back.
    lord.run(&["plugin", "enable", "secrets"]).assert_ok();
    lord.run(&["secret", "list"]).assert_ok();
    lord.run(&["vault"]).assert_code(3);
}

#[test]
fn disabling_the_monitor_provider_takes_its_command_away() {
    let lord = Lord::new();
    lord.run(&["plugin", "disable", "monitor"]).assert_ok();
    let help = lord.run(&["--help"]);
    help.assert_ok();
    assert!(
        !help
            .stdout()
            .lines()
            .any(|l| l.trim_start().starts_with("monitor ")),
        "{}",
        help.stdout()
    );
    lord.run(&["monitor", "snapshot"])
        .assert_code(2)
        .assert_stderr_contains("provider `monitor`, which is disabled")
        .assert_stderr_contains("lord plugin enable monitor");
    lord.run(&["plugin", "enable", "monitor"]).assert_ok();
    lord.run(&["monitor", "snapshot", "--json"]).assert_ok();
}

#[test]
fn disabling_the_text_provider_takes_its_micro_plugins_out_of_pipelines() {
    let lord = Lord::new();
    let listed = |lord: &Lord| {
        let run = lord.run(&["micro", "list", "--json"]);
        run.assert_ok();
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&run.output.stdout).expect("JSON");
        rows.iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(listed(&lord).contains(&"lines".to_owned()));
    lord.run(&["plugin", "disable", "text"]).assert_ok();
    assert!(!listed(&lord).contains(&"lines".to_owned()));
    lord.run(&["pipe", "--check", "lines"]).assert_code(2);
}

#[test]
fn a_provider_cannot_be_removed_and_its_id_cannot_be_taken() {
    let lord = Lord::new();
    lord.run(&["plugin", "remove", "secrets"])
        .assert_code(2)
        .assert_stderr_contains("lord plugin disable secrets");
    for id in ["secrets", "lord"] {
        let taken = variant("hello", |m| {
            m.replace("id = \"hello\"", &format!("id = \"{id}\""))
        });
        lord.run(&[
            "plugin",
            "install",
            taken.path().to_str().expect("utf-8"),
            "--yes",
        ])
        .assert_code(2)
        .assert_stderr_contains(&format!("plugin id `{id}` is reserved"));
    }
    assert!(lord.list().is_empty());
}
