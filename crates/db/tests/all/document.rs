//! The MongoDB suite: EMULATOR-BACKED. It runs on CongoDB, a MongoDB
//! wire-protocol emulator (`support/mongo.rs` says why and what that does
//! not show), started once for the test binary: insert, find with filter,
//! projection, sort and limit, aggregate, update, delete, database
//! commands, transactions (as far as the emulator keeps them: see
//! `transactions_commit_or_roll_back`), extended JSON, and hostile values
//! staying values. What needs no server (the password never shown, a clear error
//! naming the host when nothing listens) is tested against a closed port.

use lord_db_api::{DocumentSession, FindOptions, Password, Profile};
use serde_json::json;

use crate::mongo::Mongo;

fn session(profile: &Profile) -> lord_db::Lease<dyn DocumentSession> {
    lord_db::pools()
        .document(profile, None)
        .unwrap_or_else(|e| panic!("a MongoDB session: {e}"))
}

/// Emulator-backed (CongoDB): see the file's doc.
#[test]
fn mongodb_passes_the_suite_on_the_emulator() {
    let Some(server) = Mongo::start() else {
        return;
    };
    let profile = |db: &str| crate::profile(db, &server.url(db), &[("tls-mode", json!("disable"))]);
    documents_round_trip(&profile("crud"));
    updates_and_deletes_count_what_they_touch(&profile("writes"));
    aggregation_groups(&profile("agg"));
    commands_run_as_json(&profile("commands"));
    transactions_commit_or_roll_back(&profile("txn"));
    hostile_values_stay_values(&profile("hostile"));
}

fn seed(s: &mut dyn DocumentSession) {
    let people = [
        json!({"name": "ada", "age": 36, "team": "core"}),
        json!({"name": "bob", "age": 25, "team": "web"}),
        json!({"name": "cy", "age": 41, "team": "core"}),
    ];
    let ids = s.insert("people", &people).unwrap();
    assert_eq!(ids.len(), 3);
    for id in ids {
        assert!(id["$oid"].as_str().is_some_and(|o| o.len() == 24), "{id}");
    }
}

fn documents_round_trip(profile: &Profile) {
    let mut s = session(profile);
    assert_eq!(s.database(), "crud");
    seed(&mut *s);
    let all = s
        .find("people", &json!({}), &FindOptions::default())
        .unwrap();
    assert_eq!(all.len(), 3);
    let mut options = FindOptions::default();
    options.projection = Some(json!({"name": 1, "_id": 0}));
    options.sort = Some(json!({"age": -1}));
    options.limit = Some(2);
    let oldest = s
        .find("people", &json!({"age": {"$gte": 30}}), &options)
        .unwrap();
    assert_eq!(oldest, [json!({"name": "cy"}), json!({"name": "ada"})]);
    // Extended JSON in and out: a date, a 64-bit integer, an ObjectId.
    let id = json!({"$oid": "65f0c0ffee00000000000001"});
    s.insert(
        "typed",
        &[json!({
            "_id": id,
            "at": {"$date": "2024-02-29T13:14:15Z"},
            "big": {"$numberLong": "9007199254740993"},
        })],
    )
    .unwrap();
    let typed = s
        .find("typed", &json!({"_id": id}), &FindOptions::default())
        .unwrap();
    assert_eq!(typed.len(), 1, "{typed:?}");
    assert_eq!(typed[0]["_id"], id);
    assert_eq!(typed[0]["at"]["$date"], "2024-02-29T13:14:15Z");
    assert_eq!(typed[0]["big"], json!(9_007_199_254_740_993_i64));
    assert_eq!(s.collections().unwrap(), ["people", "typed"]);
    let error = s
        .find("people", &json!([1, 2]), &FindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("must be a JSON object"), "{error}");
}

fn updates_and_deletes_count_what_they_touch(profile: &Profile) {
    let mut s = session(profile);
    seed(&mut *s);
    let one = s
        .update(
            "people",
            &json!({"team": "core"}),
            &json!({"$set": {"lead": true}}),
            false,
        )
        .unwrap();
    assert_eq!((one.matched, one.modified), (1, 1));
    let many = s
        .update(
            "people",
            &json!({"team": "core"}),
            &json!({"$inc": {"age": 1}}),
            true,
        )
        .unwrap();
    assert_eq!((many.matched, many.modified), (2, 2));
    let ages: Vec<i64> = s
        .find("people", &json!({"team": "core"}), &FindOptions::default())
        .unwrap()
        .iter()
        .filter_map(|d| d["age"].as_i64())
        .collect();
    assert_eq!(ages.iter().sum::<i64>(), 36 + 41 + 2);
    assert_eq!(
        s.delete("people", &json!({"team": "core"}), false).unwrap(),
        1
    );
    assert_eq!(s.delete("people", &json!({}), true).unwrap(), 2);
    assert!(
        s.find("people", &json!({}), &FindOptions::default())
            .unwrap()
            .is_empty()
    );
}

