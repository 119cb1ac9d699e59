//! The channels through their public API, on a real SQLite file.

use std::time::{Duration, Instant};

use lord_manifest::{Permission, PluginId, Topic};
use lord_state::{
    CasOutcome, EventBus, EventLog, FieldFilter, PluginData, Propagation, Retention, Scope,
    ScopeGrants, SharedState, StateDb, StateError,
};
use serde_json::json;

fn plugin(id: &str) -> PluginId {
    id.parse().expect("plugin id")
}

fn grants(permissions: &[&str], quota: u64) -> ScopeGrants {
    let permissions: Vec<Permission> = permissions
        .iter()
        .map(|p| p.parse().expect("permission"))
        .collect();
    ScopeGrants::from_permissions(&permissions, quota)
}

struct World {
    _home: tempfile::TempDir,
    data: PluginData,
    shared: SharedState,
    bus: EventBus,
}

fn world() -> World {
    let home = tempfile::tempdir().expect("home");
    let db = StateDb::open(home.path()).expect("state db");
    World {
        data: PluginData::new(db.clone()),
        shared: SharedState::new(db.clone()),
        bus: EventBus::with_log(EventLog::new(db, Retention::default())),
        _home: home,
    }
}

impl World {
    fn scope(&self, id: &str, permissions: &[&str]) -> Scope {
        Scope::new(
            &plugin(id),
            grants(permissions, 4096),
            self.data.clone(),
            self.shared.clone(),
            self.bus.clone(),
        )
    }
}

#[test]
fn a_plugin_reads_only_its_own_data() {
    let w = world();
    let notes = w.scope("notes", &[]);
    let snoop = w.scope("snoop", &[]);
    notes
        .data_set("todo", b"buy milk".to_vec(), true)
        .expect("set");
    notes.data_set("draft", b"x".to_vec(), false).expect("set");
    assert_eq!(
        notes.data_get("todo").expect("get"),
        Some(b"buy milk".to_vec())
    );
    // The same key names, from another plugin: nothing.
    assert_eq!(snoop.data_get("todo").expect("get"), None);
    assert_eq!(snoop.data_get("draft").expect("get"), None);
    assert!(snoop.data_keys().expect("keys").is_empty());
    assert!(!snoop.data_delete("todo").expect("delete"));
    assert_eq!(notes.data_keys().expect("keys"), ["draft", "todo"]);
}

#[test]
fn persistent_data_survives_a_restart_and_session_data_does_not() {
    let home = tempfile::tempdir().expect("home");
    {
        let db = StateDb::open(home.path()).expect("db");
        let scope = Scope::new(
            &plugin("notes"),
            grants(&[], 4096),
            PluginData::new(db.clone()),
            SharedState::new(db),
            EventBus::new(),
        );
        scope.data_set("kept", b"1".to_vec(), true).expect("set");
        scope.data_set("gone", b"2".to_vec(), false).expect("set");
    }
    let db = StateDb::open(home.path()).expect("db again");
    let scope = Scope::new(
        &plugin("notes"),
        grants(&[], 4096),
        PluginData::new(db.clone()),
        SharedState::new(db),
        EventBus::new(),
    );
    assert_eq!(scope.data_get("kept").expect("get"), Some(b"1".to_vec()));
    assert_eq!(scope.data_get("gone").expect("get"), None);
}

