//! lord-db against real databases: one shared suite (queries and bound
//! parameters, transactions, the catalogue, migrations, the pool) run on
//! SQLite in a temporary file, on a throwaway PostgreSQL server and on a
//! throwaway MariaDB server, each started here on loopback; backup and
//! restore (`backup.rs`) are part of it. With the
//! engines' features (as CI builds the workspace): a Redis suite on a
//! throwaway `redis-server` (`kv`, backups in `kv_backup`), a MongoDB suite on the CongoDB
//! wire-protocol emulator (`document`, emulator-backed), and for
//! Cassandra, which cannot run here, what can be tested without a server
//! (`wide_column`).

/// Throwaway PostgreSQL servers, as the registry's own tests start them.
#[path = "../../../registry/tests/support/mod.rs"]
mod pg;

#[path = "../support/mariadb.rs"]
mod mariadb;

mod backup;
mod pg_types;
mod suite;

#[cfg(feature = "redis")]
#[path = "../support/redis.rs"]
mod redis;

#[cfg(feature = "redis")]
mod kv;

#[cfg(feature = "redis")]
mod kv_backup;

#[cfg(feature = "mongodb")]
#[path = "../support/mongo.rs"]
mod mongo;

#[cfg(feature = "mongodb")]
mod document;

#[cfg(feature = "mongodb")]
mod document_backup;

#[cfg(feature = "cassandra")]
mod wide_column;

use std::sync::atomic::{AtomicUsize, Ordering};

use lord_db_api::Profile;
use serde_json::json;

/// Makes a profile on a fresh, empty database for each case.
pub(crate) struct Target {
    pub(crate) make: Box<dyn Fn() -> Profile>,
}

fn profile(name: &str, url: &str, extra: &[(&str, serde_json::Value)]) -> Profile {
    Profile::from_settings(name, |field| {
        if field == "url" {
            return Some(json!(url));
        }
        extra
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
    })
    .expect("a profile")
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn next_name() -> String {
    format!("case{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[test]
fn sqlite_passes_the_suite() {
    let dir = tempfile::tempdir().expect("a folder");
    let root = dir.path().to_owned();
    let target = Target {
        make: Box::new(move || {
            let name = next_name();
            let url = format!("sqlite://{}", root.join(format!("{name}.db")).display());
            profile(&name, &url, &[("statement-timeout", json!(1))])
        }),
    };
    suite::run(&target);
}

/// Waiting for another writer's lock counts against a plugin's deadline
/// (the busy timeout is cut to what is left of it), while the user's own
/// statements on the same session go on waiting the profile's full busy
/// timeout (10 s by default).
#[test]
fn a_sqlite_lock_wait_ends_at_the_callers_deadline_and_only_for_that_caller() {
    use lord_db_api::{Bounds, Value};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("a folder");
    let url = format!("sqlite://{}", dir.path().join("locks.db").display());
    let profile = profile("locks", &url, &[]);
    let mut ours = lord_db::connect(&profile, None).expect("a session");
    ours.run("CREATE TABLE t (x INTEGER)", &[])
        .expect("a table");
    let within = |ms: u64| Bounds {
        max_rows: 10,
        max_bytes: 1 << 10,
        deadline: Some(Instant::now() + Duration::from_millis(ms)),
    };
    // Twice: the second call finds the busy timeout already cut.
    for _ in 0..2 {
        let mut writer = lord_db::connect(&profile, None).expect("a second session");
        writer.run("BEGIN IMMEDIATE", &[]).expect("the write lock");
        let started = Instant::now();
        let waited = ours.run_within("INSERT INTO t VALUES (?)", &[Value::Int(1)], &within(300));
        assert!(waited.is_err(), "{waited:?}");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "waited {took:?} for the lock"
        );
        // The user's own statement waits for the writer to finish.
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            writer.run("COMMIT", &[]).expect("the writer commits");
        });
        ours.run("INSERT INTO t VALUES (2)", &[])
            .expect("the user's statement waited for the lock");
        release.join().expect("the writer");
    }
    let inserted = ours
        .run_within("SELECT count(*) FROM t", &[], &within(5000))
        .expect("a read within the deadline");
    assert_eq!(inserted.rows, vec![vec![Value::Int(2)]]);
}

