//! `lord db shell` end to end on a SQLite profile: in a real terminal
//! (tmux) a multi-line statement is typed and its table read back off the
//! screen, a `DELETE` without `WHERE` answered `n` leaves the rows, Tab
//! completes a column from the live catalogue, a cell holding an escape
//! sequence shows escaped, and the history file is private; as a script
//! (standard input a pipe), statements run in order, the first failure
//! ends it, a dangerous statement needs `--yes`, and `\watch` runs until
//! Ctrl-C.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::mariadb::MariaDb;
use crate::pg::PgServer;
use crate::support::{Lord, Run};
use crate::tmux::Tmux;

fn sqlite_profile() -> Lord {
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE item (id INTEGER PRIMARY KEY, item_name TEXT NOT NULL)",
    ])
    .assert_ok();
    for name in ["apple", "pear", "\x1b[2J\x1b[31mred"] {
        lord.run(&[
            "db",
            "query",
            "app",
            "INSERT INTO item (item_name) VALUES (?)",
            "-p",
            name,
        ])
        .assert_ok();
    }
    lord
}

/// Runs `lord db shell app` with `script` on its standard input.
fn script(lord: &Lord, args: &[&str], script: &str) -> Run {
    script_on(lord, "app", args, script)
}

fn script_on(lord: &Lord, profile: &str, args: &[&str], script: &str) -> Run {
    let mut all = vec!["db", "shell", profile];
    all.extend_from_slice(args);
    let mut cmd = lord.command(&all);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("lord db shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    let output = child.wait_with_output().expect("lord db shell ends");
    Run {
        output,
        elapsed: Duration::ZERO,
    }
}

fn count(lord: &Lord) -> String {
    let run = lord.run(&[
        "db",
        "query",
        "app",
        "SELECT COUNT(*) AS n FROM item",
        "--csv",
    ]);
    run.assert_ok();
    run.stdout()
}

/// Waits for an empty prompt on the last line: the editor then reads
/// keys again (what is typed while it sets the terminal up may be lost).
fn prompt(tmux: &Tmux) -> String {
    tmux.wait_for("the prompt", |s| {
        s.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::trim_end)
            == Some("app=>")
    })
}

/// Types `text` and a `;` and Enter. The `;` goes as a hex key: tmux reads
/// an argument's trailing `;` as its own command separator.
fn statement(tmux: &Tmux, text: &str) {
    tmux.type_text(text);
    tmux.keys(&["-H", "3b"]);
    tmux.keys(&["Enter"]);
}

#[test]
fn the_shell_in_a_terminal_shows_tables_asks_before_deleting_and_completes_names() {
    let lord = sqlite_profile();
    let tmux = Tmux::start(&format!(
        "cd {} && env LORD_HOME={} LORD_NO_UPDATE_CHECK=1 {} db shell app; \
         echo \"shell ended: $?\"; sleep 30",
        lord.project.path().display(),
        lord.home.path().display(),
        env!("CARGO_BIN_EXE_lord")
    ));
    prompt(&tmux);
    // A statement over two lines: Enter after the first line goes on.
    tmux.type_text("SELECT id,");
    tmux.keys(&["Enter"]);
    // Tab completes the column from the catalogue read at the start.
    tmux.type_text("  item_na");
    tmux.keys(&["Tab"]);
    tmux.type_text(" FROM item ORDER BY id");
    tmux.keys(&["-H", "3b"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the table", |s| s.contains("(3 row(s))"));
    assert!(
        screen.contains("  item_name FROM item ORDER BY id;"),
        "{screen}"
    );
    let table: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("id | item_name"))
        .take(5)
        .map(str::trim_end)
        .collect();
    // The escape sequences in the third row show escaped: the screen
    // was not cleared and nothing turned red.
    assert_eq!(table.len(), 5, "{screen}");
    assert_eq!(table[0], "id | item_name", "{screen}");
    assert!(table[1].starts_with("---+------"), "{screen}");
    assert_eq!(
        table[2..],
        ["1  | apple", "2  | pear", "3  | \\u{1b}[2J\\u{1b}[31mred"],
        "{screen}"
    );
    assert!(screen.contains("Time: "), "timing is on: {screen}");
    prompt(&tmux);
    // DELETE without WHERE asks; `n` leaves the rows.
    statement(&tmux, "DELETE FROM item");
    tmux.wait_for("the question", |s| {
        s.contains("DELETE without WHERE removes every row of item. Run it? [y/N]")
    });
    tmux.type_text("n");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the refusal", |s| s.contains("not run"));
    prompt(&tmux);
    assert_eq!(count(&lord), "n\r\n3\r\n");
    // An engine error is shown and the shell goes on.
    statement(&tmux, "SELECT nope FROM item");
    tmux.wait_for("the error", |s| s.contains("no such column: nope"));
    prompt(&tmux);
    // Ctrl-C drops the line being typed; `\x` shows records.
    tmux.type_text("SELECT 'dropped'");
    tmux.wait_for("the typed line", |s| s.contains("app=> SELECT 'dropped'"));
    tmux.keys(&["C-c"]);
    prompt(&tmux);
    tmux.type_text("\\x");
    tmux.keys(&["Enter"]);
    tmux.wait_for("expanded", |s| s.contains("expanded display is on"));
    prompt(&tmux);
    statement(&tmux, "SELECT item_name FROM item WHERE id = 2");
    let screen = tmux.wait_for("a record", |s| s.contains("-[ RECORD 1 ]"));
    assert!(screen.contains("item_name | pear"), "{screen}");
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("dropped") && !l.contains("SELECT")),
        "the dropped line did not run: {screen}"
    );
    // Ctrl-D ends the shell.
    prompt(&tmux);
    tmux.keys(&["C-d"]);
    tmux.wait_for("the end", |s| s.contains("shell ended: 0"));
    let history = lord.home.path().join("db/history/app");
    let mode = std::fs::metadata(&history)
        .expect("the history file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let text = std::fs::read_to_string(&history).expect("history");
    assert!(
        text.contains("SELECT id,\\n  item_name FROM item ORDER BY id;"),
        "{text}"
    );
    assert!(text.contains("DELETE FROM item;"), "{text}");
}