#[test]
fn a_write_over_quota_is_refused_and_changes_nothing() {
    let w = world();
    let scope = Scope::new(
        &plugin("notes"),
        grants(&[], 100),
        w.data.clone(),
        w.shared.clone(),
        w.bus.clone(),
    );
    scope.data_set("a", vec![b'x'; 60], true).expect("fits");
    let err = scope
        .data_set("b", vec![b'y'; 60], true)
        .expect_err("over quota");
    assert!(
        matches!(
            err,
            StateError::QuotaExceeded {
                needed: 122,
                quota: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max-data-kib"), "{err}");
    assert_eq!(scope.data_get("b").expect("get"), None);
    // Session values count too.
    let err = scope
        .data_set("c", vec![b'z'; 60], false)
        .expect_err("over quota in memory");
    assert!(matches!(err, StateError::QuotaExceeded { .. }), "{err}");
    // Replacing a key counts its new size, not both.
    scope
        .data_set("a", vec![b'w'; 90], true)
        .expect("replace fits");
    assert_eq!(scope.data_get("a").expect("get"), Some(vec![b'w'; 90]));
}

#[test]
fn shared_keys_and_topics_need_their_grants() {
    let w = world();
    let granted = w.scope(
        "builder",
        &[
            "state-shared(build.cache)",
            "events-publish(build.done)",
            "events-subscribe(build.*)",
        ],
    );
    let other = w.scope("snoop", &[]);
    granted
        .shared_set("build.cache", b"warm".to_vec())
        .expect("granted key");
    for err in [
        other.shared_get("build.cache").map(drop).expect_err("read"),
        other
            .shared_set("build.cache", b"cold".to_vec())
            .map(drop)
            .expect_err("write"),
        other
            .shared_compare_and_swap("build.cache", 1, b"cold".to_vec())
            .map(drop)
            .expect_err("cas"),
        granted
            .shared_get("build.other")
            .map(drop)
            .expect_err("another key"),
    ] {
        assert!(matches!(err, StateError::NotGranted { .. }), "{err}");
        assert!(err.to_string().contains("state-shared("), "{err}");
    }
    assert_eq!(
        w.shared.get("build.cache").expect("read").map(|v| v.value),
        Some(b"warm".to_vec()),
        "refused writes changed nothing"
    );

    let err = other
        .publish("build.done", json!({}), Propagation::Global, false)
        .expect_err("ungranted topic");
    assert!(
        err.to_string().contains("events-publish(build.done)"),
        "{err}"
    );
    let err = granted
        .publish("build.started", json!({}), Propagation::Global, false)
        .expect_err("another topic");
    assert!(matches!(err, StateError::NotGranted { .. }), "{err}");
    let err = granted
        .publish("build.done", json!({}), Propagation::System, false)
        .expect_err("system level");
    assert!(err.to_string().contains("system"), "{err}");
    let err = granted
        .publish("build.*", json!({}), Propagation::Local, false)
        .expect_err("a pattern is no topic");
    assert!(matches!(err, StateError::Invalid { .. }), "{err}");
    // A payload that is not JSON is named in the error, unless the event
    // is sensitive: then only its size is.
    let err = granted
        .stage(
            "build.done",
            "{\"token\":\"ghp_s3cr3t",
            Propagation::Local,
            true,
        )
        .expect_err("not JSON");
    assert!(err.to_string().contains("not shown"), "{err}");
    assert!(!err.to_string().contains("ghp_s3cr3t"), "{err}");
    let err = granted
        .stage("build.done", "{\"n\": 1", Propagation::Local, false)
        .expect_err("not JSON");
    assert!(err.to_string().contains("{\"n\": 1"), "{err}");

    assert!(other.subscribe("build.*", None, 8).is_err());
    assert!(
        granted.subscribe("**", None, 8).is_err(),
        "wider than granted"
    );
    assert!(granted.subscribe("build.*", None, 8).is_ok());
    assert!(granted.subscribe("build.done", None, 8).is_ok());
}

/// A grant recorded before install refused lord's names (or written by an
/// embedder) still reaches nothing of lord's.
#[test]
fn lords_topics_and_shared_keys_are_never_granted() {
    let w = world();
    let forger = w.scope(
        "forger",
        &[
            "events-publish(lord.command.finished)",
            "state-shared(lord.session)",
            "events-subscribe(lord.command.finished)",
        ],
    );
    let err = forger
        .publish(
            "lord.command.finished",
            json!({"status": "failed"}),
            Propagation::Global,
            false,
        )
        .expect_err("lord's topic");
    assert!(err.to_string().contains("lord's own"), "{err}");
    assert!(matches!(
        forger.shared_set("lord.session", b"x".to_vec()),
        Err(StateError::NotGranted { .. })
    ));
    assert!(forger.subscribe("lord.command.finished", None, 8).is_ok());
}

/// A plugin over its share of the log loses its own oldest events, counted;
/// lord's events and other plugins' are untouched.
#[test]
fn a_plugin_over_its_log_budget_loses_its_own_oldest_events() {
    let home = tempfile::tempdir().expect("home");
    let db = StateDb::open(home.path()).expect("db");
    let budget = lord_state::LogBudget {
        bytes: 1 << 20,
        events: 10,
    };
    let log = EventLog::new(
        db,
        Retention {
            per_plugin: budget,
            ..Retention::default()
        },
    );
    let bus = EventBus::with_log(log.clone());
    let topic = Topic::concrete("spam.out").expect("topic");
    for n in 0..25 {
        for source in ["spammer", "lord"] {
            bus.publish(&topic, source, Propagation::Global, json!(n), false)
                .expect("publish");
        }
        if n % 7 == 0 {
            log.flush().expect("flush");
        }
    }
    bus.publish(&topic, "quiet", Propagation::Global, json!("hi"), false)
        .expect("publish");
    let events = log.since(0, 1000).expect("read");
    let spam: Vec<_> = events
        .iter()
        .filter(|e| e.source == "spammer")
        .map(|e| e.payload.clone())
        .collect();
    assert_eq!(spam, (15..25).map(|n| json!(n)).collect::<Vec<_>>());
    assert_eq!(events.iter().filter(|e| e.source == "lord").count(), 25);
    assert_eq!(events.iter().filter(|e| e.source == "quiet").count(), 1);
    let dropped = log.dropped().expect("dropped");
    assert_eq!(
        dropped,
        vec![lord_state::Dropped {
            source: "spammer".to_owned(),
            dropped: 15
        }]
    );
}

/// Writers on connections of their own (as separate processes are), each
/// adding one by compare-and-swap: every increment lands, and each
/// conflict was another writer's write.
#[test]
fn many_concurrent_writers_through_cas_lose_no_update() {
    const WRITERS: usize = 8;
    const EACH: usize = 100;
    let home = tempfile::tempdir().expect("home");
    StateDb::open(home.path()).expect("create");
    let threads: Vec<_> = (0..WRITERS)
        .map(|_| {
            let shared = SharedState::new(StateDb::open(home.path()).expect("connection"));
            std::thread::spawn(move || {
                let mut conflicts = 0u64;
                for _ in 0..EACH {
                    let mut current = shared.get("counter").expect("read");
                    loop {
                        let (n, version) = current.map_or((0u64, 0), |v| {
                            let n = String::from_utf8(v.value)
                                .expect("utf8")
                                .parse()
                                .expect("number");
                            (n, v.version)
                        });
                        match shared
                            .compare_and_swap("counter", version, (n + 1).to_string().into_bytes())
                            .expect("no error, however busy")
                        {
                            CasOutcome::Swapped(_) => break,
                            CasOutcome::Conflict(now) => {
                                conflicts += 1;
                                current = now;
                            }
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u64 = threads.into_iter().map(|t| t.join().expect("writer")).sum();
    let shared = SharedState::new(StateDb::open(home.path()).expect("db"));
    let end = shared.get("counter").expect("read").expect("written");
    assert_eq!(
        String::from_utf8(end.value).expect("utf8"),
        (WRITERS * EACH).to_string(),
        "every increment landed (after {conflicts} retried conflicts)"
    );
    // Only this key was written, so the one counter moved once per write.
    assert_eq!(end.version, (WRITERS * EACH) as u64);
}

#[test]
fn watchers_see_writes_and_a_deleted_key_restarts_at_version_zero() {
    let w = world();
    let mut watch = w.shared.subscribe("k").expect("watch");
    assert_eq!(w.shared.set("k", b"1".to_vec()).expect("set"), 1);
    assert!(watch.has_changed().expect("open"));
    assert_eq!(
        watch.borrow_and_update().as_ref().map(|v| v.version),
        Some(1)
    );
    assert!(w.shared.delete("k").expect("delete"));
    assert_eq!(*watch.borrow_and_update(), None);
    // Absent again: CAS from 0 succeeds, and versions never repeat.
    assert_eq!(
        w.shared
            .compare_and_swap("k", 0, b"2".to_vec())
            .expect("cas"),
        CasOutcome::Swapped(3)
    );
}

/// A write on another connection (another process, as far as SQLite can
/// tell) wakes a watcher here, through the poll of `data_version`.
#[test]
fn a_watcher_sees_a_write_made_on_another_connection() {
    let home = tempfile::tempdir().expect("home");
    let here = SharedState::new(StateDb::open(home.path()).expect("here"));
    let there = SharedState::new(StateDb::open(home.path()).expect("there"));
    let mut watch = here.subscribe("build.cache").expect("watch");
    let version = there.set("build.cache", b"warm".to_vec()).expect("set");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // Generous: the poll runs every WATCH_POLL; this only bounds a hang.
    let seen = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), watch.changed()).await });
    assert!(matches!(seen, Ok(Ok(()))), "no wake-up: {seen:?}");
    assert_eq!(
        watch.borrow().clone(),
        Some(lord_state::Versioned {
            value: b"warm".to_vec(),
            version
        })
    );
}

#[test]
fn patterns_and_filters_choose_what_a_subscriber_gets() {
    let bus = EventBus::new();
    let pattern = |p: &str| Topic::pattern(p).expect("pattern");
    let topic = |t: &str| Topic::concrete(t).expect("topic");
    let mut one = bus.subscribe("a", &pattern("db.*"), None, 16);
    let mut deep = bus.subscribe("b", &pattern("cli.command.**"), None, 16);
    let mut failed = bus.subscribe(
        "c",
        &pattern("cli.command.**"),
        Some(FieldFilter::new("/status", json!("failed"))),
        16,
    );
    for (t, status) in [
        ("db.query", "ok"),
        ("db.pool.open", "ok"),
        ("cli.command.finished", "ok"),
        ("cli.command.run.finished", "failed"),
        ("cli.commands", "ok"),
    ] {
        bus.publish(
            &topic(t),
            "lord",
            Propagation::Local,
            json!({ "status": status }),
            false,
        )
        .expect("publish");
    }
    let drain = |s: &mut lord_state::Subscription| {
        std::iter::from_fn(|| s.try_recv())
            .map(|e| e.topic.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(drain(&mut one), ["db.query"]);
    assert_eq!(
        drain(&mut deep),
        ["cli.command.finished", "cli.command.run.finished"]
    );
    assert_eq!(drain(&mut failed), ["cli.command.run.finished"]);
}

#[test]
fn a_stalled_subscriber_loses_counted_events_and_never_slows_publishers() {
    const QUEUE: usize = 64;
    const EVENTS: u64 = 20_000;
    let bus = EventBus::new();
    let all = Topic::pattern("**").expect("pattern");
    let stalled = bus.subscribe("stalled", &all, None, QUEUE);
    let mut live = bus.subscribe("live", &all, None, EVENTS as usize);
    let topic = Topic::concrete("tick").expect("topic");
    let started = Instant::now();
    let mut dropped = 0;
    for n in 0..EVENTS {
        dropped += bus
            .publish(&topic, "lord", Propagation::Local, json!(n), false)
            .expect("publish")
            .dropped;
    }
    let elapsed = started.elapsed();
    // The stalled queue took its bound and lost the rest, counted.
    assert_eq!(dropped, EVENTS - QUEUE as u64);
    let stats = stalled.stats();
    assert_eq!(stats.delivered, QUEUE as u64);
    assert_eq!(stats.dropped, EVENTS - QUEUE as u64);
    // The live subscriber got every event, in order.
    let got: Vec<u64> = std::iter::from_fn(|| live.try_recv())
        .map(|e| e.payload.as_u64().expect("n"))
        .collect();
    assert_eq!(got, (0..EVENTS).collect::<Vec<_>>());
    // Publishing never waited on the stalled queue: a generous bound that
    // only a blocking publish (20 000 waits) would break.
    assert!(
        elapsed < Duration::from_secs(5),
        "publishing took {elapsed:?}"
    );
    drop(stalled);
    assert_eq!(bus.stats().len(), 1, "dropping a subscription unsubscribes");
}

/// The payloads the log holds, oldest first.
fn logged(log: &EventLog) -> Vec<serde_json::Value> {
    log.since(0, 100)
        .expect("replay")
        .into_iter()
        .map(|e| e.payload)
        .collect()
}

#[test]
fn persisted_events_survive_a_restart_replay_in_order_and_are_pruned() {
    let home = tempfile::tempdir().expect("home");
    let topic = |t: &str| Topic::concrete(t).expect("topic");
    {
        let db = StateDb::open(home.path()).expect("db");
        let bus = EventBus::with_log(EventLog::new(db, Retention::default()));
        for n in 0..5 {
            bus.publish(
                &topic("build.step"),
                "builder",
                Propagation::Global,
                json!(n),
                false,
            )
            .expect("publish");
        }
        // Local and sensitive events are never written down.
        bus.publish(
            &topic("build.step"),
            "builder",
            Propagation::Local,
            json!("local"),
            false,
        )
        .expect("publish");
        bus.publish(
            &topic("auth.token"),
            "builder",
            Propagation::Global,
            json!("s3cr3t"),
            true,
        )
        .expect("publish");
        bus.publish(
            &topic("lord.plugin.enabled"),
            "lord",
            Propagation::System,
            json!({}),
            false,
        )
        .expect("publish");
    }
    let db = StateDb::open(home.path()).expect("db again");
    let log = EventLog::new(
        db,
        Retention {
            max_age: Duration::from_secs(3600),
            max_events: 3,
            ..Retention::default()
        },
    );
    let replayed = log.since(0, 100).expect("replay");
    let payloads: Vec<_> = replayed.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(
        payloads,
        [json!(0), json!(1), json!(2), json!(3), json!(4), json!({})]
    );
    assert!(replayed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(replayed[5].propagation, Propagation::System);
    let pruned = log.prune(replayed[5].at_ms).expect("prune");
    assert_eq!(pruned, 3);
    let kept = logged(&log);
    assert_eq!(kept, [json!(3), json!(4), json!({})]);
    // Age-based: everything older than the window goes.
    let far_future = replayed[5].at_ms + 2 * 3600 * 1000;
    assert_eq!(log.prune(far_future).expect("prune"), 3);
    assert!(log.since(0, 100).expect("replay").is_empty());
}

/// A process prunes the log once, in the transaction that writes its
/// first events: what it keeps is the newest `max_events` before its own.
#[test]
fn the_first_write_of_a_process_prunes_the_log_beyond_its_retention() {
    let home = tempfile::tempdir().expect("home");
    let topic = Topic::concrete("build.step").expect("topic");
    let publish = |bus: &EventBus, n: i32| {
        bus.publish(&topic, "builder", Propagation::Global, json!(n), false)
            .expect("publish");
    };
    let retention = Retention {
        max_events: 3,
        ..Retention::default()
    };
    {
        // No retention this time: all five are written.
        let bus = EventBus::with_log(EventLog::new(
            StateDb::open(home.path()).expect("db"),
            Retention::default(),
        ));
        (0..5).for_each(|n| publish(&bus, n));
    }
    let log = EventLog::new(StateDb::open(home.path()).expect("db"), retention);
    let bus = EventBus::with_log(log.clone());
    publish(&bus, 5);
    log.flush().expect("flush");
    let kept = logged(&log);
    assert_eq!(kept, [json!(2), json!(3), json!(4), json!(5)]);
    // Once per process: later writes leave the count to the next one.
    publish(&bus, 6);
    log.flush().expect("flush");
    assert_eq!(log.since(0, 100).expect("replay").len(), 5);
}

#[test]
fn a_subscriber_on_another_thread_receives_while_publishers_run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bus = EventBus::new();
    let mut sub = bus.subscribe("native", &Topic::pattern("n.*").expect("p"), None, 1024);
    let received = rt.spawn(async move {
        let mut n = 0;
        while let Some(event) = sub.recv().await {
            n += 1;
            if event.payload == json!("last") {
                break;
            }
        }
        n
    });
    let topic = Topic::concrete("n.x").expect("topic");
    for _ in 0..100 {
        bus.publish(&topic, "lord", Propagation::Local, json!(1), false)
            .expect("publish");
    }
    bus.publish(&topic, "lord", Propagation::Local, json!("last"), false)
        .expect("publish");
    let n = rt.block_on(received).expect("subscriber");
    assert_eq!(n, 101);
}

/// Processes making the first key at once (here, threads with stores of
/// their own over one home) agree on one: whatever any of them sealed,
/// every other opens.
#[test]
fn the_first_key_made_by_several_at_once_is_one_key() {
    use lord_state::{Secrets, SecretsBackend};
    let home = tempfile::tempdir().expect("home");
    let sealed: Vec<(Vec<u8>, Secrets)> = std::thread::scope(|scope| {
        let makers: Vec<_> = (0..8)
            .map(|n| {
                let home = home.path();
                scope.spawn(move || {
                    let secrets = Secrets::with_backend(home, SecretsBackend::File);
                    let sealer = secrets.sealer().expect("sealer");
                    let sealed = sealer.seal(format!("from {n}").as_bytes()).expect("seal");
                    (sealed, secrets)
                })
            })
            .collect();
        makers
            .into_iter()
            .map(|m| m.join().expect("maker"))
            .collect()
    });
    for (bytes, _) in &sealed {
        for (_, secrets) in &sealed {
            secrets
                .sealer()
                .expect("sealer")
                .open(bytes)
                .expect("sealed under another key");
        }
    }
}

#[test]
fn secrets_round_trip_and_only_granted_names_are_readable() {
    use lord_state::{SecretValue, Secrets, SecretsBackend};
    let home = tempfile::tempdir().expect("home");
    let secrets = Secrets::with_backend(home.path(), SecretsBackend::File);
    assert!(secrets.names().expect("names").is_empty());
    secrets
        .set("API_TOKEN", SecretValue::new("t0ken".to_owned()))
        .expect("set");
    secrets
        .set("OTHER", SecretValue::new("x".to_owned()))
        .expect("set");
    assert_eq!(secrets.names().expect("names"), ["API_TOKEN", "OTHER"]);
    let value = secrets.get("API_TOKEN").expect("get").expect("present");
    assert_eq!(value.expose(), "t0ken");
    assert_eq!(format!("{value:?}"), "[redacted]");
    assert!(
        secrets
            .set("lower", SecretValue::new("x".to_owned()))
            .is_err()
    );

    let scope = Scope::new(
        &plugin("vault"),
        grants(&["secret(API_TOKEN)"], 0),
        PluginData::new(StateDb::at(home.path())),
        SharedState::new(StateDb::at(home.path())),
        EventBus::new(),
    )
    .with_secrets(Secrets::with_backend(home.path(), SecretsBackend::File));
    assert_eq!(
        scope.secret("API_TOKEN").expect("granted").expose(),
        "t0ken"
    );
    let err = scope.secret("OTHER").expect_err("not granted");
    assert!(matches!(err, StateError::NotGranted { .. }), "{err}");
    assert!(secrets.remove("API_TOKEN").expect("remove"));
    assert!(matches!(
        scope.secret("API_TOKEN"),
        Err(StateError::SecretMissing(_))
    ));
}

#[test]
fn mailboxes_deliver_by_priority_and_drop_rather_than_block() {
    use lord_state::{Mailboxes, Message, Posted};
    let home = tempfile::tempdir().expect("home");
    let boxes = Mailboxes::with_capacity(StateDb::open(home.path()).expect("db"), 3);
    let msg = |payload: &str, priority: u8| Message {
        from: "a".to_owned(),
        to: "b".to_owned(),
        payload: payload.to_owned(),
        priority,
    };
    let post = |m: Message| boxes.post(&m).expect("post");
    assert_eq!(post(msg("low-1", 1)), Posted::Queued);
    assert_eq!(post(msg("high", 9)), Posted::Queued);
    assert_eq!(post(msg("low-2", 1)), Posted::Queued);
    // Full: an urgent one displaces the least urgent, newest first.
    assert_eq!(post(msg("urgent", 200)), Posted::Displaced);
    // Full of messages at least as urgent: refused, counted.
    assert_eq!(post(msg("low-3", 1)), Posted::Refused);
    let stats = boxes.stats("b").expect("stats");
    assert_eq!((stats.queued, stats.dropped), (3, 2));
    // Another connection (another process) sees the same mailbox.
    let there = Mailboxes::with_capacity(StateDb::open(home.path()).expect("db"), 3);
    assert_eq!(there.receivers().expect("receivers"), ["b"]);
    let order: Vec<String> = there
        .take("b")
        .expect("take")
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(order, ["urgent", "high", "low-1"]);
    assert!(boxes.take("b").expect("take").is_empty());
    assert!(boxes.receivers().expect("receivers").is_empty());
}

/// `receivers` is asked at every command's delivery and keeps its answer
/// for a moment: what this connection posts or takes is seen at the next
/// ask, what another connection posts within the freshness window.
#[test]
fn the_kept_list_of_receivers_follows_writes() {
    use lord_state::{Mailboxes, Message};

    let home = tempfile::tempdir().expect("home");
    let db = StateDb::open(home.path()).expect("db");
    let here = Mailboxes::new(db.clone());
    let there = Mailboxes::new(StateDb::open(home.path()).expect("db"));
    let msg = |to: &str| Message {
        from: "a".to_owned(),
        to: to.to_owned(),
        payload: "p".to_owned(),
        priority: 1,
    };
    assert!(here.receivers().expect("receivers").is_empty());
    // This connection's writes, through any handle, are seen at once.
    here.post(&msg("c")).expect("post here");
    assert_eq!(here.receivers().expect("receivers"), ["c"]);
    Mailboxes::new(db)
        .post(&msg("d"))
        .expect("post on the same connection");
    assert_eq!(here.receivers().expect("receivers"), ["c", "d"]);
    here.take("c").expect("take");
    assert_eq!(here.receivers().expect("receivers"), ["d"]);
    // Another connection's post is seen once the kept list goes stale.
    there.post(&msg("b")).expect("post elsewhere");
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(here.receivers().expect("receivers"), ["b", "d"]);
}

/// Two deliverers taking one receiver's mailbox at once, each on its own
/// connection: every message is taken exactly once.
#[test]
fn messages_taken_by_concurrent_deliverers_go_to_exactly_one() {
    use lord_state::{Mailboxes, Message};
    let home = tempfile::tempdir().expect("home");
    let sender = Mailboxes::new(StateDb::open(home.path()).expect("db"));
    let takers: Vec<Mailboxes> = (0..4)
        .map(|_| Mailboxes::new(StateDb::open(home.path()).expect("db")))
        .collect();
    let posting = std::thread::spawn(move || {
        for n in 0..200 {
            sender
                .post(&Message {
                    from: "a".to_owned(),
                    to: "b".to_owned(),
                    payload: n.to_string(),
                    priority: 0,
                })
                .expect("post");
        }
    });
    let threads: Vec<_> = takers
        .into_iter()
        .map(|boxes| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..200 {
                    got.extend(
                        boxes
                            .take("b")
                            .expect("take")
                            .into_iter()
                            .map(|m| m.payload),
                    );
                }
                got
            })
        })
        .collect();
    posting.join().expect("sender");
    let mut all: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("taker"))
        .map(|p| p.parse().expect("number"))
        .collect();
    let rest = Mailboxes::new(StateDb::open(home.path()).expect("db"));
    all.extend(
        rest.take("b")
            .expect("take")
            .into_iter()
            .map(|m| m.payload.parse::<u32>().expect("number")),
    );
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<u32>>(), "each message once");
}

#[test]
fn sensitive_events_are_stored_only_sealed() {
    use lord_state::{Secrets, SecretsBackend};
    let home = tempfile::tempdir().expect("home");
    let topic = Topic::concrete("auth.token").expect("topic");
    const PLAIN: &str = "sensitive-payload-5d1f0c";
    {
        let db = StateDb::open(home.path()).expect("db");
        let log = EventLog::with_secrets(
            db,
            Retention::default(),
            Secrets::with_backend(home.path(), SecretsBackend::File),
        );
        let bus = EventBus::with_log(log.clone());
        let mut live = bus.subscribe("reader", &Topic::pattern("auth.*").expect("p"), None, 4);
        let report = bus
            .publish(
                &topic,
                "login",
                Propagation::Global,
                json!({ "token": PLAIN }),
                true,
            )
            .expect("publish");
        assert!(report.persisted);
        // Delivered live in the clear, to a granted subscriber.
        assert_eq!(live.try_recv().expect("live").payload["token"], PLAIN);
        log.flush().expect("flush");
    }
    // Nothing under the home holds the payload in the clear.
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                assert!(
                    !bytes.windows(PLAIN.len()).any(|w| w == PLAIN.as_bytes()),
                    "{} holds the sensitive payload in the clear",
                    path.display()
                );
            }
        }
    }
    let log = EventLog::with_secrets(
        StateDb::open(home.path()).expect("db"),
        Retention::default(),
        Secrets::with_backend(home.path(), SecretsBackend::File),
    );
    let hidden = log.since(0, 10).expect("read");
    assert_eq!(hidden.len(), 1);
    assert!(hidden[0].sensitive);
    assert_eq!(hidden[0].payload, serde_json::Value::Null);
    let revealed = log.since_revealed(0, 10).expect("read");
    assert_eq!(revealed[0].payload["token"], PLAIN);
}

