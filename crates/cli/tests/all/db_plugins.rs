//! Sandboxed plugins and databases, end to end: the hostile `dbsnoop`
//! fixture holds `db(analytics)` and nothing else. On a SQLite file and on
//! a throwaway PostgreSQL server (whose password lord reads from
//! `lord secret`), it can use `analytics`; every other profile is refused
//! whatever name it passes; the password reaches it by no path (not
//! `secrets`, not an error message) and appears nowhere in what lord
//! prints; an injection through a parameter is stored as text and the
//! table survives; on SQLite, no other file can be attached or written and
//! no transaction or setting outlives its call. A component importing
//! `lord:plugin/sql` without a `db` grant is refused at install. The same
//! rules hold through `lord:plugin/kv` on a throwaway `redis-server` and
//! through `lord:plugin/document` on the CongoDB wire-protocol emulator
//! (EMULATOR-BACKED: no real MongoDB server can run here).

use serde_json::{Value, json};

use crate::mongo::Mongo;
use crate::pg::PgServer;
use crate::redis::{PASSWORD as REDIS_PASSWORD, Redis};
use crate::support::{Lord, Run, variant};

const INJECTION: &str = "'; DROP TABLE t; --";
/// The profile's password: stored with `lord secret set`, and looked for
/// in everything lord prints.
const CANARY: &str = "pw-canary-7f3a91";

