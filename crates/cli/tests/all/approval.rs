//! `lord approval submit|review|status` against a real `lord registry
//! serve` on loopback, and the link to the policies: with a user policy
//! that requires approval, `lord plugin install hello --registry URL` is
//! refused while hello's version is pending and succeeds once it is
//! approved; a `forbid` naming hello still refuses it after approval.

use serde_json::Value;

use crate::support::{Lord, fixture};

const PERMIT_ALL: &str = "permit(principal, action, resource);";
const NEEDS_APPROVAL: &str = "@id(\"needs-approval\")\nforbid(principal, action == Lord::Action::\"install\", resource) unless { resource has approved && resource.approved };";
const NO_HELLO: &str = "@id(\"no-hello\")\nforbid(principal, action == Lord::Action::\"install\", resource == Lord::Plugin::\"hello\");";

/// A user who trusts `author`'s key, with `rules` as their policies.
fn governed(author: &Lord, rules: &[(&str, &str)]) -> Lord {
    let user = crate::registry::trusting(author);
    let dir = user.home.path().join("policies");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("00-base.cedar"), PERMIT_ALL).expect("base");
    for (name, text) in rules {
        std::fs::write(dir.join(name), text).expect("rule");
    }
    user
}

fn install(user: &Lord, url: &str) -> crate::support::Run {
    user.run(&["plugin", "install", "hello", "--registry", url, "--yes"])
}

/// Runs `lord approval ARGS --registry URL` with `token` as the
/// registry token.
fn approval(lord: &Lord, url: &str, token: &str, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["approval"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--registry", url]);
    let mut cmd = lord.command(&all);
    cmd.env("LORD_REGISTRY_TOKEN", token);
    lord.run_cmd(&mut cmd)
}

#[test]
fn an_unapproved_version_is_refused_an_approved_one_installs_and_a_forbid_still_wins() {
    let author = Lord::new();
    let served = crate::registry::Served::start(&author);
    let publisher = served.token(&author, "publish:hello");
    let reviewer = served.token(&author, "review:security");
    served
        .publish(&author, &fixture("hello"), &publisher)
        .assert_ok();
    let workflow = author.project.path().join("workflow.json");
    std::fs::write(
        &workflow,
        serde_json::json!({"plugin": "hello", "timeout_secs": 3600, "steps": [
            {"name": "security", "quorum": 1,
             "criteria": {"signed": true, "scan_below": "critical", "no_advisories": true}}]})
        .to_string(),
    )
    .expect("workflow");
    let data = served.data.path().to_str().expect("utf-8");
    let path = workflow.to_str().expect("utf-8");
    author
        .run(&["registry", "workflow", "set", path, "--data", data])
        .assert_ok();

    // Never submitted: refused, naming the policy.
    let user = governed(&author, &[("approval.cedar", NEEDS_APPROVAL)]);
    let run = install(&user, &served.url);
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("needs-approval");

    // Submitted, so pending: still refused. A publisher's token may not
    // review.
    let submitted = approval(
        &author,
        &served.url,
        &publisher,
        &["submit", "hello", "0.1.0", "--json"],
    );
    submitted.assert_ok();
    let request: Value = serde_json::from_str(&submitted.stdout()).expect("json");
    assert_eq!(request["state"], "pending");
    let id = request["id"].as_str().expect("id").to_owned();
    let run = install(&user, &served.url);
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("needs-approval");
    assert!(user.list().is_empty());
    let refused = approval(
        &author,
        &served.url,
        &publisher,
        &["review", &id, "--approve"],
    );
    assert_ne!(refused.code(), Some(0), "{}", refused.stdout());
    refused.assert_stderr_contains("review:security");

    // Approved by a reviewer: installs.
    approval(
        &author,
        &served.url,
        &reviewer,
        &["review", &id, "--approve", "--comment", "scan clean"],
    )
    .assert_ok();
    let status = approval(
        &user,
        &served.url,
        "",
        &["status", "hello", "0.1.0", "--json"],
    );
    status.assert_ok();
    let all: Value = serde_json::from_str(&status.stdout()).expect("json");
    assert_eq!(all[0]["state"], "approved", "{all}");
    assert_eq!(all[0]["decisions"][0]["comment"], "scan clean", "{all}");
    let text = approval(&user, &served.url, "", &["status", "hello"]);
    text.assert_ok();
    assert!(text.stdout().contains("approved"), "{}", text.stdout());
    install(&user, &served.url).assert_ok();
    user.assert_hello_works();
    // The trail keeps the decision with what the registry said.
    let trail = user.run(&["audit", "report", "--json"]);
    assert!(
        trail
            .stdout()
            .contains("install: allowed: user policy permits it"),
        "{}",
        trail.stdout()
    );
    assert!(
        trail
            .stdout()
            .contains("(registry: approved true, advisories [])"),
        "{}",
        trail.stdout()
    );

    // A forbid beats an approval.
    let strict = governed(
        &author,
        &[
            ("approval.cedar", NEEDS_APPROVAL),
            ("hello.cedar", NO_HELLO),
        ],
    );
    let run = install(&strict, &served.url);
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("no-hello");
    assert!(strict.list().is_empty());
}
