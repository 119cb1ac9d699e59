//! `lord db backup` and `lord db restore` end to end: a SQLite round trip
//! with `--json`, the refusals (a non-empty target without `--replace`, a
//! corrupted file, a file of another engine), a backup killed by SIGKILL
//! part way, which leaves the old file in place; and PostgreSQL and
//! MariaDB round trips through their own dump programs with the password
//! from `lord secret`, which no output repeats.

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

fn rows(lord: &Lord, profile: &str, sql: &str) -> Value {
    json(&lord.run(&["db", "query", profile, sql, "--json"]))
}

fn kinds_rows(table: &Value) -> u64 {
    table["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"].as_str().is_some_and(|n| n.ends_with("item")))
        .and_then(|t| t["rows"].as_u64())
        .expect("the item table")
}

/// SQLite's backup API replaces the whole database file: `--replace` once
/// deleted the target's tables the backup did not hold, and the row
/// counts it checked still said the restore went well. Views, triggers
/// and indexes go the same way, and are named too.
#[test]
fn restore_replace_on_sqlite_keeps_tables_the_backup_lacks_unless_told_the_whole_file_goes() {
    let lord = Lord::new();
    for name in ["app", "copy"] {
        lord.run(&["db", "add", name, &format!("sqlite:{name}.db")])
            .assert_ok();
    }
    lord.run(&["db", "query", "app", "CREATE TABLE item (id INTEGER)"])
        .assert_ok();
    lord.run(&["db", "backup", "app", "app.lordbackup"])
        .assert_ok();
    for sql in [
        "CREATE TABLE item (id INTEGER)",
        "CREATE TABLE notes (body TEXT)",
        "INSERT INTO notes VALUES ('keep me')",
    ] {
        lord.run(&["db", "query", "copy", sql]).assert_ok();
    }
    lord.run(&["db", "restore", "copy", "app.lordbackup", "--replace"])
        .assert_code(1)
        .assert_stderr_contains("holds 1 schema object(s) the backup does not (table `notes`)")
        .assert_stderr_contains("replaces the whole database file")
        .assert_stderr_contains("--whole-file");
    assert_eq!(
        rows(&lord, "copy", "SELECT body FROM notes"),
        serde_json::json!([{ "body": "keep me" }])
    );
    // `--whole-file` alone is not a restore over anything.
    lord.run(&["db", "restore", "copy", "app.lordbackup", "--whole-file"])
        .assert_code(2);
    lord.run(&[
        "db",
        "restore",
        "copy",
        "app.lordbackup",
        "--replace",
        "--whole-file",
    ])
    .assert_ok();
    lord.run(&["db", "query", "copy", "SELECT body FROM notes"])
        .assert_code(1)
        .assert_stderr_contains("no such table");
}

