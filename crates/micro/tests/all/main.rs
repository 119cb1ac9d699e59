//! The micro-plugin library through its public API, with native handlers:
//! pipelines and their error policies, chain validation, hot swap under
//! load, and routing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lord_manifest::{Isolation, MicroId, MicroKind, Permission};
use lord_micro::{
    Batch, BatchFailure, BoxFuture, CallContext, ChainFinding, FailureKind, Handler, HandlerError,
    Membership, MicroError, MicroManager, MicroPlugin, MicroSecurity, NativeHandler, Pipeline,
    Router, Variant,
};
use serde_json::{Value, json};

fn id(s: &str) -> MicroId {
    s.parse().expect("micro id")
}

fn security(allowed: &[&str]) -> MicroSecurity {
    MicroSecurity {
        max_execution: Duration::from_secs(1),
        max_memory_bytes: 16 << 20,
        allowed: allowed
            .iter()
            .map(|p| p.parse::<Permission>().expect("permission"))
            .collect(),
        isolation: Isolation::None,
    }
}

fn text_fn(
    name: &str,
    kind: MicroKind,
    f: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
) -> MicroPlugin {
    MicroPlugin {
        id: id(name),
        kind,
        description: String::new(),
        input_schema: Some(json!({"type": "string"})),
        output_schema: Some(json!({"type": "string"})),
        security: security(&[]),
        handler: Arc::new(NativeHandler::new(
            move |input: Value, _ctx: &CallContext| {
                let text = input.as_str().ok_or("expected a string")?;
                f(text).map(Value::from)
            },
        )),
    }
}

fn manager() -> MicroManager {
    let m = MicroManager::new();
    m.register(text_fn("trim", MicroKind::Transformer, |s| {
        Ok(s.trim().to_owned())
    }))
    .expect("register");
    m.register(text_fn("upper", MicroKind::Transformer, |s| {
        Ok(s.to_uppercase())
    }))
    .expect("register");
    m.register(text_fn("lower", MicroKind::Transformer, |s| {
        Ok(s.to_lowercase())
    }))
    .expect("register");
    m.register(text_fn("fail", MicroKind::Utility, |_| {
        Err("always fails".to_owned())
    }))
    .expect("register");
    let mut email = text_fn("validate.email", MicroKind::Validator, |s| Ok(s.to_owned()));
    email.handler = Arc::new(
        NativeHandler::new(|input: Value, _: &CallContext| Ok(input)).with_validate(
            |input: &Value, _: &CallContext| match input.as_str() {
                Some(s) if s.contains('@') && !s.starts_with('@') && !s.ends_with('@') => Ok(()),
                _ => Err("not an e-mail address".to_owned()),
            },
        ),
    );
    m.register(email).expect("register");
    let mut length = text_fn("length", MicroKind::Utility, |s| Ok(s.len().to_string()));
    length.output_schema = Some(json!({"type": "integer"}));
    length.handler = Arc::new(NativeHandler::new(|input: Value, _: &CallContext| {
        Ok(json!(input.as_str().map_or(0, str::len)))
    }));
    length.security = security(&["net(api.example.com:443)"]);
    m.register(length).expect("register");
    m
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn run(m: &MicroManager, pipeline: &str, input: Value) -> Result<Value, MicroError> {
    let p = Pipeline::parse(pipeline).expect("pipeline parses");
    rt().block_on(m.run(&p, input, &CallContext::default()))
}

#[test]
fn a_chain_runs_in_order() {
    let m = manager();
    assert_eq!(run(&m, "trim | upper", json!("  ada  ")), Ok(json!("ADA")));
    let chained = rt().block_on(m.chain(
        &[id("trim"), id("lower")],
        json!("  ADA "),
        &CallContext::default(),
    ));
    assert_eq!(chained, Ok(json!("ada")));
}

#[test]
fn error_policies_stop_skip_and_fall_back() {
    let m = manager();
    match run(&m, "trim | fail | upper", json!(" x ")) {
        Err(MicroError::Failed { id, reason, .. }) => {
            assert_eq!(id.as_str(), "fail");
            assert_eq!(reason, "always fails");
        }
        other => panic!("stop: {other:?}"),
    }
    assert_eq!(
        run(&m, "trim | fail? | upper", json!(" x ")),
        Ok(json!("X"))
    );
    assert_eq!(
        run(&m, "trim | fail ?? upper", json!(" x ")),
        Ok(json!("X"))
    );
}

#[test]
fn parallel_branches_join_in_order_and_keep_each_error() {
    let m = manager();
    let out = run(&m, "trim | [upper, lower, fail]", json!(" Ada ")).expect("runs");
    assert_eq!(
        out,
        json!([{"ok": "ADA"}, {"ok": "ada"}, {"error": "micro-plugin `fail` failed: always fails"}])
    );
}

#[test]
fn a_conditional_step_follows_the_validator() {
    let m = manager();
    let p = "trim | if validate.email then upper else lower end";
    assert_eq!(
        run(&m, p, json!(" ada@example.org ")),
        Ok(json!("ADA@EXAMPLE.ORG"))
    );
    assert_eq!(
        run(&m, p, json!(" Not An Address ")),
        Ok(json!("not an address"))
    );
    assert_eq!(
        run(&m, "if validate.email then upper end", json!("Nope")),
        Ok(json!("Nope"))
    );
}

/// A validator that fails other than by saying no (here: past a limit)
/// fails the pipeline, named; it does not quietly pick the other branch.
#[test]
fn a_validator_that_fails_is_an_error_not_a_no() {
    struct Broken;
    impl Handler for Broken {
        fn execute<'a>(
            &'a self,
            input: Value,
            _: &'a CallContext,
        ) -> BoxFuture<'a, Result<Value, HandlerError>> {
            Box::pin(std::future::ready(Ok(input)))
        }

        fn validate<'a>(
            &'a self,
            _: &'a Value,
            _: &'a CallContext,
        ) -> BoxFuture<'a, Result<(), HandlerError>> {
            Box::pin(std::future::ready(Err(HandlerError::new(
                FailureKind::TimeLimit,
                "ran past its 5 s",
            ))))
        }
    }
    let m = manager();
    let mut broken = text_fn(
        "validate.broken",
        MicroKind::Validator,
        |s| Ok(s.to_owned()),
    );
    broken.handler = Arc::new(Broken);
    m.register(broken).expect("register");
    match run(
        &m,
        "if validate.broken then upper else lower end",
        json!("Ada"),
    ) {
        Err(MicroError::Failed { id, kind, .. }) => {
            assert_eq!(id.as_str(), "validate.broken");
            assert_eq!(kind, FailureKind::TimeLimit);
        }
        other => panic!("a broken validator: {other:?}"),
    }
}

