//! `lord db` end to end: profiles in the configuration with passwords only
//! in `lord secret`, ping, queries for scripts (`--json`, `--csv`, exit
//! codes), catalogues and migrations, on a SQLite file, a throwaway
//! PostgreSQL server and a throwaway MariaDB server; and a migration killed
//! halfway by SIGKILL on each server.

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mariadb::MariaDb;
use crate::pg::PgServer;
use crate::support::{Lord, Run};

fn json(run: &Run) -> Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

fn migration(lord: &Lord, file: &str, up: &str, down: &str) {
    let dir = lord.project.path().join("migrations");
    std::fs::create_dir_all(&dir).expect("migrations folder");
    std::fs::write(
        dir.join(file),
        format!("-- lord:up\n{up}\n-- lord:down\n{down}\n"),
    )
    .expect("a migration");
}

fn states(lord: &Lord, profile: &str) -> Vec<(u64, String)> {
    let status = json(&lord.run(&["db", "migrate", "status", profile, "--json"]));
    status
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["version"].as_u64().expect("version"),
                m["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

#[test]
fn db_add_refuses_a_url_carrying_a_password_and_says_how_to_store_it() {
    let lord = Lord::new();
    let run = lord.run(&[
        "db",
        "add",
        "shop",
        "postgres://app:hunter2@db.example:5432/shop?sslmode=disable",
    ]);
    run.assert_code(2);
    let stderr = run.stderr();
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains("lord secret set DB_SHOP_PASSWORD"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lord db add shop postgres://app@db.example:5432/shop?sslmode=disable"),
        "{stderr}"
    );
    assert_eq!(
        json(&lord.run(&["db", "list", "--json"])),
        serde_json::json!([])
    );
    // Written by hand into the configuration, it is refused there too.
    let run = lord.run(&[
        "config",
        "set",
        "db.profiles.shop.url",
        "mysql://app@h/x?password=hunter2",
    ]);
    assert_ne!(run.code(), Some(0), "{}", run.stderr());
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
}

#[test]
fn db_profiles_are_added_listed_pinged_and_removed_on_sqlite() {
    let lord = Lord::new();
    lord.run(&[
        "db",
        "add",
        "app",
        "sqlite:app.db",
        "--statement-timeout",
        "5",
    ])
    .assert_ok();
    let list = json(&lord.run(&["db", "list", "--json"]));
    let file = lord.project.path().join("app.db");
    assert_eq!(list[0]["name"], "app");
    assert_eq!(list[0]["engine"], "sqlite");
    assert_eq!(list[0]["url"], format!("sqlite://{}", file.display()));
    assert_eq!(list[0]["statement_timeout"], 5);
    assert_eq!(list[0]["enabled"], true);
    let ping = json(&lord.run(&["db", "ping", "app", "--json"]));
    assert_eq!(
        (ping["ok"].as_bool(), ping["engine"].as_str()),
        (Some(true), Some("sqlite"))
    );
    assert!(file.is_file(), "the database file was made");
    // A disabled engine refuses its profiles, naming the way back.
    lord.run(&["plugin", "disable", "sqlite"]).assert_ok();
    lord.run(&["db", "ping", "app"])
        .assert_code(2)
        .assert_stderr_contains("lord plugin enable sqlite");
    lord.run(&["plugin", "enable", "sqlite"]).assert_ok();
    lord.run(&["db", "remove", "app"]).assert_ok();
    assert_eq!(
        json(&lord.run(&["db", "list", "--json"])),
        serde_json::json!([])
    );
    lord.run(&["db", "ping", "app"])
        .assert_code(2)
        .assert_stderr_contains("there is no database profile `app`");
}

/// A project's lord.toml cannot say where a database profile connects or
/// which secret it sends: a cloned repository would otherwise redirect
/// the user's password to a server of its choosing.
#[test]
fn a_project_cannot_point_a_database_profile_elsewhere() {
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    std::fs::write(
        lord.project.path().join("lord.toml"),
        "[db.profiles.app]\nurl = \"postgres://ada@collector.example/app\"\n\
         password-secret = \"GITHUB_TOKEN\"\ntls-mode = \"disable\"\n",
    )
    .expect("project config");
    let run = lord.run(&["db", "ping", "app"]);
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    run.assert_stderr_contains("may not be set by a project");
}

#[test]
fn db_query_prints_tables_json_and_csv_and_fails_with_the_engine_message() {
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
    ])
    .assert_ok();
    let hostile = "a,\"b\"'); DROP TABLE item; --";
    for (name, price) in [(hostile, "2.5"), ("plain", "null")] {
        lord.run(&[
            "db",
            "query",
            "app",
            "INSERT INTO item (name, price) VALUES (?, ?)",
            "--typed",
            "-p",
            name,
            "-p",
            price,
        ])
        .assert_ok()
        .assert_stderr_contains("1 row(s) changed");
    }
    let rows = json(&lord.run(&[
        "db",
        "query",
        "app",
        "SELECT * FROM item ORDER BY id",
        "--json",
    ]));
    assert_eq!(
        rows,
        serde_json::json!([
            {"id": 1, "name": hostile, "price": 2.5},
            {"id": 2, "name": "plain", "price": null}
        ])
    );
    let csv = lord.run(&[
        "db",
        "query",
        "app",
        "SELECT * FROM item ORDER BY id",
        "--csv",
    ]);
    csv.assert_ok();
    assert_eq!(
        csv.stdout(),
        "id,name,price\r\n1,\"a,\"\"b\"\"'); DROP TABLE item; --\",2.5\r\n2,plain,\r\n"
    );
    // NULL and an empty text read back apart, as PostgreSQL's COPY
    // writes them: an empty field and `""`.
    let apart = lord.run(&[
        "db",
        "query",
        "app",
        "SELECT '' AS empty, NULL AS missing, 'x' AS text",
        "--csv",
    ]);
    apart.assert_ok();
    assert_eq!(apart.stdout(), "empty,missing,text\r\n\"\",,x\r\n");
    // A lone NULL is no empty line, which readers would skip.
    let lone = lord.run(&["db", "query", "app", "SELECT NULL AS missing", "--csv"]);
    lone.assert_ok();
    assert_eq!(lone.stdout(), "missing\r\n\"\"\r\n");
    // A statement that changes rows has no records: standard output stays
    // valid (empty) CSV, and the count is a status line, not lost.
    let changed = lord.run(&[
        "db",
        "query",
        "app",
        "UPDATE item SET price = price WHERE id = 2",
        "--csv",
    ]);
    changed.assert_ok();
    assert_eq!(changed.stdout(), "");
    assert!(
        changed.stderr().contains("1 row(s) changed"),
        "{}",
        changed.stderr()
    );
    let table = lord.run(&[
        "db",
        "query",
        "app",
        "SELECT id, name FROM item WHERE id = ?",
        "-p",
        "2",
    ]);
    table.assert_ok();
    assert_eq!(table.stdout(), "id  name\n2   plain\n");
    // The statement from standard input.
    let mut cmd = lord.command(&["db", "query", "app", "-", "--json"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("lord db query -");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"SELECT COUNT(*) AS n FROM item;\n")
        .expect("write");
    let output = child.wait_with_output().expect("ends");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "[\n  {\n    \"n\": 2\n  }\n]"
    );
    let failed = lord.run(&["db", "query", "app", "SELECT * FROM missing"]);
    failed.assert_code(1);
    failed.assert_stderr_contains(
        "the database profile `app` (sqlite) answered: no such table: missing",
    );
    assert!(failed.stdout().is_empty(), "{}", failed.stdout());
}

