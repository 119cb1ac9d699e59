//! Values read as text go into typed PostgreSQL columns exactly, as `lord
//! db copy` writes them (its multi-row `INSERT` with bare placeholders):
//! `numeric`, dates, `timestamptz`, `time`, `interval`, `uuid`, an enum, a
//! domain and an array, from PostgreSQL itself and from MariaDB.

use lord_db_api::{DbError, Engine, Profile, SqlSession, Value};
use serde_json::json;

use crate::{mariadb, next_name, pg, profile};

/// Every row of `sql`, read in batches as a copy reads them.
fn read(profile: &Profile, sql: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut s = lord_db::pools().session(profile, None).expect("a session");
    let (mut columns, mut rows) = (Vec::new(), Vec::new());
    s.stream(
        sql,
        &[],
        2,
        &mut |names: &[String], batch: Vec<Vec<Value>>| {
            columns = names.to_vec();
            rows.extend(batch);
            Ok(())
        },
    )
    .expect("the rows stream");
    (columns, rows)
}

/// `INSERT INTO table (…) VALUES ($1, …), (…)`, every value bound.
fn write(
    session: &mut dyn SqlSession,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> Result<(), DbError> {
    let mut n = 0;
    let tuples: Vec<String> = rows
        .iter()
        .map(|row| {
            let marks: Vec<String> = row
                .iter()
                .map(|_| {
                    n += 1;
                    Engine::Postgres.placeholder(n)
                })
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    );
    let values: Vec<Value> = rows.iter().flatten().cloned().collect();
    session.run(&sql, &values).map(|_| ())
}

const TYPES: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); \
     CREATE DOMAIN amount AS numeric(12, 2) CHECK (VALUE >= 0); \
     CREATE TABLE orders (id uuid, total numeric(20, 6), due date, created timestamptz, \
     at time, took interval, mood mood, paid amount, tags int[], said text)";

/// Every column of `orders` as PostgreSQL itself writes it as text (an
/// instant in UTC).
const AS_TEXT: &str = "SELECT id::text, total::text, due::text, \
     (created AT TIME ZONE 'UTC')::text, at::text, \
     took::text, mood::text, paid::text, tags::text, said FROM orders ORDER BY said";

#[test]
fn postgres_to_postgres_keeps_every_value_of_every_type() {
    let Some(server) = pg::PgServer::start() else {
        return;
    };
    // Each end on a zone of its own: an instant is kept, not its clock.
    let database = |zone: &str, setup: &str| {
        let name = next_name();
        let mut admin =
            ::postgres::Client::connect(&server.url(), ::postgres::NoTls).expect("connect");
        for sql in [
            format!("CREATE DATABASE {name}"),
            format!("ALTER DATABASE {name} SET timezone TO '{zone}'"),
        ] {
            admin.batch_execute(&sql).expect("a database");
        }
        let url = server.url().replace("/registry", &format!("/{name}"));
        let profile = profile(&name, &url, &[("tls-mode", json!("disable"))]);
        let mut s = lord_db::pools().session(&profile, None).expect("a session");
        s.run_script(setup).expect("the schema");
        profile
    };
    let from = database(
        "Asia/Kolkata",
        &format!(
            "{TYPES}; INSERT INTO orders VALUES \
         ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12345678901234.123456, '2024-02-29', \
          '2024-02-29 13:14:15.123456+05:30', '23:59:59.999999', '1 year 2 mons -3 days 04:05:06.5', \
          'happy', 1234567890.12, '{{1,2,3}}', 'a'), \
         ('00000000-0000-0000-0000-000000000000', -0.000001, '0044-03-15 BC', \
          'infinity', '00:00:00', '-00:00:01', 'sad', 0, '{{}}', 'b'), \
         (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'c')"
        ),
    );
    let to = database("America/St_Johns", TYPES);
    let (columns, rows) = read(
        &from,
        "SELECT id, total, due, created, at, took, mood, paid, tags::text AS tags, said \
         FROM orders ORDER BY said",
    );
    let mut target = lord_db::pools().session(&to, None).expect("a session");
    write(&mut *target, "orders", &columns, &rows).expect("the rows go in");
    let expected = read(&from, AS_TEXT).1;
    assert_eq!(read(&to, AS_TEXT).1, expected);
    assert_eq!(
        expected[0][1],
        Value::Text("12345678901234.123456".into()),
        "every digit"
    );
    // A value the type refuses is the server's error, naming the type.
    let bad = vec![vec![Value::Text("not a uuid".into())]];
    let refused = write(&mut *target, "orders", &["id".into()], &bad)
        .expect_err("a bad uuid")
        .to_string();
    assert!(refused.contains("uuid"), "{refused}");
}

#[test]
fn mariadb_to_postgres_keeps_decimals_and_dates() {
    let Some(pg) = pg::PgServer::start() else {
        return;
    };
    let Some(maria) = mariadb::MariaDb::start() else {
        return;
    };
    let name = next_name();
    let from = profile(
        &name,
        &maria.database(&name),
        &[("tls-mode", json!("disable"))],
    );
    let mut source = lord_db::pools().session(&from, None).expect("a session");
    source
        .run_script(
            "CREATE TABLE t (n INT, total DECIMAL(20,6), due DATE, created DATETIME(6), \
             at TIME(3)); INSERT INTO t VALUES \
             (1, 12345678901234.123456, '2024-02-29', '1999-12-31 23:59:58.25', '-838:59:59'), \
             (2, -0.000001, '1000-01-01', '9999-12-31 23:59:59.999999', '12:00:00.5'), \
             (3, NULL, NULL, NULL, NULL)",
        )
        .expect("the source");
    let to = profile("pgt", &pg.url(), &[("tls-mode", json!("disable"))]);
    let mut target = lord_db::pools().session(&to, None).expect("a session");
    target
        .run_script(
            "CREATE TABLE t (n int, total numeric(20, 6), due date, created timestamp, \
             at interval)",
        )
        .expect("the target");
    let (columns, rows) = read(&from, "SELECT * FROM t ORDER BY n");
    write(&mut *target, "t", &columns, &rows).expect("the rows go in");
    let copied = target
        .run(
            "SELECT n, total::text, due::text, created::text, at::text FROM t ORDER BY n",
            &[],
        )
        .expect("the copy");
    let text = |t: &str| Value::Text(t.into());
    assert_eq!(
        copied.rows,
        vec![
            vec![
                Value::Int(1),
                text("12345678901234.123456"),
                text("2024-02-29"),
                text("1999-12-31 23:59:58.25"),
                text("-838:59:59"),
            ],
            vec![
                Value::Int(2),
                text("-0.000001"),
                text("1000-01-01"),
                text("9999-12-31 23:59:59.999999"),
                text("12:00:00.5"),
            ],
            vec![
                Value::Int(3),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null
            ],
        ]
    );
}
