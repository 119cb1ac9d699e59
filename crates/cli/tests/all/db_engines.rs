//! `lord db` on the engines beyond SQL, end to end: Redis on a throwaway
//! `redis-server` with a password from `lord secret`, and MongoDB on the
//! CongoDB wire-protocol emulator (EMULATOR-BACKED: no real MongoDB server
//! can run here; see lord-db's `tests/support/mongo.rs`). Profiles are
//! added, listed and pinged; `query` sends a Redis command as arguments
//! and a MongoDB command as JSON; `schema` lists keys and collections;
//! `migrate` is refused with a reason; a disabled provider refuses its
//! profiles. Cassandra cannot run here: only what needs no server is
//! tested (a profile, a ping that names the unreachable host and never the
//! password; a backup refused naming Cassandra's own tool).

use serde_json::{Value, json};

use crate::mongo::Mongo;
use crate::redis::{PASSWORD, Redis};
use crate::support::{Lord, Run};

fn json(run: &Run) -> Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[test]
fn db_on_redis_runs_commands_given_as_arguments_with_the_password_from_lord_secret() {
    let Some(server) = Redis::start() else {
        return;
    };
    let lord = Lord::new();
    lord.run(&["db", "add", "cache", &server.url(0)])
        .assert_ok()
        .assert_stderr_contains("lord secret set DB_CACHE_PASSWORD");
    // No password yet: the server refuses, and says so.
    lord.run(&["db", "ping", "cache"])
        .assert_code(1)
        .assert_stderr_contains("NOAUTH");
    lord.set_secret("DB_CACHE_PASSWORD", PASSWORD);
    let list = json(&lord.run(&["db", "list", "--json"]));
    assert_eq!(list[0]["engine"], "redis");
    assert_eq!(list[0]["password_stored"], true);
    assert!(!list.to_string().contains(PASSWORD));
    let ping = json(&lord.run(&["db", "ping", "cache", "--json"]));
    assert_eq!(ping["ok"], true);
    // One argument each, whatever it holds: a value with spaces and a
    // line break stays one value, and no second command runs.
    let hostile = "a b\r\nFLUSHALL";
    lord.run(&["db", "query", "cache", "--", "SET", "greeting", hostile])
        .assert_ok();
    lord.run(&["db", "query", "cache", "--", "SET", "n", "41"])
        .assert_ok();
    let got = json(&lord.run(&["db", "query", "cache", "--json", "--", "GET", "greeting"]));
    assert_eq!(got, json!(hostile));
    let n = json(&lord.run(&["db", "query", "cache", "--json", "--", "INCR", "n"]));
    assert_eq!(n, json!(42));
    let text = lord.run(&["db", "query", "cache", "--", "MGET", "n", "missing"]);
    text.assert_ok();
    assert_eq!(text.stdout(), "1) \"42\"\n2) (nil)\n");
    let keys = json(&lord.run(&["db", "schema", "cache", "--json"]));
    assert_eq!(keys, json!(["greeting", "n"]));
    let keys = json(&lord.run(&["db", "schema", "cache", "gr*", "--json"]));
    assert_eq!(keys, json!(["greeting"]));
    // The engine's own refusal, with its message and a failing exit.
    lord.run(&["db", "query", "cache", "--", "INCR", "greeting"])
        .assert_code(1)
        .assert_stderr_contains("not an integer");
    lord.run(&["db", "query", "cache", "--csv", "--", "GET", "n"])
        .assert_code(2)
        .assert_stderr_contains("`--csv` and `--param` are for SQL and CQL");
    lord.run(&["db", "migrate", "status", "cache"])
        .assert_code(2)
        .assert_stderr_contains("migrations are for the SQL engines");
    // A wrong password is refused without being shown.
    lord.set_secret("DB_CACHE_PASSWORD", "wrong-horse-staple");
    let refused = lord.run(&["db", "ping", "cache"]);
    refused.assert_code(1);
    assert!(
        !refused.stderr().contains("wrong-horse-staple") && refused.stderr().contains("`cache`"),
        "{}",
        refused.stderr()
    );
    lord.run(&["plugin", "disable", "redis"]).assert_ok();
    lord.run(&["db", "ping", "cache"])
        .assert_code(2)
        .assert_stderr_contains("lord plugin enable redis");
}

/// Emulator-backed (CongoDB), as the file's doc says.
#[test]
fn db_on_mongodb_runs_database_commands_given_as_json() {
    let Some(server) = Mongo::start() else {
        return;
    };
    let lord = Lord::new();
    lord.run(&[
        "db",
        "add",
        "docs",
        &server.url("shop"),
        "--tls-mode",
        "disable",
    ])
    .assert_ok();
    let ping = json(&lord.run(&["db", "ping", "docs", "--json"]));
    assert_eq!(
        (ping["ok"].as_bool(), ping["engine"].as_str()),
        (Some(true), Some("mongodb"))
    );
    let inserted = json(&lord.run(&[
        "db",
        "query",
        "docs",
        "--json",
        r#"{"insert": "users", "documents": [{"name": "ada", "age": 36}, {"name": "bob", "age": 25}]}"#,
    ]));
    assert_eq!(inserted["n"].as_i64(), Some(2), "{inserted}");
    let found = json(&lord.run(&[
        "db",
        "query",
        "docs",
        "--json",
        r#"{"find": "users", "filter": {"age": {"$gt": 30}}, "projection": {"_id": 0}}"#,
    ]));
    assert_eq!(
        found["cursor"]["firstBatch"],
        json!([{"name": "ada", "age": 36}])
    );
    let collections = json(&lord.run(&["db", "schema", "docs", "--json"]));
    assert_eq!(collections, json!(["users"]));
    lord.run(&["db", "schema", "docs", "nothing"])
        .assert_code(2)
        .assert_stderr_contains("has no collection `nothing`");
    lord.run(&["db", "query", "docs", "find users"])
        .assert_code(2)
        .assert_stderr_contains("a MongoDB query is a database command as JSON");
    lord.run(&["db", "migrate", "up", "docs"])
        .assert_code(2)
        .assert_stderr_contains("migrations are for the SQL engines");
}

/// Cassandra: NO SERVER (none can run here). What needs none: the profile
/// is added and listed, a cluster that does not answer is named in a
/// failing ping without the password, and migrations are refused.
#[test]
fn db_on_cassandra_without_a_server_names_the_host_and_keeps_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let lord = Lord::new();
    let url = format!("cassandra://app@127.0.0.1:{port}/events");
    lord.run(&["db", "add", "events", &url, "--connect-timeout", "2"])
        .assert_ok();
    lord.set_secret("DB_EVENTS_PASSWORD", "cql-secret-horse");
    let list = json(&lord.run(&["db", "list", "--json"]));
    assert_eq!(
        (
            list[0]["engine"].as_str(),
            list[0]["password_stored"].as_bool()
        ),
        (Some("cassandra"), Some(true))
    );
    let refused = lord.run(&["db", "ping", "events"]);
    refused
        .assert_code(1)
        .assert_stderr_contains(&format!("127.0.0.1:{port}"));
    assert!(
        !refused.stderr().contains("cql-secret-horse"),
        "{}",
        refused.stderr()
    );
    lord.run(&["db", "migrate", "status", "events"])
        .assert_code(2)
        .assert_stderr_contains("migrations are for the SQL engines");
    // No backup of lord's: the engine's own tool is named, and no file
    // is left.
    lord.run(&["db", "backup", "events", "events.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains("`nodetool snapshot`");
    assert!(!lord.project.path().join("events.lordbackup").exists());
}
