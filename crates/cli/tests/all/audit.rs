//! The audit trail as a hash chain with signed checkpoints: each way of
//! tampering with `lord.db`'s records (editing, deleting, moving, cutting
//! off the tail, and swapping in another history) is found by `lord audit
//! verify` and located by record; exports carry the hashes. The tampering
//! is done as an attacker would, with SQL straight on the file.

use std::os::unix::net::UnixDatagram;

use rusqlite::Connection;
use serde_json::Value;

use crate::support::Lord;

/// A home with some history: installs, disables, enables.
fn with_history() -> Lord {
    let lord = Lord::new();
    lord.install("hello");
    for _ in 0..2 {
        lord.run(&["plugin", "disable", "hello"]).assert_ok();
        lord.run(&["plugin", "enable", "hello"]).assert_ok();
    }
    lord
}

fn verify(lord: &Lord) -> (Option<i32>, Value) {
    let run = lord.run(&["audit", "verify", "--json"]);
    let verdict =
        serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()));
    (run.code(), verdict)
}

fn db(lord: &Lord) -> Connection {
    Connection::open(lord.home.path().join("lord.db")).expect("open lord.db")
}

fn seqs(lord: &Lord) -> Vec<i64> {
    let db = db(lord);
    let mut stmt = db.prepare("SELECT seq FROM audit ORDER BY seq").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_untouched_trail_verifies_with_its_checkpoints() {
    let lord = with_history();
    let (code, verdict) = verify(&lord);
    assert_eq!(code, Some(0), "{verdict}");
    assert!(verdict["records"].as_u64().unwrap() >= 5, "{verdict}");
    assert_eq!(verdict["newest_checkpoint"], verdict["last"], "{verdict}");
    let run = lord.run(&["audit", "verify"]);
    assert!(
        run.stdout().contains("the audit trail holds"),
        "{}",
        run.stdout()
    );
}

#[test]
fn an_edit_a_deletion_and_a_move_are_each_found_and_located() {
    let lord = with_history();
    let all = seqs(&lord);
    let (second, third) = (all[1], all[2]);

    db(&lord)
        .execute(
            "UPDATE audit SET detail = 'nothing happened' WHERE seq = ?1",
            [third],
        )
        .unwrap();
    let (code, verdict) = verify(&lord);
    assert_eq!(code, Some(1));
    assert_eq!(verdict["problems"][0]["kind"], "edited");
    assert_eq!(verdict["problems"][0]["seq"], third);

    let lord = with_history();
    db(&lord)
        .execute("DELETE FROM audit WHERE seq = ?1", [third])
        .unwrap();
    let (_, verdict) = verify(&lord);
    assert_eq!(verdict["problems"][0]["kind"], "deleted", "{verdict}");
    assert_eq!(verdict["problems"][0]["after"], second);

    // Swap two whole records (content and hashes) between positions.
    let lord = with_history();
    let conn = db(&lord);
    conn.execute_batch(&format!(
        "UPDATE audit SET seq = -1 WHERE seq = {second};
         UPDATE audit SET seq = {second} WHERE seq = {third};
         UPDATE audit SET seq = {third} WHERE seq = -1;"
    ))
    .unwrap();
    let (_, verdict) = verify(&lord);
    let problems = verdict["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "reordered" && p["seq"] == second),
        "{verdict}"
    );
}

#[test]
fn a_cut_off_tail_and_a_forked_history_are_found_by_the_checkpoints() {
    let lord = with_history();
    let last = *seqs(&lord).last().unwrap();
    db(&lord)
        .execute("DELETE FROM audit WHERE seq >= ?1", [last - 1])
        .unwrap();
    let (code, verdict) = verify(&lord);
    assert_eq!(code, Some(1));
    assert_eq!(verdict["problems"][0]["kind"], "truncated", "{verdict}");
    assert_eq!(verdict["problems"][0]["last"], last - 2);

    // A copy of the database from earlier, put back after more happened,
    // then written to again: another history with the same numbers.
    let lord = with_history();
    let backup = lord.home.path().join("lord.db.backup");
    db(&lord)
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    let agreed = *seqs(&lord).last().unwrap();
    lord.run(&["plugin", "disable", "hello"]).assert_ok();
    lord.run(&["plugin", "enable", "hello"]).assert_ok();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(lord.home.path().join(format!("lord.db{suffix}")));
    }
    std::fs::rename(&backup, lord.home.path().join("lord.db")).unwrap();
    // Something else happens next in this history (the same action in the
    // same second would be the same record, and no fork).
    lord.run(&["plugin", "remove", "hello"]).assert_ok();
    let (code, verdict) = verify(&lord);
    assert_eq!(code, Some(1));
    assert_eq!(verdict["problems"][0]["kind"], "fork", "{verdict}");
    assert_eq!(verdict["problems"][0]["agrees_until"], agreed);
}

#[test]
fn a_forged_checkpoint_line_is_reported() {
    let lord = with_history();
    let path = lord.home.path().join("audit/checkpoints.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut forged: Value = serde_json::from_str(&lines[0]).unwrap();
    forged["seq"] = Value::from(forged["seq"].as_i64().unwrap() + 100);
    lines.push(forged.to_string());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, verdict) = verify(&lord);
    assert_eq!(code, Some(1));
    let problem = verdict["problems"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(problem["line"], lines.len(), "{verdict}");
}

#[test]
fn exports_carry_each_record_and_its_hashes() {
    let lord = with_history();
    let file = lord.project.path().join("audit.jsonl");
    lord.run(&["audit", "export", "--jsonl", file.to_str().unwrap()])
        .assert_ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), seqs(&lord).len());
    for pair in records.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }

    let socket = lord.project.path().join("syslog.sock");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    lord.run(&["audit", "export", "--syslog", socket.to_str().unwrap()])
        .assert_ok();
    let mut buf = [0u8; 8192];
    let n = receiver.recv(&mut buf).unwrap();
    let message = String::from_utf8_lossy(&buf[..n]);
    assert!(message.starts_with("<37>1 "), "{message}");
    assert!(message.contains(" lord - audit - {"), "{message}");
    assert!(message.contains("\"hash\":"), "{message}");

    let report = lord.run(&["audit", "report", "--since", "1h", "--json"]);
    report.assert_ok();
    let report: Value = serde_json::from_str(&report.stdout()).unwrap();
    assert_eq!(report["records"].as_array().unwrap().len(), records.len());
}
