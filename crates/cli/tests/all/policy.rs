//! `lord policy` and governance through the CLI, with policies in the
//! user's layer (`$LORD_HOME/policies/`; the machine's layer is
//! `/etc/lord/policies`, which the tests do not write: `lord-host`'s tests
//! give the machine's layer a folder of their own). The principal is the
//! account the tests run as, read from the operating system, not `USER`.

use serde_json::Value;

use crate::support::{Lord, fixture};

fn with_policies(files: &[(&str, &str)]) -> Lord {
    let lord = Lord::new();
    let dir = lord.home.path().join("policies");
    std::fs::create_dir_all(&dir).expect("policies dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("policy");
    }
    lord
}

const PERMIT_ALL: (&str, &str) = ("00-base.cedar", "permit(principal, action, resource);");

fn no_apache(mode: &str) -> String {
    format!(
        "@id(\"no-apache\") @enforcement(\"{mode}\")\nforbid(principal, action == Lord::Action::\"install\", resource) when {{ resource.license like \"*Apache*\" }};"
    )
}

#[test]
fn check_names_the_deciding_policy_and_exits_1_when_refused() {
    let rule = no_apache("block");
    let lord = with_policies(&[PERMIT_ALL, ("licence.cedar", &rule)]);
    let hello = fixture("hello");
    let hello = hello.to_str().expect("utf-8");
    let run = lord.run(&["policy", "check", hello, "install"]);
    run.assert_code(1);
    assert!(run.stdout().contains("refused (block)"), "{}", run.stdout());
    assert!(run.stdout().contains("no-apache"), "{}", run.stdout());
    let run = lord.run(&[
        "policy",
        "check",
        hello,
        "run",
        "--command",
        "hello",
        "--json",
    ]);
    run.assert_ok();
    let v: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(v["proceeds"], true, "{v}");
    assert_eq!(
        v["verdicts"][0]["deciding"][0]["name"], "00-base.cedar#1",
        "{v}"
    );
    // Asking records nothing.
    let report = lord.run(&["audit", "report", "--json"]);
    assert!(
        !report.stdout().contains("policy-decision"),
        "{}",
        report.stdout()
    );
}

#[test]
fn install_is_refused_by_block_and_warned_by_warn_and_both_are_audited() {
    let block = no_apache("block");
    let lord = with_policies(&[PERMIT_ALL, ("licence.cedar", &block)]);
    let hello = fixture("hello");
    let run = lord.run(&["plugin", "install", hello.to_str().expect("utf-8"), "--yes"]);
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("policy refuses `install` of plugin `hello`");
    run.assert_stderr_contains("no-apache");
    assert!(lord.list().is_empty(), "nothing installed");

    let warn = no_apache("warn");
    let lord = with_policies(&[PERMIT_ALL, ("licence.cedar", &warn)]);
    let run = lord.install("hello");
    run.assert_stderr_contains("policy warns against `install` of `hello`");
    lord.assert_hello_works();
    let report = lord.run(&["audit", "report", "--json"]);
    assert!(
        report.stdout().contains("install: warn"),
        "{}",
        report.stdout()
    );
    assert!(
        report.stdout().contains("policy-changed"),
        "{}",
        report.stdout()
    );
}

#[test]
fn a_broken_policy_is_named_by_validate_and_refuses_installs() {
    let lord = with_policies(&[
        PERMIT_ALL,
        (
            "typo.cedar",
            "forbid(principal, action, resource) when { resource.licence == \"x\" };",
        ),
    ]);
    let run = lord.run(&["policy", "validate"]);
    run.assert_code(1);
    run.assert_stderr_contains("typo.cedar");
    run.assert_stderr_contains("licence");
    let hello = fixture("hello");
    let run = lord.run(&["plugin", "install", hello.to_str().expect("utf-8"), "--yes"]);
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("cannot be used");
}

#[test]
fn list_shows_each_policy_with_its_layer_and_enforcement() {
    let rule = no_apache("report");
    let lord = with_policies(&[PERMIT_ALL, ("licence.cedar", &rule)]);
    let run = lord.run(&["policy", "list", "--json"]);
    run.assert_ok();
    let v: Value = serde_json::from_str(&run.stdout()).expect("json");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{v}");
    let rule = rows
        .iter()
        .find(|r| r["name"] == "no-apache")
        .expect("listed");
    assert_eq!(rule["scope"], "user");
    assert_eq!(rule["effect"], "forbid");
    assert_eq!(rule["enforcement"], "report");
    let schema = lord.run(&["policy", "schema"]);
    assert!(
        schema.stdout().contains("entity Plugin"),
        "{}",
        schema.stdout()
    );
    let empty = Lord::new().run(&["policy", "list"]);
    assert!(
        empty.stdout().contains("no policies are in force"),
        "{}",
        empty.stdout()
    );
}

