//! Approval workflows over real HTTP, on both backends: a two-step
//! workflow (`security` with a quorum of two, then `legal`) approves a
//! version; a reviewer without the right is refused; a rejection by any
//! reviewer rejects the request; an undecided request expires after its
//! timeout; a failing criterion (an advisory affecting the version)
//! blocks the approval that would pass a step.

use lord_registry::Scope;
use lord_registry_client::{
    ApprovalInfo, ApprovalReview, ApprovalState, ApprovalSubmit, ClientError,
};

use crate::{Backend, Running, Spec};

fn token(r: &Running, scope: &str, name: &str) -> String {
    r.registry
        .db
        .create_named_token(&Scope::parse(scope).expect("scope"), name)
        .expect("token")
}

fn submit(r: &Running, version: &str) -> Result<ApprovalInfo, ClientError> {
    r.runtime.block_on(r.client.submit_approval(
        &r.token,
        &ApprovalSubmit {
            plugin: "hello".to_owned(),
            version: version.to_owned(),
        },
    ))
}

fn review(r: &Running, token: &str, id: &str, approve: bool) -> Result<ApprovalInfo, ClientError> {
    r.runtime.block_on(r.client.review_approval(
        token,
        id,
        &ApprovalReview {
            approve,
            comment: format!("{} by test", if approve { "approved" } else { "rejected" }),
        },
    ))
}

fn status(err: &ClientError) -> u16 {
    match err {
        ClientError::Remote { status, .. } => *status,
        ClientError::NotFound(_) => 404,
        other @ (ClientError::Io { .. }
        | ClientError::Client(_)
        | ClientError::Refused(_)
        | ClientError::ReleaseKeyChanged(_)
        | ClientError::ReleaseKeyPinDamaged { .. }
        | ClientError::ReleaseKeyUntrusted { .. }
        | ClientError::Tuf(_)) => panic!("not a refusal: {other}"),
    }
}

fn workflow(plugin: &str, timeout_secs: u64, no_advisories: bool) -> String {
    serde_json::json!({
        "plugin": plugin,
        "timeout_secs": timeout_secs,
        "steps": [
            {"name": "security", "quorum": 2, "reviewers": ["sam"],
             "criteria": {"scan_below": "critical", "signed": true, "no_advisories": no_advisories}},
            {"name": "legal", "quorum": 1, "reviewers": ["lee"]}
        ]
    })
    .to_string()
}

