//! The suite every SQL engine passes: the same cases, with only the
//! placeholders and a few type names told apart per engine.

use lord_db::migrate::{self, State};
use lord_db_api::{Bounds, DbError, Engine, Password, Profile, SqlSession, Value, in_transaction};

use crate::Target;

pub(crate) fn run(target: &Target) {
    parameters_are_bound_and_values_read_back(&(target.make)());
    an_injection_through_a_parameter_is_inert(&(target.make)());
    transactions_commit_and_roll_back(&(target.make)());
    the_catalogue_describes_tables_keys_and_indexes(&(target.make)());
    migrations_apply_revert_and_refuse_a_changed_file(&(target.make)());
    a_failed_migration_leaves_the_history_consistent(&(target.make)());
    a_migration_that_commits_on_its_own_is_recorded_as_started(&(target.make)());
    a_part_of_comments_alone_goes_up_and_down(&(target.make)());
    migrators_of_two_databases_on_one_server_do_not_wait_for_each_other(target);
    the_pool_keeps_sessions_for_the_process(&(target.make)());
    the_statement_timeout_ends_a_long_statement(&(target.make)());
    engine_types_read_as_the_engine_writes_them(&(target.make)());
    a_removed_or_renumbered_applied_migration_is_refused(&(target.make)());
    an_error_in_a_later_statement_is_not_lost(&(target.make)());
    crate::backup::run(target);
    a_query_streams_its_rows_in_batches(&(target.make)());
    a_bounded_statement_returns_nothing_over_its_bounds(&(target.make)());
    a_plugins_statement_stops_at_its_bounds_without_reading_the_rest(&(target.make)());
    the_next_user_of_a_pooled_session_sees_nothing_a_plugin_set(&(target.make)());
    a_plugins_temporary_objects_and_failed_commit_end_with_its_session(&(target.make)());
}

fn session(profile: &Profile) -> lord_db::Session {
    lord_db::pools()
        .session(profile, None)
        .unwrap_or_else(|e| panic!("a session on {}: {e}", profile.engine))
}

fn p(engine: Engine, n: usize) -> String {
    engine.placeholder(n)
}

fn blob(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite | Engine::Mysql => "BLOB",
        Engine::Postgres => "BYTEA",
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    }
}

/// The SQL suite runs on SQL engines only; the others have suites of
/// their own.
fn not_sql(engine: Engine) -> ! {
    panic!("the SQL suite was given a {engine} profile")
}

fn count(s: &mut dyn SqlSession, table: &str) -> i64 {
    let rows = s
        .run(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .expect("count");
    rows.rows[0][0].as_i64().expect("a count")
}

fn parameters_are_bound_and_values_read_back(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run_script(&format!(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(100), price DOUBLE PRECISION, \
         data {})",
        blob(e)
    ))
    .expect("create");
    let insert = format!(
        "INSERT INTO item (id, name, price, data) VALUES ({}, {}, {}, {})",
        p(e, 1),
        p(e, 2),
        p(e, 3),
        p(e, 4)
    );
    let changed = s
        .run(
            &insert,
            &[
                Value::Int(1),
                Value::Text("grüße, \"quoted\"".into()),
                Value::Float(2.5),
                Value::Bytes(vec![0, 159, 255]),
            ],
        )
        .expect("insert");
    assert_eq!(changed.affected, Some(1), "{e}");
    s.run(
        &insert,
        &[Value::Int(2), Value::Null, Value::Null, Value::Null],
    )
    .expect("insert nulls");
    let rows = s
        .run(
            &format!(
                "SELECT id, name, price, data FROM item WHERE id >= {} ORDER BY id",
                p(e, 1)
            ),
            &[Value::Int(1)],
        )
        .expect("select");
    assert_eq!(rows.columns, ["id", "name", "price", "data"], "{e}");
    assert_eq!(
        rows.rows,
        [
            vec![
                Value::Int(1),
                Value::Text("grüße, \"quoted\"".into()),
                Value::Float(2.5),
                Value::Bytes(vec![0, 159, 255]),
            ],
            vec![Value::Int(2), Value::Null, Value::Null, Value::Null],
        ],
        "{e}"
    );
    // Text for a number column is converted the way the engine would.
    let rows = s
        .run(
            &format!("SELECT name FROM item WHERE id = {}", p(e, 1)),
            &[Value::Text("1".into())],
        )
        .expect("text bound to an integer");
    assert_eq!(rows.rows.len(), 1, "{e}");
    // A NaN is kept where the engine keeps one, refused where it would
    // become something else (SQLite stores NULL); never changed silently.
    let nan = s.run(
        &insert,
        &[
            Value::Int(3),
            Value::Null,
            Value::Float(f64::NAN),
            Value::Null,
        ],
    );
    if e == Engine::Sqlite {
        let refused = nan.expect_err("a NaN on SQLite").to_string();
        assert!(refused.contains("parameter 3 is NaN"), "{refused}");
    } else if nan.is_ok() {
        let rows = s
            .run(
                &format!("SELECT price FROM item WHERE id = {}", p(e, 1)),
                &[Value::Int(3)],
            )
            .expect("select");
        assert!(
            matches!(rows.rows[0][0], Value::Float(f) if f.is_nan()),
            "{e}: {:?}",
            rows.rows
        );
    }
}

