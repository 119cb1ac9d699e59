//! Decisions of lord's governance policies: each enforcement mode, a
//! `forbid` against an approval, layers that can only add refusals, and
//! policies refused at load for naming what the schema does not have.

use lord_manifest::{Permission, RiskLevel};
use lord_policy::{
    Action, Enforcement, LayerSource, PluginFacts, Policies, Principal, Provenance, Request, Scope,
    Source,
};

fn layer(files: &[&str]) -> LayerSource {
    LayerSource {
        files: files
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("p{i}.cedar"), (*text).to_owned()))
            .collect(),
        groups: None,
    }
}

fn load(machine: LayerSource, user: LayerSource) -> Policies {
    Policies::load(vec![(Scope::Machine, machine), (Scope::User, user)]).expect("policies load")
}

fn plugin(id: &str, license: &str, approved: Option<bool>) -> PluginFacts {
    PluginFacts {
        id: id.parse().expect("id"),
        version: "1.0.0".to_owned(),
        license: Some(license.to_owned()),
        risk: RiskLevel::High,
        permissions: vec!["net(api.example.com)".parse::<Permission>().expect("perm")],
        provenance: Some(Provenance {
            source: Source::Registry,
            signed: true,
            publisher: Some("acme".to_owned()),
            approved,
            advisories: None,
        }),
    }
}

fn ask(
    policies: &Policies,
    user: &str,
    action: Action,
    plugin: PluginFacts,
) -> lord_policy::Decision {
    policies
        .decide(&Request {
            principal: Principal {
                user: user.to_owned(),
                hostname: "build-01".to_owned(),
                os: "linux".to_owned(),
            },
            action,
            plugin,
            permission: None,
            command: None,
        })
        .expect("decides")
}

const PERMIT_ALL: &str = "permit(principal, action, resource);";

#[test]
fn with_no_policies_nothing_is_asked_and_all_proceeds() {
    let policies = load(layer(&[]), layer(&[]));
    assert!(policies.is_empty());
    let d = ask(&policies, "ann", Action::Install, plugin("p", "MIT", None));
    assert!(d.proceeds());
    assert_eq!(d.refusal, None);
    assert!(d.verdicts.is_empty());
}

#[test]
fn block_refuses_warn_and_report_proceed_and_the_strictest_wins() {
    let gpl = |mode: &str| {
        format!(
            "@id(\"no-gpl-{mode}\") @enforcement(\"{mode}\")\nforbid(principal, action == Lord::Action::\"install\", resource) when {{ resource.license like \"GPL*\" }};"
        )
    };
    for (mode, expect, proceeds) in [
        ("block", Enforcement::Block, false),
        ("warn", Enforcement::Warn, true),
        ("report", Enforcement::Report, true),
    ] {
        let policies = load(layer(&[PERMIT_ALL, &gpl(mode)]), layer(&[]));
        let d = ask(
            &policies,
            "ann",
            Action::Install,
            plugin("p", "GPL-3.0-only", None),
        );
        assert_eq!(d.refusal, Some(expect), "{mode}");
        assert_eq!(d.proceeds(), proceeds, "{mode}");
        let names: Vec<_> = d.refusing().map(|p| p.name.clone()).collect();
        assert_eq!(names, [format!("no-gpl-{mode}")]);
        assert!(
            d.explain().contains(&format!("no-gpl-{mode}")),
            "{}",
            d.explain()
        );
        // The same policy says nothing of an MIT plugin.
        let d = ask(&policies, "ann", Action::Install, plugin("p", "MIT", None));
        assert_eq!(d.refusal, None, "{mode}");
    }
    // A warn and a block both refusing: block.
    let policies = load(
        layer(&[PERMIT_ALL, &gpl("warn"), &gpl("block")]),
        layer(&[]),
    );
    let d = ask(
        &policies,
        "ann",
        Action::Install,
        plugin("p", "GPL-3.0-only", None),
    );
    assert_eq!(d.refusal, Some(Enforcement::Block));
}