#[test]
fn global_state_records_commands_and_wakes_typed_subscribers() {
    use lord_state::{GlobalState, SessionInfo};
    let state = GlobalState::new(
        SessionInfo {
            user: Some("ada".to_owned()),
            project: std::path::PathBuf::from("/work/project"),
            command: vec!["hello".to_owned(), "World".to_owned()],
            version: "0.1.0".to_owned(),
            started_at_ms: 1,
            environment: std::collections::BTreeMap::new(),
        },
        "warn".to_owned(),
        "auto".to_owned(),
    );
    let mut telemetry = state.subscribe_telemetry();
    let mut level = state.subscribe_log_level();
    state.record_command("hello", true, 3);
    state.record_command("spin", false, 300);
    state.set_metric("load_ms", 1.5);
    assert!(telemetry.has_changed().expect("open"));
    let seen = telemetry.borrow_and_update().clone();
    assert_eq!((seen.commands_run, seen.errors), (2, 1));
    assert_eq!(
        seen.history.back().map(|r| r.command.as_str()),
        Some("spin")
    );
    assert_eq!(seen.metrics.get("load_ms"), Some(&1.5));
    // Setting the same level wakes nobody; a new one does.
    state.set_log_level("warn");
    assert!(!level.has_changed().expect("open"));
    state.set_log_level("debug");
    assert!(level.has_changed().expect("open"));
    assert_eq!(*level.borrow_and_update(), "debug");
    // Dropping a receiver unsubscribes; the state goes on.
    drop(telemetry);
    state.record_command("hello", true, 2);
    assert_eq!(state.telemetry().commands_run, 3);
    for n in 0..60 {
        state.record_command(&format!("c{n}"), true, 1);
    }
    assert_eq!(state.telemetry().history.len(), 50, "history is bounded");
}