fn an_injection_through_a_parameter_is_inert(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run_script("CREATE TABLE victim (name VARCHAR(200))")
        .expect("create");
    let hostile = "x'); DROP TABLE victim; --";
    s.run(
        &format!("INSERT INTO victim (name) VALUES ({})", p(e, 1)),
        &[Value::Text(hostile.into())],
    )
    .expect("insert");
    let rows = s
        .run(
            &format!("SELECT name FROM victim WHERE name = {}", p(e, 1)),
            &[Value::Text("' OR '1'='1".into())],
        )
        .expect("select");
    assert!(
        rows.rows.is_empty(),
        "{e}: the OR in a parameter matched rows"
    );
    let rows = s
        .run("SELECT name FROM victim", &[])
        .expect("table still there");
    assert_eq!(rows.rows, [vec![Value::Text(hostile.into())]], "{e}");
}

fn transactions_commit_and_roll_back(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run_script("CREATE TABLE ledger (n INTEGER)")
        .expect("create");
    let insert = format!("INSERT INTO ledger (n) VALUES ({})", p(e, 1));
    s.begin().expect("begin");
    s.run(&insert, &[Value::Int(1)]).expect("insert");
    s.rollback().expect("rollback");
    assert_eq!(count(&mut *s, "ledger"), 0, "{e}: rolled back");
    in_transaction(&mut *s, |t| t.run(&insert, &[Value::Int(2)]).map(|_| ())).expect("commit");
    assert_eq!(count(&mut *s, "ledger"), 1, "{e}: committed");
    let failed = in_transaction(&mut *s, |t| {
        t.run(&insert, &[Value::Int(3)])?;
        t.run("SELECT * FROM no_such_table", &[]).map(|_| ())
    });
    assert!(
        matches!(failed, Err(DbError::Engine { .. })),
        "{e}: {failed:?}"
    );
    assert_eq!(
        count(&mut *s, "ledger"),
        1,
        "{e}: the failed transaction left nothing"
    );
}

fn the_catalogue_describes_tables_keys_and_indexes(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run_script(
        "CREATE TABLE author (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(80) NOT NULL, \
         bio VARCHAR(200));\
         CREATE UNIQUE INDEX author_email ON author (email);\
         CREATE TABLE book (id INTEGER NOT NULL PRIMARY KEY, author_id INTEGER NOT NULL, \
         title VARCHAR(120), FOREIGN KEY (author_id) REFERENCES author (id));",
    )
    .expect("create");
    assert_eq!(s.tables().expect("tables"), ["author", "book"], "{e}");
    let author = s.describe("author").expect("describe").expect("author");
    let columns: Vec<(&str, bool)> = author
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.nullable))
        .collect();
    assert_eq!(
        columns,
        [("id", false), ("email", false), ("bio", true)],
        "{e}"
    );
    assert!(
        author.columns[1].data_type.to_lowercase().contains("char"),
        "{e}: {:?}",
        author.columns[1]
    );
    assert_eq!(author.primary_key, ["id"], "{e}");
    let index = author
        .indexes
        .iter()
        .find(|i| i.name == "author_email")
        .unwrap_or_else(|| panic!("{e}: {:?}", author.indexes));
    assert_eq!(
        (index.columns.as_slice(), index.unique),
        (&["email".to_owned()][..], true)
    );
    let book = s.describe("book").expect("describe").expect("book");
    assert_eq!(book.foreign_keys.len(), 1, "{e}: {:?}", book.foreign_keys);
    assert_eq!(book.foreign_keys[0].columns, ["author_id"], "{e}");
    assert_eq!(book.foreign_keys[0].references_table, "author", "{e}");
    assert_eq!(book.foreign_keys[0].references_columns, ["id"], "{e}");
    assert!(s.describe("nothing").expect("describe").is_none(), "{e}");
}

fn write(dir: &std::path::Path, file: &str, up: &str, down: &str) {
    std::fs::write(
        dir.join(file),
        format!("-- lord:up\n{up}\n-- lord:down\n{down}\n"),
    )
    .expect("a migration file");
}

fn states(s: &mut dyn SqlSession, dir: &std::path::Path) -> Vec<(u64, State)> {
    migrate::status(s, dir)
        .expect("status")
        .iter()
        .map(|m| (m.version, m.state))
        .collect()
}

