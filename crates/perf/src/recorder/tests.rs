//! The recorder's tests: the call path, folds, the delayed write and the
//! usage log, against a real `perf.db` in a scratch home.

use super::*;
use crate::sample::{AREAS, Area, Outcome};

fn sample(wall: u64) -> Sample {
    let mut host_ns = [0; AREAS];
    host_ns[Area::Shared.index()] = wall / 2;
    Sample {
        wall_ns: wall,
        host_ns,
        host_calls: [1; AREAS],
        peak_memory_bytes: 65536,
        output_bytes: 3,
        input_bytes: 0,
        outcome: Outcome::Ok,
    }
}

#[test]
fn the_log_stays_short_across_many_one_shot_processes() {
    // Each process that opens perf.db first reads its whole
    // write-ahead log again, so the log must not grow with the number
    // of commands run: 200 one-shot flushes, each from a recorder of
    // its own as a `lord CMD` process makes, would leave ~2.4 MB.
    let home = tempfile::tempdir().expect("temp dir");
    let plugin = PluginId::new("p").expect("id");
    for i in 0..200u64 {
        let recorder = Recorder::new(home.path().to_owned());
        recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000 + i));
        recorder.flush().expect("flush");
    }
    let wal = std::fs::metadata(home.path().join("perf.db-wal")).map_or(0, |m| m.len());
    // What is kept, and one flush's frames more: a few 4 KiB pages,
    // each with its 24-byte header.
    let most = crate::db::WAL_KEPT + 8 * 4120;
    assert!(wal <= most, "the log grew to {wal} bytes, past {most}");
    let db = PerfDb::open(home.path()).expect("db");
    let rows = db.read(Some(&plugin)).expect("read");
    assert_eq!(rows[0].1.calls, 200, "no flush was lost to a checkpoint");
}

#[test]
fn figures_written_through_a_database_opened_ahead_are_all_there() {
    let home = tempfile::tempdir().expect("temp dir");
    let plugin = PluginId::new("p").expect("id");
    // Opened ahead, then the calls, then two writes: the first uses
    // the connection opened ahead, the second opens its own.
    let recorder = Recorder::new(home.path().to_owned());
    recorder.open_ahead();
    recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000));
    recorder.flush().expect("first flush");
    recorder.open_ahead();
    recorder.record(&plugin, EntryKind::Command, "go", &sample(2_000));
    recorder.flush().expect("second flush");
    // Opened ahead and never written to: nothing is lost or held.
    let idle = Recorder::new(home.path().to_owned());
    idle.open_ahead();
    idle.flush().expect("idle flush");
    let rows = PerfDb::open(home.path())
        .expect("db")
        .read(Some(&plugin))
        .expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.calls, 2);
}

#[test]
fn calls_reach_the_database_through_batches_and_the_final_flush() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    let plugin = PluginId::new("p").expect("id");
    // More than one batch, so a fold thread writes some of them.
    for i in 0..(BATCH + 10) as u64 {
        recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000 + i));
    }
    recorder.record_cache(&plugin, EntryKind::Command, "go", true);
    recorder.flush().expect("flush");
    let db = PerfDb::open(home.path()).expect("db");
    let rows = db.read(Some(&plugin)).expect("read");
    assert_eq!(rows.len(), 1);
    let (key, stats) = &rows[0];
    assert_eq!(key.label(), "command:go");
    assert_eq!(stats.calls, (BATCH + 10) as u64);
    assert_eq!(stats.cache_hits, 1);
    assert_eq!(stats.host_calls[Area::Wasi.index()], (BATCH + 10) as u64);
    assert!(recorder.unwritten().is_empty());
    // A second process's calls add to the first's.
    let other = Recorder::new(home.path().to_owned());
    other.record(&plugin, EntryKind::Command, "go", &sample(5));
    other.flush().expect("flush");
    let rows = db.read(None).expect("read");
    assert_eq!(rows[0].1.calls, (BATCH + 11) as u64);
}

