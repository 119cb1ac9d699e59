//! The shell's tokenizer: where statements end, and which statements ask
//! for a confirmation, with the cases a naive search for `WHERE` or `;`
//! gets wrong.

use lord_db_api::Engine;

use super::*;

fn pg() -> Dialect {
    Dialect::of(Engine::Postgres)
}

fn lite() -> Dialect {
    Dialect::of(Engine::Sqlite)
}

fn my() -> Dialect {
    Dialect::of(Engine::Mysql)
}

fn all() -> [Dialect; 3] {
    [lite(), pg(), my()]
}

#[test]
fn a_statement_ends_at_a_semicolon_outside_strings_names_and_comments() {
    for d in all() {
        assert!(complete("SELECT 1;", d));
        assert!(complete("SELECT 1; -- done\n", d));
        assert!(complete("SELECT 1; /* done */  ", d));
        assert!(complete("", d));
        assert!(!complete("SELECT 1", d));
        assert!(!complete("SELECT ';'", d));
        assert!(
            !complete("SELECT 'it''s;", d),
            "a doubled quote stays inside"
        );
        assert!(!complete("SELECT \"a;b", d));
        assert!(!complete("SELECT 1 -- ;", d));
        assert!(!complete("SELECT 1 /* ; */", d));
        assert!(!complete("SELECT 1 /* ;", d));
        assert!(!complete("SELECT 1;\nSELECT 2", d));
    }
    assert!(!complete("SELECT $$;$$", pg()));
    assert!(complete("SELECT $$;$$;", pg()));
    assert!(!complete("SELECT $fn$ a ; $x$ ; $fn$", pg()));
    assert!(
        complete("SELECT $1::int;", pg()),
        "a placeholder is no quote"
    );
    assert!(!complete("SELECT /* /* */ ; */", pg()), "PostgreSQL nests");
    assert!(!complete("SELECT 'a\\';", my()), "MySQL escapes with \\");
    assert!(
        complete("SELECT 'a\\';", pg()),
        "PostgreSQL's '' strings do not"
    );
    assert!(!complete("SELECT E'a\\';", pg()), "but E'' strings do");
    assert!(!complete("SELECT 1 # ;", my()));
    assert!(!complete("SELECT [a;b", lite()));
}

#[test]
fn input_splits_into_statements_and_an_unfinished_rest() {
    let (statements, rest) = split(
        "SELECT 'a;b' AS x; -- one\n;INSERT INTO t VALUES (1);\nSELECT",
        lite(),
    );
    assert_eq!(
        statements,
        ["SELECT 'a;b' AS x", "INSERT INTO t VALUES (1)"]
    );
    assert_eq!(rest, "\nSELECT");
    let (statements, rest) = split("/* only a comment */;", lite());
    assert!(statements.is_empty());
    assert!(!has_code(&rest, lite()));
}

#[test]
fn delete_and_update_without_where_ask_first() {
    for d in all() {
        assert_eq!(
            danger("DELETE FROM t", d),
            Some(Danger::DeleteAll { table: "t".into() })
        );
        assert_eq!(
            danger("delete from main.items", d),
            Some(Danger::DeleteAll {
                table: "main.items".into()
            })
        );
        assert_eq!(danger("DELETE FROM t WHERE id = 1", d), None);
        assert_eq!(danger("delete from t\nwhere id = 1", d), None);
        assert_eq!(
            danger("UPDATE t SET a = 1", d),
            Some(Danger::UpdateAll { table: "t".into() })
        );
        assert_eq!(danger("UPDATE t SET a = 1 WHERE b = 2", d), None);
        assert_eq!(danger("SELECT * FROM t", d), None);
        assert_eq!(danger("INSERT INTO t VALUES (1)", d), None);
    }
}

