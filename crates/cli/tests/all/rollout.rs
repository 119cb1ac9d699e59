//! Staged rollouts end to end: a real `lord registry serve` on loopback,
//! several machines (separate `LORD_HOME`s, each with its own machine id),
//! real packages signed by a publisher, commands run through wasmtime,
//! their use reported with `lord registry share-usage`, and the gate
//! judged by the registry on those reports.
//!
//! Machine ids are chosen with the ring hash the client itself uses, so
//! which machine is in which ring is known to the test; nothing is faked.

use std::path::Path;

use crate::registry::{Served, trusting, version_of};
use crate::support::{Lord, fixture};

/// A plugin `canary` at `version` whose `hello` command runs the
/// component of fixture `component` (`hello` greets; `hostile/failing`
/// panics on every call: a release that regressed).
fn canary(version: &str, component: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("plugin dir");
    std::fs::copy(
        fixture(component).join("plugin.wasm"),
        dir.path().join("plugin.wasm"),
    )
    .expect("copy wasm");
    let manifest = format!(
        r#"[plugin]
id = "canary"
name = "Canary"
version = "{version}"
description = "Greets; a release of it is rolled out in rings."
authors = ["lord-commander developers"]
license = "MIT OR Apache-2.0"
category = "utility"
keywords = ["test-fixture"]
host-api = "^0.2"
component = "plugin.wasm"

[permissions]
request = []

[limits]
max-execution-ms = 2000
max-memory-mib = 16

[[commands]]
name = "hello"
about = "Greet someone by name"

[[commands.args]]
name = "name"
help = "Who to greet"
required = false
"#
    );
    std::fs::write(dir.path().join("plugin.toml"), manifest).expect("manifest");
    dir
}

/// A machine: a home trusting `author`, sharing its use with the
/// registry, with machine id `id`, holding canary 1.0.0.
fn machine(author: &Lord, url: &str, id: &str) -> Lord {
    let lord = trusting(author);
    std::fs::write(lord.home.path().join("installation-id"), format!("{id}\n")).expect("id");
    lord.run(&["config", "set", "registry.share-usage", "true"])
        .assert_ok();
    lord.run(&["plugin", "install", "canary", "--registry", url, "--yes"])
        .assert_ok();
    assert_eq!(version_of(&lord, "canary"), "1.0.0");
    lord
}

/// Distinct machine ids, one per entry of `rings` (a ring index into
/// `percentages`): each lands in exactly that ring of `rollout`.
fn machine_ids(rollout: &str, percentages: &[u32], rings: &[usize]) -> Vec<String> {
    let ring_of = |id: &str| {
        percentages
            .iter()
            .position(|p| lord_registry_client::in_ring(id, rollout, *p))
            .unwrap_or(percentages.len())
    };
    let mut ids: Vec<String> = Vec::new();
    for want in rings {
        let id = (0u64..)
            .map(|n| format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .find(|id| ring_of(id) == *want && !ids.contains(id))
            .expect("some id lands in every ring");
        ids.push(id);
    }
    ids
}

fn start(author: &Lord, url: &str, token: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec![
        "rollout",
        "start",
        "canary",
        "1.1.0",
        "--registry",
        url,
        "--json",
    ];
    all.extend_from_slice(args);
    let mut cmd = author.command(&all);
    cmd.env("LORD_REGISTRY_TOKEN", token);
    let run = author.run_cmd(&mut cmd);
    run.assert_ok();
    serde_json::from_str(&run.stdout()).expect("rollout JSON")
}

fn status(lord: &Lord, url: &str) -> serde_json::Value {
    let run = lord.run(&["rollout", "status", "canary", "--registry", url, "--json"]);
    run.assert_ok();
    let all: serde_json::Value = serde_json::from_str(&run.stdout()).expect("status JSON");
    all[0].clone()
}

/// Runs `lord hello` `n` times; how many succeeded.
fn run_hello(lord: &Lord, n: usize) -> usize {
    (0..n)
        .filter(|_| lord.run(&["hello", "x"]).output.status.success())
        .count()
}

fn report(lord: &Lord, url: &str) {
    lord.run(&["registry", "share-usage", "--registry", url])
        .assert_ok();
}

fn update(lord: &Lord, url: &str) -> crate::support::Run {
    let run = lord.run(&["plugin", "update", "--registry", url, "--yes"]);
    run.assert_ok();
    run
}

/// Whether `lord`'s package cache ever held canary `version`.
fn downloaded(lord: &Lord, version: &str) -> bool {
    let dir = lord.home.path().join("cache/packages");
    std::fs::read_dir(&dir).is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("canary-{version}-"))
        })
    })
}

