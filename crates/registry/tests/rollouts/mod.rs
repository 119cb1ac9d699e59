//! Staged rollouts over real HTTP, on both backends: a rollout is started
//! with a publishing token, reports of use move it (promoted when its
//! gate holds over its sample, rolled back when the gate fails, a report
//! replacing the same installation's earlier one of the day), and a
//! publisher promotes or aborts one by hand.

use lord_registry_client::{
    ClientError, Gate, PluginUsage, RolloutInfo, RolloutStart, RolloutState, UsageReport,
};

use crate::{Backend, Running, Spec};

/// `installation` reports `runs` runs of hello `version`, `errors` of them
/// failed, at a p95 of `p95_ms`.
fn report(r: &Running, installation: &str, version: &str, runs: u64, errors: u64, p95_ms: u64) {
    r.runtime
        .block_on(r.client.report_usage(&UsageReport {
            installation: installation.to_owned(),
            host_api: "0.2.1".to_owned(),
            plugins: vec![PluginUsage {
                id: "hello".to_owned(),
                version: version.to_owned(),
                runs,
                errors,
                p95_us: Some(p95_ms * 1000),
            }],
        }))
        .expect("report");
}

/// The `n`th installation id (16 or more characters, as reports need)
/// that the first `percent` of `rollout`'s machines holds, or, with
/// `inside` false, one it does not.
fn machine(rollout: &str, percent: u32, inside: bool, n: usize) -> String {
    (0u64..)
        .map(|i| format!("installation-{i:08}"))
        .filter(|id| lord_registry_client::in_ring(id, rollout, percent) == inside)
        .nth(n)
        .expect("ids land on both sides of every ring")
}

fn newest(r: &Running) -> RolloutInfo {
    r.runtime
        .block_on(r.client.rollouts(Some("hello")))
        .expect("rollouts")
        .into_iter()
        .next()
        .expect("a rollout")
}

fn start(r: &Running, version: &str) -> Result<RolloutInfo, ClientError> {
    r.runtime.block_on(r.client.start_rollout(
        &r.token,
        &RolloutStart {
            plugin: "hello".to_owned(),
            version: version.to_owned(),
            rings: vec![10, 50, 100],
            gate: Gate {
                min_runs: 5,
                ..Gate::default()
            },
        },
    ))
}

pub(crate) fn reports_promote_a_rollout_then_roll_it_back_and_publishers_move_it(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for version in ["0.1.0", "0.2.0"] {
        r.publish(&Spec {
            version,
            ..Spec::default()
        })
        .expect("publish");
    }
    // Only a published version, and one rollout of a plugin at a time.
    assert!(matches!(start(&r, "0.3.0"), Err(ClientError::NotFound(_))));
    let no_runs = r.runtime.block_on(r.client.start_rollout(
        &r.token,
        &RolloutStart {
            plugin: "hello".to_owned(),
            version: "0.2.0".to_owned(),
            rings: vec![10, 100],
            gate: Gate {
                min_runs: 0,
                ..Gate::default()
            },
        },
    ));
    let refused = no_runs.expect_err("a gate that judges nothing");
    assert!(
        refused.to_string().contains("at least one run"),
        "{refused}"
    );
    let started = start(&r, "0.2.0").expect("start");
    assert_eq!(started.id, "hello-0.2.0-1");
    assert_eq!(started.previous.as_deref(), Some("0.1.0"));
    assert_eq!(started.share(), 10);
    let again = start(&r, "0.2.0").expect_err("a second rollout");
    assert!(again.to_string().contains("in progress"), "{again}");

    // The previous version's machines and the first ring's report; the
    // gate holds over five runs: the rollout promotes itself.
    let rollout = started.id.as_str();
    let first = machine(rollout, 10, true, 0);
    report(&r, "installation-old-0001", "0.1.0", 40, 0, 10);
    report(&r, &first, "0.2.0", 4, 0, 12);
    assert_eq!(newest(&r).ring, 0, "four runs are too few to judge");
    // Reports are anonymous, so a machine the ring does not hold (it was
    // never offered the version) counts for nothing, however many runs it
    // claims.
    report(
        &r,
        &machine(rollout, 10, false, 0),
        "0.2.0",
        1_000_000,
        0,
        1,
    );
    assert_eq!(
        newest(&r).canary.runs,
        4,
        "a machine outside the ring counted"
    );
    report(&r, &first, "0.2.0", 5, 0, 12);
    let now = newest(&r);
    assert_eq!((now.ring, now.state), (1, RolloutState::InProgress));
    assert_eq!(
        now.canary.runs, 5,
        "the day's second report replaced the first"
    );
    assert_eq!(now.baseline.runs, 40);
    assert_eq!(now.ring_start_runs, 5);

    // The second ring fails: half its runs fail. Rolled back by itself.
    let second_ring = machine(rollout, 50, true, 1);
    report(&r, &second_ring, "0.2.0", 6, 3, 11);
    let now = newest(&r);
    assert_eq!(now.state, RolloutState::RolledBack, "{now:?}");
    assert_eq!(now.share(), 0);
    let reason = now.reason.expect("reason");
    assert!(
        reason.starts_with("ring 2 (50% of machines) regressed: error rate 27.3%"),
        "{reason}"
    );
    assert_eq!(now.canary.machines, 2);
    // Its p95 is the runs-weighted mean of the machines' (5 at 12, 6 at 11).
    assert_eq!(now.canary.p95_us, Some(11_454));
    // Once rolled back it stays so, whatever arrives.
    report(&r, &machine(rollout, 50, true, 2), "0.2.0", 50, 0, 10);
    assert_eq!(newest(&r).state, RolloutState::RolledBack);

    // A new rollout of the version starts afresh; a token that does not
    // cover the plugin cannot move it; its publisher promotes and aborts.
    let second = start(&r, "0.2.0").expect("a second rollout after the first ended");
    assert_eq!(second.id, "hello-0.2.0-2");
    assert_eq!(second.canary.runs, 0);
    let other = r
        .registry
        .db
        .create_token(&lord_registry::Scope::parse("publish:other").expect("scope"))
        .expect("token");
    let refused = r
        .runtime
        .block_on(r.client.abort_rollout(&other, &second.id))
        .expect_err("another plugin's token");
    assert!(
        refused
            .to_string()
            .contains("may not move the rollout of `hello`"),
        "{refused}"
    );
    // Nor can another publisher's wildcard token, which never published
    // the plugin (that needs its pinned key).
    let wildcard = r
        .registry
        .db
        .create_token(&lord_registry::Scope::parse("publish:*").expect("scope"))
        .expect("token");
    let refused = r
        .runtime
        .block_on(r.client.abort_rollout(&wildcard, &second.id))
        .expect_err("another publisher's token");
    assert!(refused.to_string().contains("published last"), "{refused}");
    let promoted = r
        .runtime
        .block_on(r.client.promote_rollout(&r.token, &second.id))
        .expect("promote");
    assert_eq!(promoted.share(), 50);
    let aborted = r
        .runtime
        .block_on(r.client.abort_rollout(&r.token, &second.id))
        .expect("abort");
    assert_eq!(aborted.state, RolloutState::Aborted);
    let late = r
        .runtime
        .block_on(r.client.promote_rollout(&r.token, &second.id))
        .expect_err("an aborted rollout stays so");
    assert!(late.to_string().contains("aborted already"), "{late}");
    let all = r
        .runtime
        .block_on(r.client.rollouts(None))
        .expect("rollouts");
    let ids: Vec<&str> = all.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["hello-0.2.0-2", "hello-0.2.0-1"]);
}
