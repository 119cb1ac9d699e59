//! A MongoDB wire-protocol server for one test binary's run, on loopback:
//! EMULATOR-BACKED. No real MongoDB server can be had here, so the tests
//! that use this talk to CongoDB, the in-memory emulator inside npm's
//! `@push.rocks/smartmongo` 2.2.0 (run by `congodb.mjs` under Node.js),
//! which answers the commands the official drivers send. A pass here
//! shows lord's MongoDB provider speaks the protocol and maps documents
//! correctly; it does not show a real server's behaviour in full
//! (authentication, for one, is not emulated).
//!
//! The package and its runtime dependencies are unpacked in
//! `~/.cache/lord-ci/smartmongo-2.2.0` (.ci/run does it; the package's own
//! install fails, hence by hand). Shared with lord's CLI tests.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running emulator; stopped on drop.
pub(crate) struct Mongo {
    child: Child,
    /// Held open: the emulator exits when it closes.
    _stdin: ChildStdin,
    port: u16,
}

fn package_dir() -> Option<PathBuf> {
    // The emulator is cached under the home folder, outside the clone.
    #[allow(clippy::disallowed_methods)]
    let home = std::env::var_os("HOME")?;
    let dir = PathBuf::from(home).join(".cache/lord-ci/smartmongo-2.2.0");
    dir.join("package/dist_ts/congodb/index.js")
        .is_file()
        .then_some(dir)
}

impl Mongo {
    /// Starts the emulator, or returns `None` after saying why when it is
    /// not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        let Some(dir) = package_dir() else {
            skip_or_fail(
                "no CongoDB emulator in ~/.cache/lord-ci/smartmongo-2.2.0",
                "the MongoDB tests need it: run .ci/run, which unpacks it",
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../db/tests/support/congodb.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&dir)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let stdin = child.stdin.take().expect("its stdin");
        let stdout = child.stdout.take().expect("its stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the emulator's first line");
        assert_eq!(line.trim(), "ready", "CongoDB did not start");
        // Whatever it prints later is drained, so a write never fails on a
        // closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Some(Self {
            child,
            _stdin: stdin,
            port,
        })
    }

    /// The URL of database `db`.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("mongodb://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Mongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails in CI, where every server the tests use must be installed, and
/// says loudly elsewhere that a test is skipped and why.
fn skip_or_fail(why: &str, what_to_do: &str) {
    // CI is the one variable that decides between failing and skipping.
    #[allow(clippy::disallowed_methods)]
    let in_ci = std::env::var_os("CI").is_some();
    assert!(!in_ci, "{why}: {what_to_do}");
    eprintln!("SKIPPED: {why}; {what_to_do}");
}
