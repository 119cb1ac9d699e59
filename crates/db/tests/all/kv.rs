//! The Redis suite, on a real throwaway `redis-server` started once for
//! the test binary (`support/redis.rs`), with a password: values and
//! TTLs, deletion, SCAN by pattern, counters, MULTI/EXEC transactions,
//! raw commands, ACL users, the pool, and what must stay inert (hostile
//! keys and values) or secret (the password); backup and restore
//! (`kv_backup.rs`).

use std::time::Duration;

use lord_db_api::{KvReply, KvSession, Password, Profile};
use serde_json::json;

use crate::redis::{PASSWORD, Redis};

fn password() -> Option<Password> {
    Some(Password::new(PASSWORD.to_owned()))
}

fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

fn session(profile: &Profile) -> lord_db::Lease<dyn KvSession> {
    lord_db::pools()
        .kv(profile, password())
        .unwrap_or_else(|e| panic!("a Redis session: {e}"))
}

#[test]
fn redis_passes_the_suite() {
    let Some(server) = Redis::start() else {
        return;
    };
    // One logical database per case, so no case sees another's keys.
    let profile = |db: u8| crate::profile(&format!("redis{db}"), &server.url(db), &[]);
    values_round_trip_as_bytes(&profile(0));
    ttls_expire_keys(&profile(1));
    scan_finds_keys_by_pattern(&profile(2));
    counters_count(&profile(3));
    transactions_apply_all_or_nothing(&profile(4));
    hostile_keys_and_values_stay_inert(&profile(5));
    sessions_go_back_to_the_pool(&profile(6));
    a_wrong_password_is_refused_without_being_shown(&server);
    an_acl_user_gets_only_its_keys(&server, &profile(7));
    sql_is_refused_with_a_clear_error(&profile(8));
    crate::kv_backup::run_all(&server);
}

fn values_round_trip_as_bytes(profile: &Profile) {
    let mut s = session(profile);
    assert_eq!(s.get("missing").unwrap(), None);
    assert!(!s.exists("k").unwrap());
    s.set("k", b"v1", None).unwrap();
    assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
    let binary = [0u8, 255, b'\r', b'\n', b' ', b'"'];
    s.set("bin", &binary, None).unwrap();
    assert_eq!(s.get("bin").unwrap().as_deref(), Some(&binary[..]));
    assert!(s.exists("k").unwrap());
    assert_eq!(s.delete(&["k", "bin", "never"]).unwrap(), 2);
    assert!(!s.exists("k").unwrap());
    // A key of another type is an error that says so, not a wrong value.
    s.command(&args(&["RPUSH", "list", "a"])).unwrap();
    let error = s.get("list").unwrap_err().to_string();
    assert!(error.contains("WRONGTYPE"), "{error}");
    assert!(error.contains(profile.name.as_str()), "{error}");
}

fn ttls_expire_keys(profile: &Profile) {
    let mut s = session(profile);
    s.set("forever", b"x", None).unwrap();
    assert_eq!(s.ttl("forever").unwrap(), None);
    assert_eq!(s.ttl("missing").unwrap(), None);
    s.set("short", b"x", Some(Duration::from_millis(150)))
        .unwrap();
    let left = s.ttl("short").unwrap().expect("a TTL");
    assert!(left <= Duration::from_millis(150), "{left:?}");
    assert!(s.expire("forever", Duration::from_secs(100)).unwrap());
    let left = s.ttl("forever").unwrap().expect("a TTL");
    assert!(left > Duration::from_secs(90), "{left:?}");
    assert!(!s.expire("missing", Duration::from_secs(1)).unwrap());
    assert!(s.set("k", b"x", Some(Duration::ZERO)).is_err());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("short").unwrap(), None, "expired");
    assert!(s.exists("forever").unwrap());
}

