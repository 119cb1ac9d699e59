//! `lord db backup` and `lord db restore` on Redis, on the suite's real
//! throwaway `redis-server`: a database holding every Redis type (strings
//! binary, empty and large; lists, sets and sorted sets small and large,
//! so both of each type's encodings; hashes; a stream with a consumer
//! group and a pending entry; a HyperLogLog; keys with TTLs; keys with
//! binary names) is backed up, restored into an empty database, and every
//! key's type, value and TTL compared; and the refusals: a non-empty
//! target without `--replace`, a corrupted file, a file of another
//! engine, and keys in an RDB format newer than the server's; and a
//! restore by an ACL user allowed only the backup's keys.

use std::collections::BTreeMap;
use std::path::Path;

use lord_db::backup::{self, BackupError, RestoreOptions, Tools};
use lord_db_api::{KvReply, KvSession, Password, Profile};

use crate::redis::{PASSWORD, Redis};

fn password() -> Option<Password> {
    Some(Password::new(PASSWORD.to_owned()))
}

fn session(profile: &Profile) -> lord_db::Lease<dyn KvSession> {
    lord_db::pools()
        .kv(profile, password())
        .unwrap_or_else(|e| panic!("a Redis session: {e}"))
}

fn run(s: &mut dyn KvSession, words: &[&[u8]]) -> KvReply {
    let args: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
    s.command(&args)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(words[0])))
}

fn tools() -> Tools {
    Tools::default()
}

/// Every key of the database, by a full `SCAN`.
fn keys(s: &mut dyn KvSession) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = b"0".to_vec();
    loop {
        let KvReply::Array(parts) = run(s, &[b"SCAN", &cursor, b"COUNT", b"1000"]) else {
            panic!("SCAN");
        };
        let [KvReply::Bytes(next), KvReply::Array(batch)] = &parts[..] else {
            panic!("SCAN: {parts:?}");
        };
        for key in batch {
            if let KvReply::Bytes(k) = key {
                keys.push(k.clone());
            }
        }
        if next == b"0" {
            break;
        }
        cursor = next.clone();
    }
    keys.sort();
    keys.dedup();
    keys
}

/// A reply's elements sorted, for types without an order of their own.
fn sorted(reply: KvReply) -> Vec<String> {
    let KvReply::Array(items) = reply else {
        panic!("{reply:?}");
    };
    let mut items: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    items.sort();
    items
}

/// What a key holds, by its type, read with the type's own commands.
fn value(s: &mut dyn KvSession, key: &[u8], kind: &str) -> String {
    match kind {
        "string" => format!("{:?}", run(s, &[b"GET", key])),
        "list" => format!("{:?}", run(s, &[b"LRANGE", key, b"0", b"-1"])),
        "set" => format!("{:?}", sorted(run(s, &[b"SMEMBERS", key]))),
        "zset" => format!(
            "{:?}",
            run(s, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])
        ),
        "hash" => {
            let KvReply::Array(flat) = run(s, &[b"HGETALL", key]) else {
                panic!("HGETALL");
            };
            let mut pairs: Vec<String> = flat
                .chunks(2)
                .map(|p| format!("{:?}", p))
                .collect::<Vec<_>>();
            pairs.sort();
            format!("{pairs:?}")
        }
        // Entries, groups (last delivered id, pending count) and what is
        // pending; consumers' idle times move by themselves.
        "stream" => format!(
            "{:?} {:?} {:?}",
            run(s, &[b"XRANGE", key, b"-", b"+"]),
            run(s, &[b"XINFO", b"GROUPS", key]),
            run(s, &[b"XPENDING", key, b"group"]),
        ),
        other => panic!("a key of type {other}"),
    }
}

/// Each key with its type, value and TTL (ms, when it has one).
type Snapshot = BTreeMap<Vec<u8>, (String, String, Option<i64>)>;

fn snapshot(profile: &Profile) -> Snapshot {
    let mut s = session(profile);
    let mut out = BTreeMap::new();
    for key in keys(&mut *s) {
        let kind = run(&mut *s, &[b"TYPE", &key]).as_text().unwrap().to_owned();
        let value = value(&mut *s, &key, &kind);
        let KvReply::Int(ttl) = run(&mut *s, &[b"PTTL", &key]) else {
            panic!("PTTL");
        };
        out.insert(key, (kind, value, (ttl >= 0).then_some(ttl)));
    }
    out
}