fn report(run: &Run) -> Value {
    run.assert_ok();
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[track_caller]
fn assert_err(report: &Value, step: &str, kind: &str) -> String {
    assert_eq!(report[step]["err"], kind, "{step}: {}", report[step]);
    report[step]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What must hold on every engine.
#[track_caller]
fn assert_contained(lord: &Lord, run: &Run, report: &Value) {
    assert_eq!(report["create"]["ok"], 0, "{report}");
    assert_eq!(report["insert"]["ok"], 1, "{report}");
    assert_eq!(report["names"]["ok"], json!([[INJECTION]]), "{report}");
    let other = assert_err(report, "other", "refused");
    assert!(other.contains("needs `db(billing)`"), "{other}");
    assert_err(report, "ghost", "refused");
    assert_err(report, "spoofed", "refused");
    let secret = report["secret"]["err"].as_str().expect("secrets refused");
    assert!(secret.contains("secret(DB_ANALYTICS_PASSWORD)"), "{secret}");
    assert_err(report, "bad", "engine");
    assert_err(report, "batch", "engine");
    let huge = assert_err(report, "huge", "too-large");
    assert!(huge.contains("10000 rows"), "{huge}");
    // `kv` and `document` keep the grant rule; a SQL profile takes neither.
    for step in ["kv_other", "document_other"] {
        let message = assert_err(report, step, "refused");
        assert!(message.contains("needs `db(billing)`"), "{step}: {message}");
    }
    for step in ["kv_mine", "document_mine"] {
        let message = assert_err(report, step, "refused");
        assert!(message.contains("takes no"), "{step}: {message}");
    }
    // The failed batch's first insert was rolled back with it.
    assert_eq!(report["count"]["ok"], json!([[1]]), "{report}");
    // The table survived, holding the injection as plain text.
    let rows = lord.run(&["db", "query", "analytics", "SELECT name FROM t", "--json"]);
    rows.assert_ok();
    let rows: Value = serde_json::from_str(&rows.stdout()).expect("JSON rows");
    assert_eq!(rows, json!([{ "name": INJECTION }]));
    // The password is nowhere: not in the report, not on stderr, not in
    // what lord recorded about the plugin.
    let info = lord.run(&["plugin", "info", "dbsnoop", "--json"]);
    for text in [run.stdout(), run.stderr(), info.stdout(), info.stderr()] {
        assert!(!text.contains(CANARY), "the password leaked: {text}");
    }
    lord.assert_hello_works();
}

#[test]
fn a_plugin_granted_one_sqlite_profile_reaches_it_and_nothing_else() {
    let lord = Lord::new();
    lord.run(&["db", "add", "analytics", "sqlite:analytics.db"])
        .assert_ok();
    lord.run(&["db", "add", "billing", "sqlite:billing.db"])
        .assert_ok();
    lord.run(&["db", "query", "billing", "CREATE TABLE s (x TEXT)"])
        .assert_ok();
    lord.set_secret("DB_ANALYTICS_PASSWORD", CANARY);
    lord.install("hello");
    lord.install("hostile/dbsnoop");
    let stolen = lord.project.path().join("stolen.db");
    let run = lord.run(&[
        "dbsnoop",
        "analytics",
        "billing",
        "?",
        stolen.to_str().expect("utf-8"),
    ]);
    let report = report(&run);
    // No other file attached, created or written.
    for step in ["attach", "vacuum"] {
        let message = assert_err(&report, step, "engine");
        assert!(
            message.contains("not authorized") || message.contains("authorization denied"),
            "{step}: {message}"
        );
    }
    assert!(!stolen.exists(), "the plugin wrote {}", stolen.display());
    // No transaction or connection setting outlives a call.
    assert_err(&report, "begin", "engine");
    assert_err(&report, "pragma", "engine");
    assert_contained(&lord, &run, &report);
    // The other profile was never touched.
    let billing = lord.run(&[
        "db",
        "query",
        "billing",
        "SELECT COUNT(*) AS n FROM s",
        "--json",
    ]);
    billing.assert_ok();
    let billing: Value = serde_json::from_str(&billing.stdout()).expect("JSON rows");
    assert_eq!(billing, json!([{ "n": 0 }]));
}

#[test]
fn a_plugin_granted_a_postgres_profile_never_sees_its_password() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let lord = Lord::new();
    let url = server.url();
    for name in ["analytics", "billing"] {
        lord.run(&["db", "add", name, &url, "--tls-mode", "disable"])
            .assert_ok();
    }
    // The server trusts loopback, so the password is sent and ignored:
    // what matters is that lord reads it and hands it to nobody else.
    lord.set_secret("DB_ANALYTICS_PASSWORD", CANARY);
    lord.run(&["db", "query", "analytics", "DROP TABLE IF EXISTS t"])
        .assert_ok();
    lord.install("hello");
    lord.install("hostile/dbsnoop");
    let run = lord.run(&[
        "dbsnoop",
        "analytics",
        "billing",
        "$1",
        "/tmp/lord-stolen.db",
    ]);
    let report = report(&run);
    assert_err(&report, "attach", "engine");
    assert_err(&report, "vacuum", "engine");
    assert_contained(&lord, &run, &report);
}

#[test]
fn a_component_importing_sql_without_a_db_grant_is_refused_at_install() {
    let lord = Lord::new();
    let dir = variant("hostile/dbsnoop", |manifest| {
        manifest.replace(r#""db(analytics)", "#, "")
    });
    let run = lord.run(&[
        "plugin",
        "install",
        dir.path().to_str().expect("utf-8"),
        "--yes",
    ]);
    run.assert_code(2)
        .assert_stderr_contains("imports `lord:plugin/sql")
        .assert_stderr_contains("needs a `db` permission");
    assert!(lord.list().is_empty());
}

/// The password nowhere in what lord printed or recorded.
fn assert_no_password(lord: &Lord, run: &Run, password: &str) {
    let info = lord.run(&["plugin", "info", "dbsnoop", "--json"]);
    for text in [run.stdout(), run.stderr(), info.stdout(), info.stderr()] {
        assert!(!text.contains(password), "the password leaked: {text}");
    }
}

#[test]
fn a_plugin_granted_a_redis_profile_uses_it_through_kv_and_reaches_nothing_else() {
    let Some(server) = Redis::start() else {
        return;
    };
    let lord = Lord::new();
    // Two logical databases of one server, one granted.
    lord.run(&["db", "add", "analytics", &server.url(0)])
        .assert_ok();
    lord.run(&["db", "add", "billing", &server.url(1)])
        .assert_ok();
    lord.set_secret("DB_ANALYTICS_PASSWORD", REDIS_PASSWORD);
    lord.set_secret("DB_BILLING_PASSWORD", REDIS_PASSWORD);
    lord.run(&["db", "query", "billing", "--", "SET", "k", "billing's"])
        .assert_ok();
    lord.install("hostile/dbsnoop");
    let run = lord.run(&["dbsnoop-kv", "analytics", "billing"]);
    let report = report(&run);
    for (step, want) in [
        ("set", json!(null)),
        ("get", json!(true)),
        ("missing", json!(null)),
        ("incr", json!(41)),
        ("incr_again", json!(42)),
        ("ttl", json!(true)),
        ("no_ttl", json!(null)),
        ("expire", json!(true)),
        ("exists", json!(true)),
        ("pattern", json!(["brief"])),
        ("delete", json!(1)),
    ] {
        assert_eq!(report[step]["ok"], want, "{step}: {report}");
    }
    // The smuggled key is one key, listed as itself.
    let keys = report["scan"]["ok"].as_array().expect("scan");
    assert!(keys.contains(&json!("k\r\nFLUSHALL\r\n")), "{report}");
    for step in ["other", "ghost"] {
        let message = assert_err(&report, step, "refused");
        assert!(message.contains("db("), "{step}: {message}");
    }
    for step in ["sql_mine", "document_mine"] {
        let message = assert_err(&report, step, "refused");
        assert!(message.contains("takes no"), "{step}: {message}");
    }
    // FLUSHALL never ran: the other database still holds its key, and
    // the granted one holds exactly what the plugin left.
    let billing = lord.run(&["db", "query", "billing", "--json", "--", "GET", "k"]);
    billing.assert_ok();
    assert_eq!(billing.stdout().trim(), "\"billing's\"");
    let left = lord.run(&["db", "query", "analytics", "--json", "--", "DBSIZE"]);
    left.assert_ok();
    assert_eq!(left.stdout().trim(), "2");
    assert_no_password(&lord, &run, REDIS_PASSWORD);
}

#[test]
fn a_plugin_granted_a_mongodb_profile_uses_it_through_document_and_reaches_nothing_else() {
    let Some(server) = Mongo::start() else {
        return;
    };
    let lord = Lord::new();
    for (name, db) in [("analytics", "shop"), ("billing", "ledger")] {
        lord.run(&["db", "add", name, &server.url(db), "--tls-mode", "disable"])
            .assert_ok();
    }
    lord.run(&[
        "db",
        "query",
        "billing",
        r#"{"insert": "items", "documents": [{"kept": true}]}"#,
    ])
    .assert_ok();
    lord.install("hostile/dbsnoop");
    let run = lord.run(&["dbsnoop-doc", "analytics", "billing"]);
    let report = report(&run);
    assert_eq!(report["insert"]["ok"], 2, "{report}");
    // The injection is a value: matched as text, run as nothing.
    assert_eq!(report["by_value"]["ok"], json!([1]), "{report}");
    assert_eq!(report["update"]["ok"], json!([1, 1]), "{report}");
    assert_eq!(
        report["names"]["ok"],
        json!(["'; db.dropDatabase(); //", "renamed"]),
        "{report}"
    );
    assert_err(&report, "bad_filter", "engine");
    assert_eq!(report["delete"]["ok"], 1, "{report}");
    let message = assert_err(&report, "other", "refused");
    assert!(message.contains("needs `db(billing)`"), "{message}");
    for step in ["kv_mine", "sql_mine"] {
        let message = assert_err(&report, step, "refused");
        assert!(message.contains("takes no"), "{step}: {message}");
    }
    // The other database was never touched; the granted one holds what
    // the plugin left.
    let count = |profile: &str| {
        let run = lord.run(&["db", "query", profile, r#"{"count": "items"}"#, "--json"]);
        run.assert_ok();
        let answer: Value = serde_json::from_str(&run.stdout()).expect("JSON");
        answer["n"].as_i64()
    };
    assert_eq!(count("billing"), Some(1));
    assert_eq!(count("analytics"), Some(1));
}