fn migrations_apply_revert_and_refuse_a_changed_file(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path();
    let made = migrate::new_migration(dir, "first-table").expect("new");
    assert!(made.ends_with("0001_first_table.sql"), "{}", made.display());
    write(
        dir,
        "0001_first_table.sql",
        "CREATE TABLE one (a INTEGER);",
        "DROP TABLE one;",
    );
    write(
        dir,
        "0002_second.sql",
        "CREATE TABLE two (b INTEGER);",
        "DROP TABLE two;",
    );
    let name = profile.name.as_str();
    let applied = migrate::up(&mut *s, name, dir, Some(1), |_| {}).expect("up to 1");
    assert_eq!(applied, [1], "{e}");
    assert_eq!(
        states(&mut *s, dir),
        [(1, State::Applied), (2, State::Pending)],
        "{e}"
    );
    assert_eq!(
        migrate::up(&mut *s, name, dir, None, |_| {}).expect("up"),
        [2],
        "{e}"
    );
    assert!(
        s.tables().expect("tables").contains(&"two".to_owned()),
        "{e}"
    );
    assert_eq!(
        migrate::down(&mut *s, name, dir, 1, |_| {}).expect("down"),
        [2],
        "{e}"
    );
    assert!(
        !s.tables().expect("tables").contains(&"two".to_owned()),
        "{e}"
    );
    assert_eq!(
        states(&mut *s, dir),
        [(1, State::Applied), (2, State::Pending)],
        "{e}"
    );
    // An applied file edited afterwards: nothing runs, and the file is named.
    write(
        dir,
        "0001_first_table.sql",
        "CREATE TABLE one (a BIGINT);",
        "DROP TABLE one;",
    );
    assert_eq!(states(&mut *s, dir)[0], (1, State::Changed), "{e}");
    let refused = migrate::up(&mut *s, name, dir, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("`0001_first_table.sql` changed"),
        "{e}: {refused}"
    );
    assert!(
        !s.tables().expect("tables").contains(&"two".to_owned()),
        "{e}: ran anyway"
    );
    let refused = migrate::down(&mut *s, name, dir, 1, |_| {})
        .unwrap_err()
        .to_string();
    assert!(refused.contains("0001_first_table.sql"), "{e}: {refused}");
}

/// MySQL's `GET_LOCK` names are the whole server's, and the migration
/// lock was one name for every database: a migrator of one database
/// waited for another's to finish.
fn migrators_of_two_databases_on_one_server_do_not_wait_for_each_other(target: &Target) {
    use std::time::{Duration, Instant};

    let [slow, quick] = [(target.make)(), (target.make)()].map(|mut p| {
        // The slow migration outlasts the suite's statement timeout.
        p.statement_timeout = None;
        p
    });
    let sleep = match slow.engine {
        // SQLite takes no lock: its writers are one at a time anyway.
        Engine::Sqlite => return,
        Engine::Postgres => "SELECT pg_sleep(3);",
        Engine::Mysql => "SELECT SLEEP(3);",
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    let slow_dir = tempfile::tempdir().expect("a folder");
    write(slow_dir.path(), "0001_slow.sql", sleep, "SELECT 1;");
    let quick_dir = tempfile::tempdir().expect("a folder");
    write(
        quick_dir.path(),
        "0001_quick.sql",
        "CREATE TABLE quick (a INTEGER);",
        "DROP TABLE quick;",
    );
    let slow_path = slow_dir.path().to_owned();
    let slow_run = std::thread::spawn(move || {
        let mut s = lord_db::connect(&slow, None).expect("a session");
        migrate::up(&mut *s, slow.name.as_str(), &slow_path, None, |_| {}).expect("slow up");
        Instant::now()
    });
    // Long enough for the slow migrator to hold its lock.
    std::thread::sleep(Duration::from_secs(1));
    let mut s = lord_db::connect(&quick, None).expect("a session");
    migrate::up(&mut *s, quick.name.as_str(), quick_dir.path(), None, |_| {}).expect("quick up");
    let quick_done = Instant::now();
    let slow_done = slow_run.join().expect("the slow migrator");
    assert!(
        quick_done < slow_done,
        "{}: the migrator of another database waited for the slow one",
        quick.engine
    );
}

fn a_failed_migration_leaves_the_history_consistent(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path();
    write(
        dir,
        "0001_half.sql",
        "CREATE TABLE half (a INTEGER);\nINSERT INTO no_such_table VALUES (1);",
        "DROP TABLE half;",
    );
    let name = profile.name.as_str();
    let failed = migrate::up(&mut *s, name, dir, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(failed.contains("no_such_table"), "{e}: {failed}");
    let tables = s.tables().expect("tables");
    if e.transactional_ddl() {
        // One transaction: neither the table nor a history row.
        assert!(!tables.contains(&"half".to_owned()), "{e}: {tables:?}");
        assert_eq!(states(&mut *s, dir), [(1, State::Pending)], "{e}");
    } else {
        // The engine committed the CREATE; the history says so honestly.
        assert!(tables.contains(&"half".to_owned()), "{e}: {tables:?}");
        assert_eq!(states(&mut *s, dir), [(1, State::Started)], "{e}");
        let refused = migrate::up(&mut *s, name, dir, None, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("`0001_half.sql` was started"),
            "{e}: {refused}"
        );
        assert!(
            refused.contains("DELETE FROM lord_migrations WHERE version = 1"),
            "{refused}"
        );
    }
}

/// A migration file with a `COMMIT` of its own (common in files written
/// for other tools) ends lord's transaction: what ran before it is
/// committed apart from the history. The history then says `started`, the
/// error names the file and why, and nothing runs on until it is settled;
/// never a table in place with the migration still pending.
fn a_migration_that_commits_on_its_own_is_recorded_as_started(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    if !e.transactional_ddl() {
        // MySQL/MariaDB records every migration as started first anyway
        // (`a_failed_migration_leaves_the_history_consistent`).
        return;
    }
    let name = profile.name.as_str();
    for (file, tail) in [
        (
            "0001_fails_after.sql",
            "INSERT INTO no_such_table VALUES (1);",
        ),
        ("0001_works_after.sql", "INSERT INTO own_commit VALUES (1);"),
        (
            "0001_begins_again.sql",
            "BEGIN;\nINSERT INTO no_such_table VALUES (1);",
        ),
    ] {
        let folder = tempfile::tempdir().expect("a folder");
        let dir = folder.path();
        write(
            dir,
            file,
            &format!("CREATE TABLE own_commit (a INTEGER);\nCOMMIT;\n{tail}"),
            "DROP TABLE own_commit;",
        );
        let failed = migrate::up(&mut *s, name, dir, None, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            failed.contains(&format!("`{file}` ends lord's transaction itself")),
            "{e}: {failed}"
        );
        let tables = s.tables().expect("tables");
        assert!(tables.contains(&"own_commit".to_owned()), "{e}: {tables:?}");
        assert_eq!(states(&mut *s, dir), [(1, State::Started)], "{e}: {file}");
        let refused = migrate::up(&mut *s, name, dir, None, |_| {})
            .unwrap_err()
            .to_string();
        assert!(refused.contains("was started"), "{e}: {refused}");
        // Settled by hand, as the error says, for the next case.
        s.run("DROP TABLE own_commit", &[]).expect("drop");
        s.run("DELETE FROM lord_migrations WHERE version = 1", &[])
            .expect("forget");
    }
}

/// A part holding only comments (the template's down part, left as it
/// was) runs as nothing: MySQL answers an empty query with an error,
/// which left the history `started` with nothing run.
fn a_part_of_comments_alone_goes_up_and_down(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path();
    write(dir, "0001_note.sql", "-- nothing yet", "-- how to undo it");
    let name = profile.name.as_str();
    migrate::up(&mut *s, name, dir, None, |_| {}).expect("up");
    assert_eq!(states(&mut *s, dir), [(1, State::Applied)], "{e}");
    migrate::down(&mut *s, name, dir, 1, |_| {}).expect("down");
    assert_eq!(states(&mut *s, dir), [(1, State::Pending)], "{e}");
}

fn the_pool_keeps_sessions_for_the_process(profile: &Profile) {
    let pools = lord_db::Pools::default();
    let name = profile.name.as_str();
    {
        let mut a = pools.session(profile, None).expect("a");
        let _b = pools.session(profile, None).expect("b");
        a.run("SELECT 1", &[]).expect("select");
    }
    assert_eq!(pools.idle(name), 2, "{}", profile.engine);
    let _again = pools.session(profile, None).expect("again");
    assert_eq!(
        pools.idle(name),
        1,
        "{}: reused, not reopened",
        profile.engine
    );
    let discarded = pools.session(profile, None).expect("discarded");
    discarded.discard();
    assert_eq!(pools.idle(name), 0, "{}", profile.engine);
}

fn the_statement_timeout_ends_a_long_statement(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let long = match e {
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) \
             SELECT COUNT(*) FROM c"
        }
        Engine::Postgres => "SELECT pg_sleep(30)",
        Engine::Mysql => {
            "SELECT COUNT(*) FROM information_schema.columns a, \
             information_schema.columns b, information_schema.columns c"
        }
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    let error = s.run(long, &[]).unwrap_err().to_string();
    assert!(
        error.contains(profile.name.as_str()) && error.to_lowercase().contains("time"),
        "{e}: {error}"
    );
}

pub(crate) fn a_refused_connection_names_the_profile_not_the_password(profile: &Profile) {
    let e = profile.engine;
    let secret = Password::new("not-the-password-7311".to_owned());
    let error = lord_db::Pools::default()
        .session(profile, Some(secret))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("{e}: the connection was accepted"));
    assert!(
        error.contains("`locked`") && error.contains(e.as_str()),
        "{error}"
    );
    assert!(!error.contains("not-the-password-7311"), "{error}");
}

