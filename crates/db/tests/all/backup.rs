//! Backup and restore, part of the shared suite: a database holding every
//! column type the engine has, with indexes, a view, a foreign key and a
//! sequence or auto-increment, backed up and restored into a fresh
//! database, then compared exactly (rows through a canonical rendering,
//! the catalogue, and the engine's own definitions); and the refusals: a
//! corrupted file, a file of another engine, a non-empty target.

use std::path::Path;

use lord_db::backup::{self, BackupError, RestoreOptions, Tools};
use lord_db_api::{Engine, Profile, SqlSession, Value};

use crate::Target;

pub(crate) fn run(target: &Target) {
    let folder = tempfile::tempdir().expect("a folder");
    let source = (target.make)();
    let file = folder.path().join("every-type.lordbackup");
    a_backup_restores_every_column_type_exactly(&source, &(target.make)(), &file);
    a_non_empty_target_is_refused_unless_replaced(&source, &file);
    a_corrupted_backup_is_refused_naming_the_file(&(target.make)(), &file);
    a_backup_of_another_engine_is_refused_naming_the_file(&(target.make)(), &file);
    a_missing_folder_is_named_with_what_to_do(&source, folder.path());
    if source.engine == Engine::Mysql {
        a_backup_holding_client_commands_is_refused(&(target.make)(), &file);
        a_failed_load_says_what_state_it_left(&(target.make)(), &file);
        events_are_restored(&(target.make)(), &file);
        a_table_with_an_invisible_column_restores_with_its_count(
            &(target.make)(),
            &(target.make)(),
            folder.path(),
        );
    }
}

