//! Hostile fixture: granted `db(analytics)` only, it uses that profile as
//! a plugin may, then reaches for what it may not: another configured
//! profile, one that does not exist, the profile's password (through
//! `secrets`, which it holds no grant for, and through every error it can
//! provoke), another file (ATTACH, VACUUM INTO), a transaction left open
//! for the session's next user, and the table itself through a parameter
//! built to be spliced; and the same through `kv` and `document`. Its
//! `dbsnoop-kv` and `dbsnoop-doc` commands do the same on a Redis and a
//! MongoDB profile: a key built to smuggle a second command, a value with
//! every byte, an operator where a plain value belongs. It reports each
//! step as JSON, so the tests can check every refusal and that the
//! password appears nowhere.

use lord_pdk::document::{self, FindOptions};
use lord_pdk::serde_json::{Value as Json, json};
use lord_pdk::sql::{self, DbError, Rows, Value};
use lord_pdk::{Command, Plugin, kv, secrets};

struct DbSnoop;

fn kind(error: &DbError) -> &'static str {
    match error {
        DbError::Refused(_) => "refused",
        DbError::Unavailable(_) => "unavailable",
        DbError::Engine(_) => "engine",
        DbError::TooLarge(_) => "too-large",
    }
}

fn cell(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Text(t) => json!(t),
        Value::Bytes(b) => json!(b),
    }
}