/// The same keys, types and values, and TTLs within a few seconds.
fn assert_same(before: &Snapshot, after: &Snapshot) {
    let names = |s: &Snapshot| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(before), names(after));
    for (key, (kind, value, ttl)) in before {
        let (kind2, value2, ttl2) = &after[key];
        let key = String::from_utf8_lossy(key);
        assert_eq!(kind, kind2, "{key}");
        let short = |v: &str| v.chars().take(300).collect::<String>();
        assert!(
            value == value2,
            "{key}: {} / {}",
            short(value),
            short(value2)
        );
        match (ttl, ttl2) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!((a - b).abs() < 5_000, "{key}: TTL {a} / {b}"),
            (a, b) => panic!("{key}: TTL {a:?} / {b:?}"),
        }
    }
}

fn fill(profile: &Profile) {
    let mut s = session(profile);
    let s = &mut *s;
    let binary: Vec<u8> = (0..=255u8).collect();
    run(s, &[b"SET", b"bytes", &binary]);
    run(s, &[b"SET", b"empty", b""]);
    let large: Vec<u8> = (0..3 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    run(s, &[b"SET", b"large", &large]);
    run(s, &[b"SET", b"number", b"42"]);
    run(s, &[b"RPUSH", b"list", b"a", b"", b"\x00\xff", b"a"]);
    run(s, &[b"SADD", b"set", b"x", b"y", b"\x00"]);
    run(s, &[b"SADD", b"ints", b"1", b"2", b"-3"]);
    run(
        s,
        &[
            b"ZADD", b"zset", b"1.5", b"a", b"-inf", b"b", b"inf", b"c", b"0", b"\x00",
        ],
    );
    run(
        s,
        &[
            b"HSET", b"hash", b"f", b"v", b"\x00", b"\xff", b"empty", b"",
        ],
    );
    // Past each type's small encoding (listpack, intset): the large ones.
    for i in 0..300 {
        let n = i.to_string();
        let n = n.as_bytes();
        run(s, &[b"RPUSH", b"biglist", n]);
        run(s, &[b"SADD", b"bigset", n]);
        run(s, &[b"ZADD", b"bigzset", n, n]);
        run(s, &[b"HSET", b"bighash", n, n]);
    }
    run(s, &[b"XADD", b"stream", b"1-1", b"f", b"v"]);
    run(s, &[b"XADD", b"stream", b"2-0", b"g", b"\x00", b"h", b""]);
    run(s, &[b"XGROUP", b"CREATE", b"stream", b"group", b"0"]);
    run(
        s,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"group",
            b"reader",
            b"COUNT",
            b"1",
            b"STREAMS",
            b"stream",
            b">",
        ],
    );
    run(s, &[b"PFADD", b"hll", b"a", b"b", b"c", b"d"]);
    run(s, &[b"SET", b"expiring", b"soon", b"PX", b"600000"]);
    run(s, &[b"HSET", b"expiring-hash", b"f", b"v"]);
    run(s, &[b"PEXPIRE", b"expiring-hash", b"900000"]);
    run(s, &[b"SET", b"\x00\xff key\r\n*1\r\n", b"binary name"]);
    run(s, &[b"RPUSH", "grüße 🌍".as_bytes(), b"utf-8 name"]);
}

/// The cases, on databases 9 to 13 of the suite's server.
pub(crate) fn run_all(server: &Redis) {
    let profile = |db: u8| crate::profile(&format!("backup{db}"), &server.url(db), &[]);
    let (source, fresh, other) = (profile(9), profile(10), profile(11));
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("redis.lordbackup");
    fill(&source);
    every_type_round_trips(&source, &fresh, &file);
    a_non_empty_target_is_refused_unless_replaced(&source, &file);
    a_corrupted_backup_is_refused_naming_the_file(&other, &file);
    a_backup_changed_while_it_is_restored_stops_the_restore(&profile(14), &profile(15));
    keys_of_a_newer_rdb_format_are_refused_before_any_is_written(&other, &file);
    an_acl_user_restores_the_keys_it_may_write(server, &profile(12), &profile(13));
}