/// The dump names the columns of a table with an invisible column
/// (`INSERT INTO t (a, b) VALUES ...`): the row count the manifest keeps
/// and the restore checks counts rows, not the column list.
fn a_table_with_an_invisible_column_restores_with_its_count(
    source: &Profile,
    fresh: &Profile,
    folder: &Path,
) {
    session(source)
        .run_script(
            "CREATE TABLE shy (id INT PRIMARY KEY, `odd('name` INT, hidden INT INVISIBLE);
             INSERT INTO shy (id, `odd('name`, hidden) VALUES (1, 10, 100), (2, 20, 200);",
        )
        .expect("a table with an invisible column");
    let file = folder.join("invisible.lordbackup");
    let manifest = backup::backup(source, None, &file, &tools(), &mut |_| {}).expect("a backup");
    let counted = manifest
        .tables
        .iter()
        .find(|t| t.name == "shy")
        .map(|t| t.rows);
    assert_eq!(counted, Some(2), "{:?}", manifest.tables);
    backup::restore(
        fresh,
        None,
        &file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect("a restore");
    let rows = session(fresh)
        .run("SELECT id, hidden FROM shy ORDER BY id", &[])
        .expect("rows");
    assert_eq!(rows.rows.len(), 2);
    assert_eq!(rows.rows[1][1].as_i64(), Some(200));
}

fn a_missing_folder_is_named_with_what_to_do(source: &Profile, folder: &Path) {
    let missing = folder.join("missing");
    let refused = backup::backup(
        source,
        None,
        &missing.join("x.lordbackup"),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a missing folder");
    let message = refused.to_string();
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("create it"),
        "{message}"
    );
}

/// A user with the EVENT privilege (the suite's) has the database's
/// events in the dump, and nothing is said to be left out.
fn events_are_restored(fresh: &Profile, file: &Path) {
    let manifest = backup::restore(
        fresh,
        None,
        file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect("a restore");
    assert!(manifest.left_out.is_empty(), "{:?}", manifest.left_out);
    let n = session(fresh)
        .run(
            "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
            &[],
        )
        .expect("events");
    assert_eq!(n.rows[0][0].as_i64(), Some(1), "the event was not restored");
}

/// MySQL/MariaDB commit each table as it loads: a restore that fails part
/// way says the database may hold part of the backup, and how to finish.
fn a_failed_load_says_what_state_it_left(fresh: &Profile, file: &Path) {
    let path = resealed(file, "failing.lordbackup", |dump| {
        dump.replacen(
            "-- Dump completed",
            "SELECT * FROM no_such_table;\n-- Dump completed",
            1,
        )
    });
    let refused = backup::restore(
        fresh,
        None,
        &path,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a failing dump");
    let message = refused.to_string();
    assert!(
        message.contains("may now hold part of the backup")
            && message.contains(&format!(
                "lord db restore {} {} --replace",
                fresh.name,
                path.display()
            )),
        "{message}"
    );
}

fn tools() -> Tools {
    // The tests' own PATH decides where the dump programs are found.
    #[allow(clippy::disallowed_methods)]
    let path = std::env::var("PATH").ok();
    Tools { path }
}

fn session(profile: &Profile) -> lord_db::Session {
    lord_db::pools()
        .session(profile, None)
        .unwrap_or_else(|e| panic!("a session on {}: {e}", profile.engine))
}

/// Every row of every table as text, and the definitions of everything
/// else the engine keeps, in a fixed order.
fn snapshot(profile: &Profile) -> Vec<String> {
    let mut s = session(profile);
    let mut out = Vec::new();
    for table in s.tables().expect("tables") {
        out.push(format!("{:?}", s.describe(&table).expect("describe")));
        let select = match s.engine() {
            // The row as PostgreSQL writes it: every type, exactly.
            Engine::Postgres => format!("SELECT t::text FROM \"{table}\" t ORDER BY t::text"),
            Engine::Sqlite => format!("SELECT * FROM \"{table}\" ORDER BY 1"),
            Engine::Mysql => format!("SELECT * FROM `{table}` ORDER BY 1"),
            Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
                unreachable!("backups are of the SQL engines")
            }
        };
        let rows = s.run(&select, &[]).expect("rows");
        for row in rows.rows {
            out.push(format!("{table}: {row:?}"));
        }
    }
    for query in definitions(s.engine()) {
        let rows = s.run(query, &[]).unwrap_or_else(|e| panic!("{query}: {e}"));
        out.push(format!("{query}: {:?}", rows.rows));
    }
    if s.engine() == Engine::Mysql {
        for (kind, name) in [("TABLE", "kinds"), ("TABLE", "parent"), ("VIEW", "named")] {
            let rows = s
                .run(&format!("SHOW CREATE {kind} `{name}`"), &[])
                .expect("show create");
            out.push(format!("{:?}", rows.rows));
        }
        let rows = s.run("SHOW CREATE PROCEDURE add_parent", &[]);
        out.push(format!("{:?}", rows.map(|r| r.rows[0][2].clone())));
    }
    out
}

fn definitions(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Sqlite => &[
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
            "SELECT * FROM sqlite_sequence ORDER BY name",
        ],
        Engine::Postgres => &[
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
            "SELECT sequencename, last_value, start_value, increment_by FROM pg_sequences \
             WHERE schemaname = 'public' ORDER BY 1",
            "SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) \
             FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY 1 ORDER BY 1",
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = 'public'::regnamespace ORDER BY 1",
            "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace \
             ORDER BY 1",
        ],
        Engine::Mysql => &[
            "SELECT table_name, table_type, auto_increment FROM information_schema.tables \
             WHERE table_schema = DATABASE() ORDER BY 1",
            "SELECT trigger_name, action_statement FROM information_schema.triggers \
             WHERE trigger_schema = DATABASE() ORDER BY 1",
            // A sequence's stored state (reading it does not advance it):
            // MariaDB keeps, dumps and restores the next value not yet
            // cached, as a server restart would resume it.
            "SELECT next_not_cached_value, minimum_value, maximum_value, start_value, \
             increment, cache_size, cycle_option FROM ticket",
        ],
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            unreachable!("backups are of the SQL engines")
        }
    }
}