fn aggregation_groups(profile: &Profile) {
    let mut s = session(profile);
    seed(&mut *s);
    let mut by_team = s
        .aggregate(
            "people",
            &[
                json!({"$match": {"age": {"$gt": 20}}}),
                json!({"$group": {"_id": "$team", "n": {"$sum": 1}, "oldest": {"$max": "$age"}}}),
                json!({"$sort": {"_id": 1}}),
            ],
        )
        .unwrap();
    by_team.iter_mut().for_each(|d| {
        // The count may come back as a 32- or 64-bit integer.
        d["n"] = json!(d["n"].as_i64());
    });
    assert_eq!(
        by_team,
        [
            json!({"_id": "core", "n": 2, "oldest": 41}),
            json!({"_id": "web", "n": 1, "oldest": 25}),
        ]
    );
}

fn commands_run_as_json(profile: &Profile) {
    let mut s = session(profile);
    seed(&mut *s);
    let reply = s
        .command(&json!({"find": "people", "filter": {"name": "bob"}}))
        .unwrap();
    assert_eq!(
        reply["cursor"]["firstBatch"][0]["age"],
        json!(25),
        "{reply}"
    );
    let reply = s.command(&json!({"count": "people"})).unwrap();
    assert_eq!(reply["n"].as_i64(), Some(3), "{reply}");
    let error = s
        .command(&json!({"noSuchCommand": 1}))
        .unwrap_err()
        .to_string();
    assert!(error.contains(profile.name.as_str()), "{error}");
}

/// The emulator acknowledges `commitTransaction` and `abortTransaction`
/// without keeping writes apart (CongoDB: "Transactions are not fully
/// supported"), so what a rollback undoes cannot be shown here, only that
/// the transaction's commands are sent and accepted, that committed writes
/// are there, and that the session keeps track of whether one is open.
fn transactions_commit_or_roll_back(profile: &Profile) {
    let mut s = session(profile);
    s.begin().unwrap();
    assert!(s.begin().is_err(), "one transaction at a time");
    s.insert("ledger", &[json!({"entry": "kept"})]).unwrap();
    s.update(
        "ledger",
        &json!({"entry": "kept"}),
        &json!({"$set": {"checked": true}}),
        false,
    )
    .unwrap();
    s.commit().unwrap();
    let mut options = FindOptions::default();
    options.projection = Some(json!({"_id": 0}));
    let entries = s.find("ledger", &json!({}), &options).unwrap();
    assert_eq!(entries, [json!({"entry": "kept", "checked": true})]);
    assert!(s.commit().is_err(), "no transaction left to commit");
    s.begin().unwrap();
    s.rollback().unwrap();
    assert!(s.rollback().is_err(), "no transaction left to roll back");
}

fn hostile_values_stay_values(profile: &Profile) {
    let mut s = session(profile);
    seed(&mut *s);
    // A value that would be an operator or a script if spliced into a
    // query's text is only a string to match.
    for hostile in [
        "{\"$gt\": \"\"}",
        "'; return true; var x='",
        "$where",
        "ada\" || \"1\"==\"1",
    ] {
        let found = s
            .find("people", &json!({"name": hostile}), &FindOptions::default())
            .unwrap();
        assert!(found.is_empty(), "{hostile}: {found:?}");
    }
    s.insert("people", &[json!({"name": "{\"$gt\": \"\"}"})])
        .unwrap();
    let found = s
        .find(
            "people",
            &json!({"name": "{\"$gt\": \"\"}"}),
            &FindOptions::default(),
        )
        .unwrap();
    assert_eq!(found.len(), 1);
}

/// No server: nothing listens on the port.
#[test]
fn an_unreachable_mongodb_is_named_and_the_password_never_shown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let profile = crate::profile(
        "gone",
        &format!("mongodb://app@127.0.0.1:{port}/shop"),
        &[
            ("connect-timeout", json!(1)),
            ("tls-mode", json!("disable")),
        ],
    );
    let secret = "mongo-secret-horse";
    let error = lord_db::Pools::default()
        .document(&profile, Some(Password::new(secret.to_owned())))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("`gone`"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(!error.contains(secret), "{error}");
}
