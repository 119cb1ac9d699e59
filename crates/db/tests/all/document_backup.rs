//! `lord db backup` and `lord db restore` on MongoDB: EMULATOR-BACKED
//! (CongoDB; `support/mongo.rs` says why and what that does not show).
//! A database holding a document with every BSON type (double with NaN,
//! infinities and -0.0, string, embedded document, array, binary of
//! several subtypes, ObjectId, bool, datetime, null, regex, JavaScript
//! code with and without scope, int32, timestamp, int64, decimal128, min
//! and max key), a second collection and a unique index is backed up,
//! restored into an empty database, and its documents compared as raw
//! BSON, byte for byte, with what the source serves; and the refusals: a
//! non-empty target without `--replace`, a corrupted file, a file of
//! another engine.
//!
//! What the emulator itself does not keep: it holds documents as
//! JavaScript values (npm `bson` with its defaults), so it serves some
//! types back as others whatever lord does (see
//! `THE_EMULATOR_CHANGES`), and it keeps no collection options (capped,
//! validators, views: `listCollections` answers `options: {}`). The
//! comparison is with what the source serves, which on a real server is
//! what was inserted; that lord's own stream keeps every type byte for
//! byte needs no server and is the payload check of `backup/mongo.rs`
//! (each document is parsed as BSON when the file is checked).

use std::path::Path;
use std::str::FromStr as _;

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, RawDocumentBuf, doc};
use lord_db::backup::{self, BackupError, RestoreOptions, Tools};
use lord_db_api::Profile;

use crate::mongo::Mongo;

/// Fields of [`every_type`] the emulator serves as another BSON type than
/// it was given (measured on CongoDB 2.2.0): npm `bson` reads doubles and
/// int64s into JavaScript numbers and writes those that are small whole
/// numbers back as int32 (a double 2.0, an int64 5). Every other type,
/// NaN, -0.0 and decimal128 included, it serves as given.
const THE_EMULATOR_CHANGES: &[&str] = &["whole_double", "small_int64"];

fn every_type() -> Document {
    doc! {
        "_id": bson::oid::ObjectId::from_str("65f0c0ffee00000000000001").unwrap(),
        "double": 1.5,
        "whole_double": 2.0,
        "nan": f64::NAN,
        "infinity": f64::INFINITY,
        "negative_infinity": f64::NEG_INFINITY,
        "negative_zero": -0.0,
        "string": "grüße 🌍 \u{0}",
        "document": {"b": {"c": [1, {"d": null}]}, "a": 1},
        "array": [1, "two", 3.5, null, [], {}],
        "binary": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 255, 1] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() },
        "md5": Binary { subtype: BinarySubtype::Md5, bytes: vec![7; 16] },
        "user_binary": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![1, 2] },
        "object_id": bson::oid::ObjectId::from_str("65f0c0ffee000000000000ff").unwrap(),
        "true": true,
        "false": false,
        "datetime": bson::DateTime::from_millis(1_709_212_455_123),
        "before_1970": bson::DateTime::from_millis(-86_400_000),
        "null": Bson::Null,
        "regex": bson::Regex { pattern: bson::cstr!("^a.*b$").into(), options: bson::cstr!("im").into() },
        "code": Bson::JavaScriptCode("function () { return 1; }".to_owned()),
        "code_with_scope": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
            code: "function () { return x; }".to_owned(),
            scope: doc! {"x": 1},
        }),
        "int32": 42_i32,
        "negative_int32": -7_i32,
        "timestamp": bson::Timestamp { time: 1_700_000_000, increment: 7 },
        "int64": 9_007_199_254_740_993_i64,
        "small_int64": 5_i64,
        "decimal128": bson::Decimal128::from_str("1.10").unwrap(),
        "min_key": Bson::MinKey,
        "max_key": Bson::MaxKey,
    }
}

fn client(url: &str) -> mongodb::sync::Database {
    let options = mongodb::options::ClientOptions::parse(url)
        .run()
        .expect("a URL");
    let name = options.default_database.clone().expect("a database");
    mongodb::sync::Client::with_options(options)
        .expect("a client")
        .database(&name)
}