/// A large blob (3 MiB) no run of bytes repeats in for long.
fn large_blob() -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..3 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn fill(s: &mut dyn SqlSession) {
    match s.engine() {
        Engine::Sqlite => fill_sqlite(s),
        Engine::Postgres => s.run_script(POSTGRES).expect("the PostgreSQL schema"),
        Engine::Mysql => {
            s.run_script(MARIADB).expect("the MariaDB schema");
            // Routines carry their own `;`: one statement each.
            s.run(
                "CREATE PROCEDURE add_parent(IN n VARCHAR(50)) \
                 BEGIN INSERT INTO parent (name) VALUES (n); END",
                &[],
            )
            .expect("a procedure");
            s.run(
                "CREATE TRIGGER kinds_touch BEFORE INSERT ON kinds FOR EACH ROW \
                 SET NEW.vc = COALESCE(NEW.vc, 'from trigger')",
                &[],
            )
            .expect("a trigger");
            s.run(
                "CREATE EVENT tick ON SCHEDULE EVERY 1 DAY \
                 DO UPDATE parent SET name = name WHERE 1 = 0",
                &[],
            )
            .expect("an event");
        }
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            unreachable!("backups are of the SQL engines")
        }
    }
    let p = |n| s.engine().placeholder(n);
    let insert = format!(
        "INSERT INTO kinds (id, {}) VALUES (100, {})",
        blob_column(s.engine()),
        p(1)
    );
    s.run(&insert, &[Value::Bytes(large_blob())])
        .expect("a large blob");
}

fn blob_column(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "b",
        Engine::Postgres => "by",
        Engine::Mysql => "lb",
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            unreachable!("backups are of the SQL engines")
        }
    }
}

fn fill_sqlite(s: &mut dyn SqlSession) {
    s.run_script(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
         CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB,
           n NUMERIC, anything, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);
         CREATE INDEX kinds_t ON kinds (t, i DESC);
         CREATE VIEW named AS SELECT k.id, p.name FROM kinds k JOIN parent p ON p.id = k.parent_id;
         CREATE TRIGGER kinds_touch AFTER INSERT ON kinds BEGIN SELECT 1; END;
         INSERT INTO parent (name) VALUES ('one'), ('two'), ('three');
         DELETE FROM parent WHERE name = 'three';",
    )
    .expect("the SQLite schema");
    let insert = "INSERT INTO kinds (id, i, r, t, b, n, anything, parent_id) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    let rows = [
        vec![
            Value::Int(1),
            Value::Int(i64::MIN),
            Value::Float(f64::MAX),
            Value::Text("grüße, 世界 🌍 \"quoted\" 'single'\n\ttabbed".into()),
            Value::Bytes(vec![0, 1, 127, 128, 255]),
            Value::Text("12.50".into()),
            Value::Float(-0.5),
            Value::Int(1),
        ],
        vec![
            Value::Int(2),
            Value::Int(i64::MAX),
            Value::Float(f64::INFINITY),
            Value::Text(String::new()),
            Value::Bytes(Vec::new()),
            Value::Int(7),
            Value::Bytes(b"bytes in an untyped column".to_vec()),
            Value::Int(2),
        ],
        vec![
            Value::Int(3),
            Value::Null,
            Value::Float(f64::NEG_INFINITY),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Int(4),
            Value::Int(0),
            Value::Float(f64::MIN_POSITIVE),
            Value::Text("x".repeat(100_000)),
            Value::Null,
            Value::Float(1e-300),
            Value::Text("text".into()),
            Value::Null,
        ],
    ];
    for row in rows {
        s.run(insert, &row).expect("a row");
    }
}