/// Results taller than the screen go through `$PAGER`, shorter ones do
/// not; a wide cell is cut to the 120 columns with `…` and `\x auto`
/// shows it whole as a record; keywords are coloured as typed; a table
/// made in the shell is completed at once.
#[test]
fn the_shell_pages_tall_results_fits_wide_ones_and_learns_new_tables() {
    let lord = sqlite_profile();
    let paged = lord.project.path().join("paged.txt");
    let tmux = Tmux::start(&format!(
        "cd {} && env LORD_HOME={} LORD_NO_UPDATE_CHECK=1 PAGER='cat > {}' {} db shell app; \
         sleep 30",
        lord.project.path().display(),
        lord.home.path().display(),
        paged.display(),
        env!("CARGO_BIN_EXE_lord")
    ));
    prompt(&tmux);
    statement(
        &tmux,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
         SELECT i AS tall FROM n",
    );
    let screen = tmux.wait_for("the count", |s| s.contains("(100 row(s))"));
    prompt(&tmux);
    let text = std::fs::read_to_string(&paged).expect("the pager got the rows");
    assert!(text.starts_with("tall\n----\n1\n2\n"), "{text}");
    assert!(text.ends_with("\n99\n100\n"), "{text}");
    assert!(
        !screen.contains("\n57\n"),
        "the rows went to the pager: {screen}"
    );
    std::fs::remove_file(&paged).expect("remove");
    // A short result is shown on the screen, cut to its width.
    statement(&tmux, "SELECT 1 AS id, printf('%.300c', 'w') AS wide");
    let screen = tmux.wait_for("the wide row", |s| s.contains("(1 row(s))"));
    assert!(!paged.exists(), "a short result does not page");
    let row = screen
        .lines()
        .find(|l| l.starts_with("1  | www"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.ends_with("w…"), "{row:?}");
    assert_eq!(row.chars().count(), 120, "{row:?}");
    prompt(&tmux);
    tmux.type_text("\\x auto");
    tmux.keys(&["Enter"]);
    // Each input's own output first: until the Enter shows, the screen's
    // last line is still the old empty prompt.
    tmux.wait_for("auto", |s| s.contains("expanded display is auto"));
    prompt(&tmux);
    statement(&tmux, "SELECT 2 AS id, printf('%.150c', 'v') AS wide");
    let screen = tmux.wait_for("the record", |s| s.contains("-[ RECORD 1 ]"));
    assert!(screen.contains("id   | 2"), "{screen}");
    // The record's value is whole, wrapped by the terminal.
    let joined = screen.replace('\n', "");
    assert!(joined.contains(&"v".repeat(150)), "{screen}");
    assert!(!joined.contains(&"v".repeat(151)), "{screen}");
    prompt(&tmux);
    // Keywords are coloured as typed; Tab completes a table made just now.
    statement(&tmux, "CREATE TABLE zebra_stripes (n INTEGER)");
    tmux.wait_for("the create", |s| s.contains("0 row(s) changed"));
    prompt(&tmux);
    tmux.type_text("SELECT * FROM zeb");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the completion", |s| s.contains("FROM zebra_stripes"));
    let coloured = tmux.screen_with_colours();
    assert!(
        coloured.contains("\x1b[1m\x1b[34mSELECT"),
        "the keyword is bold blue: {coloured:?}"
    );
}

#[test]
fn a_script_runs_statements_in_order_and_stops_at_the_first_failure() {
    let lord = sqlite_profile();
    let run = script(
        &lord,
        &[],
        "-- a comment; not a statement\nINSERT INTO item (item_name)\n  VALUES ('a;b');\n\
         \\x on\nSELECT item_name FROM item WHERE id = 4;\n\\x off\n\
         SELECT id FROM item WHERE id > 3\n",
    );
    run.assert_ok();
    assert_eq!(
        run.stdout(),
        "-[ RECORD 1 ]\nitem_name | a;b\nid\n--\n4\n",
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("Time:"), "no timing in scripts");
    // The failing statement ends the script: the INSERT after it never runs.
    let run = script(
        &lord,
        &[],
        "SELECT nope FROM item;\nINSERT INTO item (item_name) VALUES ('late');\n",
    );
    run.assert_code(1)
        .assert_stderr_contains("no such column: nope");
    assert_eq!(count(&lord), "n\r\n4\r\n");
}

#[test]
fn a_script_reads_the_catalogue_and_quits_at_backslash_q() {
    let lord = sqlite_profile();
    let run = script(
        &lord,
        &[],
        "SELECT *\n\\dt\n\\d item\n\\?\n\\q\nINSERT INTO item (item_name) VALUES ('never');\n",
    );
    run.assert_ok()
        .assert_stderr_contains("the unfinished statement before the command was set aside");
    let stdout = run.stdout();
    assert!(stdout.starts_with("table\n-----\nitem\n"), "{stdout}");
    assert!(stdout.contains("table item\n"), "{stdout}");
    assert!(stdout.contains("item_name  TEXT"), "{stdout}");
    assert!(stdout.contains("primary key (id)"), "{stdout}");
    assert!(stdout.contains("\\watch [N]"), "the help: {stdout}");
    assert_eq!(count(&lord), "n\r\n3\r\n", "nothing runs after \\q");
    let run = script(&lord, &[], "\\d nothing\n");
    run.assert_code(2)
        .assert_stderr_contains("there is no table `nothing`");
}

#[test]
fn a_script_runs_a_dangerous_statement_only_with_yes() {
    let lord = sqlite_profile();
    let run = script(&lord, &[], "UPDATE item SET item_name = 'WHERE';\n");
    run.assert_code(2).assert_stderr_contains(
        "refused in a script: UPDATE without WHERE changes every row of item; pass --yes",
    );
    let run = script(&lord, &[], "DELETE FROM item WHERE id = 1;\n");
    run.assert_ok();
    assert_eq!(count(&lord), "n\r\n2\r\n");
    let run = script(&lord, &["--yes"], "DELETE FROM item;\n");
    run.assert_ok().assert_stderr_contains("2 row(s) changed");
    assert_eq!(count(&lord), "n\r\n0\r\n");
}

#[test]
fn watch_runs_the_last_statement_again_until_ctrl_c() {
    let lord = sqlite_profile();
    let mut child = lord
        .command(&["db", "shell", "app"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lord db shell");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"SELECT COUNT(*) AS n FROM item;\n\\watch 0.2\n")
        .expect("write");
    // The script goes on after `\watch` once Ctrl-C stops it.
    stdin.write_all(b"SELECT 'after' AS s;\n").expect("write");
    drop(stdin);
    std::thread::sleep(Duration::from_millis(1500));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "the shell did not stop watching");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let runs = stdout.matches("n\n-\n3\n").count();
    assert!(runs >= 4, "ran {runs} times in 1.5 s: {stdout}");
    assert!(stdout.ends_with("s\n-----\nafter\n"), "{stdout}");
    assert!(
        stderr.contains("every 0.2s: SELECT COUNT(*) AS n FROM item"),
        "{stderr}"
    );
}

/// An interval longer than a day (or than a `Duration` holds) is refused
/// with what to give, not a panic.
#[test]
fn watch_refuses_an_interval_too_long_to_wait() {
    let lord = sqlite_profile();
    for every in ["1e20", "86401", "inf"] {
        let run = script(&lord, &[], &format!("SELECT 1 AS n;\n\\watch {every}\n"));
        run.assert_code(2)
            .assert_stderr_contains("give a number of seconds from above 0 to 86400");
    }
}

/// Runs `statement` in a script on `profile`, sends SIGINT once it has
/// run a second, and returns what the shell printed and how long it took
/// to end after the signal.
fn interrupted(lord: &Lord, profile: &str, statement: &str) -> (Run, Duration) {
    let mut child = lord
        .command(&["db", "shell", profile])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lord db shell");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{statement};\nSELECT 'after' AS s;\n").as_bytes())
        .expect("write");
    drop(stdin);
    std::thread::sleep(Duration::from_millis(1500));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let sent = Instant::now();
    let deadline = sent + Duration::from_secs(15);
    while child.try_wait().expect("status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Ctrl-C did not stop `{statement}` on {profile}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = sent.elapsed();
    let output = child.wait_with_output().expect("output");
    (
        Run {
            output,
            elapsed: took,
        },
        took,
    )
}

/// Ctrl-C stops a running statement on each engine (SQLite's interrupt,
/// PostgreSQL's cancel request, MariaDB's `KILL QUERY` from a second
/// connection); a script then ends, failing, without running the rest.
#[test]
fn ctrl_c_cancels_a_running_statement() {
    let lord = sqlite_profile();
    let mut cases = vec![(
        "app",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )];
    let pg = PgServer::start();
    let maria = MariaDb::start();
    if let Some(pg) = &pg {
        lord.run(&["db", "add", "pg", &pg.url(), "--tls-mode", "disable"])
            .assert_ok();
        cases.push(("pg", "SELECT pg_sleep(30)"));
    }
    if let Some(maria) = &maria {
        lord.run(&[
            "db",
            "add",
            "maria",
            &maria.database("slow"),
            "--tls-mode",
            "disable",
        ])
        .assert_ok();
        cases.push(("maria", "SELECT SLEEP(30)"));
    }
    for (profile, statement) in cases {
        let (run, took) = interrupted(&lord, profile, statement);
        assert!(!run.output.status.success(), "{profile}: {}", run.stdout());
        assert!(
            run.stderr().contains("cancelled"),
            "{profile}: {}",
            run.stderr()
        );
        assert!(
            !run.stdout().contains("after"),
            "{profile}: {}",
            run.stdout()
        );
        assert!(took < Duration::from_secs(10), "{profile}: {took:?}");
    }
}

/// Each engine's own quoting splits statements where the engine would:
/// PostgreSQL's dollar quotes, MySQL's backslash escapes; a transaction
/// spans statements, since the shell keeps one session.
#[test]
fn scripts_split_statements_by_each_servers_quoting_rules() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let Some(maria) = MariaDb::start() else {
        return;
    };
    let lord = Lord::new();
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
    let run = script_on(
        &lord,
        "pg",
        &[],
        "CREATE TABLE t (id INTEGER, s TEXT);\nBEGIN;\n\
         INSERT INTO t VALUES (1, $$a;b$$), (2, $x$ ; $$ ; $x$);\nROLLBACK;\n\
         INSERT INTO t VALUES (3, 'c'';d');\nSELECT id, s FROM t ORDER BY id;\n",
    );
    run.assert_ok();
    assert_eq!(
        run.stdout(),
        "id | s\n---+-----\n3  | c';d\n",
        "{}",
        run.stderr()
    );
    let run = script_on(
        &lord,
        "maria",
        &[],
        "CREATE TABLE t (id INTEGER, s TEXT);\n\
         INSERT INTO t VALUES (1, 'it\\'s;'); # a comment; with a semicolon\n\
         SELECT id, s FROM t;\n",
    );
    run.assert_ok();
    assert_eq!(
        run.stdout(),
        "id | s\n---+------\n1  | it's;\n",
        "{}",
        run.stderr()
    );
}
