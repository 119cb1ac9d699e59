//! Cassandra and ScyllaDB: NO SERVER. Neither can run here (no package,
//! no container engine), so nothing in this file talks CQL to a cluster,
//! and no test claims to. What is tested is what needs no server: the
//! profile and its URL, the provider's refusal of a password in the URL,
//! and that a cluster that cannot be reached gives an error naming the
//! profile and the host, never the password. The URL parsing, the
//! binding of values to CQL types and the reading of cells are unit tests
//! in `src/cassandra.rs`.

use lord_db_api::{Engine, Password, parse_url};
use serde_json::json;

#[test]
fn cassandra_profiles_parse_and_refuse_a_password_in_the_url() {
    let profile = crate::profile(
        "events",
        "cassandra://app@10.0.0.1:9042,10.0.0.2/events",
        &[("statement-timeout", json!(5))],
    );
    assert_eq!(profile.engine, Engine::Cassandra);
    let error = parse_url("events", "cassandra://app:s3cret-horse@10.0.0.1/events")
        .unwrap_err()
        .to_string();
    assert!(!error.contains("s3cret-horse"), "{error}");
    assert!(
        error.contains("lord db add events cassandra://app@10.0.0.1/events"),
        "{error}"
    );
}

/// No server: nothing listens on the port.
#[test]
fn an_unreachable_cassandra_is_named_and_the_password_never_shown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let profile = crate::profile(
        "gone",
        &format!("cassandra://app@127.0.0.1:{port}/shop"),
        &[("connect-timeout", json!(2))],
    );
    let secret = "cql-secret-horse";
    let error = lord_db::Pools::default()
        .wide_column(&profile, Some(Password::new(secret.to_owned())))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("`gone`"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(!error.contains(secret), "{error}");
    // A password with no user to go with it is refused before connecting.
    let anonymous = crate::profile("anon", &format!("cassandra://127.0.0.1:{port}"), &[]);
    let error = lord_db::Pools::default()
        .wide_column(&anonymous, Some(Password::new(secret.to_owned())))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("names no user"), "{error}");
    assert!(!error.contains(secret), "{error}");
}