const POSTGRES: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE parent (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE kinds (
  id integer PRIMARY KEY, si smallint, i integer, bi bigint, num numeric(40, 12), anynum numeric,
  r real, d double precision, t text, vc varchar(20), c char(5), \"by\" bytea, bo boolean,
  da date, ti time, titz timetz, ts timestamp(6), tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, ia integer[], ta text[], ip inet, ci cidr, mac macaddr, mac8 macaddr8,
  m mood, pos positive, ir int4range, nr numrange, tr tstzrange, imr int4multirange,
  b bit(8), vb bit varying(16), x xml, mo money, tv tsvector, tq tsquery,
  pt point, bx box, ci2 circle, pa path, pg polygon, ls lseg, ln line, o oid, cs \"char\",
  parent_id bigint REFERENCES parent (id) ON DELETE SET NULL
);
CREATE INDEX kinds_jb ON kinds USING gin (jb);
CREATE UNIQUE INDEX kinds_lower_t ON kinds (lower(t)) WHERE t IS NOT NULL;
CREATE VIEW named AS SELECT k.id, p.name FROM kinds k JOIN parent p ON p.id = k.parent_id;
CREATE SEQUENCE ticket START 100 INCREMENT 5;
-- Dots in a schema's and a table's names: the manifest keeps them apart.
CREATE SCHEMA \"odd.schema\";
CREATE TABLE \"odd.schema\".\"t.x\" (id integer);
INSERT INTO \"odd.schema\".\"t.x\" VALUES (1), (2);
SELECT nextval('ticket'), nextval('ticket');
CREATE FUNCTION twice(n integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT n * 2';
INSERT INTO parent (name) VALUES ('one'), ('two'), ('three');
DELETE FROM parent WHERE name = 'three';
INSERT INTO kinds VALUES (
  1, -32768, -2147483648, -9223372036854775808, 1234567890123456789012345678.123456789012,
  'NaN', 'NaN', 'Infinity', 'grüße, 世界 🌍 \"quoted\" ''single''' || chr(10) || 'line',
  'varchar', 'ab', '\\x00017f80ff', true,
  '2024-02-29', '23:59:59.999999', '12:00:00+05:30', '1999-12-31 23:59:59.123456',
  '2024-06-01 12:00:00+02', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"b\": 1,  \"a\": [1, 2]}', '{\"b\": 1, \"a\": {\"c\": null}}',
  '{1,NULL,3}', '{\"with, comma\",\"with \\\"quote\\\"\"}', '192.168.0.1/24', '10.0.0.0/8',
  '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 'happy', 42, '[1,10)', '(1.5,2.5]',
  '[2024-01-01 00:00+00,infinity)', '{[1,3), [5,7)}',
  B'10101010', B'101', '<doc><a x=\"1\">text &amp; more</a></doc>', '$1,234.56',
  'the quick brown fox', 'fox & (dog | cat)',
  '(1.5,-2)', '((0,0),(1,1))', '<(0,0),2>', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))',
  '[(0,0),(1,1)]', '{1,-1,0}', 12345, 'x', 1
), (
  2, 32767, 2147483647, 9223372036854775807, -0.000000000001, '-Infinity', '-Infinity', '-0',
  '', '', '', '', false, 'infinity', '00:00', '00:00:00-12', '-infinity', 'infinity', '-178000000 years',
  '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{{a,b},{c,d}}', '::1', '2001:db8::/32',
  'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', 'sad', 1, 'empty', '(,)', '(,)', '{}',
  B'00000000', B'', '<empty/>', '-$0.01', '', 'a',
  '(0,0)', '((0,0),(0,0))', '<(0,0),0>', '((0,0))', '((0,0))', '[(0,0),(0,0)]', '{0,1,0}', 0, '', 2
);
INSERT INTO kinds (id) VALUES (3);
";