#[test]
fn validation_names_both_neighbours_and_the_field_and_shows_authority() {
    let m = manager();
    let report = m.validate(&Pipeline::parse("trim | length | upper").expect("parses"));
    assert_eq!(
        report.findings,
        vec![ChainFinding::SchemaMismatch {
            from: "length".into(),
            to: "upper".into(),
            field: "(the value)".into(),
            detail: "produces type integer but the next step expects string".into(),
        }]
    );
    let shown = report.findings[0].to_string();
    assert!(shown.contains("`length` → `upper`"), "{shown}");
    let err = run(&m, "trim | length | upper", json!("x")).expect_err("refused");
    assert!(matches!(err, MicroError::InvalidPipeline(_)), "{err}");

    let good = m.validate(&Pipeline::parse("trim | upper | length").expect("parses"));
    assert!(good.is_ok(), "{good:?}");
    assert_eq!(good.authority, vec!["net(api.example.com:443)".to_owned()]);

    let unknown = m.validate(&Pipeline::parse("trim | nope").expect("parses"));
    assert_eq!(
        unknown.findings,
        vec![ChainFinding::UnknownId { id: "nope".into() }]
    );
    let guard = m.validate(&Pipeline::parse("if upper then trim end").expect("parses"));
    assert!(
        matches!(guard.findings[0], ChainFinding::NotAValidator { .. }),
        "{guard:?}"
    );
}

/// A native handler reported as served by `plugin`'s code, as the host's
/// sandboxed handlers are.
struct OfPlugin {
    inner: NativeHandler,
    plugin: lord_manifest::PluginId,
}

impl Handler for OfPlugin {
    fn execute<'a>(
        &'a self,
        input: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, HandlerError>> {
        self.inner.execute(input, ctx)
    }

    fn plugin(&self) -> Option<&lord_manifest::PluginId> {
        Some(&self.plugin)
    }
}