/// Every document of every collection, as the raw BSON the server sends,
/// by collection and then `_id`'s bytes.
fn documents(db: &mongodb::sync::Database) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut names = db.list_collection_names().run().expect("collections");
    names.sort();
    for name in names {
        let mut docs: Vec<Vec<u8>> = db
            .collection::<RawDocumentBuf>(&name)
            .find(doc! {})
            .run()
            .expect("find")
            .map(|d| d.expect("a document").into_bytes())
            .collect();
        docs.sort();
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    out
}

fn index_names(db: &mongodb::sync::Database, collection: &str) -> Vec<String> {
    let mut names = db
        .collection::<Document>(collection)
        .list_index_names()
        .run()
        .expect("indexes");
    names.sort();
    names
}

/// The indexes of `collection` as `listIndexes` describes them.
fn indexes(db: &mongodb::sync::Database, collection: &str) -> Vec<Document> {
    let mut specs: Vec<Document> = db
        .run_cursor_command(doc! {"listIndexes": collection})
        .run()
        .expect("listIndexes")
        .map(|d| d.expect("an index"))
        .collect();
    specs.sort_by_key(|d| d.get_str("name").unwrap_or_default().to_owned());
    specs
}

/// Emulator-backed (CongoDB): see the file's doc.
#[test]
fn mongodb_backups_round_trip_every_bson_type_on_the_emulator() {
    let Some(server) = Mongo::start() else {
        return;
    };
    let profile = |db: &str| {
        crate::profile(
            db,
            &server.url(db),
            &[("tls-mode", serde_json::json!("disable"))],
        )
    };
    let source = profile("source");
    let db = client(&server.url("source"));
    let original = every_type();
    db.collection::<Document>("kinds")
        .insert_one(&original)
        .run()
        .expect("insert");
    // ObjectIds: the emulator takes no other `_id`.
    let people: Vec<Document> = (0..2500_u32)
        .map(|i| {
            let mut id = [0; 12];
            id[8..].copy_from_slice(&i.to_be_bytes());
            doc! {"_id": bson::oid::ObjectId::from_bytes(id), "name": format!("person {i}"), "n": i}
        })
        .collect();
    db.collection::<Document>("people")
        .insert_many(people)
        .run()
        .expect("insert");
    db.run_command(doc! {
        "createIndexes": "people",
        "indexes": [{"key": {"name": 1}, "name": "by_name", "unique": true}],
    })
    .run()
    .expect("an index");
    the_emulator_serves_what_it_keeps(&db, &original);

    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("mongo.lordbackup");
    every_type_round_trips(&server, &source, &profile("fresh"), &file);
    a_non_empty_target_is_refused_unless_replaced(&server, &source, &file);
    a_corrupted_backup_is_refused_naming_the_file(&server, &profile("empty"), &file);
    a_backup_changed_while_it_is_restored_stops_the_restore(&server, &profile("changing"), &file);
}

/// Which fields the emulator serves as given; the test says which it
/// does not, so a change in the emulator is seen.
fn the_emulator_serves_what_it_keeps(db: &mongodb::sync::Database, original: &Document) {
    let served = db
        .collection::<Document>("kinds")
        .find_one(doc! {})
        .run()
        .expect("find")
        .expect("the document");
    let mut changed = Vec::new();
    for (key, value) in original {
        let kept = match (value, served.get(key)) {
            (Bson::Double(a), Some(Bson::Double(b))) => a.to_bits() == b.to_bits(),
            (a, b) => Some(a) == b,
        };
        if !kept {
            eprintln!("the emulator serves `{key}` as {:?}", served.get(key));
            changed.push(key.as_str());
        }
    }
    assert_eq!(changed, THE_EMULATOR_CHANGES);
}

