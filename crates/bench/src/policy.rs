//! What governance costs an install: one install decision through
//! `lord-host`'s public API (`Framework::decide`, what `install` asks
//! before it stores anything), against a machine layer of a dozen
//! policies of the kinds administrators write (licences, risk, signatures,
//! groups, grants) and a `groups.toml` of 200 users, plus a user layer.
//! `policy_eval_us` is the median of single decisions; the policies are
//! read once per process, which `policy_load_us` measures on its own
//! (parsing and strict validation of the same files).

use std::time::Instant;

use anyhow::{Context as _, Result};
use lord_host::governance::plan_facts;
use lord_host::lord_policy::{Action, LayerSource, Policies, Scope};
use lord_host::{Framework, HostConfig};

use crate::fixtures::Plugins;
use crate::timing::Latencies;

/// Decisions measured, after `WARM_UP` not kept.
pub(crate) const ITERATIONS: usize = 2000;
const WARM_UP: usize = 100;
/// Loads of the policy files measured.
const LOADS: usize = 50;

const MACHINE: &[(&str, &str)] = &[
    (
        "00-base.cedar",
        "@id(\"base\")\npermit(principal, action, resource);",
    ),
    (
        "licences.cedar",
        r#"@id("no-agpl") forbid(principal, action in [Lord::Action::"install", Lord::Action::"update"], resource) when { resource.license like "*AGPL*" };
@id("no-sspl") forbid(principal, action in [Lord::Action::"install", Lord::Action::"update"], resource) when { resource.license like "*SSPL*" };
@id("warn-gpl") @enforcement("warn") forbid(principal, action == Lord::Action::"install", resource) when { resource.license like "GPL*" };"#,
    ),
    (
        "risk.cedar",
        r#"@id("critical-admins") forbid(principal, action == Lord::Action::"install", resource) when { resource.risk_score >= 3 } unless { principal in Lord::Group::"admins" };
@id("no-exec-on-servers") forbid(principal, action == Lord::Action::"grant", resource) when { context has permission_family && context.permission_family == "exec" && context.machine in Lord::Group::"servers" };"#,
    ),
    (
        "provenance.cedar",
        r#"@id("signed-only") forbid(principal, action == Lord::Action::"install", resource) when { resource has source && resource.source == "package" && resource has signed && !resource.signed };
@id("approved-registry") forbid(principal, action == Lord::Action::"install", resource) when { resource has source && resource.source == "registry" && !(resource has approved && resource.approved) };
@id("no-advisories") forbid(principal, action == Lord::Action::"install", resource) when { resource has advisories && resource.advisories.containsAny(["LORD-2026-0001", "LORD-2026-0002"]) };
@id("report-net") @enforcement("report") forbid(principal, action == Lord::Action::"install", resource) when { resource.permission_families.contains("net") };
@id("interns-no-run") forbid(principal in Lord::Group::"interns", action == Lord::Action::"run", resource) when { resource.risk_score >= 2 };"#,
    ),
];

const USER: &[(&str, &str)] = &[(
    "mine.cedar",
    "permit(principal, action, resource);\nforbid(principal, action == Lord::Action::\"install\", resource) when { resource.id == \"never-this\" };",
)];

fn groups() -> String {
    let mut text =
        String::from("[groups.admins]\nusers = [\"ann\", \"root\"]\n[groups.interns]\nusers = [");
    for n in 0..200 {
        text.push_str(&format!("\"user{n}\", "));
    }
    text.push_str("]\n[groups.servers]\nmachines = [\"db-01\", \"db-02\"]\n");
    text
}

/// Median single-decision time and the policies' load time.
#[derive(Debug, Clone)]
pub(crate) struct PolicyResults {
    pub(crate) decide: Latencies,
    pub(crate) load: Latencies,
}

pub(crate) fn measure(plugins: &Plugins) -> Result<PolicyResults> {
    let dirs = tempfile::tempdir().context("temp dir")?;
    let machine = dirs.path().join("machine");
    let home = dirs.path().join("home");
    let user = home.join("policies");
    let groups = groups();
    for (dir, files) in [(&machine, MACHINE), (&user, USER)] {
        std::fs::create_dir_all(dir).context("policy dir")?;
        for (name, text) in files {
            std::fs::write(dir.join(name), text).context("policy file")?;
        }
    }
    std::fs::write(machine.join("groups.toml"), &groups).context("groups")?;
    let project = dirs.path().join("project");
    std::fs::create_dir_all(&project).context("project")?;
    let mut config = HostConfig::new(home, project);
    config.policy.dirs = vec![(Scope::Machine, machine), (Scope::User, user)];
    config.policy.user = "user7".to_owned();
    let framework = Framework::open(config)?;
    let plan = framework.plan_install(&plugins.hello())?;
    let facts = plan_facts(&plan);
    let mut decide = Latencies::default();
    for i in 0..WARM_UP + ITERATIONS {
        let facts = facts.clone();
        let started = Instant::now();
        let decision = framework.decide(Action::Install, facts, None, None)?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            decision.proceeds(),
            "the bench's decision should allow: {}",
            decision.explain()
        );
        if i >= WARM_UP {
            decide.push(elapsed);
        }
    }
    let source = |files: &[(&str, &str)], groups: Option<&str>| LayerSource {
        files: files
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect(),
        groups: groups.map(|g| ("groups.toml".to_owned(), g.to_owned())),
    };
    let mut load = Latencies::default();
    for _ in 0..LOADS {
        let layers = vec![
            (Scope::Machine, source(MACHINE, Some(&groups))),
            (Scope::User, source(USER, None)),
        ];
        let started = Instant::now();
        let policies = Policies::load(layers)?;
        load.push(started.elapsed());
        std::hint::black_box(policies);
    }
    Ok(PolicyResults { decide, load })
}