fn rows(rows: &Rows) -> Json {
    json!(
        rows.rows
            .iter()
            .map(|r| r.iter().map(cell).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

fn step<T>(outcome: Result<T, DbError>, ok: impl Fn(&T) -> Json) -> Json {
    match outcome {
        Ok(value) => json!({ "ok": ok(&value) }),
        Err(error) => json!({ "err": kind(&error), "message": error.message() }),
    }
}

/// A key that would run FLUSHALL if lord spliced it into the protocol.
const SMUGGLED_KEY: &str = "k\r\nFLUSHALL\r\n";

/// Key-value use and abuse of a granted Redis profile.
fn kv_steps(profile: &str, other: &str) -> Json {
    let every_byte: Vec<u8> = (0..=255).collect();
    json!({
        "set": step(kv::set(profile, SMUGGLED_KEY, &every_byte, None), |_| json!(null)),
        "get": step(kv::get(profile, SMUGGLED_KEY), |v| json!(v.as_deref() == Some(&every_byte[..]))),
        "missing": step(kv::get(profile, "never-set"), |v| json!(v)),
        "incr": step(kv::incr(profile, "counter", 41), |n| json!(n)),
        "incr_again": step(kv::incr(profile, "counter", 1), |n| json!(n)),
        "ttl_set": step(kv::set(profile, "brief", b"x", Some(60_000)), |_| json!(null)),
        "ttl": step(kv::ttl(profile, "brief"), |t| json!(t.is_some_and(|ms| ms > 0 && ms <= 60_000))),
        "no_ttl": step(kv::ttl(profile, "counter"), |t| json!(t)),
        "expire": step(kv::expire(profile, "counter", 120_000), |b| json!(b)),
        "exists": step(kv::exists(profile, "brief"), |b| json!(b)),
        "scan": step(kv::scan(profile, "*", 100), |keys| json!(keys)),
        "pattern": step(kv::scan(profile, "b*", 100), |keys| json!(keys)),
        "delete": step(kv::delete(profile, &["brief", "never-set"]), |n| json!(n)),
        "other": step(kv::get(other, "k"), |v| json!(v)),
        "ghost": step(kv::get("ghost", "k"), |v| json!(v)),
        "sql_mine": step(sql::query(profile, "SELECT 1", &[]), rows),
        "document_mine": step(
            document::find(profile, "c", &json!({}), &FindOptions::default()),
            |d| json!(d.len()),
        ),
    })
}

/// Document use and abuse of a granted MongoDB profile.
fn document_steps(profile: &str, other: &str) -> Json {
    let injection = "'; db.dropDatabase(); //";
    let docs = [
        json!({ "name": injection, "n": 1 }),
        json!({ "name": "plain", "n": 2, "tags": ["a", "b"] }),
    ];
    let sorted = FindOptions {
        sort: Some(json!({ "n": 1 })),
        ..FindOptions::default()
    };
    json!({
        "insert": step(document::insert(profile, "items", &docs), |ids| json!(ids.len())),
        "by_value": step(
            document::find(profile, "items", &json!({ "name": injection }), &FindOptions::default()),
            |d| json!(d.iter().map(|doc| doc["n"].clone()).collect::<Vec<_>>()),
        ),
        "update": step(
            document::update(profile, "items", &json!({ "n": 2 }), &json!({ "$set": { "name": "renamed" } }), false),
            |u| json!([u.matched, u.modified]),
        ),
        "names": step(
            document::find(profile, "items", &json!({}), &sorted),
            |d| json!(d.iter().map(|doc| doc["name"].clone()).collect::<Vec<_>>()),
        ),
        "bad_filter": step(
            document::find(profile, "items", &json!({ "n": { "$nosuchop": 1 } }), &FindOptions::default()),
            |d| json!(d.len()),
        ),
        "delete": step(document::delete(profile, "items", &json!({ "n": 1 }), false), |n| json!(n)),
        "other": step(
            document::find(other, "items", &json!({}), &FindOptions::default()),
            |d| json!(d.len()),
        ),
        "kv_mine": step(kv::get(profile, "k"), |v| json!(v)),
        "sql_mine": step(sql::query(profile, "SELECT 1", &[]), rows),
    })
}

impl Plugin for DbSnoop {
    fn run_command(command: Command) -> Result<String, String> {
        let profile = command.arg("profile").ok_or("missing profile")?;
        let other = command.arg("other").ok_or("missing other")?;
        match command.name.as_str() {
            "dbsnoop-kv" => return Ok(format!("{}\n", kv_steps(profile, other))),
            "dbsnoop-doc" => return Ok(format!("{}\n", document_steps(profile, other))),
            _ => {}
        }
        let profile = command.arg("profile").ok_or("missing profile")?;
        let other = command.arg("other").ok_or("missing other")?;
        let ph = command.arg("placeholder").ok_or("missing placeholder")?;
        let file = command.arg("file").ok_or("missing file")?;
        let injection = "'; DROP TABLE t; --";
        let count = || sql::query(profile, "SELECT COUNT(*) FROM t", &[]);
        let report = json!({
            "create": step(sql::execute(profile, "CREATE TABLE IF NOT EXISTS t (name TEXT)", &[]), |n| json!(n)),
            "insert": step(
                sql::execute(profile, &format!("INSERT INTO t (name) VALUES ({ph})"), &[injection.into()]),
                |n| json!(n),
            ),
            "names": step(sql::query(profile, "SELECT name FROM t", &[]), rows),
            "other": step(sql::query(other, "SELECT 1", &[]), rows),
            "ghost": step(sql::query("ghost", "SELECT 1", &[]), rows),
            "spoofed": step(sql::query(&format!("{profile} "), "SELECT 1", &[]), rows),
            "secret": match secrets::get("DB_ANALYTICS_PASSWORD") {
                Ok(value) => json!({ "ok": value }),
                Err(message) => json!({ "err": message }),
            },
            "bad": step(sql::query(profile, "SELEKT password FROM nowhere", &[]), rows),
            "attach": step(
                sql::execute(profile, &format!("ATTACH DATABASE {ph} AS stolen"), &[file.into()]),
                |n| json!(n),
            ),
            "vacuum": step(
                sql::execute(profile, &format!("VACUUM INTO {ph}"), &[file.into()]),
                |n| json!(n),
            ),
            "begin": step(sql::execute(profile, "BEGIN", &[]), |n| json!(n)),
            "pragma": step(sql::execute(profile, "PRAGMA foreign_keys = OFF", &[]), |n| json!(n)),
            "batch": step(
                sql::batch(profile, &[
                    (&format!("INSERT INTO t (name) VALUES ({ph})"), vec!["kept?".into()]),
                    ("INSERT INTO nowhere VALUES (1)", Vec::new()),
                ]),
                |all| json!(all.len()),
            ),
            "huge": step(
                sql::query(
                    profile,
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) \
                     SELECT x FROM c",
                    &[],
                ),
                |r| json!(r.rows.len()),
            ),
            "count": step(count(), rows),
            // The other database interfaces keep the same rule.
            "kv_other": step(kv::get(other, "k"), |v| json!(v)),
            "kv_mine": step(kv::set(profile, "k", b"v", None), |_| json!(null)),
            "document_other": step(
                document::find(other, "c", &json!({}), &FindOptions::default()),
                |d| json!(d.len()),
            ),
            "document_mine": step(
                document::find(profile, "c", &json!({}), &FindOptions::default()),
                |d| json!(d.len()),
            ),
        });
        Ok(format!("{report}\n"))
    }
}

lord_pdk::export_plugin!(DbSnoop);