/// A cached answer is a use of the plugin: the usage log has it, as
/// `cached`; the call figures count it as a hit, not as a call.
#[test]
fn a_cache_hit_is_in_the_usage_log_and_not_among_the_calls() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    recorder.set_analytics(true);
    let plugin = PluginId::new("p").expect("id");
    recorder.record(&plugin, EntryKind::Command, "go", &sample(1_000));
    recorder.record_cache(&plugin, EntryKind::Command, "go", true);
    recorder.record_cache(&plugin, EntryKind::Command, "go", true);
    recorder.record_cache(&plugin, EntryKind::Command, "go", false);
    let outcomes: Vec<Outcome> = recorder
        .unwritten_calls()
        .iter()
        .map(|row| row.outcome)
        .collect();
    assert_eq!(outcomes, [Outcome::Ok, Outcome::Cached, Outcome::Cached]);
    recorder.flush().expect("flush");
    let db = PerfDb::open(home.path()).expect("db");
    let rows = db.read(Some(&plugin)).expect("read");
    let stats = &rows[0].1;
    assert_eq!(
        (stats.calls, stats.cache_hits, stats.cache_misses),
        (1, 2, 1)
    );
    assert_eq!(db.read_calls(0).expect("calls").len(), 3);
}

/// Joins the folds running on their own threads.
fn folds_done(recorder: &Recorder) {
    for handle in std::mem::take(&mut *lock(&recorder.inner.folding)) {
        handle.join().expect("fold");
    }
}

#[test]
fn interleaved_entry_points_are_folded_each_to_its_own_figures() {
    let recorder = Recorder::in_memory();
    let p = PluginId::new("p").expect("id");
    let q = PluginId::new("q").expect("id");
    // Over two batches, so folds merge into figures already there.
    let calls = 2 * BATCH as u64 + 5;
    for i in 0..calls {
        let (plugin, name) = match i % 3 {
            0 => (&p, "go"),
            1 => (&p, "stop"),
            _ => (&q, "go"),
        };
        recorder.record(plugin, EntryKind::Command, name, &sample(1_000 + i));
    }
    recorder.record_cache(&q, EntryKind::Command, "go", false);
    folds_done(&recorder);
    let figures = recorder.unwritten();
    let last = |residue: u64| (0..calls).rev().find(|i| i % 3 == residue).unwrap() + 1_000;
    let per = |residue: u64| (0..calls).filter(|i| i % 3 == residue).count() as u64;
    // Each entry point's slowest call is its last, to the histogram's
    // precision.
    let found: Vec<(String, String, u64, bool, u64)> = figures
        .iter()
        .zip([0, 1, 2])
        .map(|((key, stats), residue)| {
            (
                key.plugin.to_string(),
                key.label(),
                stats.calls,
                stats.wall_ns.equivalent(stats.wall_ns.max(), last(residue)),
                stats.cache_misses,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("p".into(), "command:go".into(), per(0), true, 0),
            ("p".into(), "command:stop".into(), per(1), true, 0),
            ("q".into(), "command:go".into(), per(2), true, 1),
        ]
    );
}

#[test]
fn held_calls_keep_the_latest_and_name_their_entry_points() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    let p = PluginId::new("p").expect("id");
    // Nobody says whether analytics is on while more than `HELD` calls
    // are made, over two entry points.
    let calls = (HELD + 2 * BATCH) as u64;
    for i in 0..calls {
        let name = if i % 2 == 0 { "even" } else { "odd" };
        let mut s = sample(i);
        s.input_bytes = i;
        recorder.record(&p, EntryKind::Command, name, &s);
    }
    folds_done(&recorder);
    recorder.set_analytics(true);
    recorder.flush().expect("flush");
    let rows = PerfDb::open(home.path())
        .expect("db")
        .read_calls(0)
        .expect("read");
    // The folded batches were cut to the latest HELD while nobody had
    // said; the calls still pending were folded once analytics was on.
    let pending = calls as usize % BATCH;
    assert_eq!(rows.len(), HELD + pending, "the latest calls are written");
    // Batches fold on threads of their own, in any order, so which
    // ones the cap cut is not fixed; the calls folded last are kept.
    let kept: std::collections::HashSet<u64> = rows.iter().map(|r| r.input_bytes).collect();
    assert!(
        (calls - pending as u64..calls).all(|i| kept.contains(&i)),
        "the latest calls are all kept"
    );
    for row in &rows {
        let name = if row.input_bytes % 2 == 0 {
            "even"
        } else {
            "odd"
        };
        assert_eq!(row.entry(), format!("command:{name}"));
        assert_eq!(row.wall_ns, row.input_bytes);
    }
}

