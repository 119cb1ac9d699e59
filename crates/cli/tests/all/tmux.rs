//! A real terminal for tests of terminal programs (`lord monitor`'s
//! dashboard, `lord ai chat`): Debian's `tmux` (which `.ci/run` installs)
//! runs the program in a detached session of a fixed size on a private
//! socket; a test types keys with `send-keys` and reads the screen back
//! with `capture-pane -p`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A private tmux server (its own socket), killed when the test ends.
pub(crate) struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    pub(crate) fn start(command: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("tmux.sock");
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                "dash",
            ])
            .arg(command)
            .status()
            .expect("tmux runs (Debian's tmux; .ci/run installs it)");
        assert!(status.success(), "tmux new-session failed");
        Self { socket, _dir: dir }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs")
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "dash"]).stdout)
            .into_owned()
    }

    /// The screen with its colours, as SGR sequences (`capture-pane -e`).
    pub(crate) fn screen_with_colours(&self) -> String {
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-e", "-t", "dash"])
                .stdout,
        )
        .into_owned()
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "dash"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
    }

    /// Types text literally (`-l`: no key names).
    pub(crate) fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "dash", "-l", text])
                .status
                .success()
        );
    }

    /// Waits until the screen satisfies `ok`, and returns it.
    #[track_caller]
    pub(crate) fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
