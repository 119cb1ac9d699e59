//! Governance policies where plugins are installed, granted, enabled and
//! run: each enforcement mode, the machine's layer against a user who
//! would loosen it, a policy file that cannot be used, and what the audit
//! trail keeps. The machine's folder is a temporary one here (the real
//! one, `/etc/lord/policies`, is not the tests' to write); it reaches the
//! framework through `HostConfig::policy`, the same door the CLI uses.

use std::path::Path;

use lord_host::lord_policy::{Action, Enforcement, Scope};
use lord_host::{Framework, HostConfig, HostError};

use super::{arg, fixture, runtime};

struct Governed {
    _dirs: tempfile::TempDir,
    framework: Framework,
}

impl Governed {
    fn machine(&self) -> std::path::PathBuf {
        self._dirs.path().join("machine")
    }

    fn audit(&self, id: &str) -> Vec<(String, String)> {
        let id = id.parse().expect("id");
        self.framework
            .audit_log(&id)
            .expect("audit")
            .into_iter()
            .map(|e| (e.action, e.detail))
            .collect()
    }
}

/// A framework whose machine layer holds `machine` and user layer `user`
/// (file name, text), asked as `user_name`.
fn governed(machine: &[(&str, &str)], user: &[(&str, &str)], user_name: &str) -> Governed {
    let dirs = tempfile::tempdir().expect("dirs");
    let home = dirs.path().join("home");
    let project = dirs.path().join("project");
    for (dir, files) in [
        (dirs.path().join("machine"), machine),
        (home.join("policies"), user),
    ] {
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("policy");
        }
    }
    std::fs::create_dir_all(&project).expect("project");
    let mut config = HostConfig::new(home.clone(), project);
    config.policy.dirs = vec![
        (Scope::Machine, dirs.path().join("machine")),
        (Scope::User, home.join("policies")),
    ];
    config.policy.user = user_name.to_owned();
    config.policy.hostname = "build-01".to_owned();
    let framework = Framework::open(config).expect("opens");
    Governed {
        _dirs: dirs,
        framework,
    }
}

fn install(g: &mut Governed, name: &str) -> Result<(), HostError> {
    let plan = g.framework.plan_install(&fixture(name))?;
    runtime().block_on(g.framework.install(plan)).map(|_| ())
}

const PERMIT_ALL: (&str, &str) = ("00-base.cedar", "permit(principal, action, resource);");

fn license_rule(mode: &str) -> String {
    format!(
        "@id(\"no-apache\") @enforcement(\"{mode}\")\nforbid(principal, action == Lord::Action::\"install\", resource) when {{ resource.license like \"*Apache*\" }};"
    )
}

#[test]
fn block_refuses_the_install_names_the_policy_and_stores_nothing() {
    let rule = license_rule("block");
    let mut g = governed(&[PERMIT_ALL, ("licence.cedar", &rule)], &[], "ann");
    let err = install(&mut g, "hello").expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, HostError::PolicyRefused { .. }), "{err:?}");
    assert!(
        text.contains("no-apache") && text.contains("licence.cedar"),
        "{text}"
    );
    let hello = "hello".parse().expect("id");
    assert!(g.framework.get(&hello).is_err(), "nothing stored");
    let audit = g.audit("hello");
    assert!(
        audit
            .iter()
            .any(|(a, d)| a == "policy-decision" && d.starts_with("install: block")),
        "{audit:?}"
    );
}

#[test]
fn warn_installs_with_a_warning_and_report_installs_silently_both_recorded() {
    for (mode, warned) in [("warn", true), ("report", false)] {
        let rule = license_rule(mode);
        let mut g = governed(&[PERMIT_ALL, ("licence.cedar", &rule)], &[], "ann");
        install(&mut g, "hello").expect(mode);
        let warnings = g.framework.take_policy_warnings();
        assert_eq!(!warnings.is_empty(), warned, "{mode}: {warnings:?}");
        if warned {
            assert!(warnings[0].contains("no-apache"), "{warnings:?}");
        }
        assert!(g.framework.take_policy_warnings().is_empty(), "taken once");
        let audit = g.audit("hello");
        assert!(
            audit
                .iter()
                .any(|(a, d)| a == "policy-decision" && d.starts_with(&format!("install: {mode}"))),
            "{mode}: {audit:?}"
        );
    }
}