/// Past one buffer, events are written as the buffer fills and the rest at
/// the flush; a reader sees every event once, in order.
#[test]
fn events_past_one_buffer_are_written_once_and_in_order() {
    let home = tempfile::tempdir().expect("home");
    let topic = Topic::concrete("build.step").expect("topic");
    let db = StateDb::open(home.path()).expect("db");
    let log = EventLog::new(db, Retention::default());
    let bus = EventBus::with_log(log.clone());
    const EVENTS: u64 = 1_000;
    for n in 0..EVENTS {
        bus.publish(&topic, "builder", Propagation::Global, json!(n), false)
            .expect("publish");
    }
    log.flush().expect("flush");
    let events = log.since(0, EVENTS * 2).expect("read");
    let numbers: Vec<u64> = events
        .iter()
        .map(|e| e.payload.as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, (0..EVENTS).collect::<Vec<_>>());
    // A second flush has nothing left to write.
    assert_eq!(log.flush().expect("flush"), 0);
}

/// A log written by an earlier lord (schema 2: a time index and
/// AUTOINCREMENT) keeps every event, in order, through the migration, and
/// new events follow the old ones.
#[test]
fn an_older_event_log_keeps_its_events_through_the_migration() {
    let home = tempfile::tempdir().expect("home");
    {
        let conn = rusqlite::Connection::open(home.path().join("state.db")).expect("db");
        conn.execute_batch(
            "CREATE TABLE data (plugin TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                                PRIMARY KEY (plugin, key)) WITHOUT ROWID;
             CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
                                  topic TEXT NOT NULL, source TEXT NOT NULL,
                                  propagation TEXT NOT NULL, payload TEXT NOT NULL,
                                  sensitive INTEGER NOT NULL DEFAULT 0, sealed BLOB);
             CREATE INDEX events_at ON events (at_ms);
             PRAGMA user_version = 2;",
        )
        .expect("old schema");
        for n in 0..3i64 {
            conn.execute(
                "INSERT INTO events (at_ms, topic, source, propagation, payload)
                 VALUES (?1, 'build.step', 'builder', 'global', ?2)",
                rusqlite::params![lord_state::now_ms() - 1000 + n, n.to_string()],
            )
            .expect("old event");
        }
    }
    let db = StateDb::open(home.path()).expect("migrated");
    let log = EventLog::new(db, Retention::default());
    let bus = EventBus::with_log(log.clone());
    let topic = Topic::concrete("build.step").expect("topic");
    bus.publish(&topic, "builder", Propagation::Global, json!(3), false)
        .expect("publish");
    let numbers: Vec<u64> = log
        .since(0, 100)
        .expect("read")
        .iter()
        .map(|e| e.payload.as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3]);
}