#[test]
fn db_schema_shows_columns_keys_and_indexes() {
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE author (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)",
    ])
    .assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL \
         REFERENCES author (id), title TEXT)",
    ])
    .assert_ok();
    let tables = json(&lord.run(&["db", "schema", "app", "--json"]));
    let names: Vec<&str> = tables
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["author", "book"]);
    assert_eq!(tables[0]["primary_key"], serde_json::json!(["id"]));
    assert_eq!(tables[0]["indexes"][0]["unique"], true);
    assert_eq!(
        tables[0]["indexes"][0]["columns"],
        serde_json::json!(["email"])
    );
    assert_eq!(
        tables[1]["foreign_keys"],
        serde_json::json!([{"columns": ["author_id"], "references_table": "author",
                            "references_columns": ["id"]}])
    );
    assert_eq!(tables[1]["columns"][2]["nullable"], true);
    let text = lord.run(&["db", "schema", "app", "book"]);
    text.assert_ok();
    assert!(
        text.stdout()
            .contains("foreign key (author_id) references author (id)"),
        "{}",
        text.stdout()
    );
    lord.run(&["db", "schema", "app", "nothing"])
        .assert_code(2)
        .assert_stderr_contains("has no table `nothing`");
}

#[test]
fn db_migrate_applies_reverts_and_refuses_a_changed_file() {
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    let made = lord.run(&["db", "migrate", "new", "add-users"]);
    made.assert_ok();
    assert!(
        made.stdout()
            .trim()
            .ends_with("migrations/0001_add_users.sql"),
        "{}",
        made.stdout()
    );
    migration(
        &lord,
        "0001_add_users.sql",
        "CREATE TABLE users (id INTEGER);",
        "DROP TABLE users;",
    );
    migration(
        &lord,
        "0002_add_posts.sql",
        "CREATE TABLE posts (id INTEGER);",
        "DROP TABLE posts;",
    );
    lord.run(&["db", "migrate", "up", "app", "--to", "1"])
        .assert_ok();
    assert_eq!(
        states(&lord, "app"),
        [(1, "applied".into()), (2, "pending".into())]
    );
    lord.run(&["db", "migrate", "up", "app"])
        .assert_ok()
        .assert_stderr_contains("applying 0002_add_posts.sql");
    lord.run(&["db", "migrate", "down", "app", "--steps", "2"])
        .assert_ok();
    assert_eq!(
        states(&lord, "app"),
        [(1, "pending".into()), (2, "pending".into())]
    );
    lord.run(&["db", "migrate", "up", "app"]).assert_ok();
    migration(
        &lord,
        "0001_add_users.sql",
        "CREATE TABLE users (id BIGINT);",
        "DROP TABLE users;",
    );
    let refused = lord.run(&["db", "migrate", "up", "app"]);
    refused.assert_code(2).assert_stderr_contains(
        "the migration file `0001_add_users.sql` changed after it was applied",
    );
    assert_eq!(states(&lord, "app")[0], (1, "changed".into()));
    let text = lord.run(&["db", "migrate", "status", "app"]);
    assert!(
        text.stdout().contains("CHANGED since applied"),
        "{}",
        text.stdout()
    );
    // Another folder, relative to where lord runs.
    let other = lord.run(&["db", "migrate", "new", "first", "--dir", "db/other"]);
    other.assert_ok();
    assert_eq!(
        other.stdout().trim(),
        lord.project
            .path()
            .join("db/other/0001_first.sql")
            .display()
            .to_string()
    );
    let status = json(&lord.run(&[
        "db", "migrate", "status", "app", "--dir", "db/other", "--json",
    ]));
    // Version 1 there is another file than the one applied; version 2 is
    // not there at all.
    assert_eq!(
        (&status[0]["file"], &status[0]["state"]),
        (&Value::from("0001_first.sql"), &Value::from("changed")),
        "{status}"
    );
    assert_eq!(status[1]["state"], "missing", "{status}");
}