#[test]
fn postgres_passes_the_suite() {
    let Some(server) = pg::PgServer::start() else {
        return;
    };
    let base = server.url();
    let admin = base.clone();
    let target = Target {
        make: Box::new(move || {
            let name = next_name();
            let mut client =
                ::postgres::Client::connect(&admin, ::postgres::NoTls).expect("connect as admin");
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("a database");
            let url = base.replace("/registry", &format!("/{name}"));
            profile(
                &name,
                &url,
                &[
                    ("tls-mode", json!("disable")),
                    ("statement-timeout", json!(1)),
                ],
            )
        }),
    };
    suite::run(&target);
    // The test server trusts every login, so it refuses a missing database.
    suite::a_refused_connection_names_the_profile_not_the_password(&profile(
        "locked",
        &server.url().replace("/registry", "/no_such_db"),
        &[("tls-mode", json!("disable"))],
    ));
}

/// The connection runs every statement of a text, so a `run` holding a
/// second one (hidden from a reader that takes `"…"` for a name) is
/// refused before any of it is sent; a script still runs whole.
fn one_run_is_one_statement(profile: &Profile) {
    let mut s = lord_db::pools().session(profile, None).expect("a session");
    s.run_script("CREATE TABLE item (id INT); INSERT INTO item VALUES (1), (2)")
        .expect("a script of two statements");
    let refused = s
        .run("SELECT \"\\\"\"; DELETE FROM item; SELECT \"\\\"\"", &[])
        .expect_err("a second statement");
    assert!(
        refused.to_string().contains("more than one statement"),
        "{refused}"
    );
    let n = s.run("SELECT COUNT(*) FROM item", &[]).expect("count");
    assert_eq!(n.rows[0][0].as_i64(), Some(2), "the DELETE ran");
}

#[test]
fn mariadb_passes_the_suite() {
    let Some(server) = mariadb::MariaDb::start() else {
        return;
    };
    let server = std::sync::Arc::new(server);
    let shared = std::sync::Arc::clone(&server);
    let target = Target {
        make: Box::new(move || {
            let name = next_name();
            let url = shared.database(&name);
            profile(
                &name,
                &url,
                &[
                    ("tls-mode", json!("disable")),
                    ("statement-timeout", json!(1)),
                ],
            )
        }),
    };
    suite::run(&target);
    one_run_is_one_statement(&(target.make)());
    server.sql("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'right-horse'");
    suite::a_refused_connection_names_the_profile_not_the_password(&profile(
        "locked",
        &format!("mysql://app@127.0.0.1:{}/mysql", server.port()),
        &[("tls-mode", json!("disable"))],
    ));
}

#[test]
fn postgres_over_tls_verifies_the_server_against_the_ca_file() {
    let Some(server) = pg::PgServer::start_tls() else {
        return;
    };
    let url = server.url();
    let ca = server.ca_file();
    let with = |mode: &str, ca: Option<&std::path::Path>| {
        let mut extra = vec![("tls-mode", json!(mode))];
        if let Some(ca) = ca {
            extra.push(("ca-file", json!(ca.display().to_string())));
        }
        lord_db::Pools::default()
            .session(&profile("tls", &url, &extra), None)
            .map(|mut s| {
                s.run(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
            })
    };
    for mode in ["verify-full", "require", "prefer"] {
        let rows = with(mode, Some(&ca))
            .unwrap_or_else(|e| panic!("{mode}: {e}"))
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(rows.rows, [vec![lord_db_api::Value::Bool(true)]], "{mode}");
    }
    for mode in ["verify-full", "prefer"] {
        let ca = ca.display().to_string();
        backup::over_tls(&profile(
            "tls",
            &url,
            &[("tls-mode", json!(mode)), ("ca-file", json!(ca))],
        ));
    }
    // The server takes TCP over TLS only.
    let refused = with("disable", None).err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("`tls`") && e.contains("postgres")),
        "{refused:?}"
    );
    // Without the CA the certificate is not trusted: a TLS connection is
    // always verified, `require` included.
    for mode in ["verify-full", "require"] {
        let refused = with(mode, None).err().map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("certificate")),
            "{mode}: {refused:?}"
        );
    }
}

#[test]
fn require_refuses_a_server_without_tls() {
    let Some(server) = pg::PgServer::start() else {
        return;
    };
    let refused = lord_db::Pools::default()
        .session(
            &profile("plain", &server.url(), &[("tls-mode", json!("require"))]),
            None,
        )
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("`plain`") && e.contains("TLS")),
        "{refused:?}"
    );
    // `prefer` falls back to plain text when the server has no TLS.
    let mut session = lord_db::Pools::default()
        .session(
            &profile("plain", &server.url(), &[("tls-mode", json!("prefer"))]),
            None,
        )
        .expect("prefer connects without TLS");
    session.run("SELECT 1", &[]).expect("select");
}