/// A plugin's persistent key, read here with its version, then written on
/// another connection: the compare-and-swap here conflicts and hands back
/// the other write; against that version it succeeds. A session value has
/// no version to compare.
#[test]
fn a_data_compare_and_swap_conflicts_with_a_write_made_elsewhere() {
    let home = tempfile::tempdir().expect("home");
    let scope_on = |db: StateDb| {
        Scope::new(
            &plugin("notes"),
            grants(&[], 4096),
            PluginData::new(db.clone()),
            SharedState::new(db),
            EventBus::new(),
        )
    };
    let here = scope_on(StateDb::open(home.path()).expect("here"));
    let there = scope_on(StateDb::open(home.path()).expect("there"));
    assert_eq!(here.data_get_versioned("notes").expect("read"), None);
    let CasOutcome::Swapped(first) = here
        .data_compare_and_swap("notes", 0, b"a".to_vec())
        .expect("cas")
    else {
        panic!("an absent key is at version 0");
    };
    let read = here
        .data_get_versioned("notes")
        .expect("read")
        .expect("set");
    assert_eq!((read.value.as_slice(), read.version), (&b"a"[..], first));
    there
        .data_set("notes", b"a\nb".to_vec(), true)
        .expect("write elsewhere");
    let outcome = here
        .data_compare_and_swap("notes", first, b"a\nc".to_vec())
        .expect("cas");
    let CasOutcome::Conflict(Some(now)) = outcome else {
        panic!("expected a conflict, got {outcome:?}");
    };
    assert_eq!(now.value, b"a\nb");
    assert!(now.version > first);
    assert!(matches!(
        here.data_compare_and_swap("notes", now.version, b"a\nb\nc".to_vec())
            .expect("cas"),
        CasOutcome::Swapped(v) if v > now.version
    ));
    assert_eq!(
        there.data_get("notes").expect("read"),
        Some(b"a\nb\nc".to_vec())
    );
    // Deleted and written again, a key never returns to a version a reader
    // may hold.
    assert!(there.data_delete("notes").expect("delete"));
    let CasOutcome::Swapped(again) = here
        .data_compare_and_swap("notes", 0, b"x".to_vec())
        .expect("cas")
    else {
        panic!("a deleted key is absent");
    };
    assert!(again > now.version);
    // Session values are not versioned.
    here.data_set("draft", b"d".to_vec(), false)
        .expect("session");
    let err = here
        .data_compare_and_swap("draft", 0, b"e".to_vec())
        .expect_err("session value");
    assert!(err.to_string().contains("persistent"), "{err}");
    // The quota holds for compare-and-swap too, in its transaction.
    let err = here
        .data_compare_and_swap("big", 0, vec![b'x'; 5000])
        .expect_err("over quota");
    assert!(matches!(err, StateError::QuotaExceeded { .. }), "{err}");
}