/// Runs `lord db migrate up PROFILE`, waits until `running` says the
/// migration is inside the server, and kills lord with SIGKILL.
fn kill_halfway(lord: &Lord, profile: &str, running: impl Fn() -> bool) {
    let mut child = lord
        .command(&["db", "migrate", "up", profile])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lord db migrate up");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running() {
        assert!(
            child.try_wait().expect("status").is_none(),
            "lord ended before being killed"
        );
        assert!(
            Instant::now() < deadline,
            "the migration never reached the server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

fn admin(server: &PgServer) -> ::postgres::Client {
    ::postgres::Client::connect(&server.url(), ::postgres::NoTls).expect("connect as admin")
}

#[test]
fn db_on_postgres_queries_and_a_killed_migration_leaves_the_history_consistent() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let lord = Lord::new();
    lord.run(&["db", "add", "pg", &server.url(), "--tls-mode", "disable"])
        .assert_ok();
    assert_eq!(
        json(&lord.run(&["db", "ping", "pg", "--json"]))["engine"],
        "postgres"
    );
    migration(
        &lord,
        "0001_one.sql",
        "CREATE TABLE one (id INTEGER PRIMARY KEY);",
        "DROP TABLE one;",
    );
    migration(
        &lord,
        "0002_slow.sql",
        "CREATE TABLE two (id INTEGER);\nSELECT pg_sleep(120);",
        "DROP TABLE two;",
    );
    let sleeping = || {
        admin(&server)
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' \
                 AND pid <> pg_backend_pid()",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    };
    kill_halfway(&lord, "pg", sleeping);
    // The first migration is recorded, the killed one is not, and its
    // table was never committed.
    assert_eq!(
        states(&lord, "pg"),
        [(1, "applied".into()), (2, "pending".into())]
    );
    let tables = json(&lord.run(&["db", "schema", "pg", "--json"]));
    let names: Vec<&str> = tables
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["lord_migrations", "one"]);
    // The server ends the orphaned session as an operator would; then the
    // fixed migration applies cleanly.
    admin(&server)
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
        )
        .expect("terminate");
    migration(
        &lord,
        "0002_slow.sql",
        "CREATE TABLE two (id INTEGER);",
        "DROP TABLE two;",
    );
    lord.run(&["db", "migrate", "up", "pg"]).assert_ok();
    assert_eq!(
        states(&lord, "pg"),
        [(1, "applied".into()), (2, "applied".into())]
    );
    // Two migrators at once take turns: the second starts while the first
    // is inside its migration, waits for the lock, then finds nothing left
    // to do (without the lock it would run the migration again and fail).
    migration(
        &lord,
        "0003_slower.sql",
        "CREATE TABLE three (id INTEGER);\nSELECT pg_sleep(3);",
        "DROP TABLE three;",
    );
    let racer = || {
        lord.command(&["db", "migrate", "up", "pg"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lord db migrate up")
    };
    let first = racer();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !admin(&server)
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .is_ok_and(|r| r.get::<_, i64>(0) > 0)
    {
        assert!(
            Instant::now() < deadline,
            "the first migrator never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut applied: Vec<String> = [first, racer()]
        .into_iter()
        .map(|racer| {
            let output = racer.wait_with_output().expect("ends");
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stderr}");
            stderr
                .lines()
                .find(|l| l.starts_with("applied "))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    applied.sort();
    assert_eq!(
        applied,
        [
            "applied 0 migration(s) to `pg`",
            "applied 1 migration(s) to `pg`"
        ]
    );
    let rows = json(&lord.run(&[
        "db",
        "query",
        "pg",
        "INSERT INTO one (id) VALUES ($1)",
        "-p",
        "7",
        "--json",
    ]));
    assert_eq!(rows, serde_json::json!({"affected": 1}));
    let csv = lord.run(&[
        "db",
        "query",
        "pg",
        "SELECT id FROM one WHERE id = $1",
        "-p",
        "7",
        "--csv",
    ]);
    csv.assert_ok();
    assert_eq!(csv.stdout(), "id\r\n7\r\n");
    lord.run(&["db", "query", "pg", "SELECT nope FROM one"])
        .assert_code(1)
        .assert_stderr_contains(
            "the database profile `pg` (postgres) answered: ERROR: column \"nope\" does not exist",
        );
}

#[test]
fn db_on_mariadb_reads_the_password_from_lord_secret_and_records_a_killed_migration_as_started() {
    let Some(server) = MariaDb::start() else {
        return;
    };
    let root_url = server.database("shop");
    assert!(root_url.ends_with("/shop"), "{root_url}");
    server.sql("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'correct-horse-42'");
    server.sql("GRANT ALL ON shop.* TO 'app'@'127.0.0.1'");
    let lord = Lord::new();
    // `mariadb://` names the same server as `mysql://`.
    let url = format!("mariadb://app@127.0.0.1:{}/shop", server.port());
    lord.run(&["db", "add", "shop", &url, "--tls-mode", "disable"])
        .assert_ok()
        .assert_stderr_contains("lord secret set DB_SHOP_PASSWORD");
    let refused = lord.run(&["db", "ping", "shop"]);
    refused
        .assert_code(1)
        .assert_stderr_contains("`shop` (mysql)");
    lord.set_secret("DB_SHOP_PASSWORD", "wrong-horse-42");
    let refused = lord.run(&["db", "ping", "shop"]);
    refused
        .assert_code(1)
        .assert_stderr_contains("Access denied");
    assert!(
        !refused.stderr().contains("wrong-horse-42"),
        "{}",
        refused.stderr()
    );
    lord.set_secret("DB_SHOP_PASSWORD", "correct-horse-42");
    let list = json(&lord.run(&["db", "list", "--json"]));
    assert_eq!(list[0]["password_stored"], true);
    assert!(!list.to_string().contains("correct-horse-42"));
    assert_eq!(
        json(&lord.run(&["db", "ping", "shop", "--json"]))["ok"],
        true
    );
    migration(
        &lord,
        "0001_slow.sql",
        "CREATE TABLE half (id INTEGER);\nSELECT SLEEP(120);",
        "DROP TABLE half;",
    );
    let sleeping = || {
        server
            .sql("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(120)%'")
            .trim()
            != "0"
    };
    kill_halfway(&lord, "shop", sleeping);
    // The server goes on with the killed client's statement (and holds its
    // migration lock) until it is ended, as an operator would end it.
    let ids = server
        .sql("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(120)%'");
    for id in ids.split_whitespace() {
        server.sql(&format!("KILL {id}"));
    }
    // MariaDB committed the CREATE; the history says the migration started
    // and did not finish, and nothing runs until that is settled.
    assert_eq!(states(&lord, "shop"), [(1, "started".into())]);
    let refused = lord.run(&["db", "migrate", "up", "shop"]);
    refused.assert_code(2).assert_stderr_contains(
        "the migration `0001_slow.sql` was started on `shop` and did not finish",
    );
    let tables = json(&lord.run(&["db", "schema", "shop", "--json"]));
    assert!(tables.to_string().contains("\"half\""), "{tables}");
    let rows = json(&lord.run(&[
        "db",
        "query",
        "shop",
        "SELECT COUNT(*) AS n FROM half WHERE id = ?",
        "-p",
        "1",
        "--json",
    ]));
    assert_eq!(rows, serde_json::json!([{"n": 0}]));
}