#[test]
fn a_user_cannot_loosen_the_machines_policy() {
    let machine = [
        (
            "admins.cedar",
            "@id(\"admins-only\")\npermit(principal in Lord::Group::\"admins\", action, resource);",
        ),
        ("groups.toml", "[groups.admins]\nusers = [\"ann\"]\n"),
    ];
    // Bob permits everything in his own layer and names himself an admin.
    let user = [
        ("mine.cedar", "permit(principal, action, resource);"),
        ("groups.toml", "[groups.admins]\nusers = [\"bob\"]\n"),
    ];
    let mut bob = governed(&machine, &user, "bob");
    let err = install(&mut bob, "hello").expect_err("bob is refused");
    assert!(
        err.to_string().contains("no machine policy permits it"),
        "{err}"
    );
    let mut ann = governed(&machine, &user, "ann");
    install(&mut ann, "hello").expect("ann is an admin of the machine");
}

#[test]
fn each_permission_is_a_grant_decision() {
    let rule = "@id(\"no-net\")\nforbid(principal, action == Lord::Action::\"grant\", resource) when { context has permission_family && context.permission_family == \"net\" };";
    let mut g = governed(&[PERMIT_ALL, ("net.cedar", rule)], &[], "ann");
    let err = install(&mut g, "hostile/httpget").expect_err("net refused");
    assert!(err.to_string().contains("grant net(127.0.0.1:9)"), "{err}");
    install(&mut g, "hello").expect("asks for nothing");
}

#[test]
fn run_is_governed_and_an_allowed_run_writes_nothing() {
    let dirs_rule = "@id(\"no-hello-run\")\nforbid(principal, action == Lord::Action::\"run\", resource) when { context has command && context.command == \"hello\" };";
    let mut g = governed(&[PERMIT_ALL], &[], "ann");
    install(&mut g, "hello").expect("installs");
    let before = g.audit("hello").len();
    runtime()
        .block_on(g.framework.run_command("hello", arg("name", "x")))
        .expect("runs");
    assert_eq!(
        g.audit("hello").len(),
        before,
        "an allowed run is not recorded"
    );

    std::fs::write(g.machine().join("run.cedar"), dirs_rule).expect("policy");
    let home = g.framework.audit_checkpoints_path();
    drop(home);
    // Policies are read once per process: a new framework sees the file.
    let mut config = HostConfig::new(g._dirs.path().join("home"), g._dirs.path().join("project"));
    config.policy.dirs = vec![(Scope::Machine, g.machine())];
    config.policy.user = "ann".to_owned();
    let mut fresh = Framework::open(config).expect("opens");
    let err = runtime()
        .block_on(fresh.run_command("hello", arg("name", "x")))
        .expect_err("refused");
    assert!(err.to_string().contains("no-hello-run"), "{err}");
    let audit: Vec<_> = fresh
        .audit_log(&"hello".parse().expect("id"))
        .expect("audit")
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(
        audit.iter().any(|d| d.starts_with("run: block")),
        "{audit:?}"
    );
    // And the change of policies was itself recorded, once.
    let lord: Vec<_> = fresh
        .audit_log(&"lord".parse().expect("id"))
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "policy-changed")
        .collect();
    assert_eq!(
        lord.len(),
        2,
        "first policies, then the added file: {lord:?}"
    );
    assert!(lord[1].detail.contains("run.cedar"), "{lord:?}");
}

#[test]
fn a_broken_policy_file_refuses_everything_it_governs() {
    let mut g = governed(
        &[
            PERMIT_ALL,
            (
                "typo.cedar",
                "forbid(principal, action, resource) when { resource.licence == \"x\" };",
            ),
        ],
        &[],
        "ann",
    );
    let err = install(&mut g, "hello").expect_err("refused");
    assert!(matches!(err, HostError::PolicyUnusable(_)), "{err:?}");
    assert!(err.to_string().contains("typo.cedar"), "{err}");
}

#[test]
fn decide_explains_without_recording() {
    let rule = license_rule("warn");
    let g = governed(&[PERMIT_ALL, ("licence.cedar", &rule)], &[], "ann");
    let plan = g.framework.plan_install(&fixture("hello")).expect("plan");
    let facts = lord_host::governance::plan_facts(&plan);
    let decision = g
        .framework
        .decide(Action::Install, facts, None, None)
        .expect("decides");
    assert_eq!(decision.refusal, Some(Enforcement::Warn));
    assert!(decision.proceeds());
    assert!(g.audit("hello").is_empty());
    let _ = Path::new("");
}