#[test]
fn folds_wait_for_one_delayed_write_and_flush_writes_them_all() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    let plugin = PluginId::new("p").expect("id");
    // A delayed write is already waiting (it never comes: the flag is
    // set by hand): the folds of the next full batches do not write.
    recorder.inner.delayed.store(true, Ordering::SeqCst);
    for i in 0..(2 * BATCH) as u64 {
        recorder.record(&plugin, EntryKind::Command, "go", &sample(i));
    }
    folds_done(&recorder);
    assert!(!home.path().join("perf.db").exists(), "no write yet");
    assert_eq!(recorder.unwritten()[0].1.calls, (2 * BATCH) as u64);
    recorder.flush().expect("flush");
    let rows = PerfDb::open(home.path())
        .expect("db")
        .read(Some(&plugin))
        .expect("read");
    assert_eq!(rows[0].1.calls, (2 * BATCH) as u64);
    assert!(recorder.unwritten().is_empty());
}

#[test]
fn figures_folded_when_calls_stop_are_written_without_a_flush() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    let plugin = PluginId::new("p").expect("id");
    // One full batch, folded on its own thread, then no more calls and
    // no flush: a process that went idle.
    for i in 0..BATCH as u64 {
        recorder.record(&plugin, EntryKind::Command, "go", &sample(i));
    }
    folds_done(&recorder);
    // The delayed write comes after `WRITE_EVERY`; a slow machine gets
    // ten times that.
    let until = Instant::now() + 10 * WRITE_EVERY;
    let written = loop {
        let calls = PerfDb::open(home.path())
            .ok()
            .and_then(|db| db.read(Some(&plugin)).ok())
            .and_then(|rows| rows.first().map(|(_, stats)| stats.calls));
        if calls.is_some() || Instant::now() > until {
            break calls;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(written, Some(BATCH as u64));
}

#[test]
fn a_busy_process_with_analytics_on_writes_every_call() {
    let home = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::new(home.path().to_owned());
    recorder.set_analytics(true);
    let plugin = PluginId::new("p").expect("id");
    // More calls than `HELD`, as fast as they can be made.
    let calls = (HELD + 2 * BATCH) as u64;
    for i in 0..calls {
        let mut s = sample(i);
        s.input_bytes = i;
        recorder.record(&plugin, EntryKind::Command, "go", &s);
    }
    recorder.flush().expect("flush");
    let mut seen: Vec<u64> = PerfDb::open(home.path())
        .expect("db")
        .read_calls(0)
        .expect("read")
        .iter()
        .map(|row| row.input_bytes)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..calls).collect::<Vec<_>>(), "none dropped");
}

#[test]
fn the_usage_log_waits_for_analytics_to_be_on_and_forgets_when_off() {
    let home = tempfile::tempdir().expect("temp dir");
    let plugin = PluginId::new("p").expect("id");
    let mut big = sample(7_000);
    big.input_bytes = 123;

    let on = Recorder::new(home.path().to_owned());
    on.record(&plugin, EntryKind::Command, "go", &big);
    // Nobody has said yet: the row is held, not written.
    on.flush().expect("flush");
    let db = PerfDb::open(home.path()).expect("db");
    assert!(db.read_calls(0).expect("read").is_empty());
    assert_eq!(on.unwritten_calls().len(), 1);
    on.set_analytics(true);
    on.flush().expect("flush");
    let rows = db.read_calls(0).expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].wall_ns, rows[0].input_bytes), (7_000, 123));
    assert_eq!(rows[0].session, on.session());
    assert_eq!(rows[0].entry(), "command:go");

    let off = Recorder::new(home.path().to_owned());
    off.record(&plugin, EntryKind::Command, "go", &big);
    off.set_analytics(false);
    off.record(&plugin, EntryKind::Command, "go", &big);
    off.flush().expect("flush");
    assert!(off.unwritten_calls().is_empty());
    assert_eq!(
        db.read_calls(0).expect("read").len(),
        1,
        "only the first process's call"
    );
    // The histograms still count every call.
    assert_eq!(db.read(None).expect("read")[0].1.calls, 3);
}