/// `liar` declares string output and returns 7; `upper` takes a string.
/// The schemas fit, so the hop between them may go unchecked, but only
/// when one plugin serves both: from another plugin's code the value is
/// checked, and the liar is named.
#[test]
fn a_hop_between_two_plugins_is_checked_however_well_their_schemas_fit() {
    let managed = |liar_of: &str, upper_of: &str| {
        let m = MicroManager::new();
        let mut liar = text_fn("liar", MicroKind::Transformer, |_| Ok(String::new()));
        liar.handler = Arc::new(OfPlugin {
            inner: NativeHandler::new(|_: Value, _: &CallContext| Ok(json!(7))),
            plugin: liar_of.parse().expect("plugin id"),
        });
        let mut upper = text_fn("upper", MicroKind::Transformer, |s| Ok(s.to_uppercase()));
        upper.handler = Arc::new(OfPlugin {
            inner: NativeHandler::new(|input: Value, _: &CallContext| {
                Ok(match input.as_str() {
                    Some(s) => json!(s.to_uppercase()),
                    None => json!(format!("upper was handed {input}")),
                })
            }),
            plugin: upper_of.parse().expect("plugin id"),
        });
        m.register(liar).expect("register");
        m.register(upper).expect("register");
        m
    };
    match run(&managed("alpha", "beta"), "liar | upper", json!("x")) {
        Err(MicroError::InvalidOutput { id, .. }) => assert_eq!(id.as_str(), "liar"),
        other => panic!("{other:?}"),
    }
    // One author's two steps: what one hands the other is theirs to agree.
    assert_eq!(
        run(&managed("alpha", "alpha"), "liar | upper", json!("x")).expect("runs"),
        json!("upper was handed 7")
    );
}