fn scan_finds_keys_by_pattern(profile: &Profile) {
    let mut s = session(profile);
    for i in 0..1200 {
        s.set(&format!("user:{i:04}"), b"u", None).unwrap();
    }
    for i in 0..10 {
        s.set(&format!("order:{i}"), b"o", None).unwrap();
    }
    let users = s.scan("user:*", 10_000).unwrap();
    assert_eq!(users.len(), 1200, "walked past one SCAN step");
    assert_eq!(users.first().map(String::as_str), Some("user:0000"));
    assert!(users.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    assert_eq!(s.scan("order:?", 10_000).unwrap().len(), 10);
    assert_eq!(s.scan("user:*", 7).unwrap().len(), 7);
    assert!(s.scan("nothing:*", 10).unwrap().is_empty());
}

fn counters_count(profile: &Profile) {
    let mut s = session(profile);
    assert_eq!(s.incr("n", 1).unwrap(), 1);
    assert_eq!(s.incr("n", 41).unwrap(), 42);
    assert_eq!(s.incr("n", -2).unwrap(), 40);
    s.set("text", b"abc", None).unwrap();
    assert!(s.incr("text", 1).is_err());
}

fn transactions_apply_all_or_nothing(profile: &Profile) {
    let mut s = session(profile);
    let replies = s
        .transaction(&[
            args(&["SET", "a", "1"]),
            args(&["INCR", "a"]),
            args(&["GET", "a"]),
        ])
        .unwrap();
    assert_eq!(
        replies,
        [
            KvReply::Status("OK".into()),
            KvReply::Int(2),
            KvReply::Bytes(b"2".to_vec())
        ]
    );
    // A command the server refuses while queueing aborts the whole
    // transaction: the SET before it is not applied.
    let refused = s.transaction(&[args(&["SET", "b", "1"]), args(&["NO-SUCH-COMMAND"])]);
    assert!(refused.is_err(), "{refused:?}");
    assert!(!s.exists("b").unwrap());
    // MULTI/EXEC by hand, as `lord db query` sends them, on one connection.
    assert_eq!(
        s.command(&args(&["MULTI"])).unwrap(),
        KvReply::Status("OK".into())
    );
    assert_eq!(
        s.command(&args(&["SET", "c", "x"])).unwrap(),
        KvReply::Status("QUEUED".into())
    );
    assert_eq!(
        s.command(&args(&["DISCARD"])).unwrap(),
        KvReply::Status("OK".into())
    );
    assert!(!s.exists("c").unwrap(), "discarded");
}

fn hostile_keys_and_values_stay_inert(profile: &Profile) {
    let mut s = session(profile);
    s.set("keep", b"1", None).unwrap();
    // What a splicing client would send as a second command.
    let hostile = "x\r\nFLUSHALL\r\n*1\r\n$8\r\nFLUSHALL\r\n";
    s.set(hostile, hostile.as_bytes(), None).unwrap();
    assert_eq!(s.get(hostile).unwrap().as_deref(), Some(hostile.as_bytes()));
    let reply = s
        .command(&[
            b"SET".to_vec(),
            b"k k".to_vec(),
            hostile.as_bytes().to_vec(),
        ])
        .unwrap();
    assert_eq!(reply, KvReply::Status("OK".into()));
    assert_eq!(s.get("k k").unwrap().as_deref(), Some(hostile.as_bytes()));
    // A glob pattern is only a pattern.
    assert!(s.scan("*\r\nFLUSHALL", 10).unwrap().is_empty());
    assert!(s.exists("keep").unwrap(), "nothing was flushed");
    let size = s.command(&args(&["DBSIZE"])).unwrap();
    assert_eq!(size, KvReply::Int(3));
}

fn sessions_go_back_to_the_pool(profile: &Profile) {
    let pools = lord_db::Pools::default();
    let name = profile.name.as_str();
    {
        let mut a = pools.kv(profile, password()).unwrap();
        let mut b = pools.kv(profile, password()).unwrap();
        a.set("x", b"1", None).unwrap();
        assert_eq!(b.get("x").unwrap().as_deref(), Some(&b"1"[..]));
    }
    assert_eq!(pools.idle(name), 2);
    let broken = pools.kv(profile, password()).unwrap();
    broken.discard();
    assert_eq!(pools.idle(name), 1);
    // A profile asked for SQL is refused, and its session stays pooled.
    let error = pools.session(profile, password()).unwrap_err().to_string();
    assert!(error.contains("redis database"), "{error}");
    assert_eq!(pools.idle(name), 1);
}

fn a_wrong_password_is_refused_without_being_shown(server: &Redis) {
    let profile = crate::profile("locked", &server.url(0), &[]);
    let wrong = "wrong-horse-staple";
    let error = lord_db::Pools::default()
        .kv(&profile, Some(Password::new(wrong.to_owned())))
        .unwrap_err()
        .to_string();
    assert!(error.contains("`locked`"), "{error}");
    assert!(
        !error.contains(wrong) && !error.contains(PASSWORD),
        "{error}"
    );
    let error = lord_db::Pools::default()
        .kv(&profile, None)
        .and_then(|mut s| s.get("k"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("NOAUTH") || error.contains("auth"),
        "{error}"
    );
    assert!(!error.contains(PASSWORD), "{error}");
}

fn an_acl_user_gets_only_its_keys(server: &Redis, admin: &Profile) {
    let mut s = session(admin);
    s.command(&args(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        ">app-pass-1",
        "~app:*",
        "+@all",
    ]))
    .unwrap();
    let profile = crate::profile(
        "app",
        &format!("redis://app@127.0.0.1:{}/0", server.port()),
        &[("connect-timeout", json!(5))],
    );
    let mut app = lord_db::Pools::default()
        .kv(&profile, Some(Password::new("app-pass-1".into())))
        .expect("the ACL user logs in");
    app.set("app:1", b"mine", None).unwrap();
    let error = app
        .set("other:1", b"not mine", None)
        .unwrap_err()
        .to_string();
    assert!(error.to_lowercase().contains("noperm"), "{error}");
}

fn sql_is_refused_with_a_clear_error(profile: &Profile) {
    let error = lord_db::connect(profile, password().as_ref())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(profile.name.as_str()) && error.contains("takes no SQL"),
        "{error}"
    );
}