const MARIADB: &str = "
CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE);
CREATE TABLE kinds (
  id INT AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
  miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  de DECIMAL(65, 30), f FLOAT, d DOUBLE, bt BIT(10), bo BOOLEAN,
  c CHAR(5), vc VARCHAR(100), tt TINYTEXT, t TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, bin BINARY(4), vbin VARBINARY(10),
  e ENUM('a', 'b', 'c'), s SET('x', 'y', 'z'),
  da DATE, tm TIME(6), dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, y YEAR,
  j JSON, g GEOMETRY, pt POINT, u UUID, ip6 INET6, ip4 INET4,
  parent_id INT, CONSTRAINT kinds_parent FOREIGN KEY (parent_id) REFERENCES parent (id),
  INDEX kinds_vc (vc, i), UNIQUE INDEX kinds_c (c), FULLTEXT INDEX kinds_t (t)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE VIEW named AS SELECT k.id, p.name FROM kinds k JOIN parent p ON p.id = k.parent_id;
CREATE SEQUENCE ticket START WITH 100 INCREMENT BY 5;
SELECT NEXTVAL(ticket);
INSERT INTO parent (name) VALUES ('one'), ('two'), ('three');
DELETE FROM parent WHERE name = 'three';
INSERT INTO kinds VALUES (
  1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  12345678901234567890123456789012345.123456789012345678901234567890, 3.5, 1.7976931348623157e308,
  b'1010101010', TRUE,
  'ab', 'grüße, 世界 🌍 \"quoted\" \\'single\\' back\\\\slash\\nline', 'tiny', 'text', 'medium', 'long',
  x'00ff', x'000102', x'7f80', x'', x'00010203', x'ff00',
  'b', 'x,z', '2024-02-29', '-838:59:59.000000', '9999-12-31 23:59:59.999999',
  '2038-01-19 03:14:07.499', 2155, '{\"b\": 1, \"a\": [1, 2]}',
  ST_GeomFromText('POLYGON((0 0,1 1,1 0,0 0))'), POINT(1.5, -2),
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1', '192.168.0.1', 1
), (
  2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
  -0.000000000000000000000000000001, -0, -2.2250738585072014e-308, b'0', FALSE,
  '', '', '', '', '', '', x'', x'', x'', x'', x'00000000', x'',
  'a', '', '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 00:00:01', 1901, '[]',
  ST_GeomFromText('LINESTRING(0 0,1 1)'), POINT(0, 0), '00000000-0000-0000-0000-000000000000',
  '::', '0.0.0.0', 2
);
INSERT INTO kinds (id, vc) VALUES (3, 'from insert');
";

fn a_backup_restores_every_column_type_exactly(source: &Profile, fresh: &Profile, file: &Path) {
    fill(&mut *session(source));
    let before = snapshot(source);
    // The comparison below is only as good as what it compares.
    let rows = before.iter().filter(|l| l.starts_with("kinds: ")).count();
    let filled = match source.engine {
        Engine::Sqlite => 5,
        Engine::Postgres | Engine::Mysql => 4,
        Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            unreachable!("backups are of the SQL engines")
        }
    };
    assert_eq!(rows, filled, "{}", source.engine);
    let mut phases = Vec::new();
    let manifest = backup::backup(source, None, file, &tools(), &mut |step| {
        if let backup::Step::Phase(p) = step {
            phases.push(p.to_owned());
        }
    })
    .unwrap_or_else(|e| panic!("backup on {}: {e}", source.engine));
    assert_eq!(manifest.engine, source.engine.as_str());
    assert!(
        phases.contains(&"checking the file".to_owned()),
        "{phases:?}"
    );
    let kinds = manifest
        .tables
        .iter()
        .find(|t| t.name.ends_with("kinds"))
        .unwrap_or_else(|| panic!("{manifest:?}"));
    let counted = session(source)
        .run("SELECT COUNT(*) FROM kinds", &[])
        .expect("count")
        .rows[0][0]
        .as_i64();
    assert_eq!(i64::try_from(kinds.rows).ok(), counted, "{}", source.engine);
    // No temporary file is left beside the backup.
    let beside: Vec<_> = std::fs::read_dir(file.parent().expect("a folder"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside.len(), 1, "{beside:?}");
    let restored = backup::restore(
        fresh,
        None,
        file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore on {}: {e}", fresh.engine));
    assert_eq!(restored, manifest);
    let after = snapshot(fresh);
    assert_eq!(before.len(), after.len(), "{}", source.engine);
    // Shortened on failure: one row holds a 3 MiB blob.
    let short = |line: &str| line.chars().take(400).collect::<String>();
    for (b, a) in before.iter().zip(&after) {
        assert!(
            b == a,
            "{}: before {} / after {}",
            source.engine,
            short(b),
            short(a)
        );
    }
    // The restored sequence or auto-increment carries on where it was.
    let mut s = session(fresh);
    let id = s
        .run(
            "INSERT INTO parent (name) VALUES ('four') RETURNING id",
            &[],
        )
        .expect("insert");
    assert_eq!(id.rows[0][0].as_i64(), Some(4), "{}", fresh.engine);
}

fn a_non_empty_target_is_refused_unless_replaced(source: &Profile, file: &Path) {
    let refused = backup::restore(
        source,
        None,
        file,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a non-empty target");
    assert!(
        matches!(refused, BackupError::NotEmpty { .. })
            && refused.to_string().contains("--replace"),
        "{refused}"
    );
    let before = snapshot(source);
    // Changed since the backup, so a `--replace` that did nothing is seen.
    session(source)
        .run_script(
            "DELETE FROM kinds WHERE id = 1; UPDATE parent SET name = 'changed' WHERE id = 1",
        )
        .expect("change the rows");
    assert!(
        before != snapshot(source),
        "{}: nothing changed",
        source.engine
    );
    backup::restore(
        source,
        None,
        file,
        RestoreOptions {
            replace: true,
            ..RestoreOptions::default()
        },
        &tools(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore over {}: {e}", source.engine));
    assert!(
        before == snapshot(source),
        "{}: replaced differently",
        source.engine
    );
}

fn a_corrupted_backup_is_refused_naming_the_file(fresh: &Profile, file: &Path) {
    let bytes = std::fs::read(file).expect("the backup");
    let corrupted = file.with_file_name("flipped.lordbackup");
    for at in [20, 200, bytes.len() / 2, bytes.len() - 1] {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        std::fs::write(&corrupted, &changed).expect("write");
        let refused = backup::restore(
            fresh,
            None,
            &corrupted,
            RestoreOptions::default(),
            &tools(),
            &mut |_| {},
        )
        .expect_err("a corrupted backup");
        let message = refused.to_string();
        assert!(
            matches!(refused, BackupError::Corrupt { .. })
                && message.contains(&corrupted.display().to_string()),
            "byte {at}: {message}"
        );
    }
    std::fs::write(&corrupted, &bytes[..bytes.len() - 10]).expect("write");
    let refused = backup::inspect(&corrupted, &tools()).expect_err("a cut file");
    assert!(refused.to_string().contains("cut short"), "{refused}");
    // Nothing was restored.
    assert!(session(fresh).tables().expect("tables").is_empty());
}

fn a_backup_of_another_engine_is_refused_naming_the_file(fresh: &Profile, file: &Path) {
    use sha2::Digest as _;
    // The same file, its manifest relabelled and its checksums made right:
    // only the engine is wrong.
    let bytes = std::fs::read(file).expect("the backup");
    let first = bytes.iter().position(|b| *b == b'\n').expect("a header") + 1;
    let second = first
        + bytes[first..]
            .iter()
            .position(|b| *b == b'\n')
            .expect("a manifest");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&bytes[first..second]).expect("json");
    let other = Engine::ALL
        .into_iter()
        .find(|e| *e != fresh.engine)
        .expect("another engine");
    manifest["engine"] = other.as_str().into();
    let line = manifest.to_string();
    let mut relabelled = format!(
        "lord-db-backup 1 sha256={}\n{line}",
        hex::encode(sha2::Sha256::digest(line.as_bytes()))
    )
    .into_bytes();
    relabelled.extend_from_slice(&bytes[second..]);
    let path = file.with_file_name("other.lordbackup");
    std::fs::write(&path, relabelled).expect("write");
    let refused = backup::restore(
        fresh,
        None,
        &path,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("another engine's backup");
    let message = refused.to_string();
    assert!(
        matches!(refused, BackupError::WrongEngine { .. })
            && message.contains(&path.display().to_string())
            && message.contains(other.as_str()),
        "{message}"
    );
}

/// The file at `file` with its dump changed by `edit` and its checksums
/// made right again, written beside it as `name`: only the dump is wrong.
fn resealed(file: &Path, name: &str, edit: impl FnOnce(&str) -> String) -> std::path::PathBuf {
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
    let dump = edit(std::str::from_utf8(&bytes[second..]).expect("a text dump"));
    manifest["payload_bytes"] = dump.len().into();
    manifest["payload_sha256"] = hex::encode(sha2::Sha256::digest(dump.as_bytes())).into();
    let line = manifest.to_string();
    let sealed = format!(
        "lord-db-backup 1 sha256={}\n{line}\n{dump}",
        hex::encode(sha2::Sha256::digest(line.as_bytes()))
    );
    let path = file.with_file_name(name);
    std::fs::write(&path, sealed).expect("write");
    path
}

/// A dump holding a command of the `mariadb` client (`\!` runs a shell
/// command even with `--batch`) is refused before the client sees it.
fn a_backup_holding_client_commands_is_refused(fresh: &Profile, file: &Path) {
    let marker = file.with_file_name("MARKER");
    let command = format!("\\! touch {}\n", marker.display());
    let path = resealed(file, "commands.lordbackup", |dump| {
        // Newer dumps open with the client's own `\-` (sandbox on); an
        // attacker leaves it out.
        dump.replacen("/*M!999999\\- enable the sandbox mode */", "", 1)
            .replacen(
                "-- Dump completed",
                &format!("{command}-- Dump completed"),
                1,
            )
    });
    let refused = backup::restore(
        fresh,
        None,
        &path,
        RestoreOptions::default(),
        &tools(),
        &mut |_| {},
    )
    .expect_err("a backup running a shell command");
    let message = refused.to_string();
    assert!(
        matches!(refused, BackupError::Corrupt { .. }) && message.contains("line "),
        "{message}"
    );
    assert!(!marker.exists(), "the shell command ran");
    assert!(session(fresh).tables().expect("tables").is_empty());
}

/// A backup and a restore over TLS, verified against the profile's CA
/// file: the dump programs are given the profile's TLS mode and CA, so
/// they reach a server that takes TLS only.
pub(crate) fn over_tls(profile: &Profile) {
    let mut s = session(profile);
    s.run_script("CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        .expect("create");
    s.run_script("INSERT INTO item VALUES (1, 'one'), (2, 'two')")
        .expect("insert");
    drop(s);
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("tls.lordbackup");
    let made = backup::backup(profile, None, &file, &tools(), &mut |_| {})
        .unwrap_or_else(|e| panic!("backup over TLS on {}: {e}", profile.engine));
    assert!(made.tables.iter().any(|t| t.rows == 2), "{made:?}");
    backup::restore(
        profile,
        None,
        &file,
        RestoreOptions {
            replace: true,
            ..RestoreOptions::default()
        },
        &tools(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("restore over TLS on {}: {e}", profile.engine));
    let mut s = session(profile);
    let n = s.run("SELECT COUNT(*) FROM item", &[]).expect("count");
    assert_eq!(n.rows[0][0].as_i64(), Some(2));
    s.run_script("DROP TABLE item").expect("drop");
}