fn every_type_round_trips(server: &Mongo, source: &Profile, fresh: &Profile, file: &Path) {
    let before = documents(&client(&server.url("source")));
    assert_eq!(before.len(), 2501);
    let manifest = backup::backup(source, None, file, &Tools::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("backup: {e}"));
    assert_eq!(manifest.engine, "mongodb");
    let counts: Vec<(&str, u64)> = manifest
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.rows))
        .collect();
    assert_eq!(counts, [("kinds", 1), ("people", 2500)]);
    let restored = backup::restore(
        fresh,
        None,
        file,
        RestoreOptions::default(),
        &Tools::default(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore: {e}"));
    assert_eq!(restored, manifest);
    let fresh_db = client(&server.url("fresh"));
    let after = documents(&fresh_db);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert!(
            b == a,
            "{:?} / {:?}",
            RawDocumentBuf::from_bytes(b.1.clone()),
            RawDocumentBuf::from_bytes(a.1.clone())
        );
    }
    assert_eq!(index_names(&fresh_db, "people"), ["_id_", "by_name"]);
    // The index is the same index again (the emulator lists it, but does
    // not enforce `unique`, so its specification is what is compared).
    assert_eq!(
        indexes(&fresh_db, "people"),
        indexes(&client(&server.url("source")), "people")
    );
}

fn a_non_empty_target_is_refused_unless_replaced(server: &Mongo, source: &Profile, file: &Path) {
    let restore = |replace| {
        backup::restore(
            source,
            None,
            file,
            RestoreOptions {
                replace,
                ..RestoreOptions::default()
            },
            &Tools::default(),
            &mut |_| {},
        )
    };
    let refused = restore(false).expect_err("a non-empty target");
    assert!(
        matches!(refused, BackupError::NotEmpty { .. })
            && refused.to_string().contains("holds 2 collection(s)"),
        "{refused}"
    );
    let db = client(&server.url("source"));
    let before = documents(&db);
    let people = db.collection::<Document>("people");
    people
        .delete_one(doc! {"name": "person 1"})
        .run()
        .expect("delete");
    people
        .update_one(
            doc! {"name": "person 2"},
            doc! {"$set": {"name": "changed"}},
        )
        .run()
        .expect("update");
    assert!(before != documents(&db));
    restore(true).unwrap_or_else(|e| panic!("restore over: {e}"));
    assert!(before == documents(&db), "replaced differently");
}

fn a_corrupted_backup_is_refused_naming_the_file(server: &Mongo, empty: &Profile, file: &Path) {
    let bytes = std::fs::read(file).expect("the backup");
    let corrupted = file.with_file_name("flipped.lordbackup");
    for at in [20, 300, bytes.len() / 2, bytes.len() - 1] {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        std::fs::write(&corrupted, &changed).expect("write");
        let refused = backup::restore(
            empty,
            None,
            &corrupted,
            RestoreOptions::default(),
            &Tools::default(),
            &mut |_| {},
        )
        .expect_err("a corrupted backup");
        let message = refused.to_string();
        assert!(
            matches!(refused, BackupError::Corrupt { .. })
                && message.contains(&corrupted.display().to_string()),
            "byte {at}: {message}"
        );
    }
    // Checksums made right over a dump cut inside a document: lord's own
    // reading of the stream finds it.
    let cut = crate::resealed(file, "cut.lordbackup", |dump| dump.truncate(dump.len() - 3));
    let refused = backup::inspect(&cut, &Tools::default()).expect_err("a cut dump");
    assert!(
        refused.to_string().contains("ends inside a document")
            && refused.to_string().contains(&cut.display().to_string()),
        "{refused}"
    );
    assert!(documents(&client(&server.url("empty"))).is_empty());
}

/// The file changes after the restore checked it: the load reads it
/// through its checksum, so the last batch of documents is never
/// inserted, and the error says the file changed, that the batches before
/// are in the database, and how to finish once the file is sound.
fn a_backup_changed_while_it_is_restored_stops_the_restore(
    server: &Mongo,
    empty: &Profile,
    file: &Path,
) {
    let (changed, mut progress) = crate::changed_once_loading(file, "changing.lordbackup");
    let refused = backup::restore(
        empty,
        None,
        &changed,
        RestoreOptions::default(),
        &Tools::default(),
        &mut progress,
    )
    .expect_err("a backup changed under the restore");
    crate::assert_stopped_by_change(&refused, &changed);
    let people = documents(&client(&server.url("changing")))
        .iter()
        .filter(|(collection, _)| collection == "people")
        .count();
    // Batches of 1,000: the two before the end of the dump are in, the
    // last 500 never sent.
    assert_eq!(people, 2000, "of 2500 inserted");
}