/// From a registry, a package is `source == "registry"` and carries the
/// ids of the advisories its registry says affect that version: a policy
/// refusing advised versions refuses `hello` 0.1.0 once its registry
/// lists an advisory for it, and lets it in while none does.
#[test]
fn a_registry_install_carries_its_advisories_to_the_policies() {
    let author = Lord::new();
    let served = crate::registry::Served::start(&author);
    let token = served.token(&author, "publish:hello");
    served
        .publish(&author, &fixture("hello"), &token)
        .assert_ok();
    let rule = "@id(\"no-advised\")\nforbid(principal, action == Lord::Action::\"install\", resource) unless { resource has source && resource.source == \"registry\" && resource has advisories && resource.advisories.isEmpty() };";
    let install = |user: &Lord| {
        let dir = user.home.path().join("policies");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("00-base.cedar"), PERMIT_ALL.1).expect("base");
        std::fs::write(dir.join("advised.cedar"), rule).expect("rule");
        user.run(&[
            "plugin",
            "install",
            "hello",
            "--registry",
            &served.url,
            "--yes",
        ])
    };
    let before = crate::registry::trusting(&author);
    install(&before).assert_ok();
    before.assert_hello_works();

    let advisory = author.project.path().join("LORD-2026-0042.json");
    std::fs::write(
        &advisory,
        serde_json::json!({
            "id": "LORD-2026-0042",
            "modified": "2026-12-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "lord", "name": "hello"},
                "versions": ["0.1.0"]
            }]
        })
        .to_string(),
    )
    .expect("advisory");
    author
        .run(&[
            "registry",
            "advisory",
            "add",
            advisory.to_str().expect("utf-8"),
            "--data",
            served.data.path().to_str().expect("utf-8"),
        ])
        .assert_ok();
    let after = crate::registry::trusting(&author);
    let run = install(&after);
    assert_ne!(run.code(), Some(0), "{}", run.stderr());
    run.assert_stderr_contains("no-advised");
    assert!(after.list().is_empty());
}