#[test]
fn a_where_that_does_not_restrict_the_statement_does_not_count() {
    for d in all() {
        // In a string.
        assert!(danger("UPDATE t SET note = 'WHERE'", d).is_some());
        assert!(danger("DELETE FROM t -- WHERE id = 1", d).is_some());
        assert!(danger("DELETE FROM t /* WHERE id = 1 */", d).is_some());
        // In a subquery: every row of t is still updated.
        assert!(danger("UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)", d).is_some());
        // A column named "where" is a name, not the keyword.
        assert!(danger("DELETE FROM \"where\"", d).is_some());
        // A subquery in the WHERE restricts.
        assert_eq!(
            danger("DELETE FROM t WHERE id IN (SELECT id FROM u)", d),
            None
        );
        // `WHERE` as part of a longer word.
        assert!(danger("DELETE FROM nowhere", d).is_some());
        assert!(danger("UPDATE t SET somewhere = 1", d).is_some());
    }
    assert!(danger("UPDATE t SET a = $$ WHERE $$", pg()).is_some());
    assert!(danger("UPDATE t SET a = 'x\\' WHERE 1'", my()).is_some());
    assert_eq!(
        danger("UPDATE t SET a = 'x\\' WHERE 1", pg()),
        None,
        "in PostgreSQL the quote closes before WHERE"
    );
}

#[test]
fn drop_truncate_and_alter_drop_ask_first() {
    for d in all() {
        assert_eq!(
            danger("DROP TABLE t", d),
            Some(Danger::Drop {
                what: "TABLE t".into()
            })
        );
        assert_eq!(
            danger("  -- why\n truncate table t", d),
            Some(Danger::Truncate {
                what: "table t".into()
            })
        );
        assert_eq!(
            danger("ALTER TABLE t DROP COLUMN c", d),
            Some(Danger::Drop {
                what: "COLUMN c".into()
            })
        );
        assert_eq!(danger("ALTER TABLE t ADD COLUMN c INT", d), None);
        assert_eq!(danger("CREATE TABLE drop_me (a INT)", d), None);
        assert_eq!(danger("SELECT 'DROP TABLE t'", d), None);
    }
}

#[test]
fn explain_and_with_find_the_statement_they_run() {
    assert_eq!(danger("EXPLAIN DELETE FROM t", pg()), None);
    assert!(danger("EXPLAIN ANALYZE DELETE FROM t", pg()).is_some());
    assert_eq!(
        danger("WITH old AS (SELECT 1) DELETE FROM t", pg()),
        Some(Danger::DeleteAll { table: "t".into() })
    );
    assert_eq!(
        danger(
            "WITH old AS (SELECT id FROM u WHERE a) DELETE FROM t WHERE id IN (SELECT id FROM old)",
            pg()
        ),
        None
    );
}

#[test]
fn mysql_strings_comments_and_executable_comments_are_read_as_mysql_reads_them() {
    // `"` is a string with backslash escapes, so the `;`s here end
    // statements, and the DELETE between them is one of its own.
    let (statements, rest) = split("SELECT \"\\\"\"; DELETE FROM item; SELECT \"\\\"\";", my());
    assert_eq!(
        statements,
        ["SELECT \"\\\"\"", "DELETE FROM item", "SELECT \"\\\"\""]
    );
    assert!(rest.is_empty());
    assert_eq!(
        danger(&statements[1], my()),
        Some(Danger::DeleteAll {
            table: "item".into()
        })
    );
    // The server runs what `/*!…*/` and `/*M!…*/` hold.
    for sql in [
        "/*!DELETE*/ FROM item",
        "/*!50001 DELETE*/ FROM item",
        "/*M!100101 DELETE FROM item */",
    ] {
        assert_eq!(
            danger(sql, my()),
            Some(Danger::DeleteAll {
                table: "item".into()
            }),
            "{sql}"
        );
    }
    assert_eq!(danger("/* DELETE */ SELECT 1", my()), None);
    // `--x` is no comment in MySQL: `SELECT 1--1` is `1 - -1`.
    assert!(complete("SELECT 1--1;", my()));
    assert!(!complete("SELECT 1--1;", pg()));
    let (statements, _) = split("SELECT 1 --x\n; DELETE FROM item;", my());
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert!(complete("SELECT 1; -- done", my()));
    assert!(complete("SELECT 1; --", my()));
}

