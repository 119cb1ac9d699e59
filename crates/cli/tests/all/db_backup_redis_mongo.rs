//! `lord db backup` and `lord db restore` end to end on the engines
//! beyond SQL: Redis on a throwaway `redis-server` with its password from
//! `lord secret` (which no output repeats), and MongoDB on the CongoDB
//! wire-protocol emulator (EMULATOR-BACKED: no real MongoDB server can run
//! here; see lord-db's `tests/support/mongo.rs`). Each round-trips with
//! `--json`, refuses a non-empty target without `--replace` and a
//! corrupted file (naming it); a Redis backup is refused by a MongoDB
//! profile. Cassandra's refusal, which needs no server, is in
//! `db_engines.rs`.

use serde_json::{Value, json};

use crate::mongo::Mongo;
use crate::redis::{PASSWORD, Redis};
use crate::support::{Lord, Run};

fn json_of(run: &Run) -> Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

/// The file with one byte flipped, beside it, refused by `profile`
/// naming the file.
fn a_flipped_byte_is_refused(lord: &Lord, profile: &str, file: &str) {
    let path = lord.project.path().join(file);
    let mut bytes = std::fs::read(&path).expect("the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let flipped = lord.project.path().join("flipped.lordbackup");
    std::fs::write(&flipped, &bytes).expect("write");
    lord.run(&["db", "restore", profile, "flipped.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "`{}` is not a usable lord backup",
            flipped.display()
        ));
}

#[test]
fn db_backup_on_redis_and_mongodb_round_trips_and_refuses_what_it_must() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let lord = Lord::new();
    redis_round_trips(&lord, &redis);
    // Emulator-backed (CongoDB), as the file's doc says.
    let Some(mongo) = Mongo::start() else {
        return;
    };
    mongodb_round_trips(&lord, &mongo);
}

fn redis_round_trips(lord: &Lord, server: &Redis) {
    for (name, db) in [("cache", 0), ("copy", 1)] {
        lord.run(&["db", "add", name, &server.url(db)]).assert_ok();
        lord.set_secret(&format!("DB_{}_PASSWORD", name.to_uppercase()), PASSWORD);
    }
    let query = |profile: &str, words: &[&str]| {
        let mut args = vec!["db", "query", profile, "--json", "--"];
        args.extend_from_slice(words);
        json_of(&lord.run(&args))
    };
    query(
        "cache",
        &["SET", "greeting", "a b\r\nFLUSHALL", "PX", "600000"],
    );
    query("cache", &["RPUSH", "queue", "one", "two"]);
    query("cache", &["HSET", "user:1", "name", "ada", "age", "36"]);
    query("cache", &["ZADD", "scores", "1.5", "ada"]);
    let backup = lord.run(&["db", "backup", "cache", "cache.lordbackup", "--json"]);
    let made = json_of(&backup);
    assert_eq!(made["engine"], "redis");
    assert_eq!(
        made["tables"],
        json!([
            {"name": "hash", "rows": 1},
            {"name": "list", "rows": 1},
            {"name": "string", "rows": 1},
            {"name": "zset", "rows": 1},
        ]),
        "{made}"
    );
    // Piped, the summary is one line in the engine's words.
    let quiet = lord.run(&["db", "backup", "cache", "cache.lordbackup"]);
    quiet
        .assert_ok()
        .assert_stderr_contains("4 key type(s), 4 key(s)")
        .assert_stderr_contains("checked after writing");
    let restore = lord.run(&["db", "restore", "copy", "cache.lordbackup", "--json"]);
    assert_eq!(json_of(&restore)["tables"], made["tables"]);
    for words in [
        &["GET", "greeting"][..],
        &["LRANGE", "queue", "0", "-1"],
        &["HGETALL", "user:1"],
        &["ZRANGE", "scores", "0", "-1", "WITHSCORES"],
    ] {
        assert_eq!(query("copy", words), query("cache", words), "{words:?}");
    }
    let ttl = query("copy", &["PTTL", "greeting"]).as_i64().unwrap_or(-1);
    assert!(ttl > 590_000, "the TTL was not kept: {ttl}");
    lord.run(&["db", "restore", "copy", "cache.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains("holds 4 key(s)")
        .assert_stderr_contains("--replace");
    query("copy", &["SET", "greeting", "changed"]);
    lord.run(&["db", "restore", "copy", "cache.lordbackup", "--replace"])
        .assert_ok()
        .assert_stderr_contains("counts match the backup");
    assert_eq!(
        query("copy", &["GET", "greeting"]),
        json!("a b\r\nFLUSHALL")
    );
    for run in [&backup, &restore, &quiet] {
        assert!(!run.stdout().contains(PASSWORD) && !run.stderr().contains(PASSWORD));
    }
    let file = std::fs::read(lord.project.path().join("cache.lordbackup")).expect("the file");
    assert!(!String::from_utf8_lossy(&file).contains(PASSWORD));
    lord.run(&["db", "add", "empty", &server.url(2)])
        .assert_ok();
    lord.set_secret("DB_EMPTY_PASSWORD", PASSWORD);
    a_flipped_byte_is_refused(lord, "empty", "cache.lordbackup");
    assert_eq!(query("empty", &["DBSIZE"]), json!(0));
}

fn mongodb_round_trips(lord: &Lord, server: &Mongo) {
    for name in ["shop", "restored"] {
        lord.run(&[
            "db",
            "add",
            name,
            &server.url(name),
            "--tls-mode",
            "disable",
        ])
        .assert_ok();
    }
    let command =
        |profile: &str, json: &str| json_of(&lord.run(&["db", "query", profile, "--json", json]));
    command(
        "shop",
        r#"{"insert": "users", "documents": [
            {"name": "ada", "born": {"$date": "1815-12-10T00:00:00Z"}, "tags": ["math", null]},
            {"name": "bob", "score": {"$numberDecimal": "9.99"}, "raw": {"$binary": {"base64": "AP8=", "subType": "80"}}}
        ]}"#,
    );
    command(
        "shop",
        r#"{"insert": "orders", "documents": [{"n": 1}, {"n": 2}, {"n": 3}]}"#,
    );
    let made = json_of(&lord.run(&["db", "backup", "shop", "shop.lordbackup", "--json"]));
    assert_eq!(made["engine"], "mongodb");
    assert_eq!(
        made["tables"],
        json!([{"name": "orders", "rows": 3}, {"name": "users", "rows": 2}]),
        "{made}"
    );
    lord.run(&["db", "restore", "restored", "shop.lordbackup"])
        .assert_ok()
        .assert_stderr_contains("2 collection(s), 5 document(s), counts match the backup");
    let find = r#"{"find": "users", "filter": {}, "sort": {"name": 1}}"#;
    assert_eq!(
        command("restored", find)["cursor"]["firstBatch"],
        command("shop", find)["cursor"]["firstBatch"]
    );
    lord.run(&["db", "restore", "restored", "shop.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains("holds 2 collection(s)");
    a_flipped_byte_is_refused(lord, "restored", "shop.lordbackup");
    // A Redis backup is not restored into MongoDB, even with --replace.
    let redis_file = lord.project.path().join("cache.lordbackup");
    lord.run(&["db", "restore", "restored", "cache.lordbackup", "--replace"])
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "`{}` is a backup of a redis database",
            redis_file.display()
        ));
}