#[test]
fn db_backup_and_restore_round_trip_a_sqlite_file_and_refuse_what_they_must() {
    let lord = Lord::new();
    for name in ["app", "copy", "other"] {
        lord.run(&["db", "add", name, &format!("sqlite:{name}.db")])
            .assert_ok();
    }
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, data BLOB)",
    ])
    .assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "INSERT INTO item (name, data) VALUES ('grüße', x'00ff'), ('🌍', NULL), (NULL, x'')",
    ])
    .assert_ok();
    // The database itself is never the destination.
    lord.run(&["db", "backup", "app", "app.db"])
        .assert_code(1)
        .assert_stderr_contains("is the database of the profile `app` itself");
    let made = json(&lord.run(&["db", "backup", "app", "app.lordbackup", "--json"]));
    let file = lord.project.path().join("app.lordbackup");
    assert_eq!(made["file"], file.display().to_string());
    assert_eq!(made["engine"], "sqlite");
    assert_eq!(kinds_rows(&made), 3);
    // Piped, the command draws no progress bar.
    let quiet = lord.run(&["db", "backup", "app", "app.lordbackup"]);
    quiet.assert_ok();
    assert!(!quiet.stderr().contains('\r'), "{}", quiet.stderr());
    assert!(
        quiet.stderr().contains("checked after writing"),
        "{}",
        quiet.stderr()
    );

    let restored = json(&lord.run(&["db", "restore", "copy", "app.lordbackup", "--json"]));
    assert_eq!(kinds_rows(&restored), 3);
    assert_eq!(
        rows(
            &lord,
            "copy",
            "SELECT name, hex(data) AS data FROM item ORDER BY id"
        ),
        rows(
            &lord,
            "app",
            "SELECT name, hex(data) AS data FROM item ORDER BY id"
        )
    );
    // A database holding tables is restored over only when asked.
    lord.run(&["db", "restore", "copy", "app.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains("is not empty")
        .assert_stderr_contains("--replace");
    lord.run(&["db", "query", "copy", "DELETE FROM item WHERE id = 1"])
        .assert_ok();
    lord.run(&["db", "restore", "copy", "app.lordbackup", "--replace"])
        .assert_ok();
    assert_eq!(
        rows(&lord, "copy", "SELECT COUNT(*) AS n FROM item")[0]["n"],
        3
    );

    // A flipped byte is found before anything is touched, and the file
    // is named.
    let mut bytes = std::fs::read(&file).expect("the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let flipped = lord.project.path().join("flipped.lordbackup");
    std::fs::write(&flipped, &bytes).expect("write");
    let refused = lord.run(&["db", "restore", "other", "flipped.lordbackup"]);
    refused.assert_code(1).assert_stderr_contains(&format!(
        "`{}` is not a usable lord backup",
        flipped.display()
    ));
    assert_eq!(
        rows(&lord, "other", "SELECT COUNT(*) AS n FROM sqlite_schema")[0]["n"],
        0
    );
}

#[test]
fn a_backup_killed_part_way_leaves_the_old_file_in_place() {
    let lord = Lord::new();
    lord.run(&["db", "add", "big", "sqlite:big.db"]).assert_ok();
    lord.run(&[
        "db",
        "query",
        "big",
        "CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB)",
    ])
    .assert_ok();
    // About 150 MB: long enough to be caught part way.
    lord.run(&[
        "db",
        "query",
        "big",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 150000) \
         INSERT INTO blob (data) SELECT randomblob(1000) FROM n",
    ])
    .assert_ok();
    let destination = lord.project.path().join("big.lordbackup");
    std::fs::write(&destination, b"the previous backup").expect("an old file");
    let mut child = lord
        .command(&["db", "backup", "big", "big.lordbackup"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lord db backup");
    // The size of the largest temporary file, if there is one.
    let partial_bytes = || {
        std::fs::read_dir(lord.project.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .max()
    };
    let partial = || partial_bytes().is_some();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Killed while it writes, with part of the backup on disk.
    while partial_bytes().unwrap_or(0) < 4 << 20 {
        assert!(
            child.try_wait().expect("status").is_none(),
            "lord ended before being killed"
        );
        assert!(Instant::now() < deadline, "no temporary file grew");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert_eq!(
        std::fs::read(&destination).expect("the old file"),
        b"the previous backup"
    );
    assert!(partial(), "the killed run's temporary file is there");
    // The next backup replaces it whole, and deletes what the killed run
    // left.
    lord.run(&["db", "backup", "big", "big.lordbackup"])
        .assert_ok();
    assert!(!partial(), "the killed run's temporary file was deleted");
    let made = json(&lord.run(&["db", "backup", "big", "big.lordbackup", "--json"]));
    assert_eq!(made["tables"][0]["rows"], 150_000);
}

#[test]
fn db_backup_on_postgres_round_trips_and_refuses_a_sqlite_backup() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let mut admin =
        ::postgres::Client::connect(&server.url(), ::postgres::NoTls).expect("connect as admin");
    admin
        .batch_execute("CREATE DATABASE copy")
        .expect("a database");
    let lord = Lord::new();
    lord.run(&["db", "add", "pg", &server.url(), "--tls-mode", "disable"])
        .assert_ok();
    let copy = server.url().replace("/registry", "/copy");
    lord.run(&["db", "add", "copy", &copy, "--tls-mode", "disable"])
        .assert_ok();
    // The test server trusts every login; the password still goes to
    // pg_dump through its environment and must show nowhere.
    lord.set_secret("DB_PG_PASSWORD", "correct-horse-pg");
    lord.run(&[
        "db",
        "query",
        "pg",
        "CREATE TABLE item (id serial PRIMARY KEY, tags text[], at timestamptz DEFAULT now())",
    ])
    .assert_ok();
    lord.run(&[
        "db",
        "query",
        "pg",
        "INSERT INTO item (tags) VALUES ('{a,b}'), (NULL)",
    ])
    .assert_ok();
    let backup = lord.run(&["db", "backup", "pg", "pg.lordbackup", "--json"]);
    let made = json(&backup);
    assert_eq!(made["engine"], "postgres");
    assert!(
        made["tool"]
            .as_str()
            .is_some_and(|t| t.starts_with("pg_dump")),
        "{made}"
    );
    assert_eq!(kinds_rows(&made), 2);
    let restore = lord.run(&["db", "restore", "copy", "pg.lordbackup"]);
    restore.assert_ok();
    let select = "SELECT id, tags::text AS tags, at::text AS at FROM item ORDER BY id";
    assert_eq!(rows(&lord, "copy", select), rows(&lord, "pg", select));
    for run in [&backup, &restore] {
        assert!(!run.stdout().contains("correct-horse-pg"));
        assert!(!run.stderr().contains("correct-horse-pg"));
    }
    // A SQLite backup is not restored into PostgreSQL.
    lord.run(&["db", "add", "lite", "sqlite:lite.db"])
        .assert_ok();
    lord.run(&["db", "query", "lite", "CREATE TABLE t (x)"])
        .assert_ok();
    lord.run(&["db", "backup", "lite", "lite.lordbackup"])
        .assert_ok();
    let file = lord.project.path().join("lite.lordbackup");
    lord.run(&["db", "restore", "copy", "lite.lordbackup", "--replace"])
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "`{}` is a backup of a sqlite database",
            file.display()
        ));
}

#[test]
fn db_backup_on_mariadb_hands_the_password_to_the_dump_program_and_prints_it_nowhere() {
    let Some(server) = MariaDb::start() else {
        return;
    };
    server.database("shop");
    server.database("copy");
    server.sql("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'correct-horse-42'");
    server.sql("GRANT ALL ON shop.* TO 'app'@'127.0.0.1'");
    server.sql("GRANT ALL ON copy.* TO 'app'@'127.0.0.1'");
    let lord = Lord::new();
    for name in ["shop", "copy"] {
        let url = format!("mysql://app@127.0.0.1:{}/{name}", server.port());
        lord.run(&["db", "add", name, &url, "--tls-mode", "disable"])
            .assert_ok();
    }
    lord.set_secret("DB_SHOP_PASSWORD", "correct-horse-42");
    lord.set_secret("DB_COPY_PASSWORD", "correct-horse-42");
    lord.run(&[
        "db",
        "query",
        "shop",
        "CREATE TABLE item (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), data LONGBLOB)",
    ])
    .assert_ok();
    lord.run(&[
        "db",
        "query",
        "shop",
        "INSERT INTO item (name, data) VALUES ('grüße', x'00ff'), ('it''s', NULL)",
    ])
    .assert_ok();
    let backup = lord.run(&["db", "backup", "shop", "shop.lordbackup", "--json"]);
    let made = json(&backup);
    assert_eq!(made["engine"], "mysql");
    assert_eq!(kinds_rows(&made), 2);
    let restore = lord.run(&["db", "restore", "copy", "shop.lordbackup", "--json"]);
    restore.assert_ok();
    let select = "SELECT id, name, HEX(data) AS data FROM item ORDER BY id";
    assert_eq!(rows(&lord, "copy", select), rows(&lord, "shop", select));
    // A wrong password fails with the server's words, not the password.
    lord.set_secret("DB_SHOP_PASSWORD", "wrong-horse-42");
    let refused = lord.run(&["db", "backup", "shop", "again.lordbackup"]);
    refused.assert_code(1);
    assert!(!lord.project.path().join("again.lordbackup").exists());
    for run in [&backup, &restore, &refused] {
        for text in [run.stdout(), run.stderr()] {
            assert!(!text.contains("correct-horse-42"), "{text}");
            assert!(!text.contains("wrong-horse-42"), "{text}");
        }
    }
    let file = std::fs::read(lord.project.path().join("shop.lordbackup")).expect("the file");
    assert!(!String::from_utf8_lossy(&file).contains("correct-horse-42"));
    lord.set_secret("DB_SHOP_PASSWORD", "correct-horse-42");
    the_dump_program_gets_the_password_in_its_environment_only(&lord);
    an_older_dump_program_is_refused(&lord);
    a_database_named_like_an_option_is_not_read_as_one(&lord, &server);
    events_left_out_are_named(&lord, &server);
}

/// A user without the EVENT privilege gets a backup without events, and
/// is told so.
fn events_left_out_are_named(lord: &Lord, server: &MariaDb) {
    server.sql("CREATE USER 'reader'@'127.0.0.1'");
    server.sql("GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES ON shop.* TO 'reader'@'127.0.0.1'");
    let url = format!("mysql://reader@127.0.0.1:{}/shop", server.port());
    lord.run(&["db", "add", "reader", &url, "--tls-mode", "disable"])
        .assert_ok();
    let run = lord.run(&["db", "backup", "reader", "reader.lordbackup"]);
    run.assert_ok()
        .assert_stderr_contains("the backup does not hold events");
    let made = json(&lord.run(&["db", "backup", "shop", "shop2.lordbackup", "--json"]));
    assert_eq!(made["left_out"], serde_json::json!([]), "{made}");
}

/// A database whose name starts with `-` reaches the dump program after
/// `--`, so it is not read as an option; a URL naming no database is
/// refused with what to add.
fn a_database_named_like_an_option_is_not_read_as_one(lord: &Lord, server: &MariaDb) {
    let url = server.database("-dash");
    lord.run(&["db", "add", "dash", &url, "--tls-mode", "disable"])
        .assert_ok();
    let (script, path) = stand_in(lord, "99.1.0");
    lord.run_cmd(
        lord.command(&["db", "backup", "dash", "dash.lordbackup"])
            .env("PATH", path),
    )
    .assert_code(1)
    .assert_stderr_contains("stand-in refuses");
    let args = std::fs::read_to_string(script.with_extension("args")).expect("its arguments");
    assert!(args.ends_with("\n--\n-dash\n"), "{args}");
    let url = format!("mysql://root@127.0.0.1:{}/", server.port());
    lord.run(&["db", "add", "nodb", &url, "--tls-mode", "disable"])
        .assert_ok();
    lord.run(&["db", "backup", "nodb", "nodb.lordbackup"])
        .assert_code(1)
        .assert_stderr_contains("add its name to the URL's path");
}

/// A `mariadb-dump` on the PATH ahead of the real one. The real program's
/// arguments and environment cannot be seen from here, so this stand-in
/// records them (and reports the version `version`).
fn stand_in(lord: &Lord, version: &str) -> (std::path::PathBuf, String) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = lord.project.path().join("bin");
    std::fs::create_dir_all(&bin).expect("a folder");
    let script = bin.join("mariadb-dump");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'mariadb-dump  Ver 10.19 Distrib \
             {version}-MariaDB'; exit 0; fi\nprintf '%s\\n' \"$@\" > \"$0.args\"\n\
             printf '%s' \"$MYSQL_PWD\" > \"$0.env\"\necho 'stand-in refuses' >&2\nexit 3\n"
        ),
    )
    .expect("the stand-in");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    #[allow(clippy::disallowed_methods)]
    let path = std::env::var("PATH").unwrap_or_default();
    (script, format!("{}:{path}", bin.display()))
}