#[test]
fn statements_run_inside_others_ask_first() {
    for sql in [
        "EXPLAIN (ANALYZE) DELETE FROM t",
        "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t",
        "WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d",
    ] {
        assert_eq!(
            danger(sql, pg()),
            Some(Danger::DeleteAll { table: "t".into() }),
            "{sql}"
        );
    }
    assert_eq!(
        danger(
            "WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u",
            pg()
        ),
        Some(Danger::UpdateAll { table: "t".into() })
    );
    assert_eq!(danger("EXPLAIN (COSTS) DELETE FROM t", pg()), None);
    assert_eq!(
        danger(
            "WITH d AS (DELETE FROM t WHERE a RETURNING 1) SELECT 1",
            pg()
        ),
        None
    );
    assert_eq!(
        danger("WITH d AS (SELECT * FROM t FOR UPDATE) SELECT 1", pg()),
        None
    );
    assert_eq!(
        danger("ANALYZE DELETE FROM t", my()),
        Some(Danger::DeleteAll { table: "t".into() })
    );
    assert_eq!(
        danger("ANALYZE UPDATE t SET a = 1", my()),
        Some(Danger::UpdateAll { table: "t".into() })
    );
    assert_eq!(danger("ANALYZE t", pg()), None);
    assert_eq!(danger("ANALYZE TABLE t", my()), None);
}

/// What an executable comment holds runs on some servers only: read as
/// SQL it once hid that `DELETE FROM t /*M!100000 WHERE id = 1 */`
/// deletes every row on MySQL (which never runs `/*M!…*/`), or on a server
/// older than the version a `/*!…*/` names.
#[test]
fn a_where_that_only_some_servers_run_still_asks() {
    for sql in [
        "DELETE FROM t /*M!100000 WHERE id = 1 */",
        "DELETE FROM t /*!99999 WHERE id = 1 */",
        "DELETE FROM t /*!50000 WHERE id = 1 */",
        "UPDATE t SET a = 1 /*!80000 WHERE id = 1 */",
        // On MySQL the first runs and the second does not.
        "/*!50000 DELETE FROM t */ /*M!100000 WHERE id = 1 */",
        // On a MariaDB between the two versions, only the DELETE runs.
        "/*M!100000 DELETE FROM t */ /*M!100500 WHERE id = 1 */",
    ] {
        assert!(danger(sql, my()).is_some(), "{sql}");
    }
    // Every server runs a comment without a version, and both of these.
    for sql in [
        "DELETE FROM t /*! WHERE id = 1 */",
        "DELETE FROM t WHERE id = 1 /*M!100000 AND a = 2 */",
        "/*!50000 DELETE FROM t */ /*!50000 WHERE id = 1 */",
        "DELETE FROM t WHERE id = 1 /*!99999 LIMIT 1 */",
    ] {
        assert_eq!(danger(sql, my()), None, "{sql}");
    }
}