/// Twenty writers at once, each on its own connection, each doing what a
/// command does (data, a shared value, a message, its events): none sees
/// an error, however long it had to wait for the others.
#[test]
fn twenty_concurrent_writers_never_see_the_database_busy() {
    use lord_state::{Mailboxes, Message};
    let home = tempfile::tempdir().expect("home");
    StateDb::open(home.path()).expect("create");
    let threads: Vec<_> = (0..20)
        .map(|n| {
            let db = StateDb::open(home.path()).expect("connection");
            std::thread::spawn(move || -> Result<(), StateError> {
                let log = EventLog::new(db.clone(), Retention::default());
                let bus = EventBus::with_log(log.clone());
                let scope = Scope::new(
                    &plugin("notes"),
                    grants(
                        &["state-shared(notes.count)", "events-publish(notes.added)"],
                        1 << 20,
                    ),
                    PluginData::new(db.clone()),
                    SharedState::new(db.clone()),
                    bus,
                );
                let boxes = Mailboxes::new(db);
                for round in 0..10 {
                    scope.data_set(&format!("k{n}"), vec![b'x'; 100], true)?;
                    loop {
                        let current = scope.shared_get("notes.count")?;
                        let expected = current.as_ref().map_or(0, |v| v.version);
                        let outcome = scope.shared_compare_and_swap(
                            "notes.count",
                            expected,
                            vec![b'1'; 8],
                        )?;
                        if matches!(outcome, CasOutcome::Swapped(_)) {
                            break;
                        }
                    }
                    boxes.post(&Message {
                        from: "notes".to_owned(),
                        to: "tally".to_owned(),
                        payload: format!("{n}.{round}"),
                        priority: 0,
                    })?;
                    scope.publish("notes.added", json!({ "n": n }), Propagation::Global, false)?;
                    log.flush()?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        let result = thread.join().expect("writer");
        assert!(result.is_ok(), "{result:?}");
    }
    let db = StateDb::open(home.path()).expect("db");
    let log = EventLog::new(db.clone(), Retention::default());
    assert_eq!(log.since(0, 1000).expect("read").len(), 200);
    assert_eq!(
        lord_state::Mailboxes::new(db)
            .take("tally")
            .expect("take")
            .len(),
        200
    );
}