/// Dates, times, decimals and the like read as the engine's own text for
/// them, through both the text protocol (no parameters) and the binary one.
fn engine_types_read_as_the_engine_writes_them(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let text = |t: &str| Value::Text(t.to_owned());
    let (sql, expected) = match e {
        Engine::Sqlite => (
            "SELECT 9007199254740993, -0.5, 'x', x'00ff', NULL",
            vec![
                Value::Int(9_007_199_254_740_993),
                Value::Float(-0.5),
                text("x"),
                Value::Bytes(vec![0, 255]),
                Value::Null,
            ],
        ),
        Engine::Postgres => (
            "SELECT DATE '2024-02-29', TIMESTAMP '1999-12-31 23:59:58.25', \
             TIMESTAMPTZ '2024-02-29 13:14:15+00', NUMERIC '-12345.6780', NUMERIC '0.001', \
             UUID 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', JSONB '{\"a\": 1}', true, \
             9007199254740993::int8",
            vec![
                text("2024-02-29"),
                text("1999-12-31 23:59:58.25"),
                text("2024-02-29 13:14:15+00"),
                text("-12345.6780"),
                text("0.001"),
                text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                text("{\"a\": 1}"),
                Value::Bool(true),
                Value::Int(9_007_199_254_740_993),
            ],
        ),
        Engine::Mysql => (
            "SELECT CAST('2024-02-29' AS DATE), CAST('1999-12-31 23:59:58.25' AS DATETIME(2)), \
             CAST('-838:59:59' AS TIME), CAST('-12345.6780' AS DECIMAL(10,4)), \
             CAST(9007199254740993 AS SIGNED), 0.5e0",
            vec![
                text("2024-02-29"),
                text("1999-12-31 23:59:58.25"),
                text("-838:59:59"),
                text("-12345.6780"),
                Value::Int(9_007_199_254_740_993),
                Value::Float(0.5),
            ],
        ),
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    let plain = s.run(sql, &[]).expect("select without parameters");
    assert_eq!(
        plain.rows,
        std::slice::from_ref(&expected),
        "{e}: text protocol"
    );
    let bound = s
        .run(&format!("{sql} WHERE 1 = {}", p(e, 1)), &[Value::Int(1)])
        .or_else(|_| {
            s.run(
                &format!("{sql} FROM (SELECT 1) AS one WHERE 1 = {}", p(e, 1)),
                &[Value::Int(1)],
            )
        })
        .expect("select with a parameter");
    assert_eq!(bound.rows, [expected], "{e}: binary protocol");
    if e == Engine::Postgres {
        let refused = s.run("SELECT ARRAY[1, 2]", &[]).unwrap_err().to_string();
        assert!(refused.contains("cast the column to text"), "{refused}");
    }
}

/// An applied migration whose file is gone, or renumbered, is refused
/// naming it, rather than applied a second time under its new number; so
/// is a new migration numbered below one already applied.
fn a_removed_or_renumbered_applied_migration_is_refused(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path();
    write(
        dir,
        "0001_a.sql",
        "CREATE TABLE ra (a INTEGER);",
        "DROP TABLE ra;",
    );
    write(
        dir,
        "0002_b.sql",
        "CREATE TABLE rb (b INTEGER);",
        "DROP TABLE rb;",
    );
    let name = profile.name.as_str();
    migrate::up(&mut *s, name, dir, None, |_| {}).expect("up");
    std::fs::rename(dir.join("0002_b.sql"), dir.join("0003_b.sql")).expect("renumber");
    assert_eq!(
        states(&mut *s, dir),
        [
            (1, State::Applied),
            (2, State::Missing),
            (3, State::Pending)
        ],
        "{e}"
    );
    let refused = migrate::up(&mut *s, name, dir, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("migration 2 (`b`)") && refused.contains("no longer"),
        "{e}: {refused}"
    );
    std::fs::rename(dir.join("0003_b.sql"), dir.join("0002_b.sql")).expect("put back");
    write(
        dir,
        "0001_late.sql",
        "CREATE TABLE rl (c INTEGER);",
        "DROP TABLE rl;",
    );
    // Two files numbered 1 would be refused as such; a number between is
    // what a late branch brings.
    std::fs::rename(dir.join("0001_late.sql"), dir.join("0000_late.sql")).expect("renumber");
    let refused = migrate::up(&mut *s, name, dir, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("`0000_late.sql` is numbered 0"),
        "{e}: {refused}"
    );
    assert!(
        !s.tables().expect("tables").contains(&"rl".to_owned()),
        "{e}: ran anyway"
    );
}

/// Several statements in one query (MySQL's text protocol runs them all):
/// an error in a later one is reported, never dropped with a success.
fn an_error_in_a_later_statement_is_not_lost(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run("CREATE TABLE ml (a INTEGER)", &[]).expect("table");
    let result = s.run(
        "INSERT INTO ml (a) VALUES (1); INSERT INTO no_such_table (a) VALUES (2)",
        &[],
    );
    assert!(result.is_err(), "{e}: {result:?}");
}

/// `stream` hands the rows over in batches of the size asked, with the
/// parameters bound, and the same values `run` reads; an error from the
/// sink stops the stream and is returned.
fn a_query_streams_its_rows_in_batches(profile: &Profile) {
    let mut s = session(profile);
    let e = s.engine();
    s.run_script(&format!(
        "CREATE TABLE streamed (id INTEGER PRIMARY KEY, name VARCHAR(20), data {})",
        blob(e)
    ))
    .expect("create");
    for id in 1..=26 {
        s.run(
            &format!(
                "INSERT INTO streamed (id, name, data) VALUES ({}, {}, {})",
                p(e, 1),
                p(e, 2),
                p(e, 3)
            ),
            &[
                Value::Int(id),
                Value::Text(format!("row {id}")),
                Value::Bytes(vec![0, 0xff, u8::try_from(id).expect("small")]),
            ],
        )
        .expect("insert");
    }
    let sql = format!(
        "SELECT id, name, data FROM streamed WHERE id > {} ORDER BY id",
        p(e, 1)
    );
    let params = [Value::Int(1)];
    let mut sizes = Vec::new();
    let mut streamed = Vec::new();
    let sent = s
        .stream(&sql, &params, 10, &mut |columns, rows| {
            assert_eq!(columns, ["id", "name", "data"]);
            sizes.push(rows.len());
            streamed.extend(rows);
            Ok(())
        })
        .expect("stream");
    assert_eq!((sent, sizes), (25, vec![10, 10, 5]), "{}", profile.engine);
    let whole = s.run(&sql, &params).expect("run");
    assert_eq!(streamed, whole.rows, "{}", profile.engine);
    assert_eq!(streamed[0][1], Value::Text("row 2".into()));
    let mut batches = 0;
    let stopped = s.stream(&sql, &params, 10, &mut |_, _| {
        batches += 1;
        Err(DbError::Value {
            profile: "test".into(),
            message: "the sink is full".into(),
        })
    });
    assert!(
        matches!(&stopped, Err(DbError::Value { message, .. }) if message == "the sink is full"),
        "{stopped:?}"
    );
    assert_eq!(batches, 1);
}

/// A plugin's statement (`run_within`): a result over its rows or bytes is
/// an error and returns nothing, on every engine; on SQLite it also ends at
/// the caller's deadline, and may touch no file but the profile's, open no
/// transaction and set no pragma; the session stays usable after (a
/// network engine's is replaced, as the host replaces it).
fn a_bounded_statement_returns_nothing_over_its_bounds(profile: &Profile) {
    let mut s = session(profile);
    let engine = s.engine();
    let many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500) \
                SELECT x FROM c";
    let bounds = Bounds {
        max_rows: 100,
        max_bytes: 1 << 20,
        deadline: None,
    };
    let over = s.run_within(many, &[], &bounds);
    assert!(matches!(over, Err(DbError::TooLarge(_))), "{over:?}");
    // A network engine's statement over its bounds is cancelled on the
    // server, and a cancel can land after the statement ended, on the
    // next one: as the host does (`db_link::discard_after`), such a
    // session is not used again. SQLite's, in process, stays usable.
    let fresh = |s: lord_db::Session| {
        if engine.in_process() {
            s
        } else {
            s.discard();
            session(profile)
        }
    };
    s = fresh(s);
    let narrow = Bounds {
        max_rows: 1000,
        max_bytes: 16,
        deadline: None,
    };
    let long = s.run_within(
        &format!("SELECT {}", p(engine, 1)),
        &[Value::Text("x".repeat(64))],
        &narrow,
    );
    assert!(matches!(long, Err(DbError::TooLarge(_))), "{long:?}");
    s = fresh(s);
    let fits = s.run_within(
        many,
        &[],
        &Bounds {
            max_rows: 500,
            ..bounds
        },
    );
    assert_eq!(fits.expect("within bounds").rows.len(), 500);
    if engine != Engine::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().expect("a folder");
    let elsewhere = dir.path().join("elsewhere.db");
    let path = Value::Text(elsewhere.display().to_string());
    for (sql, params) in [
        ("ATTACH DATABASE ? AS other", vec![path.clone()]),
        (
            &*format!("ATTACH DATABASE '{}' AS other", elsewhere.display()),
            Vec::new(),
        ),
        ("VACUUM INTO ?", vec![path]),
        ("BEGIN", Vec::new()),
        ("SAVEPOINT a", Vec::new()),
        ("PRAGMA foreign_keys = OFF", Vec::new()),
        ("SELECT load_extension('x')", Vec::new()),
    ] {
        let refused = s.run_within(sql, &params, &bounds);
        assert!(
            matches!(refused, Err(DbError::Engine { .. })),
            "{sql}: {refused:?}"
        );
    }
    assert!(
        !elsewhere.exists(),
        "a bounded statement wrote another file"
    );
    // Reading a pragma is fine; the session is as it was, and unbounded
    // statements (the user's own) may do all of the above.
    s.run_within("PRAGMA table_info('t')", &[], &bounds)
        .expect("a pragma read");
    s.run("BEGIN", &[]).expect("the user's own BEGIN");
    s.run("ROLLBACK", &[]).expect("and ROLLBACK");
    let deadline = Bounds {
        max_rows: usize::MAX,
        max_bytes: usize::MAX,
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(200)),
    };
    let started = std::time::Instant::now();
    let endless = s.run_within(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        &[],
        &deadline,
    );
    let message = endless.expect_err("ended at the deadline").to_string();
    assert!(message.contains("caller's deadline"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A plugin's statement as the host runs it (lord-host's `db_link`: a
/// pooled session from the process's [`lord_db::Connector`], a transaction
/// of the host's, `run_within`, the session closed after an error): ten
/// million rows are refused after the first rows over the bound, without
/// the rest being read or even produced, and a statement longer than the
/// call's deadline is ended by the server at the deadline, with a
/// profile that sets no timeout of its own. Before, PostgreSQL and MariaDB
/// read the whole result into memory first and kept no deadline.
fn a_plugins_statement_stops_at_its_bounds_without_reading_the_rest(profile: &Profile) {
    use lord_db_api::DbConnector as _;
    use std::time::{Duration, Instant};

    let engine = profile.engine;
    let (many, long) = match engine {
        Engine::Sqlite => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000) \
             SELECT x FROM c",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) \
             FROM c",
        ),
        Engine::Postgres => (
            "SELECT generate_series(1, 10000000) AS x, 'some text' AS t",
            "SELECT pg_sleep(30)",
        ),
        Engine::Mysql => (
            "SELECT seq, 'some text' AS t FROM seq_1_to_10000000",
            "SELECT SLEEP(30)",
        ),
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    // No timeout of the profile's own: only the call's deadline ends the
    // long statement.
    let mut untimed = profile.clone();
    untimed.statement_timeout = None;
    let plugin = |sql: &str, bounds: Bounds| {
        let mut session = lord_db::Connector
            .sql(&untimed, None)
            .unwrap_or_else(|e| panic!("{engine}: a session: {e}"));
        let started = Instant::now();
        let outcome = in_transaction(&mut *session, |s| s.run_within(sql, &[], &bounds));
        let took = started.elapsed();
        if outcome.is_err() {
            session.discard();
        }
        (outcome, took)
    };
    let rows = Bounds {
        max_rows: 1000,
        max_bytes: 1 << 20,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let (over, took) = plugin(many, rows);
    assert!(
        matches!(over, Err(DbError::TooLarge(_))),
        "{engine}: {over:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "{engine}: the result was refused after {took:?}"
    );
    let bytes = Bounds {
        max_rows: usize::MAX,
        max_bytes: 64 << 10,
        ..rows
    };
    let (over, took) = plugin(many, bytes);
    assert!(
        matches!(over, Err(DbError::TooLarge(_))),
        "{engine}: {over:?}"
    );
    assert!(took < Duration::from_secs(5), "{engine}: {took:?}");

    let deadline = Bounds {
        max_rows: 10,
        max_bytes: 1 << 10,
        deadline: Some(Instant::now() + Duration::from_millis(500)),
    };
    let (ended, took) = plugin(long, deadline);
    let message = ended.expect_err("ended at the deadline").to_string();
    assert!(message.contains("caller's deadline"), "{engine}: {message}");
    assert!(
        took < Duration::from_secs(5),
        "{engine}: the statement ran {took:?}"
    );

    // A statement within its bounds answers whole, and the session keeps
    // the profile's own timeout afterwards.
    let mut s = session(profile);
    let fits = s
        .run_within(
            "SELECT 1 AS one",
            &[],
            &Bounds {
                deadline: Some(Instant::now() + Duration::from_secs(30)),
                ..rows
            },
        )
        .expect("within bounds");
    assert_eq!(fits.rows, [vec![Value::Int(1)]], "{engine}");
    let (own, expected) = match engine {
        Engine::Sqlite => return,
        Engine::Postgres => (
            s.run("SHOW statement_timeout", &[]),
            Value::Text("1s".to_owned()),
        ),
        Engine::Mysql => (s.run("SELECT @@max_statement_time", &[]), Value::Float(1.0)),
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    let own = own.expect("the session's timeout").rows[0][0].clone();
    assert_eq!(own, expected, "{engine}: the profile's timeout is back");
}

/// What a plugin's statements change on a server's session (as the host
/// runs them: a pooled session from [`lord_db::Connector`], in a committed
/// transaction of the host's) is gone when the pool lends the same
/// connection next: settings (`search_path`, `ROLE`, `sql_mode`, the
/// statement timeout), the current database (`USE`), user variables,
/// temporary tables, prepared statements, and a transaction left open.
/// Before, the session went back to the pool as the plugin left it, and
/// the next plugin or `lord db query` in the process ran under it. On
/// PostgreSQL a type the client had to look up (an enum) still reads after
/// the reset, the client's own prepared statements being kept.
fn the_next_user_of_a_pooled_session_sees_nothing_a_plugin_set(profile: &Profile) {
    use lord_db_api::DbConnector as _;
    use std::time::{Duration, Instant};

    let engine = profile.engine;
    let (whoami, changes, looks): (&str, &[&str], &[(&str, Value)]) = match engine {
        Engine::Sqlite => return,
        Engine::Postgres => (
            "SELECT pg_backend_pid()",
            &[
                "CREATE SCHEMA elsewhere",
                "CREATE ROLE lord_plugin_role",
                "SET search_path = elsewhere",
                "SET ROLE lord_plugin_role",
                "SET statement_timeout = 0",
                "CREATE TEMPORARY TABLE left_behind (x INT)",
                "PREPARE s1 AS SELECT 1",
                "SELECT pg_advisory_lock(42)",
                "BEGIN",
            ],
            &[
                (
                    "SELECT current_setting('search_path')",
                    Value::Text("\"$user\", public".into()),
                ),
                ("SELECT current_user = session_user", Value::Bool(true)),
                (
                    "SELECT current_setting('statement_timeout')",
                    Value::Text("1s".into()),
                ),
                (
                    "SELECT to_regclass('pg_temp.left_behind') IS NULL",
                    Value::Bool(true),
                ),
                (
                    "SELECT count(*) FROM pg_prepared_statements WHERE from_sql",
                    Value::Int(0),
                ),
                (
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
                    Value::Int(0),
                ),
            ],
        ),
        Engine::Mysql => (
            "SELECT CONNECTION_ID()",
            &[
                "CREATE DATABASE IF NOT EXISTS elsewhere",
                "USE elsewhere",
                "SET SESSION sql_mode = 'ANSI_QUOTES'",
                "SET SESSION max_statement_time = 0",
                "SET @planted = 'yes'",
                "CREATE TEMPORARY TABLE left_behind (x INT)",
                "START TRANSACTION",
            ],
            &[
                ("SELECT DATABASE() = ?", Value::Int(1)),
                (
                    "SELECT @@SESSION.sql_mode = @@GLOBAL.sql_mode",
                    Value::Int(1),
                ),
                ("SELECT @@max_statement_time", Value::Float(1.0)),
                ("SELECT @planted IS NULL", Value::Int(1)),
            ],
        ),
        other @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => not_sql(other),
    };
    let bounds = Bounds {
        max_rows: 10,
        max_bytes: 1 << 10,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let pid = {
        let mut plugin = lord_db::Connector.sql(profile, None).expect("a session");
        if engine == Engine::Postgres {
            plugin
                .run_script(
                    "CREATE TYPE mood AS ENUM ('calm', 'cross'); \
                     CREATE TABLE feeling (m mood); INSERT INTO feeling VALUES ('calm')",
                )
                .expect("an enum");
            let read = plugin.run("SELECT m FROM feeling", &[]).expect("the enum");
            assert_eq!(read.rows, [vec![Value::Text("calm".into())]]);
        }
        let pid = plugin.run(whoami, &[]).expect("whoami").rows[0][0].clone();
        in_transaction(&mut *plugin, |s| {
            for sql in &changes[..changes.len() - 1] {
                s.run_within(sql, &[], &bounds)
                    .unwrap_or_else(|e| panic!("{engine}: {sql}: {e}"));
            }
            Ok(())
        })
        .expect("the plugin's call");
        // A transaction the plugin opens itself and leaves open.
        plugin
            .run_within(changes[changes.len() - 1], &[], &bounds)
            .expect("a transaction left open");
        pid
        // The session goes back to the pool here.
    };
    let mut next = session(profile);
    assert_eq!(
        next.run(whoami, &[]).expect("whoami").rows[0][0],
        pid,
        "{engine}: the pool lent the same connection"
    );
    for (sql, expected) in looks {
        let params = if sql.contains('?') {
            vec![Value::Text(profile.name.to_string())]
        } else {
            Vec::new()
        };
        let seen = next
            .run(sql, &params)
            .unwrap_or_else(|e| panic!("{engine}: {sql}: {e}"));
        assert_eq!(seen.rows[0][0], *expected, "{engine}: {sql}");
    }
    if engine == Engine::Mysql {
        next.run("CREATE TEMPORARY TABLE elsewhere.left_behind (x INT)", &[])
            .expect("the last user's temporary table is gone");
    }
    if engine == Engine::Postgres {
        let read = next
            .run("SELECT m FROM feeling", &[])
            .expect("the enum again");
        assert_eq!(read.rows, [vec![Value::Text("calm".into())]]);
        // Not in a transaction: a statement that refuses one runs.
        next.run("VACUUM feeling", &[])
            .expect("no transaction left open");
    }
}

/// SQLite keeps temporary objects and an open transaction with the
/// connection, and a pooled connection is lent on. A plugin's temporary
/// view named like a table answered for it to the next user, and a batch
/// whose commit failed (a deferred foreign key) left the next user's
/// writes inside its transaction. Now such a session is closed instead.
/// (The network engines reset their sessions: the case above.)
fn a_plugins_temporary_objects_and_failed_commit_end_with_its_session(profile: &Profile) {
    use lord_db_api::DbConnector as _;
    use std::time::{Duration, Instant};

    if profile.engine != Engine::Sqlite {
        return;
    }
    let bounds = Bounds {
        max_rows: 10,
        max_bytes: 1 << 10,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let mut s = session(profile);
    s.run_script(
        "CREATE TABLE orders (x INTEGER); INSERT INTO orders VALUES (1); \
         CREATE TABLE parent (id INTEGER PRIMARY KEY); \
         CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .expect("tables");
    drop(s);

    {
        let mut plugin = lord_db::Connector.sql(profile, None).expect("a session");
        plugin
            .run_within("CREATE TEMP VIEW orders AS SELECT 99 AS x", &[], &bounds)
            .expect("a temporary view");
        plugin
            .run_within(
                "CREATE TEMP TRIGGER stamp AFTER INSERT ON main.orders \
                 BEGIN UPDATE main.orders SET x = -1; END",
                &[],
                &bounds,
            )
            .expect("a temporary trigger");
    }
    {
        let mut plugin = lord_db::Connector.sql(profile, None).expect("a session");
        plugin
            .run_within(
                "CREATE VIRTUAL TABLE temp.orders USING dbstat",
                &[],
                &bounds,
            )
            .expect("a temporary virtual table");
    }
    let mut next = lord_db::Connector.sql(profile, None).expect("a session");
    next.run("INSERT INTO orders VALUES (2)", &[])
        .expect("insert");
    let read = next
        .run("SELECT x FROM orders ORDER BY x", &[])
        .expect("read");
    assert_eq!(read.rows, [vec![Value::Int(1)], vec![Value::Int(2)]]);
    drop(next);

    {
        let mut plugin = lord_db::Connector.sql(profile, None).expect("a session");
        let failed = in_transaction(&mut *plugin, |s| {
            s.run_within("INSERT INTO child VALUES (5)", &[], &bounds)
        });
        assert!(
            failed
                .as_ref()
                .is_err_and(|e| e.to_string().contains("FOREIGN KEY")),
            "{failed:?}"
        );
        // The failed commit was rolled back: the session can begin again.
        in_transaction(&mut *plugin, |s| s.run("SELECT 1", &[])).expect("no transaction left open");
    }
    let mut next = lord_db::Connector.sql(profile, None).expect("a session");
    in_transaction(&mut *next, |s| s.run("INSERT INTO orders VALUES (3)", &[]))
        .expect("a transaction of its own");
    drop(next);
    let mut fresh = session(profile);
    assert_eq!(count(&mut *fresh, "orders"), 3);
    assert_eq!(count(&mut *fresh, "child"), 0);
}