/// `ANALYZE FORMAT=JSON DELETE …` once read `FORMAT` as its verb, and
/// ran the DELETE without asking.
#[test]
fn options_before_the_statement_analyze_runs_do_not_hide_it() {
    for sql in [
        "ANALYZE FORMAT=JSON DELETE FROM users",
        "ANALYZE FORMAT = JSON DELETE FROM users",
        "analyze format=json delete from users",
        "EXPLAIN ANALYZE FORMAT=TREE DELETE FROM users",
        "EXPLAIN ANALYZE FORMAT=JSON DELETE FROM users",
        "EXPLAIN FORMAT=JSON ANALYZE DELETE FROM users",
        "EXPLAIN ANALYZE FOR SCHEMA shop DELETE FROM users",
        "DESCRIBE ANALYZE FORMAT=TREE DELETE FROM users",
    ] {
        assert_eq!(
            danger(sql, my()),
            Some(Danger::DeleteAll {
                table: "users".into()
            }),
            "{sql}"
        );
    }
    assert_eq!(
        danger("ANALYZE FORMAT=JSON UPDATE users SET a = 1", my()),
        Some(Danger::UpdateAll {
            table: "users".into()
        })
    );
    assert_eq!(
        danger("EXPLAIN ANALYZE VERBOSE DELETE FROM users", pg()),
        Some(Danger::DeleteAll {
            table: "users".into()
        })
    );
    // Without ANALYZE the statement is explained, not run.
    assert_eq!(danger("EXPLAIN FORMAT=JSON DELETE FROM users", my()), None);
    assert_eq!(
        danger("ANALYZE FORMAT=JSON DELETE FROM users WHERE id = 1", my()),
        None
    );
    assert_eq!(
        danger("ANALYZE FORMAT=JSON SELECT * FROM users", my()),
        None
    );
    assert_eq!(danger("ANALYZE VERBOSE users", pg()), None);
}

#[test]
fn every_way_of_writing_a_password_keeps_a_statement_out_of_history() {
    for sql in [
        "CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD='x'",
        "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = 'x'",
        "CREATE SUBSCRIPTION s CONNECTION 'host=h password=x' PUBLICATION p",
        "SELECT dblink_connect('host=h PASSWORD = x')",
        "ALTER ROLE r WITH ENCRYPTED PASSWORD 'x'",
        "CREATE USER u IDENTIFIED BY 'x'",
    ] {
        assert!(
            holds_password(sql, pg()) && holds_password(sql, my()),
            "{sql}"
        );
    }
    for sql in [
        "SELECT 'my password is long'",
        "SELECT pass FROM t",
        "-- password=x\nSELECT 1",
    ] {
        assert!(!holds_password(sql, pg()), "{sql}");
    }
}

#[test]
fn verbs_catalogue_changes_and_passwords() {
    assert_eq!(verb("/* x */ select 1", lite()).as_deref(), Some("SELECT"));
    assert!(changes_catalogue("create table t (a int)", lite()));
    assert!(!changes_catalogue("select 'create'", lite()));
    assert!(holds_password("ALTER ROLE app PASSWORD 'x'", pg()));
    assert!(holds_password("CREATE USER a IDENTIFIED BY 'x'", my()));
    assert!(!holds_password("SELECT 'password'", pg()));
}

#[test]
fn tokens_keep_their_text() {
    let sql = "SELECT 'é', 1.5e-3, x FROM \"T\"; -- ü";
    let (tokens, open) = tokens(sql, pg());
    assert!(!open);
    let kinds: Vec<(Kind, &str)> = tokens
        .iter()
        .filter(|t| t.kind != Kind::Space)
        .map(|t| (t.kind, t.text(sql)))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Word, "SELECT"),
            (Kind::String, "'é'"),
            (Kind::Punct, ","),
            (Kind::Number, "1.5e-3"),
            (Kind::Punct, ","),
            (Kind::Word, "x"),
            (Kind::Word, "FROM"),
            (Kind::Name, "\"T\""),
            (Kind::Semicolon, ";"),
            (Kind::Comment, "-- ü"),
        ]
    );
}

#[test]
fn a_command_on_the_last_line_ends_the_input_unless_quoted() {
    let d = lite();
    assert_eq!(trailing_command("\\q", d), Some(("", "\\q")));
    assert_eq!(
        trailing_command("SELECT *\n  \\x auto\n", d),
        Some(("SELECT *", "\\x auto"))
    );
    assert_eq!(
        trailing_command("SELECT '\n\\q", d),
        None,
        "inside a string"
    );
    assert_eq!(
        trailing_command("SELECT /*\n\\q", d),
        None,
        "inside a comment"
    );
    assert_eq!(
        trailing_command("SELECT 1 \\q", d),
        None,
        "not at a line's start"
    );
}