#[test]
fn schemas_are_checked_at_the_edges() {
    let m = manager();
    match run(&m, "trim | upper", json!(42)) {
        Err(MicroError::InvalidInput { id, .. }) => assert_eq!(id.as_str(), "trim"),
        other => panic!("{other:?}"),
    }
    let liar = MicroManager::new();
    let mut bad = text_fn("liar", MicroKind::Transformer, |_| Ok(String::new()));
    bad.handler = Arc::new(NativeHandler::new(|_: Value, _: &CallContext| Ok(json!(7))));
    liar.register(bad).expect("register");
    match run(&liar, "liar", json!("x")) {
        Err(MicroError::InvalidOutput { id, .. }) => assert_eq!(id.as_str(), "liar"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hundred_hot_swaps_under_concurrent_callers_fail_no_call() {
    let m = manager();
    let versions = Arc::new(AtomicUsize::new(0));
    let rt = rt();
    let failures = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                let stop = Arc::clone(&stop);
                let failures = Arc::clone(&failures);
                let calls = Arc::clone(&calls);
                tokio::spawn(async move {
                    let p = Pipeline::parse("trim | upper").expect("parses");
                    while !stop.load(Ordering::Relaxed) {
                        match m.run(&p, json!(" a "), &CallContext::default()).await {
                            Ok(v) if v.as_str().is_some_and(|s| s.starts_with('A')) => {}
                            _ => {
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        calls.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for n in 0..100 {
            let tag = n;
            m.replace(text_fn("upper", MicroKind::Transformer, move |s| {
                Ok(format!("{}#{tag}", s.to_uppercase()))
            }))
            .expect("swap");
            versions.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for c in callers {
            c.await.expect("caller");
        }
    });
    assert_eq!(versions.load(Ordering::Relaxed), 100);
    assert!(
        calls.load(Ordering::Relaxed) > 100,
        "callers ran during the swaps"
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    // New calls see the last version.
    assert_eq!(run(&m, "upper", json!("a")), Ok(json!("A#99")));
}

/// A handler that waits until told to finish, to hold a call in flight.
struct Gate {
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
    label: &'static str,
}

impl lord_micro::Handler for Gate {
    fn execute<'a>(
        &'a self,
        input: Value,
        _ctx: &'a CallContext,
    ) -> lord_micro::BoxFuture<'a, Result<Value, HandlerError>> {
        Box::pin(async move {
            self.started.notify_one();
            self.release.notified().await;
            Ok(json!(format!(
                "{}:{}",
                self.label,
                input.as_str().unwrap_or("")
            )))
        })
    }
}

#[test]
fn an_in_flight_call_finishes_on_the_old_version() {
    let m = MicroManager::new();
    let old = Arc::new(Gate {
        started: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
        label: "v1",
    });
    let plugin = |handler: Arc<dyn lord_micro::Handler>| MicroPlugin {
        id: id("slow"),
        kind: MicroKind::Transformer,
        description: String::new(),
        input_schema: None,
        output_schema: None,
        security: security(&[]),
        handler,
    };
    m.register(plugin(old.clone())).expect("register");
    let out = rt().block_on(async {
        let m2 = m.clone();
        let in_flight = tokio::spawn(async move {
            m2.execute(&id("slow"), json!("x"), &CallContext::default())
                .await
        });
        old.started.notified().await;
        m.replace(plugin(Arc::new(NativeHandler::new(
            |_: Value, _: &CallContext| Ok(json!("v2")),
        ))))
        .expect("swap");
        let fresh = m
            .execute(&id("slow"), json!("y"), &CallContext::default())
            .await;
        old.release.notify_one();
        (in_flight.await.expect("task"), fresh)
    });
    assert_eq!(out.0, Ok(json!("v1:x")), "the in-flight call kept v1");
    assert_eq!(out.1, Ok(json!("v2")), "a new call got v2");
}

#[test]
fn a_routed_id_splits_calls_stably_and_records_each_variant() {
    let m = manager();
    let router = m.route(
        id("case"),
        Router::new(vec![
            Variant {
                name: "a".into(),
                target: id("upper"),
                weight: 50,
            },
            Variant {
                name: "b".into(),
                target: id("lower"),
                weight: 50,
            },
        ])
        .expect("router"),
    );
    let rt = rt();
    let p = Pipeline::parse("case").expect("parses");
    for n in 0..200 {
        let ctx = CallContext {
            key: Some(format!("user-{n}")),
        };
        let first = rt.block_on(m.run(&p, json!("Ab"), &ctx)).expect("runs");
        let again = rt.block_on(m.run(&p, json!("Ab"), &ctx)).expect("runs");
        assert_eq!(first, again, "user-{n} switched variants");
    }
    let stats = router.stats();
    assert_eq!(stats.iter().map(|s| s.calls).sum::<u64>(), 400);
    assert!(stats.iter().all(|s| s.calls > 100), "{stats:?}");
    assert!(stats.iter().all(|s| s.median_latency_us.is_some()));
}

#[test]
fn a_prepared_pipeline_sees_a_swap_on_its_next_run() {
    let m = manager();
    let prepared = m
        .prepare(&Pipeline::parse("trim | upper").expect("parses"))
        .expect("valid");
    let rt = rt();
    let ctx = CallContext::default();
    assert_eq!(
        rt.block_on(m.run_prepared(&prepared, json!(" a "), &ctx)),
        Ok(json!("A"))
    );
    m.replace(text_fn("upper", MicroKind::Transformer, |s| {
        Ok(format!("{}!", s.to_uppercase()))
    }))
    .expect("swap");
    assert_eq!(
        rt.block_on(m.run_prepared(&prepared, json!(" a "), &ctx)),
        Ok(json!("A!"))
    );
    // A swap that breaks the chain's schemas is caught on the next run.
    let mut broken = text_fn("upper", MicroKind::Transformer, |s| Ok(s.to_owned()));
    broken.input_schema = Some(json!({"type": "object"}));
    m.replace(broken).expect("swap");
    assert!(matches!(
        rt.block_on(m.run_prepared(&prepared, json!(" a "), &ctx)),
        Err(MicroError::InvalidPipeline(_))
    ));
}

/// A batch whose members are text functions; it records every run it is
/// handed, so a test sees how the manager grouped a pipeline's steps.
struct RecordingBatch {
    runs: std::sync::Mutex<Vec<Vec<usize>>>,
}

impl RecordingBatch {
    fn apply(index: usize, text: &str) -> Result<String, String> {
        let s: String = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let out = match index {
            0 => s.trim().to_owned(),
            1 => s.to_uppercase(),
            _ if s.contains('!') => return Err("no shouting".to_owned()),
            _ => s,
        };
        serde_json::to_string(&out).map_err(|e| e.to_string())
    }
}

impl Batch for RecordingBatch {
    fn run_text<'a>(
        &'a self,
        members: &'a [usize],
        input: String,
        _ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, BatchFailure>> {
        self.runs.lock().expect("runs").push(members.to_vec());
        let mut text = input;
        for (position, &index) in members.iter().enumerate() {
            match Self::apply(index, &text) {
                Ok(out) => text = out,
                Err(reason) => {
                    return Box::pin(std::future::ready(Err(BatchFailure {
                        position,
                        kind: FailureKind::Guest,
                        reason,
                        wrote: vec![format!("stderr: step {position} gave up")],
                    })));
                }
            }
        }
        Box::pin(std::future::ready(Ok(text)))
    }
}

struct Member {
    batch: Arc<RecordingBatch>,
    index: usize,
}

impl Handler for Member {
    fn execute<'a>(
        &'a self,
        input: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, HandlerError>> {
        Box::pin(async move {
            let text = self.execute_text(input.to_string(), ctx).await?;
            serde_json::from_str(&text).map_err(|e| HandlerError::guest(e.to_string()))
        })
    }

    fn speaks_text(&self) -> bool {
        true
    }

    fn execute_text<'a>(
        &'a self,
        input: String,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, HandlerError>> {
        Box::pin(async move {
            let members = [self.index];
            self.batch
                .run_text(&members, input, ctx)
                .await
                .map_err(|f| HandlerError::new(f.kind, f.reason))
        })
    }

    fn membership(&self) -> Option<Membership> {
        Some(Membership {
            batch: Arc::clone(&self.batch) as Arc<dyn Batch>,
            index: self.index,
        })
    }
}

/// `b.trim`, `b.upper` and `b.quiet` in one batch, beside the native
/// `lower` and friends of [`manager`].
fn batched() -> (MicroManager, Arc<RecordingBatch>) {
    let m = manager();
    let batch = Arc::new(RecordingBatch {
        runs: std::sync::Mutex::new(Vec::new()),
    });
    for (index, name) in ["b.trim", "b.upper", "b.quiet"].into_iter().enumerate() {
        let mut plugin = text_fn(name, MicroKind::Transformer, |s| Ok(s.to_owned()));
        plugin.handler = Arc::new(Member {
            batch: Arc::clone(&batch),
            index,
        });
        m.register(plugin).expect("register");
    }
    (m, batch)
}

fn runs(batch: &RecordingBatch) -> Vec<Vec<usize>> {
    std::mem::take(&mut *batch.runs.lock().expect("runs"))
}

#[test]
fn neighbouring_steps_of_one_batch_are_handed_over_in_one_run() {
    let (m, batch) = batched();
    assert_eq!(
        run(&m, "b.trim | b.upper | b.quiet", json!("  hi ")),
        Ok(json!("HI"))
    );
    assert_eq!(runs(&batch), vec![vec![0, 1, 2]]);

    // A step of another handler splits the batch in two runs.
    assert_eq!(
        run(&m, "b.trim | lower | b.upper | b.quiet", json!(" Hi ")),
        Ok(json!("HI"))
    );
    assert_eq!(runs(&batch), vec![vec![0], vec![1, 2]]);

    // A step that skips or falls back on error needs its own input back,
    // so it runs alone.
    assert_eq!(
        run(&m, "b.trim | b.upper? | b.quiet", json!(" x ")),
        Ok(json!("X"))
    );
    assert_eq!(runs(&batch), vec![vec![0], vec![1], vec![2]]);
}

#[test]
fn a_failure_in_a_batched_run_names_its_own_step() {
    let (m, batch) = batched();
    let error = run(&m, "b.trim | b.upper | b.quiet", json!(" stop! ")).expect_err("b.quiet fails");
    let MicroError::Failed { id, reason, .. } = &error else {
        panic!("expected b.quiet to fail: {error:?}")
    };
    assert_eq!(id.as_str(), "b.quiet");
    assert_eq!(reason, "no shouting");
    // What the step wrote before failing travels with the error, and stays
    // out of its message.
    assert_eq!(error.wrote(), ["stderr: step 2 gave up"]);
    assert!(!error.to_string().contains("gave up"), "{error}");
    assert_eq!(runs(&batch), vec![vec![0, 1, 2]]);
}

#[test]
fn a_swap_inside_a_batch_takes_that_step_out_of_it() {
    let (m, batch) = batched();
    let p = Pipeline::parse("b.trim | b.upper | b.quiet").expect("pipeline");
    let prepared = m.prepare(&p).expect("prepares");
    let ctx = CallContext::default();
    let rt = rt();
    assert_eq!(
        rt.block_on(m.run_prepared(&prepared, json!(" a "), &ctx)),
        Ok(json!("A"))
    );
    // `b.upper` becomes a native handler: the prepared plan is remade, and
    // the batch no longer serves the middle step.
    m.replace(text_fn("b.upper", MicroKind::Transformer, |s| {
        Ok(format!("<{s}>"))
    }))
    .expect("swap");
    assert_eq!(
        rt.block_on(m.run_prepared(&prepared, json!(" a "), &ctx)),
        Ok(json!("<a>"))
    );
    assert_eq!(runs(&batch), vec![vec![0, 1, 2], vec![0], vec![2]]);
}
