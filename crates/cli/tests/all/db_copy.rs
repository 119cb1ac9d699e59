//! `lord db copy` end to end: SQLite to SQLite with `--create` and every
//! value shape (a hostile string included, bound and never spliced); a
//! copy that fails part way keeps the batches committed before the
//! failure and says how many; the progress count on a terminal (tmux) and
//! none when piped; SQLite to a throwaway PostgreSQL server to a
//! throwaway MariaDB server and back; into an existing PostgreSQL
//! table of `numeric`, date, time, `uuid` and enum columns, exactly; and
//! `--create` from PostgreSQL's typed columns into PostgreSQL, MariaDB
//! and SQLite, each column declared as on the source.

use serde_json::{Value, json};

use crate::mariadb::MariaDb;
use crate::pg::PgServer;
use crate::support::{Lord, Run};
use crate::tmux::Tmux;

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

fn query(lord: &Lord, profile: &str, sql: &str) -> Value {
    let run = lord.run(&["db", "query", profile, sql, "--json"]);
    run.assert_ok();
    json_of(&run)
}

const HOSTILE: &str = "it's \"x\"); DROP TABLE src; --";

/// A source table of every value shape, `rows` rows long.
fn source(lord: &Lord, rows: u32) {
    lord.run(&["db", "add", "src", "sqlite:src.db"]).assert_ok();
    query(
        lord,
        "src",
        "CREATE TABLE src (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)",
    );
    let insert = format!(
        "INSERT INTO src (id, name, price, data, note) WITH RECURSIVE n(i) AS \
         (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         SELECT i, 'item ' || i, i * 0.5, x'00ff10', CASE WHEN i % 2 = 0 THEN NULL ELSE 'odd' END FROM n"
    );
    query(lord, "src", &insert);
    lord.run(&[
        "db",
        "query",
        "src",
        "UPDATE src SET name = ? WHERE id = 1",
        "-p",
        HOSTILE,
    ])
    .assert_ok();
}

fn copy(lord: &Lord, args: &[&str]) -> Run {
    let mut all = vec!["db", "copy"];
    all.extend_from_slice(args);
    lord.run(&all)
}

/// Two profiles spelling one SQLite file differently are one file: the
/// rows are read whole before they are written, so the copy does not
/// wait on its own lock.
#[test]
fn a_copy_within_one_file_named_two_ways_reads_first() {
    let lord = Lord::new();
    source(&lord, 2500);
    lord.run(&["db", "add", "same", "sqlite:./src.db"])
        .assert_ok();
    let run = copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT * FROM src",
            "--to",
            "same",
            "--table",
            "again",
            "--create",
        ],
    );
    run.assert_ok();
    assert_eq!(
        query(&lord, "src", "SELECT COUNT(*) AS n FROM again"),
        json!([{"n": 2500}])
    );
}

/// With no rows there are no column names to make a table from: the copy
/// fails and says what to do rather than claim success.
#[test]
fn copy_create_from_no_rows_fails_saying_what_to_do() {
    let lord = Lord::new();
    source(&lord, 3);
    lord.run(&["db", "add", "dst", "sqlite:dst.db"]).assert_ok();
    let run = copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT * FROM src WHERE id < 0",
            "--to",
            "dst",
            "--table",
            "none",
            "--create",
        ],
    );
    run.assert_code(1)
        .assert_stderr_contains("create the table first");
}