#[test]
fn mariadb_over_tls_verifies_the_server_against_the_ca_file() {
    let Some(server) = mariadb::MariaDb::start_tls() else {
        return;
    };
    let url = server.database("tls");
    let ca = server.ca_file();
    let with = |mode: &str, ca: Option<&std::path::Path>| {
        let mut extra = vec![("tls-mode", json!(mode))];
        if let Some(ca) = ca {
            extra.push(("ca-file", json!(ca.display().to_string())));
        }
        lord_db::Pools::default()
            .session(&profile("tls", &url, &extra), None)
            .map(|mut s| s.run("SHOW SESSION STATUS LIKE 'Ssl_version'", &[]))
    };
    for mode in ["verify-full", "require", "prefer"] {
        let rows = with(mode, Some(&ca))
            .unwrap_or_else(|e| panic!("{mode}: {e}"))
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let version = rows.rows[0][1].as_text().unwrap_or_default();
        assert!(version.starts_with("TLS"), "{mode}: {version:?}");
    }
    for mode in ["verify-full", "prefer"] {
        let ca = ca.display().to_string();
        backup::over_tls(&profile(
            "tls",
            &url,
            &[("tls-mode", json!(mode)), ("ca-file", json!(ca))],
        ));
    }
    let refused = with("disable", None).err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("`tls`") && e.contains("mysql")),
        "{refused:?}"
    );
    for mode in ["verify-full", "require"] {
        let refused = with(mode, None).err().map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.to_lowercase().contains("certificate")),
            "{mode}: {refused:?}"
        );
    }
}

/// The file at `file` with its dump changed by `edit` and its checksums
/// made right again, written beside it as `name`.
#[cfg(any(feature = "redis", feature = "mongodb"))]
pub(crate) fn resealed(
    file: &std::path::Path,
    name: &str,
    edit: impl FnOnce(&mut Vec<u8>),
) -> std::path::PathBuf {
    use sha2::Digest as _;
    let bytes = std::fs::read(file).expect("the backup");
    let first = bytes.iter().position(|b| *b == b'\n').expect("a header") + 1;
    let second = first
        + bytes[first..]
            .iter()
            .position(|b| *b == b'\n')
            .expect("a manifest")
        + 1;
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&bytes[first..second]).expect("json");
    let mut dump = bytes[second..].to_vec();
    edit(&mut dump);
    manifest["payload_bytes"] = dump.len().into();
    manifest["payload_sha256"] = hex::encode(sha2::Sha256::digest(&dump)).into();
    let line = manifest.to_string();
    let mut sealed = format!(
        "lord-db-backup 1 sha256={}\n{line}\n",
        hex::encode(sha2::Sha256::digest(line.as_bytes()))
    )
    .into_bytes();
    sealed.extend_from_slice(&dump);
    let path = file.with_file_name(name);
    std::fs::write(&path, sealed).expect("write");
    path
}

/// A copy of the backup `file` beside it as `name`, and a restore progress
/// callback that flips its last byte where it lies once the restore has
/// checked the file and starts loading it: someone changing the backup
/// under a running restore. The restore holds the file open, so the flip
/// is made in that same file, not in a new one renamed over it.
#[cfg(any(feature = "redis", feature = "mongodb"))]
pub(crate) fn changed_once_loading(
    file: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, impl FnMut(lord_db::backup::Step<'_>)) {
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let copy = file.with_file_name(name);
    std::fs::copy(file, &copy).expect("a copy of the backup");
    let target = copy.clone();
    let mut flipped = false;
    let progress = move |step: lord_db::backup::Step<'_>| {
        if flipped || !matches!(step, lord_db::backup::Step::Phase("restoring")) {
            return;
        }
        flipped = true;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&target)
            .expect("the copy");
        let mut last = [0; 1];
        f.seek(SeekFrom::End(-1)).expect("seek");
        f.read_exact(&mut last).expect("read");
        f.seek(SeekFrom::End(-1)).expect("seek");
        f.write_all(&[last[0] ^ 0x01]).expect("flip");
    };
    (copy, progress)
}

/// `refused` is a load stopped because the backup at `changed` changed
/// under it: the file named, the checksum's words, and the way out.
#[cfg(any(feature = "redis", feature = "mongodb"))]
pub(crate) fn assert_stopped_by_change(
    refused: &lord_db::backup::BackupError,
    changed: &std::path::Path,
) {
    let message = refused.to_string();
    assert!(
        matches!(refused, lord_db::backup::BackupError::Tool { .. })
            && message.contains(&format!(
                "since the backup `{}` no longer reads as it did when it was checked",
                changed.display()
            ))
            && message.contains("no longer matches the manifest's checksum")
            && message.contains("may now hold part of the backup")
            && message.contains("--replace"),
        "{message}"
    );
}
