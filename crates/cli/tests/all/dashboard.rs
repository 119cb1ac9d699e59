//! `lord monitor`'s terminal dashboard, driven in a real terminal: Debian's
//! `tmux` (which `.ci/run` installs) runs it in a detached session of a
//! fixed size; the test types keys with `send-keys` and reads the screen
//! back with `capture-pane -p`. Nothing is mocked: the figures are this
//! machine's, and the process it kills is a real child of the test.

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Lord;
use crate::tmux::Tmux;

/// Kills the child it holds when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The PIDs in the process table's rows, top to bottom.
fn table_pids(screen: &str) -> Vec<u32> {
    screen
        .lines()
        .filter_map(|l| {
            let inner = l.trim_start().strip_prefix('│')?;
            let inner = inner.trim_start_matches("> ").trim_start();
            inner.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The words of the plugins view's row for `id`, or none while it is not
/// drawn.
fn plugin_row(screen: &str, id: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .find(|l| l.starts_with(&format!("{id} ")))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn quoted(path: &Path) -> String {
    let text = path.to_str().expect("utf-8 path");
    assert!(!text.contains('\''), "{text}");
    format!("'{text}'")
}

#[test]
fn the_dashboard_refuses_when_standard_output_is_not_a_terminal() {
    let lord = Lord::new();
    for args in [&["monitor"][..], &["monitor", "top"]] {
        let run = lord.run(args);
        run.assert_code(2);
        assert_eq!(run.stdout(), "", "nothing on a pipe");
        run.assert_stderr_contains("lord monitor snapshot --json");
    }
}

#[test]
fn the_dashboard_shows_this_machine_searches_sorts_and_kills_only_after_confirming() {
    let lord = Lord::new();
    lord.install("hello");
    // napper has calls recorded; hello's figures are cleared, so it shows
    // none rather than zeros.
    lord.install("napper");
    lord.run(&["nap", "1"]).assert_ok();
    lord.run(&["nap", "1"]).assert_ok();
    lord.run(&["plugin", "perf", "hello", "--clear"])
        .assert_ok();
    let home = lord.home.path();
    let tmux = Tmux::start(&format!(
        "env LORD_HOME={} LORD_NO_UPDATE_CHECK=1 DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent {} monitor; echo lord exited $?; sleep 60",
        quoted(home),
        quoted(Path::new(env!("CARGO_BIN_EXE_lord"))),
    ));

    // The header tells this machine's core count: the `cpuN` lines of
    // /proc/stat, as the collector reads them (not the scheduler's share,
    // which a CPU quota on the CI runner could make smaller).
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cores = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    tmux.wait_for("the core count", |s| {
        s.contains(&format!(" {cores} cores "))
    });
    tmux.wait_for("the charts", |s| {
        s.contains("cpu ") && s.contains("network ")
    });

    // Searching for the test's own PID leaves exactly its row.
    let me = std::process::id();
    tmux.keys(&["/"]);
    tmux.type_text(&me.to_string());
    tmux.keys(&["Enter"]);
    // The label can be drawn before the rows below it (ratatui writes a
    // frame as a diff, and a capture can land half way), so every wait
    // below asks for the whole frame it is about to assert on.
    tmux.wait_for("the search", |s| {
        s.contains("1 shown") && table_pids(s) == [me]
    });

    // Esc in the search box clears it; `s` goes cpu → memory → pid.
    tmux.keys(&["/", "Escape"]);
    tmux.wait_for("the cleared search", |s| {
        !s.contains("1 shown") && s.contains("sort: cpu")
    });
    tmux.keys(&["s"]);
    tmux.wait_for("sorting by memory", |s| s.contains("sort: memory"));
    tmux.keys(&["s"]);
    // A capture can land while the terminal is half redrawn (old rows
    // below new ones on a loaded machine), so the test waits for a whole
    // frame: the label and at least five rows, ascending.
    tmux.wait_for("rows sorted by pid", |s| {
        let pids = table_pids(s);
        s.contains("sort: pid") && pids.len() >= 5 && pids.windows(2).all(|w| w[0] < w[1])
    });

    // Kill asks first; `n` keeps the child, `y` sends it SIGTERM.
    let mut child = Killed(
        Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep runs"),
    );
    let pid = child.0.id();
    tmux.keys(&["/"]);
    tmux.type_text(&pid.to_string());
    tmux.keys(&["Enter"]);
    tmux.wait_for("the child", |s| {
        s.contains("1 shown") && table_pids(s) == [pid]
    });
    tmux.keys(&["k"]);
    tmux.wait_for("the question", |s| {
        s.contains(&format!("Kill {pid} (sleep)? y/n"))
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the answer", |s| {
        s.contains(&format!("kept {pid} (sleep) running"))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.0.try_wait().expect("wait").is_none(),
        "killed without a yes"
    );
    tmux.keys(&["k"]);
    tmux.wait_for("the question again", |s| {
        s.contains(&format!("Kill {pid} (sleep)? y/n"))
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the report", |s| {
        s.contains(&format!("sent SIGTERM to {pid} (sleep)"))
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the child outlived its SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.signal(), Some(15), "{status:?}");

    // The other views: containers, and the plugins in lord's store with
    // what their calls cost.
    tmux.keys(&["2"]);
    tmux.wait_for("the containers view", |s| {
        s.contains("containers (cgroups)")
    });
    tmux.keys(&["3"]);
    let screen = tmux.wait_for("the plugins view", |s| {
        s.contains("plugins · 2 installed · 1 with calls recorded")
            && plugin_row(s, "napper").len() >= 5
            && plugin_row(s, "hello").len() >= 5
    });
    let row = |id: &str| plugin_row(&screen, id);
    let napper = row("napper");
    // PLUGIN VERSION STATE CALLS FAILED P50 ...
    assert_eq!(napper[..3], ["napper", "0.1.0", "enabled"], "{screen}");
    // Two commands and each process's lifecycle hooks; none failed; the
    // time went to the host's clocks (the naps).
    assert!(
        napper[3].parse::<u64>().is_ok_and(|calls| calls >= 2),
        "{screen}"
    );
    assert_eq!(napper[4], "0", "{screen}");
    assert!(
        screen.contains(" ms ") && screen.contains("wasi "),
        "{screen}"
    );
    let hello = row("hello");
    assert_eq!(hello[3..5], ["-", "-"], "figures cleared:\n{screen}");

    // `q` quits, cleanly, and gives the terminal back (the shell's echo
    // shows on the main screen, not the dashboard's alternate one).
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("lord to exit", |s| s.contains("lord exited"));
    assert!(screen.contains("lord exited 0"), "{screen}");
    assert!(
        !screen.contains("sort: "),
        "the dashboard is still drawn:\n{screen}"
    );
}