#[test]
fn copy_from_sqlite_to_sqlite_creates_the_table_and_keeps_every_value() {
    let lord = Lord::new();
    source(&lord, 2500);
    lord.run(&["db", "add", "dst", "sqlite:dst.db"]).assert_ok();
    let run = copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT * FROM src WHERE id <= ?",
            "-p",
            "2400",
            "--to",
            "dst",
            "--table",
            "copied",
            "--create",
            "--batch",
            "1000",
            "--json",
        ],
    );
    run.assert_ok();
    let summary = json_of(&run);
    assert_eq!(
        (
            &summary["copied"],
            &summary["batches"],
            &summary["created"],
            &summary["table"]
        ),
        (&json!(2400), &json!(3), &json!(true), &json!("copied")),
        "{summary}"
    );
    assert!(summary.get("error").is_none(), "{summary}");
    assert_eq!(run.stderr(), "", "nothing on stderr when piped");
    let first = query(
        &lord,
        "dst",
        "SELECT * FROM copied WHERE id IN (1, 2) ORDER BY id",
    );
    assert_eq!(
        first,
        json!([
            {"id": 1, "name": HOSTILE, "price": 0.5, "data": "\\x00ff10", "note": "odd"},
            {"id": 2, "name": "item 2", "price": 1.0, "data": "\\x00ff10", "note": null},
        ])
    );
    let types = query(
        &lord,
        "dst",
        "SELECT COUNT(*) AS n, SUM(price) AS total, typeof(data) AS data FROM copied",
    );
    assert_eq!(
        types,
        json!([{"n": 2400, "total": 1440600.0, "data": "blob"}])
    );
    // Into the table that now exists, without --create; a plain summary.
    let run = copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT * FROM src WHERE id > 2400",
            "--to",
            "dst",
            "--table",
            "copied",
        ],
    );
    run.assert_ok();
    assert!(
        run.stderr()
            .starts_with("copied 100 row(s) from `src` into `copied` on `dst` in "),
        "{}",
        run.stderr()
    );
    assert_eq!(
        query(&lord, "dst", "SELECT COUNT(*) AS n FROM copied"),
        json!([{"n": 2500}])
    );
    // Within one SQLite file (a cursor's lock there would block the
    // writer's commits).
    let run = copy(
        &lord,
        &[
            "--from",
            "dst",
            "--query",
            "SELECT id, name FROM copied",
            "--to",
            "dst",
            "--table",
            "again",
            "--create",
            "--json",
        ],
    );
    run.assert_ok();
    assert_eq!(json_of(&run)["copied"], 2500);
    assert_eq!(
        query(&lord, "dst", "SELECT COUNT(*) AS n FROM again"),
        json!([{"n": 2500}])
    );
}

#[test]
fn a_copy_failing_part_way_keeps_the_committed_batches_and_says_how_many() {
    let lord = Lord::new();
    source(&lord, 2500);
    lord.run(&["db", "add", "dst", "sqlite:dst.db"]).assert_ok();
    // Row 2345 breaks the target's constraint: the first two batches of
    // 1000 are committed, the third is rolled back whole.
    query(
        &lord,
        "dst",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT CHECK (name <> 'item 2345'))",
    );
    let run = copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT id, name FROM src ORDER BY id",
            "--to",
            "dst",
            "--table",
            "t",
            "--json",
        ],
    );
    run.assert_code(1)
        .assert_stderr_contains("the copy stopped after 2000 row(s) committed in `t` on `dst`")
        .assert_stderr_contains("CHECK constraint failed");
    let summary = json_of(&run);
    assert_eq!(
        (&summary["copied"], &summary["batches"]),
        (&json!(2000), &json!(2))
    );
    assert!(
        summary["error"]
            .as_str()
            .is_some_and(|e| e.contains("CHECK constraint failed")),
        "{summary}"
    );
    assert_eq!(
        query(&lord, "dst", "SELECT COUNT(*) AS n, MAX(id) AS top FROM t"),
        json!([{"n": 2000, "top": 2000}])
    );
    // The rest goes over with a query that skips what was copied (and,
    // here, the row the target refuses).
    copy(
        &lord,
        &[
            "--from",
            "src",
            "--query",
            "SELECT id, name FROM src WHERE id > ? AND id <> 2345",
            "-p",
            "2000",
            "--to",
            "dst",
            "--table",
            "t",
        ],
    )
    .assert_ok();
    assert_eq!(
        query(&lord, "dst", "SELECT COUNT(*) AS n FROM t"),
        json!([{"n": 2499}])
    );
}