fn the_dump_program_gets_the_password_in_its_environment_only(lord: &Lord) {
    let (script, path) = stand_in(lord, "99.1.0");
    let run = lord.run_cmd(
        lord.command(&["db", "backup", "shop", "stand-in.lordbackup"])
            .env("PATH", path),
    );
    run.assert_code(1)
        .assert_stderr_contains("stand-in refuses");
    let args = std::fs::read_to_string(script.with_extension("args")).expect("its arguments");
    let env = std::fs::read_to_string(script.with_extension("env")).expect("its environment");
    assert!(
        args.contains("--user=app") && args.contains("--single-transaction"),
        "{args}"
    );
    assert!(!args.contains("correct-horse-42"), "{args}");
    assert_eq!(env, "correct-horse-42");
    assert!(
        !run.stderr().contains("correct-horse-42"),
        "{}",
        run.stderr()
    );
    assert!(!lord.project.path().join("stand-in.lordbackup").exists());
}

fn an_older_dump_program_is_refused(lord: &Lord) {
    let (_, path) = stand_in(lord, "5.5.0");
    // Only the stand-in is on this PATH: the real program is not found.
    let only = path.split(':').next().unwrap_or_default().to_owned();
    lord.run_cmd(
        lord.command(&["db", "backup", "shop", "old.lordbackup"])
            .env("PATH", only),
    )
    .assert_code(1)
    .assert_stderr_contains("is older than the server");
}

