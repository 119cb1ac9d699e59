//! How the registry reaches and keeps its PostgreSQL and SQLite databases:
//! TLS verified against the operator's CA, the connection pool's size,
//! and schema migrations recorded in `schema_migrations`.

use lord_registry::{Db, PgOptions, Registry, Scope};

use crate::support;

/// A plain client of the test's database, to look at it from outside.
fn admin(server: &support::PgServer) -> postgres::Client {
    postgres::Client::connect(&server.url(), postgres::NoTls).expect("admin connection")
}

#[test]
fn tls_to_postgres_is_verified_against_the_ca_the_operator_gives() {
    let Some(server) = support::PgServer::start_tls() else {
        return;
    };
    let ca = server.ca_file();
    let url = |query: &str| format!("{}?{query}", server.url());
    let db = Db::connect(&url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        ca.display()
    )))
    .expect("TLS with the server's CA");
    let token = db
        .create_token(&Scope::parse("publish:*").expect("scope"))
        .expect("token over TLS");
    assert!(db.caller(&token).expect("caller").is_some());

    // The server takes no TCP connection in clear, so TLS was in use.
    let clear = Db::connect(&url("sslmode=disable")).expect_err("refused in clear");
    assert!(clear.to_string().contains("pg_hba.conf"), "{clear}");
    // Another CA, or the system's roots, do not vouch for this server.
    let other = tempfile::tempdir().expect("another CA");
    support::make_certificates(other.path(), None);
    for query in [
        format!(
            "sslmode=require&sslrootcert={}",
            other.path().join("ca.crt").display()
        ),
        "sslmode=require".to_owned(),
        // `prefer` (the default) uses TLS when offered and never falls
        // back to clear text when the certificate fails.
        String::new(),
    ] {
        let refused = Db::connect(&url(&query)).expect_err("unverifiable certificate");
        assert!(
            refused.to_string().contains("certificate"),
            "{query}: {refused}"
        );
    }
}

#[test]
fn the_pool_keeps_as_many_connections_as_configured() {
    let Some(server) = support::PgServer::start() else {
        return;
    };
    let data = tempfile::tempdir().expect("data");
    let mut options = PgOptions::new(&server.url());
    options.pool_size = 5;
    let registry = Registry::open_configured(data.path(), Some(&options), None).expect("open");
    let sessions: i64 = admin(&server)
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'lord-registry'",
            &[],
        )
        .expect("count")
        .get(0);
    // The pool's five, and the signed index's own.
    assert_eq!(sessions, 6);
    drop(registry);
}

#[test]
fn postgres_schema_steps_are_recorded_once_and_a_newer_schema_is_refused() {
    let Some(server) = support::PgServer::start() else {
        return;
    };
    drop(Db::connect(&server.url()).expect("first open"));
    drop(Db::connect(&server.url()).expect("second open"));
    let mut admin = admin(&server);
    let steps: Vec<i64> = admin
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .expect("steps")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    admin
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'later', 0)",
            &[],
        )
        .expect("a later step");
    let refused = Db::connect(&server.url()).expect_err("newer schema");
    assert!(
        refused.to_string().contains("schema version 99"),
        "{refused}"
    );
}

#[test]
fn sqlite_schema_steps_are_recorded_once_and_a_newer_schema_is_refused() {
    let data = tempfile::tempdir().expect("data");
    drop(Db::open(data.path()).expect("first open"));
    drop(Db::open(data.path()).expect("second open"));
    let file = rusqlite::Connection::open(data.path().join("registry.db")).expect("sqlite");
    let steps: Vec<i64> = file
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("steps");
    assert_eq!(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
    file.execute(
        "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'later', 0)",
        [],
    )
    .expect("a later step");
    let refused = Db::open(data.path()).expect_err("newer schema");
    assert!(
        refused.to_string().contains("schema version 99"),
        "{refused}"
    );
}