#[test]
fn copy_shows_a_progress_count_on_a_terminal() {
    let lord = Lord::new();
    source(&lord, 60_000);
    lord.run(&["db", "add", "dst", "sqlite:dst.db"]).assert_ok();
    let tmux = Tmux::start(&format!(
        "cd {} && env LORD_HOME={} LORD_NO_UPDATE_CHECK=1 {} db copy --from src \
         --query 'SELECT * FROM src' --to dst --table t --create --batch 200; \
         echo \"copy ended: $?\"; sleep 30",
        lord.project.path().display(),
        lord.home.path().display(),
        env!("CARGO_BIN_EXE_lord")
    ));
    let running = tmux.wait_for("the count", |s| {
        s.contains("rows copied (") || s.contains("copy ended")
    });
    assert!(
        running.contains("rows copied (") && running.contains("/s"),
        "no progress shown while copying: {running}"
    );
    let done = tmux.wait_for("the end", |s| s.contains("copy ended: 0"));
    assert!(
        done.contains("copied 60000 row(s) from `src` into `t` on `dst`"),
        "{done}"
    );
    assert!(
        !done.contains("rows copied ("),
        "the count is cleared: {done}"
    );
}

#[test]
fn copy_goes_from_sqlite_to_postgres_to_mariadb_and_back() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let Some(maria) = MariaDb::start() else {
        return;
    };
    let lord = Lord::new();
    source(&lord, 1500);
    lord.run(&["db", "add", "pg", &pg.url(), "--tls-mode", "disable"])
        .assert_ok();
    lord.run(&[
        "db",
        "add",
        "maria",
        &maria.database("shop"),
        "--tls-mode",
        "disable",
    ])
    .assert_ok();
    lord.run(&["db", "add", "back", "sqlite:back.db"])
        .assert_ok();
    let all = "SELECT id, name, price, data, note FROM src ORDER BY id";
    let hops = [
        ("src", all.to_owned(), "pg", "items"),
        (
            "pg",
            "SELECT id, name, price, data, note, id % 2 = 0 AS even FROM items ORDER BY id".into(),
            "maria",
            "items",
        ),
        (
            "maria",
            "SELECT * FROM items ORDER BY id".into(),
            "back",
            "items",
        ),
    ];
    for (from, sql, to, table) in &hops {
        let run = copy(
            &lord,
            &[
                "--from", from, "--query", sql, "--to", to, "--table", table, "--create",
                "--batch", "400", "--json",
            ],
        );
        run.assert_ok();
        let summary = json_of(&run);
        assert_eq!(
            (&summary["copied"], &summary["batches"]),
            (&json!(1500), &json!(4)),
            "{from} -> {to}: {summary}"
        );
    }
    // PostgreSQL typed the columns from the values.
    let types = query(
        &lord,
        "pg",
        "SELECT column_name AS c, data_type AS t FROM information_schema.columns \
         WHERE table_name = 'items' ORDER BY ordinal_position",
    );
    assert_eq!(
        types,
        json!([
            {"c": "id", "t": "bigint"},
            {"c": "name", "t": "text"},
            {"c": "price", "t": "double precision"},
            {"c": "data", "t": "bytea"},
            {"c": "note", "t": "text"},
        ])
    );
    // MariaDB holds the boolean as its tinyint.
    let run = lord.run(&[
        "db",
        "query",
        "maria",
        "SELECT id, even FROM items WHERE id <= ? ORDER BY id",
        "-p",
        "2",
        "--json",
    ]);
    run.assert_ok();
    assert_eq!(
        json_of(&run),
        json!([{"id": 1, "even": 0}, {"id": 2, "even": 1}])
    );
    // Back in SQLite, every value is the one the source holds.
    let back = query(
        &lord,
        "back",
        "SELECT id, name, price, data, note FROM items ORDER BY id",
    );
    assert_eq!(back, query(&lord, "src", all));
    assert_eq!(back[0]["name"], HOSTILE);
}