/// A user whose ACL allows only `app:*` keys restores a backup of such
/// keys: what the restore writes beforehand to try the server is under
/// the backup's own key names.
fn an_acl_user_restores_the_keys_it_may_write(server: &Redis, source: &Profile, admin: &Profile) {
    let mut s = session(source);
    run(
        &mut *s,
        &[
            b"ACL",
            b"SETUSER",
            b"restorer",
            b"on",
            b">restorer-pass-1",
            b"~app:*",
            b"+@all",
        ],
    );
    run(&mut *s, &[b"SET", b"app:1", b"one"]);
    run(&mut *s, &[b"HSET", b"app:2", b"f", b"v"]);
    drop(s);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("app.lordbackup");
    backup::backup(source, password().as_ref(), &file, &tools(), &mut |_| {})
        .unwrap_or_else(|e| panic!("backup: {e}"));
    let restorer = crate::profile(
        "restorer",
        &format!("redis://restorer@127.0.0.1:{}/13", server.port()),
        &[],
    );
    backup::restore(
        &restorer,
        Some(&Password::new("restorer-pass-1".to_owned())),
        &file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore as an ACL user: {e}"));
    assert_same(&snapshot(source), &snapshot(admin));
}

fn every_type_round_trips(source: &Profile, fresh: &Profile, file: &Path) {
    let before = snapshot(source);
    assert_eq!(before.len(), 19, "{:?}", before.keys());
    let mut phases = Vec::new();
    let manifest = backup::backup(source, password().as_ref(), file, &tools(), &mut |step| {
        if let backup::Step::Phase(p) = step {
            phases.push(p.to_owned());
        }
    })
    .unwrap_or_else(|e| panic!("backup: {e}"));
    assert_eq!(manifest.engine, "redis");
    assert!(manifest.server_version.starts_with('7'), "{manifest:?}");
    let counts: Vec<(&str, u64)> = manifest
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.rows))
        .collect();
    assert_eq!(
        counts,
        [
            ("hash", 3),
            ("list", 3),
            ("set", 3),
            ("stream", 1),
            ("string", 7),
            ("zset", 2)
        ],
        "the HyperLogLog is a string"
    );
    assert!(
        phases.contains(&"checking the file".to_owned()),
        "{phases:?}"
    );
    backup::inspect(file, &tools()).expect("the file checks out");
    let restored = backup::restore(
        fresh,
        password().as_ref(),
        file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore: {e}"));
    assert_eq!(restored, manifest);
    assert_same(&before, &snapshot(fresh));
    let mut s = session(fresh);
    assert_eq!(run(&mut *s, &[b"PFCOUNT", b"hll"]), KvReply::Int(4));
    // The restored group still knows what it handed out.
    let next = run(
        &mut *s,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"group",
            b"reader",
            b"STREAMS",
            b"stream",
            b">",
        ],
    );
    assert!(next.display().contains("\"2-0\""), "{next:?}");
}

fn a_non_empty_target_is_refused_unless_replaced(source: &Profile, file: &Path) {
    let restore = |replace| {
        backup::restore(
            source,
            password().as_ref(),
            file,
            RestoreOptions {
                replace,
                ..RestoreOptions::default()
            },
            &tools(),
            &mut |_| {},
        )
    };
    let refused = restore(false).expect_err("a non-empty target");
    assert!(
        matches!(refused, BackupError::NotEmpty { .. })
            && refused.to_string().contains("holds 19 key(s)")
            && refused.to_string().contains("--replace"),
        "{refused}"
    );
    let before = snapshot(source);
    let mut s = session(source);
    run(&mut *s, &[b"SET", b"bytes", b"changed"]);
    run(&mut *s, &[b"DEL", b"stream"]);
    run(&mut *s, &[b"SET", b"hash", b"now a string"]);
    run(&mut *s, &[b"SET", b"not in the backup", b"stays"]);
    drop(s);
    restore(true).unwrap_or_else(|e| panic!("restore over: {e}"));
    let mut after = snapshot(source);
    // `--replace` replaces what the backup holds and leaves the rest.
    let extra = after.remove(&b"not in the backup"[..]);
    assert!(extra.is_some());
    assert_same(&before, &after);
}

fn dbsize(profile: &Profile) -> KvReply {
    run(&mut *session(profile), &[b"DBSIZE"])
}