fn publish(served: &Served, author: &Lord, dir: &Path, token: &str) {
    served.publish(author, dir, token).assert_ok();
}

#[test]
fn a_rollout_whose_canary_ring_regresses_rolls_back_by_itself() {
    let author = Lord::new();
    let served = Served::start(&author);
    let url = served.url.clone();
    let token = served.token(&author, "publish:canary");
    publish(&served, &author, canary("1.0.0", "hello").path(), &token);

    // One machine in the first ring (20%), two outside it.
    let ids = machine_ids("canary-1.1.0-1", &[20, 100], &[0, 1, 1]);
    let machines: Vec<Lord> = ids.iter().map(|id| machine(&author, &url, id)).collect();
    let (canary_machine, others) = (&machines[0], &machines[1..]);

    // The regressed release, rolled out straight after publishing.
    publish(
        &served,
        &author,
        canary("1.1.0", "hostile/failing").path(),
        &token,
    );
    let started = start(
        &author,
        &url,
        &token,
        &[
            "--rings",
            "20,100",
            "--min-runs",
            "3",
            "--max-error-rate",
            "0.2",
        ],
    );
    assert_eq!(started["id"], "canary-1.1.0-1");
    assert_eq!(started["previous"], "1.0.0");
    assert_eq!(started["state"], "in-progress");

    // Only the canary machine takes it.
    update(canary_machine, &url).assert_stderr_contains("updated canary 1.0.0 -> 1.1.0");
    for other in others {
        update(other, &url).assert_stderr_contains("nothing to update");
        assert_eq!(version_of(other, "canary"), "1.0.0");
    }

    // The machines work, and report.
    for other in others {
        assert_eq!(run_hello(other, 3), 3);
        report(other, &url);
    }
    assert_eq!(status(&author, &url)["state"], "in-progress");
    assert_eq!(run_hello(canary_machine, 3), 0, "1.1.0 fails every call");
    report(canary_machine, &url);

    // The gate failed on the canary's report: rolled back by itself.
    let now = status(&author, &url);
    assert_eq!(now["state"], "rolled-back", "{now:#}");
    let reason = now["reason"].as_str().expect("reason");
    assert!(reason.contains("error rate 100.0%"), "{reason}");
    assert_eq!(now["canary"]["runs"], 3);
    assert_eq!(now["canary"]["errors"], 3);
    assert_eq!(now["baseline"]["runs"], 6);
    assert_eq!(now["baseline"]["machines"], 2);
    let shown = author.run(&["rollout", "status", "--registry", &url]);
    shown.assert_ok();
    let text = shown.stdout();
    assert!(
        text.starts_with("canary-1.1.0-1  canary 1.1.0 (from 1.0.0)  rolled-back  ring 1/2 (0%"),
        "{text}"
    );
    assert!(
        text.contains("    new       1 machines, 3 runs, 3 errors (100.0%)"),
        "{text}"
    );
    assert!(
        text.contains("    why: ring 1 (20% of machines) regressed: error rate 100.0%"),
        "{text}"
    );

    // The list of rollouts is not signed, so it changes nothing unasked:
    // an update that cannot ask leaves the version where it is.
    let unasked = canary_machine.run(&["plugin", "update", "--registry", &url]);
    unasked.assert_ok();
    unasked
        .assert_stderr_contains("rollout canary-1.1.0-1 withdrew canary 1.1.0")
        .assert_stderr_contains("not rolling `canary` back")
        .assert_stderr_contains("canary stays at 1.1.0");
    assert_eq!(version_of(canary_machine, "canary"), "1.1.0");
    // Nor does it return to a version the signed index yanked.
    let yank = |yanked: bool| {
        let client = lord_registry_client::Client::new(&url).expect("client");
        let token = token.clone();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move { client.yank(&token, "canary", "1.0.0", yanked).await })
            .expect("yank");
    };
    yank(true);
    let passed_over = update(canary_machine, &url);
    assert!(
        !passed_over.stderr().contains("withdrew"),
        "{}",
        passed_over.stderr()
    );
    assert_eq!(version_of(canary_machine, "canary"), "1.1.0");
    yank(false);

    // Asked (`--yes`), the canary machine returns to 1.0.0 at its next
    // update, through the rollback every update keeps possible, and works
    // again.
    update(canary_machine, &url)
        .assert_stderr_contains("rollout canary-1.1.0-1 withdrew canary 1.1.0")
        .assert_stderr_contains("rolled back to 1.0.0");
    assert_eq!(version_of(canary_machine, "canary"), "1.0.0");
    assert_eq!(run_hello(canary_machine, 1), 1);
    // And it does not take 1.1.0 again.
    update(canary_machine, &url).assert_stderr_contains("nothing to update");
    assert_eq!(version_of(canary_machine, "canary"), "1.0.0");

    // Machines outside the ring never got it, not even into their cache,
    // and neither does a machine installing afresh.
    for other in others {
        update(other, &url);
        assert_eq!(version_of(other, "canary"), "1.0.0");
        assert!(!downloaded(other, "1.1.0"));
    }
    assert!(downloaded(canary_machine, "1.1.0"));
    let fresh = machine(&author, &url, &ids[0]);
    assert_eq!(version_of(&fresh, "canary"), "1.0.0");
}