/// Profiles `pg` (the server's own database) and `shop` (a database made
/// on it) on one throwaway PostgreSQL server.
fn pg_and_shop(lord: &Lord, pg: &PgServer) {
    lord.run(&["db", "add", "pg", &pg.url(), "--tls-mode", "disable"])
        .assert_ok();
    query(lord, "pg", "CREATE DATABASE shop");
    lord.run(&[
        "db",
        "add",
        "shop",
        &pg.url().replace("/registry", "/shop"),
        "--tls-mode",
        "disable",
    ])
    .assert_ok();
}

/// Into an existing PostgreSQL table whose columns are `numeric`, dates,
/// times, `uuid` and an enum: the values, read as text from PostgreSQL
/// and from MariaDB, go in exactly, with no cast in the copy's `INSERT`.
#[test]
fn copy_into_typed_postgres_columns_keeps_every_value() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let lord = Lord::new();
    pg_and_shop(&lord, &pg);
    let table = "CREATE TABLE orders (id uuid, total numeric(20, 6), due date, \
                 created timestamptz, at time, mood mood, said text)";
    for profile in ["pg", "shop"] {
        query(&lord, profile, "CREATE TYPE mood AS ENUM ('sad', 'happy')");
        query(&lord, profile, table);
    }
    query(
        &lord,
        "pg",
        "INSERT INTO orders VALUES \
         ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12345678901234.123456, '2024-02-29', \
          '2024-02-29 13:14:15.123456+05:30', '23:59:59.999999', 'happy', 'a'), \
         (NULL, NULL, NULL, NULL, NULL, NULL, 'b')",
    );
    let run = copy(
        &lord,
        &[
            "--from",
            "pg",
            "--query",
            "SELECT * FROM orders",
            "--to",
            "shop",
            "--table",
            "orders",
        ],
    );
    run.assert_ok();
    let exact = "SELECT id::text AS id, total::text AS total, due::text AS due, \
                 (created AT TIME ZONE 'UTC')::text AS created, at::text AS at, \
                 mood::text AS mood, said FROM orders ORDER BY said";
    let copied = query(&lord, "shop", exact);
    assert_eq!(copied, query(&lord, "pg", exact));
    assert_eq!(
        copied[0],
        json!({"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "total": "12345678901234.123456",
               "due": "2024-02-29", "created": "2024-02-29 07:44:15.123456",
               "at": "23:59:59.999999", "mood": "happy", "said": "a"})
    );
    let Some(maria) = MariaDb::start() else {
        return;
    };
    lord.run(&[
        "db",
        "add",
        "maria",
        &maria.database("shop"),
        "--tls-mode",
        "disable",
    ])
    .assert_ok();
    query(
        &lord,
        "maria",
        "CREATE TABLE sales (total DECIMAL(20,6), due DATE, created DATETIME(6))",
    );
    query(
        &lord,
        "maria",
        "INSERT INTO sales VALUES (-0.000001, '1000-01-01', '9999-12-31 23:59:59.999999'), \
         (NULL, NULL, NULL)",
    );
    query(
        &lord,
        "shop",
        "CREATE TABLE sales (total numeric(20, 6), due date, created timestamp)",
    );
    copy(
        &lord,
        &[
            "--from",
            "maria",
            "--query",
            "SELECT * FROM sales",
            "--to",
            "shop",
            "--table",
            "sales",
        ],
    )
    .assert_ok();
    assert_eq!(
        query(
            &lord,
            "shop",
            "SELECT total::text AS total, due::text AS due, created::text AS created \
             FROM sales ORDER BY total NULLS LAST"
        ),
        json!([
            {"total": "-0.000001", "due": "1000-01-01", "created": "9999-12-31 23:59:59.999999"},
            {"total": null, "due": null, "created": null},
        ])
    );
}

