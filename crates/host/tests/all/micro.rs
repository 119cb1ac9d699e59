//! Installed micro-plugins through the manager a CLI gets from the
//! framework: neighbouring steps of one package run as one batch on one
//! instance, and must answer exactly as the steps would one by one; a
//! failure inside names its own step; WASM handlers swap under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lord_host::lord_micro::{CallContext, MicroError, MicroManager, Pipeline};
use serde_json::{Value, json};

use crate::{runtime, setup};

fn micro_id(s: &str) -> lord_manifest::MicroId {
    s.parse().expect("micro id")
}

/// Runs `ids` one call at a time, each through `execute` (never batched).
async fn one_by_one(manager: &MicroManager, ids: &[&str], input: Value) -> Value {
    let ctx = CallContext::default();
    let mut value = input;
    for id in ids {
        value = manager
            .execute(&micro_id(id), value, &ctx)
            .await
            .expect("single step");
    }
    value
}

#[test]
fn a_batched_run_answers_as_its_steps_do_one_by_one() {
    let setup = setup(&["micro/text"]);
    let manager = setup.framework.micro_manager().expect("manager");
    let rt = runtime();
    let ids = ["trim", "upper", "lower", "slug"];
    let pipeline = Pipeline::parse(&ids.join(" | ")).expect("pipeline");
    for input in ["  Hello, Wörld 42  ", "", " a  b\tc "] {
        let batched = rt
            .block_on(manager.run(&pipeline, json!(input), &CallContext::default()))
            .expect("pipeline runs");
        let single = rt.block_on(one_by_one(&manager, &ids, json!(input)));
        assert_eq!(batched, single, "input {input:?}");
    }
    // A routing key goes with every step of a batch too.
    let keyed = CallContext {
        key: Some("user-7".to_owned()),
    };
    let out = rt
        .block_on(manager.run(&pipeline, json!(" Key Ed "), &keyed))
        .expect("keyed pipeline runs");
    assert_eq!(out, json!("key-ed"));
}

#[test]
fn a_failure_inside_a_batch_names_the_step_that_failed() {
    let setup = setup(&["micro/validate"]);
    let manager = setup.framework.micro_manager().expect("manager");
    let rt = runtime();
    let ctx = CallContext::default();
    for (pipeline, input, failing) in [
        (
            "validate.email | validate.url",
            "someone@example.com",
            "validate.url",
        ),
        (
            "validate.url | validate.email | validate.semver",
            "https://example.com",
            "validate.email",
        ),
        ("validate.email | validate.url", "nobody", "validate.email"),
    ] {
        let pipeline = Pipeline::parse(pipeline).expect("pipeline");
        let err = rt
            .block_on(manager.run(&pipeline, json!(input), &ctx))
            .expect_err("a validator refuses");
        let MicroError::Failed { id, .. } = &err else {
            panic!("expected a failed step, got {err}");
        };
        assert_eq!(id.as_str(), failing, "{err}");
    }
    // The instance a refusal left behind still serves the next run.
    let ok = Pipeline::parse("validate.email | validate.email").expect("pipeline");
    let out = rt
        .block_on(manager.run(&ok, json!("a@b.example"), &ctx))
        .expect("runs");
    assert_eq!(out, json!("a@b.example"));
}

/// WASM handlers swapped while callers on both cores run a pipeline
/// through them: every call answers with one version or the other, and
/// none fails because of a swap. The two versions are two loads of the
/// package (separate instance pools), as an upgrade would be.
#[test]
fn a_hundred_swaps_of_a_wasm_micro_plugin_fail_no_call() {
    let setup = setup(&["micro/text"]);
    let manager = setup.framework.micro_manager().expect("manager");
    let other = setup.framework.micro_manager().expect("second load");
    let upper = other.get(&micro_id("upper")).expect("upper");
    let mut lower = other.get(&micro_id("lower")).expect("lower");
    // The "new version" of `upper`: the same id, another component's handler.
    lower.id = micro_id("upper");
    let versions = [upper, lower];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let calls = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let manager = manager.clone();
                let stop = Arc::clone(&stop);
                let calls = Arc::clone(&calls);
                tokio::spawn(async move {
                    let pipeline = Pipeline::parse("trim | upper | trim").expect("pipeline");
                    let ctx = CallContext::default();
                    while !stop.load(Ordering::Relaxed) {
                        let out = manager
                            .run(&pipeline, json!("  MiXeD  "), &ctx)
                            .await
                            .expect("no call fails during a swap");
                        assert!(out == json!("MIXED") || out == json!("mixed"), "{out}");
                        calls.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for swap in 0..100 {
            manager.replace(versions[swap % 2].clone()).expect("swap");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for caller in callers {
            caller.await.expect("caller finished cleanly");
        }
    });
    assert!(
        calls.load(Ordering::Relaxed) >= 100,
        "callers made only {} calls across the swaps",
        calls.load(Ordering::Relaxed)
    );
}

/// A sandboxed handler's failure keeps its kind: a validator's own refusal
/// is the guest's, a strict handler reaching for the host is a refused
/// access, and input a handler's schema does not take is the caller's.
#[test]
fn a_sandboxed_failure_keeps_its_kind() {
    use lord_host::lord_micro::FailureKind;
    let setup = setup(&["micro/validate", "hostile/strict-escape", "micro/text"]);
    let manager = setup.framework.micro_manager().expect("manager");
    let rt = runtime();
    let ctx = CallContext::default();
    let kind = |id: &str, input: Value| {
        rt.block_on(manager.execute(&micro_id(id), input, &ctx))
            .expect_err("fails")
    };
    let refused = kind("validate.email", json!("nobody"));
    assert_eq!(refused.kind(), Some(FailureKind::Guest), "{refused}");
    assert!(refused.is_handler_fault() && !refused.is_user_error());
    let escaped = kind("escape.log", json!("x"));
    assert_eq!(escaped.kind(), Some(FailureKind::Denied), "{escaped}");
    assert!(escaped.is_handler_fault());
    let bad_input = kind("trim", json!(42));
    assert_eq!(
        bad_input.kind(),
        Some(FailureKind::InvalidInput),
        "{bad_input}"
    );
    assert!(bad_input.is_user_error() && !bad_input.is_handler_fault());
}