/// A view, trigger or index the target holds beside the backup's tables
/// is lost by a whole-file restore just as a table is: refused, named.
#[test]
fn restore_replace_on_sqlite_names_views_triggers_and_indexes_the_backup_lacks() {
    let lord = Lord::new();
    for name in ["app", "copy"] {
        lord.run(&["db", "add", name, &format!("sqlite:{name}.db")])
            .assert_ok();
    }
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE item (id INTEGER, name TEXT)",
    ])
    .assert_ok();
    lord.run(&["db", "backup", "app", "app.lordbackup"])
        .assert_ok();
    for sql in [
        "CREATE TABLE item (id INTEGER, name TEXT)",
        "CREATE VIEW named AS SELECT name FROM item",
        "CREATE TRIGGER stamp AFTER INSERT ON item BEGIN SELECT 1; END",
        "CREATE INDEX by_name ON item (name)",
    ] {
        lord.run(&["db", "query", "copy", sql]).assert_ok();
    }
    lord.run(&["db", "restore", "copy", "app.lordbackup", "--replace"])
        .assert_code(1)
        .assert_stderr_contains(
            "holds 3 schema object(s) the backup does not (index `by_name`, trigger `stamp`, \
             view `named`)",
        );
    // Nothing was replaced: the view still answers.
    assert_eq!(
        rows(&lord, "copy", "SELECT COUNT(*) AS n FROM named"),
        serde_json::json!([{ "n": 0 }])
    );
    // A target holding only what the backup holds is replaced as before.
    for sql in [
        "DROP VIEW named",
        "DROP TRIGGER stamp",
        "DROP INDEX by_name",
    ] {
        lord.run(&["db", "query", "copy", sql]).assert_ok();
    }
    lord.run(&["db", "restore", "copy", "app.lordbackup", "--replace"])
        .assert_ok();
}