#[test]
fn a_forbid_beats_an_approval() {
    let policies = load(
        layer(&[
            "@id(\"approved-only\")\npermit(principal, action == Lord::Action::\"install\", resource) when { resource has approved && resource.approved };",
            "@id(\"no-critical-net\")\nforbid(principal, action == Lord::Action::\"install\", resource) when { resource.id == \"exfil\" };",
        ]),
        layer(&[]),
    );
    let approved = ask(
        &policies,
        "ann",
        Action::Install,
        plugin("ok", "MIT", Some(true)),
    );
    assert_eq!(approved.refusal, None, "{}", approved.explain());
    let unapproved = ask(
        &policies,
        "ann",
        Action::Install,
        plugin("ok", "MIT", Some(false)),
    );
    assert_eq!(unapproved.refusal, Some(Enforcement::Block));
    assert!(unapproved.verdicts[0].nothing_permits);
    let forbidden = ask(
        &policies,
        "ann",
        Action::Install,
        plugin("exfil", "MIT", Some(true)),
    );
    assert_eq!(forbidden.refusal, Some(Enforcement::Block));
    assert_eq!(
        forbidden
            .refusing()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["no-critical-net"]
    );
}

#[test]
fn a_warn_or_report_forbid_cannot_turn_nothing_permits_into_a_warning() {
    let signed_only = "@id(\"signed-only\")\npermit(principal, action == Lord::Action::\"install\", resource) when { resource has signed && resource.signed };";
    let unsigned_critical = || {
        let mut p = plugin("p", "MIT", None);
        p.risk = RiskLevel::Critical;
        if let Some(provenance) = p.provenance.as_mut() {
            provenance.signed = false;
        }
        p
    };
    for mode in ["warn", "report"] {
        // A forbid that matches an action no permit allows: still block.
        let no_critical = format!(
            "@id(\"no-critical\") @enforcement(\"{mode}\")\nforbid(principal, action, resource) when {{ resource.risk == \"critical\" }};"
        );
        let policies = load(layer(&[signed_only, &no_critical]), layer(&[]));
        let d = ask(&policies, "ann", Action::Install, unsigned_critical());
        assert_eq!(
            d.refusal,
            Some(Enforcement::Block),
            "{mode}: {}",
            d.explain()
        );
        assert!(!d.proceeds(), "{mode}");
        assert!(d.verdicts[0].nothing_permits, "{mode}");
        assert!(
            d.explain().contains("no machine policy permits it"),
            "{mode}: {}",
            d.explain()
        );
        // Signed, the permit is satisfied and the forbid's mode holds.
        let mut signed = unsigned_critical();
        if let Some(provenance) = signed.provenance.as_mut() {
            provenance.signed = true;
        }
        let d = ask(&policies, "ann", Action::Install, signed);
        let expect = if mode == "warn" {
            Enforcement::Warn
        } else {
            Enforcement::Report
        };
        assert_eq!(d.refusal, Some(expect), "{mode}: {}", d.explain());
        assert!(d.proceeds(), "{mode}");
        assert!(!d.verdicts[0].nothing_permits, "{mode}");

        // A forbid of everything beside an allow-list does not cancel it.
        let everything = format!("@enforcement(\"{mode}\")\nforbid(principal, action, resource);");
        let policies = load(layer(&[signed_only, &everything]), layer(&[]));
        let d = ask(&policies, "ann", Action::Enable, plugin("p", "MIT", None));
        assert_eq!(
            d.refusal,
            Some(Enforcement::Block),
            "{mode}: {}",
            d.explain()
        );
        let d = ask(&policies, "ann", Action::Install, unsigned_critical());
        assert_eq!(
            d.refusal,
            Some(Enforcement::Block),
            "{mode}: {}",
            d.explain()
        );
    }
}