/// `--create` gives the table it makes the types the source's columns are
/// declared with, in the target engine's words, where the values alone
/// (text, as PostgreSQL's `numeric`, dates, times and `uuid` arrive) would
/// make text columns: from PostgreSQL into a new PostgreSQL table, into
/// MariaDB, and into SQLite, where a decimal stays text, since SQLite has
/// no exact decimal. Every value arrives exactly.
#[test]
fn copy_create_gives_each_column_the_type_it_is_declared_with_on_the_source() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let Some(maria) = MariaDb::start() else {
        return;
    };
    let lord = Lord::new();
    pg_and_shop(&lord, &pg);
    lord.run(&[
        "db",
        "add",
        "maria",
        &maria.database("shop"),
        "--tls-mode",
        "disable",
    ])
    .assert_ok();
    lord.run(&["db", "add", "lite", "sqlite:lite.db"])
        .assert_ok();
    query(
        &lord,
        "pg",
        "CREATE TABLE orders (id uuid, total numeric(20, 6), due date, stamped timestamp, \
         at time, doc jsonb, n integer, said text)",
    );
    // The first row's integer is NULL: its declared type still holds.
    query(
        &lord,
        "pg",
        "INSERT INTO orders VALUES \
         ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12345678901234.123456, '2024-02-29', \
          '2024-02-29 13:14:15.123456', '23:59:59.999999', '{\"k\": [1, 2]}', NULL, 'a'), \
         (NULL, -0.000001, NULL, NULL, NULL, NULL, 7, 'b')",
    );
    for to in ["shop", "maria", "lite"] {
        copy(
            &lord,
            &[
                "--from",
                "pg",
                "--query",
                "SELECT * FROM orders ORDER BY said",
                "--to",
                to,
                "--table",
                "orders",
                "--create",
            ],
        )
        .assert_ok();
    }

    let types = |profile: &str, sql: &str| -> Vec<String> {
        query(&lord, profile, sql)
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| row["t"].as_str().expect("type").to_owned())
            .collect()
    };
    assert_eq!(
        types(
            "shop",
            "SELECT data_type AS t FROM information_schema.columns \
             WHERE table_name = 'orders' ORDER BY ordinal_position"
        ),
        [
            "uuid",
            "numeric",
            "date",
            "timestamp without time zone",
            "time without time zone",
            "json",
            "bigint",
            "text"
        ]
    );
    let exact = "SELECT id::text AS id, total::text AS total, due::text AS due, \
                 stamped::text AS stamped, at::text AS at, doc::text AS doc, n, said \
                 FROM orders ORDER BY said";
    assert_eq!(query(&lord, "shop", exact), query(&lord, "pg", exact));

    assert_eq!(
        types(
            "maria",
            "SELECT column_type AS t FROM information_schema.columns \
             WHERE table_schema = 'shop' AND table_name = 'orders' ORDER BY ordinal_position"
        ),
        [
            "char(36)",
            "decimal(65,30)",
            "date",
            "datetime(6)",
            "time(6)",
            "longtext",
            "bigint(20)",
            "longtext"
        ]
    );
    assert_eq!(
        query(
            &lord,
            "maria",
            "SELECT id, total = 12345678901234.123456 AS same, due, stamped, at, \
             JSON_EXTRACT(doc, '$.k[1]') AS k, n, said FROM orders ORDER BY said"
        ),
        json!([
            {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "same": 1, "due": "2024-02-29",
             "stamped": "2024-02-29 13:14:15.123456", "at": "23:59:59.999999", "k": "2",
             "n": null, "said": "a"},
            {"id": null, "same": 0, "due": null, "stamped": null, "at": null, "k": null,
             "n": 7, "said": "b"},
        ])
    );

    assert_eq!(
        types(
            "lite",
            "SELECT type AS t FROM pragma_table_info('orders') ORDER BY cid"
        ),
        [
            "TEXT",
            "TEXT",
            "DATE",
            "TIMESTAMP",
            "TIME",
            "TEXT",
            "INTEGER",
            "TEXT"
        ]
    );
    assert_eq!(
        query(
            &lord,
            "lite",
            "SELECT total, typeof(total) AS kind, due, n FROM orders ORDER BY said"
        ),
        json!([
            {"total": "12345678901234.123456", "kind": "text", "due": "2024-02-29", "n": null},
            {"total": "-0.000001", "kind": "text", "due": null, "n": 7},
        ])
    );
}