/// A policy refusing `run` of a plugin: its micro handlers, its event
/// handler, its message handler and an embedder's kept instance are all
/// refused, not its commands alone, and each refusal is recorded.
#[test]
fn a_refused_run_holds_on_every_path_to_plugin_code() {
    let rule = |id: &str| {
        format!(
            "@id(\"no-{id}\")\nforbid(principal, action == Lord::Action::\"run\", resource) when {{ resource.id == \"{id}\" }};"
        )
    };
    let (hello_rule, tally_rule) = (rule("hello"), rule("tally"));
    // Installed and enabled first; the policy comes later (a plugin it
    // refuses to run is not enabled at all: enabling runs its hooks).
    let mut g = governed(&[PERMIT_ALL], &[], "ann");
    for name in ["hello", "tally", "notes"] {
        install(&mut g, name).expect("installs");
    }
    for (name, text) in [("hello.cedar", &hello_rule), ("tally.cedar", &tally_rule)] {
        std::fs::write(g.machine().join(name), text).expect("policy");
    }
    let mut config = HostConfig::new(g._dirs.path().join("home"), g._dirs.path().join("project"));
    config.policy.dirs = vec![(Scope::Machine, g.machine())];
    config.policy.user = "ann".to_owned();
    g.framework = Framework::open(config).expect("opens");
    let rt = runtime();

    // An embedder's kept instance.
    let hello: lord_manifest::PluginId = "hello".parse().expect("id");
    let Err(refused) = rt.block_on(g.framework.load(&hello)) else {
        panic!("a kept instance of a plugin the policy refuses to run was made");
    };
    assert!(
        matches!(refused, HostError::PolicyRefused { .. }),
        "{refused:?}"
    );

    // Its micro handler in a pipeline; recorded once the pipeline ran.
    let manager = g.framework.micro_manager().expect("manager");
    let greet: lord_manifest::MicroId = "greet".parse().expect("micro id");
    let refused = rt
        .block_on(manager.execute(
            &greet,
            serde_json::json!("ann"),
            &lord_host::lord_micro::CallContext::default(),
        ))
        .expect_err("the micro handler ran");
    assert!(refused.to_string().contains("no-hello"), "{refused}");
    rt.block_on(g.framework.judge_throttles()).expect("judged");
    let audit = g.audit("hello");
    assert!(
        audit.iter().any(|(a, d)| a == "policy-decision"
            && d.starts_with("run: block")
            && d.contains("1 call")),
        "{audit:?}"
    );

    // Its event handler: `notes` runs, `tally` hears nothing, and the
    // refused delivery is recorded against `tally`.
    rt.block_on(g.framework.run_command("note", arg("text", "first")))
        .expect("notes runs");
    let audit = g.audit("tally");
    assert!(
        audit
            .iter()
            .any(|(a, d)| a == "policy-decision" && d.starts_with("run: block")),
        "{audit:?}"
    );
    // And its message handler: `note-stats` asks `tally`, which answers
    // nothing.
    let asked = rt.block_on(g.framework.run_command("note-stats", Vec::new()));
    let shown = match asked {
        Ok(outcome) => outcome.text,
        Err(e) => e.to_string(),
    };
    assert!(shown.contains("no-tally"), "{shown}");
}

/// Hooks are plugin code too: under a policy refusing `run`, enabling a
/// plugin runs none of its hooks and is refused, disabling it skips its
/// on-disable hook (and still disables it), and no path enables it first
/// and asks afterwards.
#[test]
fn a_refused_run_runs_no_hook() {
    let mut g = governed(&[PERMIT_ALL], &[], "ann");
    install(&mut g, "hello").expect("installs");
    let hello: lord_manifest::PluginId = "hello".parse().expect("id");
    let rt = runtime();
    rt.block_on(g.framework.disable(&hello)).expect("disables");

    let rule = "@id(\"no-hello\")\nforbid(principal, action == Lord::Action::\"run\", resource) when { resource.id == \"hello\" };";
    std::fs::write(g.machine().join("hello.cedar"), rule).expect("policy");
    let mut config = HostConfig::new(g._dirs.path().join("home"), g._dirs.path().join("project"));
    config.policy.dirs = vec![(Scope::Machine, g.machine())];
    config.policy.user = "ann".to_owned();
    let mut fresh = Framework::open(config).expect("opens");
    let Err(refused) = rt.block_on(fresh.enable(&hello)) else {
        panic!("a plugin the policy refuses to run was enabled, its hooks run");
    };
    assert!(
        matches!(refused, HostError::PolicyRefused { .. }),
        "{refused:?}"
    );
    let state = fresh.get(&hello).expect("installed").state;
    assert_eq!(state, lord_store::PluginState::Disabled);
    // An embedder's kept instance is refused before anything is enabled.
    assert!(rt.block_on(fresh.load(&hello)).is_err());
    assert_eq!(
        fresh.get(&hello).expect("installed").state,
        lord_store::PluginState::Disabled
    );
}