#[test]
fn a_users_permit_cannot_loosen_the_machines_policy() {
    // The machine allows installs by the admins group only.
    let mut machine = layer(&[
        "@id(\"admins-install\")\npermit(principal in Lord::Group::\"admins\", action, resource);",
    ]);
    machine.groups = Some((
        "groups.toml".to_owned(),
        "[groups.admins]\nusers = [\"root-ann\"]\n".to_owned(),
    ));
    // The user permits everything and makes themselves an admin.
    let mut user = layer(&[PERMIT_ALL]);
    user.groups = Some((
        "groups.toml".to_owned(),
        "[groups.admins]\nusers = [\"bob\"]\n".to_owned(),
    ));
    let policies = load(machine, user);
    let bob = ask(&policies, "bob", Action::Install, plugin("p", "MIT", None));
    assert_eq!(bob.refusal, Some(Enforcement::Block), "{}", bob.explain());
    assert!(
        bob.explain().contains("no machine policy permits it"),
        "{}",
        bob.explain()
    );
    let ann = ask(
        &policies,
        "root-ann",
        Action::Install,
        plugin("p", "MIT", None),
    );
    assert_eq!(ann.refusal, None, "{}", ann.explain());
    // A user's own forbid still refuses what the machine allows.
    let policies = load(
        layer(&[PERMIT_ALL]),
        layer(&[
            PERMIT_ALL,
            "forbid(principal, action == Lord::Action::\"run\", resource);",
        ]),
    );
    let d = ask(&policies, "ann", Action::Run, plugin("p", "MIT", None));
    assert_eq!(d.refusal, Some(Enforcement::Block));
    assert_eq!(
        d.verdicts.iter().map(|v| v.allowed).collect::<Vec<_>>(),
        [true, false]
    );
}

#[test]
fn grants_are_decided_per_permission() {
    let policies = load(
        layer(&[
            PERMIT_ALL,
            "@id(\"no-exec\")\nforbid(principal, action == Lord::Action::\"grant\", resource) when { context has permission_family && context.permission_family == \"exec\" };",
        ]),
        layer(&[]),
    );
    let mut request = Request {
        principal: Principal {
            user: "ann".to_owned(),
            hostname: "h".to_owned(),
            os: "linux".to_owned(),
        },
        action: Action::Grant,
        plugin: plugin("p", "MIT", None),
        permission: Some("exec(git)".parse().expect("perm")),
        command: None,
    };
    assert_eq!(
        policies.decide(&request).expect("d").refusal,
        Some(Enforcement::Block)
    );
    request.permission = Some("net(api.example.com)".parse().expect("perm"));
    assert_eq!(policies.decide(&request).expect("d").refusal, None);
}

#[test]
fn a_policy_that_fails_to_evaluate_refuses() {
    // Overflow is an evaluation error; Cedar would skip the policy and so
    // allow. lord refuses instead.
    let policies = load(
        layer(&[
            PERMIT_ALL,
            "forbid(principal, action, resource) when { resource.risk_score * 9223372036854775807 * 4 > 0 };",
        ]),
        layer(&[]),
    );
    let d = ask(&policies, "ann", Action::Install, plugin("p", "MIT", None));
    assert_eq!(d.refusal, Some(Enforcement::Block));
    assert!(!d.verdicts[0].errors.is_empty());
}

#[test]
fn policies_naming_what_the_schema_lacks_are_refused_at_load() {
    for (text, expect) in [
        (
            "permit(principal, action, resource) when { resource.licence == \"MIT\" };",
            "licence",
        ),
        (
            "permit(principal, action == Lord::Action::\"instal\", resource);",
            "instal",
        ),
        // Known only for packages in hand: needs `has`.
        (
            "permit(principal, action, resource) when { resource.signed };",
            "signed",
        ),
        (
            "@enforcement(\"loud\") forbid(principal, action, resource);",
            "loud",
        ),
        (
            "permit(principal == ?principal, action, resource);",
            "templates",
        ),
        ("permit(principal, action, resource) when {", "p0.cedar"),
    ] {
        let err = Policies::load(vec![(Scope::Machine, layer(&[text]))])
            .expect_err(text)
            .to_string();
        assert!(err.contains(expect), "{text}: {err}");
        assert!(err.contains("p0.cedar"), "{text}: {err}");
    }
}

#[test]
fn every_action_names_a_schema_action() {
    let policies = load(layer(&[PERMIT_ALL]), layer(&[]));
    for action in Action::ALL {
        let d = ask(&policies, "ann", action, plugin("p", "MIT", None));
        assert_eq!(d.refusal, None, "{action}");
        assert_eq!(action.as_str().parse::<Action>().expect("parses"), action);
    }
    assert!("fly".parse::<Action>().is_err());
}