pub(crate) fn a_two_step_workflow_approves_rejects_expires_and_checks_its_criteria(
    backend: Backend,
) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for version in ["0.1.0", "0.2.0", "0.3.0"] {
        r.publish(&Spec {
            version,
            ..Spec::default()
        })
        .expect("publish");
    }
    // Nothing governs hello yet: a submission says how to set a workflow.
    let none = submit(&r, "0.1.0").expect_err("no workflow");
    assert_eq!(status(&none), 409, "{none}");
    assert!(
        none.to_string().contains("lord registry workflow set"),
        "{none}"
    );
    let bad = lord_registry::set_workflow(
        &r.registry.db,
        r#"{"plugin":"*","timeout_secs":60,"steps":[]}"#,
    )
    .expect_err("no steps");
    assert!(bad.to_string().contains("steps"), "{bad}");
    let (plugin, replaced) =
        lord_registry::set_workflow(&r.registry.db, &workflow("*", 3600, true)).expect("set");
    assert_eq!((plugin.as_str(), replaced), ("*", false));

    let sam = token(&r, "account", "sam");
    let (alex, lee) = (
        token(&r, "review:security", "alex"),
        token(&r, "account", "lee"),
    );
    let outsider = token(&r, "review:legal", "olga");

    // Approval: security needs two of its reviewers (sam by name, alex by
    // scope); legal then needs lee.
    let request = submit(&r, "0.1.0").expect("submit");
    assert_eq!((request.state, request.step), (ApprovalState::Pending, 0));
    let again = submit(&r, "0.1.0").expect_err("one pending request per version");
    assert_eq!(status(&again), 409, "{again}");
    let refused = review(&r, &outsider, &request.id, true).expect_err("not a security reviewer");
    assert_eq!(status(&refused), 403, "{refused}");
    let refused = review(&r, &lee, &request.id, true).expect_err("lee reviews legal only");
    assert_eq!(status(&refused), 403, "{refused}");
    let one = review(&r, &sam, &request.id, true).expect("sam");
    assert_eq!(
        (one.state, one.step),
        (ApprovalState::Pending, 0),
        "quorum is two"
    );
    let twice = review(&r, &sam, &request.id, true).expect_err("one verdict per reviewer");
    assert_eq!(status(&twice), 409, "{twice}");
    let passed = review(&r, &alex, &request.id, true).expect("alex");
    assert_eq!((passed.state, passed.step), (ApprovalState::Pending, 1));
    let early = review(&r, &alex, &request.id, true).expect_err("alex may not review legal");
    assert_eq!(status(&early), 403, "{early}");
    let approved = review(&r, &lee, &request.id, true).expect("lee");
    assert_eq!(approved.state, ApprovalState::Approved);
    assert!(approved.decided_ms.is_some());
    let who: Vec<(&str, &str, bool)> = approved
        .decisions
        .iter()
        .map(|d| (d.step.as_str(), d.reviewer.as_str(), d.approve))
        .collect();
    assert_eq!(
        who,
        [
            ("security", "sam", true),
            ("security", "alex", true),
            ("legal", "lee", true)
        ]
    );
    let listed = r
        .runtime
        .block_on(r.client.approvals(Some("hello"), Some("0.1.0")))
        .expect("list");
    assert!(ApprovalInfo::approved(&listed, "hello", "0.1.0"));
    assert!(!ApprovalInfo::approved(&listed, "hello", "0.2.0"));

    // A rejection by any reviewer rejects the request, at once.
    let request = submit(&r, "0.2.0").expect("submit");
    review(&r, &sam, &request.id, true).expect("sam");
    let rejected = review(&r, &alex, &request.id, false).expect("alex rejects");
    assert_eq!(rejected.state, ApprovalState::Rejected);
    assert!(
        rejected
            .reason
            .as_deref()
            .is_some_and(|w| w.contains("alex")),
        "{rejected:?}"
    );
    let late = review(&r, &lee, &request.id, true).expect_err("decided");
    assert_eq!(status(&late), 409, "{late}");

    // A failing criterion: an advisory affecting 0.2.0 and below blocks
    // the security step; the request stays pending.
    lord_registry::add_advisory(
        &r.registry.db,
        &crate::security::advisory("LORD-2026-0100", "hello", "0.2.1", "MODERATE"),
    )
    .expect("advisory");
    let request = submit(&r, "0.2.0").expect("a second request after a rejection");
    assert_eq!(request.id, "hello-0.2.0-2");
    let blocked = review(&r, &sam, &request.id, true).expect_err("criterion");
    assert_eq!(status(&blocked), 422, "{blocked}");
    assert!(blocked.to_string().contains("LORD-2026-0100"), "{blocked}");
    let still = r
        .runtime
        .block_on(r.client.approvals(Some("hello"), Some("0.2.0")))
        .expect("list");
    assert_eq!(still[0].state, ApprovalState::Pending);
    assert!(
        still[0].decisions.is_empty(),
        "a blocked approval records nothing"
    );

    // Expiry: a one-second timeout, looked at after two.
    let (_, replaced) =
        lord_registry::set_workflow(&r.registry.db, &workflow("hello", 1, false)).expect("set");
    assert!(!replaced, "hello had no workflow of its own");
    let request = submit(&r, "0.3.0").expect("submit");
    assert_eq!(
        request.workflow.timeout_secs, 1,
        "hello's own workflow wins over `*`"
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let expired = r
        .runtime
        .block_on(r.client.approvals(Some("hello"), Some("0.3.0")))
        .expect("list");
    assert_eq!(expired[0].state, ApprovalState::Expired);
    let late = review(&r, &sam, &request.id, true).expect_err("expired");
    assert_eq!(status(&late), 409, "{late}");
    assert!(late.to_string().contains("expired"), "{late}");
}