fn a_corrupted_backup_is_refused_naming_the_file(empty: &Profile, file: &Path) {
    let bytes = std::fs::read(file).expect("the backup");
    let corrupted = file.with_file_name("flipped.lordbackup");
    for at in [20, 300, bytes.len() / 2, bytes.len() - 1] {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        std::fs::write(&corrupted, &changed).expect("write");
        let refused = backup::restore(
            empty,
            password().as_ref(),
            &corrupted,
            RestoreOptions::default(),
            &tools(),
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
    // Checksums made right over a dump cut inside a key: lord's own
    // reading of the stream finds it.
    let cut = crate::resealed(file, "cut.lordbackup", |dump| dump.truncate(dump.len() - 3));
    let refused = backup::inspect(&cut, &tools()).expect_err("a cut dump");
    assert!(
        refused.to_string().contains("ends inside a key")
            && refused.to_string().contains(&cut.display().to_string()),
        "{refused}"
    );
    // Another engine's profile is refused, naming the file.
    let lite = crate::profile(
        "lite",
        &format!("sqlite://{}", file.with_file_name("lite.db").display()),
        &[],
    );
    let refused = backup::restore(
        &lite,
        None,
        file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a Redis backup into SQLite");
    assert!(
        matches!(refused, BackupError::WrongEngine { .. })
            && refused
                .to_string()
                .contains("is a backup of a redis database"),
        "{refused}"
    );
    assert_eq!(dbsize(empty), KvReply::Int(0));
}

/// The file changes after the restore checked it: the load reads it
/// through its checksum, so the batch holding the changed last key is
/// never sent, and the error says the file changed, that the batches
/// before it are in the database, and how to finish once it is sound. 600
/// keys are three batches of 200: two are loaded.
fn a_backup_changed_while_it_is_restored_stops_the_restore(source: &Profile, empty: &Profile) {
    // Values of 100 bytes: each batch is far more than the 8 KiB the load
    // reads ahead, so the read that finds the change is in the last batch.
    let mut s = session(source);
    let value = [b'v'; 100];
    for n in 0..600 {
        let key = format!("key:{n:03}");
        run(&mut *s, &[b"SET", key.as_bytes(), &value]);
    }
    drop(s);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("many.lordbackup");
    backup::backup(source, password().as_ref(), &file, &tools(), &mut |_| {})
        .unwrap_or_else(|e| panic!("backup: {e}"));
    let (changed, mut progress) = crate::changed_once_loading(&file, "changing.lordbackup");
    let refused = backup::restore(
        empty,
        password().as_ref(),
        &changed,
        RestoreOptions::default(),
        &tools(),
        &mut progress,
    )
    .expect_err("a backup changed under the restore");
    crate::assert_stopped_by_change(&refused, &changed);
    assert_eq!(dbsize(empty), KvReply::Int(400));
}

/// A server older than the one that dumped the keys cannot read them:
/// every key of this file says RDB format 99, which no server reads. The
/// restore is refused naming the file and both versions, before any key
/// is written.
fn keys_of_a_newer_rdb_format_are_refused_before_any_is_written(empty: &Profile, file: &Path) {
    let newer = crate::resealed(file, "newer.lordbackup", |dump| {
        let mut at = "lord-redis-dump 1\n".len();
        let word = |d: &[u8], at: usize| {
            usize::try_from(u64::from_be_bytes(d[at..at + 8].try_into().unwrap())).unwrap()
        };
        while at < dump.len() {
            at += 8 + word(dump, at); // type
            at += 8 + word(dump, at); // key
            at += 8; // TTL
            let n = word(dump, at);
            at += 8 + n;
            // The RDB version: two bytes ahead of the CRC-64.
            dump[at - 10] = 99;
            dump[at - 9] = 0;
        }
    });
    backup::inspect(&newer, &tools()).expect("the file itself is whole");
    let refused = backup::restore(
        empty,
        password().as_ref(),
        &newer,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a format the server cannot read");
    let message = refused.to_string();
    assert!(
        matches!(refused, BackupError::Incompatible(_))
            && message.contains(&newer.display().to_string())
            && message.contains("RDB format 99")
            && message.contains("nothing was restored"),
        "{message}"
    );
    assert_eq!(dbsize(empty), KvReply::Int(0));
}