/// The policies a registry serves: the operator sets them (a file the
/// schema refuses is not served), a user's `lord policy sync` brings them
/// through the registry's signed index into the user's layer, where they
/// refuse an install; text changed behind the index is refused and the
/// synced policies stay in force; withdrawn, they are removed.
#[test]
fn policies_a_registry_serves_are_synced_through_its_signed_index() {
    let author = Lord::new();
    let served = crate::registry::Served::start(&author);
    let token = served.token(&author, "publish:hello");
    served
        .publish(&author, &fixture("hello"), &token)
        .assert_ok();
    let data = served.data.path().to_str().expect("utf-8").to_owned();
    let set = |text: &str| {
        let file = author.project.path().join("org.cedar");
        std::fs::write(&file, text).expect("policies");
        author.run(&[
            "registry",
            "policy",
            "set",
            file.to_str().expect("utf-8"),
            "--data",
            &data,
            "--json",
        ])
    };
    let refused = set("forbid(principal, action, resource) when { resource.licence == \"x\" };");
    assert_ne!(refused.code(), Some(0));
    refused.assert_stderr_contains("org.cedar");
    let forbid = "@id(\"no-hello\") @enforcement(\"block\")\nforbid(principal, action == Lord::Action::\"install\", resource) when { resource.id == \"hello\" };";
    let user = crate::registry::trusting(&author);
    let sync = || user.run(&["policy", "sync", "--registry", &served.url, "--json"]);
    // Forbids alone would leave the user's layer permitting nothing, so
    // every action refused: the sync refuses them instead.
    set(forbid).assert_ok();
    let run = sync();
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("no `permit`");
    assert!(
        !user.home.path().join("policies").exists()
            || std::fs::read_dir(user.home.path().join("policies"))
                .expect("dir")
                .next()
                .is_none()
    );

    let rules = format!("{}\n{forbid}", PERMIT_ALL.1);
    let signed = set(&rules);
    signed.assert_ok();
    let signed: Value = serde_json::from_str(&signed.stdout()).expect("json");
    assert_eq!(signed["policies"], 2);

    let run = sync();
    run.assert_ok();
    let synced: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(
        (&synced["policies"], &synced["changed"], &synced["layer"]),
        (&Value::from(2), &Value::from(true), &Value::from("user"))
    );
    let file = std::path::PathBuf::from(synced["file"].as_str().expect("file"));
    assert!(file.starts_with(user.home.path().join("policies")));
    assert_eq!(std::fs::read_to_string(&file).expect("synced"), rules);
    let again: Value = serde_json::from_str(&sync().stdout()).expect("json");
    assert_eq!(again["changed"], false);
    let install = || {
        user.run(&[
            "plugin",
            "install",
            "hello",
            "--registry",
            &served.url,
            "--yes",
        ])
    };
    let run = install();
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("no-hello");

    // A policy of the user's own with the same @id: the layer would not
    // load, so the sync refuses and the synced file stays.
    let local = user.home.path().join("policies/local.cedar");
    std::fs::write(
        &local,
        "@id(\"no-hello\")\npermit(principal, action, resource);",
    )
    .expect("local");
    set(&format!("{rules}\n// revised")).assert_ok();
    let run = sync();
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("do not fit");
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), rules);
    std::fs::remove_file(&local).expect("remove local");
    set(&rules).assert_ok();

    // The stored text changed behind the signed index: refused, and the
    // synced policies stay as they were.
    let digest = signed["digest"].as_str().expect("digest");
    let blob = find_file(&served.data.path().join("blobs"), digest).expect("the stored policies");
    std::fs::write(&blob, PERMIT_ALL.1).expect("tamper");
    let run = sync();
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("policies");
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), rules);

    // Withdrawn: the file goes, and hello installs.
    set("").assert_ok();
    let withdrawn: Value = serde_json::from_str(&sync().stdout()).expect("json");
    assert_eq!(
        (&withdrawn["policies"], &withdrawn["changed"]),
        (&Value::from(0), &Value::from(true))
    );
    assert!(!file.exists());
    install().assert_ok();
}

/// The file under `dir` whose name contains `name`.
fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.to_string_lossy().contains(name) {
            return Some(path);
        }
    }
    None
}

/// `publish` is governed like `install`: a policy on the author's machine
/// that forbids publishing a package refuses `lord pdk publish` before
/// anything reaches the registry, names itself, and is recorded; a warn
/// policy lets it through with a warning.
#[test]
fn a_publish_policy_refuses_a_package_before_it_leaves_the_machine() {
    let author = Lord::new();
    let served = crate::registry::Served::start(&author);
    let token = served.token(&author, "publish:*");
    let policies = author.home.path().join("policies");
    std::fs::create_dir_all(&policies).expect("policies dir");
    std::fs::write(policies.join("00-base.cedar"), PERMIT_ALL.1).expect("base");
    let rule = |mode: &str| {
        format!(
            "@id(\"no-apache-out\") @enforcement(\"{mode}\")\nforbid(principal, action == Lord::Action::\"publish\", resource) when {{ resource.license like \"*Apache*\" }};"
        )
    };
    std::fs::write(policies.join("publish.cedar"), rule("block")).expect("rule");
    let refused = served.publish(&author, &fixture("hello"), &token);
    assert_ne!(refused.code(), Some(0), "{}", refused.stderr());
    refused.assert_stderr_contains("no-apache-out");
    let search = author.run(&[
        "plugin",
        "search",
        "hello",
        "--registry",
        &served.url,
        "--json",
    ]);
    search.assert_ok();
    let found: Value = serde_json::from_str(&search.stdout()).expect("json");
    assert_eq!(found["total"], 0, "{found}");
    let report = author.run(&["audit", "report", "--json"]);
    assert!(
        report.stdout().contains("publish: block"),
        "{}",
        report.stdout()
    );

    std::fs::write(policies.join("publish.cedar"), rule("warn")).expect("rule");
    let warned = served.publish(&author, &fixture("hello"), &token);
    warned
        .assert_ok()
        .assert_stderr_contains("policy warns against `publish` of `hello`");
    let search = author.run(&[
        "plugin",
        "search",
        "hello",
        "--registry",
        &served.url,
        "--json",
    ]);
    let found: Value = serde_json::from_str(&search.stdout()).expect("json");
    assert_eq!(found["total"], 1, "{found}");
}