/// TLS through rustls, always verified: against the profile's CA file,
/// and refused against the system's roots (which never issued the test
/// CA), whether asked for by `rediss://` or by the tls-mode.
#[test]
fn redis_over_tls_verifies_the_server_against_the_ca_file() {
    let Some(server) = Redis::start_tls() else {
        return;
    };
    let ca = server.ca_file().display().to_string();
    let ping = |url: &str, extra: &[(&str, serde_json::Value)]| {
        lord_db::Pools::default()
            .kv(&crate::profile("tls", url, extra), password())
            .and_then(|mut s| s.command(&args(&["PING"])))
            .map_err(|e| e.to_string())
    };
    let tls_url = format!("rediss://127.0.0.1:{}/0", server.port());
    let plain_url = format!("redis://127.0.0.1:{}/0", server.port());
    assert_eq!(
        ping(&tls_url, &[("ca-file", json!(ca))]),
        Ok(KvReply::Status("PONG".into()))
    );
    assert_eq!(
        ping(
            &plain_url,
            &[("ca-file", json!(ca)), ("tls-mode", json!("verify-full"))]
        ),
        Ok(KvReply::Status("PONG".into()))
    );
    let unverified = ping(&tls_url, &[]).unwrap_err();
    assert!(
        unverified.contains("`tls`") && unverified.to_lowercase().contains("certificate"),
        "{unverified}"
    );
    let disabled = ping(&tls_url, &[("tls-mode", json!("disable"))]).unwrap_err();
    assert!(disabled.contains("tls-mode is disable"), "{disabled}");
}