#[test]
fn a_healthy_rollout_promotes_itself_through_its_rings() {
    let author = Lord::new();
    let served = Served::start(&author);
    let url = served.url.clone();
    let token = served.token(&author, "publish:canary");
    publish(&served, &author, canary("1.0.0", "hello").path(), &token);
    let rings = [10, 50, 100];
    let ids = machine_ids("canary-1.1.0-1", &rings, &[0, 1, 2]);
    let machines: Vec<Lord> = ids.iter().map(|id| machine(&author, &url, id)).collect();

    publish(&served, &author, canary("1.1.0", "hello").path(), &token);
    start(
        &author,
        &url,
        &token,
        &[
            "--rings",
            "10,50,100",
            "--min-runs",
            "2",
            "--max-error-rate",
            "0.1",
            "--max-p95-ms",
            "30000",
        ],
    );

    // Ring by ring: the machines of the current ring take the version, run
    // it, report, and their report promotes the rollout; the rest wait.
    for (ring, lord) in machines.iter().enumerate() {
        let now = status(&author, &url);
        assert_eq!(now["state"], "in-progress", "{now:#}");
        assert_eq!(now["ring"], ring);
        for waiting in &machines[ring + 1..] {
            update(waiting, &url);
            assert_eq!(version_of(waiting, "canary"), "1.0.0");
        }
        update(lord, &url).assert_stderr_contains("updated canary 1.0.0 -> 1.1.0");
        assert_eq!(run_hello(lord, 2), 2);
        report(lord, &url);
    }
    let done = status(&author, &url);
    assert_eq!(done["state"], "complete", "{done:#}");
    assert_eq!(done["canary"]["machines"], 3);
    assert!(done["canary"]["p95_us"].as_u64().is_some(), "{done:#}");
    // A complete rollout withholds nothing: a new machine takes 1.1.0.
    let fresh = trusting(&author);
    fresh
        .run(&["plugin", "install", "canary", "--registry", &url, "--yes"])
        .assert_ok();
    assert_eq!(version_of(&fresh, "canary"), "1.1.0");

    // Starting, promoting and aborting need a token that covers the plugin.
    let mut cmd = author.command(&["rollout", "abort", "canary-1.1.0-1", "--registry", &url]);
    cmd.env(
        "LORD_REGISTRY_TOKEN",
        served.token(&author, "publish:other"),
    );
    author
        .run_cmd(&mut cmd)
        .assert_stderr_contains("may not move the rollout of `canary`");
}
