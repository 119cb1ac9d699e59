//! Hostile fixture: granted `db(analytics)` only, it uses that profile as
//! a plugin may, then reaches for what it may not: another configured
//! profile, one that does not exist, the profile's password (through
//! `secrets`, which it holds no grant for, and through every error it can
//! provoke), another file (ATTACH, VACUUM INTO), a transaction left open
//! for the session's next user, and the table itself through a parameter
//! built to be spliced; and the same through `kv` and `document`. It
//! reports each step as JSON, so the tests can
//! check every refusal and that the password appears nowhere.

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

impl Plugin for DbSnoop {
    fn run_command(command: Command) -> Result<String, String> {
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
