//! Test support: a throwaway `$LORD_HOME` and project folder, and a runner
//! for the `lord` binary with no terminal attached.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Lord {
    pub(crate) home: tempfile::TempDir,
    pub(crate) project: tempfile::TempDir,
}

pub(crate) struct Run {
    pub(crate) output: Output,
    pub(crate) elapsed: Duration,
}

impl Run {
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub(crate) fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    #[track_caller]
    pub(crate) fn assert_ok(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "expected success, got {:?}\nstdout: {}\nstderr: {}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "wrong exit code\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub(crate) fn assert_stderr_contains(&self, needle: &str) -> &Self {
        let stderr = self.stderr();
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
        self
    }
}

/// The repository root (two levels above this crate).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repository root")
        .to_path_buf()
}

/// A fixture plugin folder, e.g. `hello` or `hostile/spin`.
#[track_caller]
pub(crate) fn fixture(name: &str) -> PathBuf {
    let dir = repo().join("plugins").join(name);
    assert!(
        dir.join("plugin.wasm").is_file(),
        "{} has no plugin.wasm; run `cargo xtask plugins` before the tests",
        dir.display()
    );
    dir
}

impl Lord {
    /// Stores `value` as the secret `name` through `lord secret set`,
    /// on its standard input as a user would pipe it.
    pub(crate) fn set_secret(&self, name: &str, value: &str) {
        let mut child = self
            .command(&["secret", "set", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lord secret set");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(value.as_bytes())
            .expect("write the secret");
        let output = child.wait_with_output().expect("lord secret set ends");
        assert!(output.status.success(), "{output:?}");
    }

    pub(crate) fn new() -> Self {
        Self {
            home: tempfile::tempdir().expect("temp home"),
            project: tempfile::tempdir().expect("temp project"),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lord"));
        cmd.args(args)
            .current_dir(self.project.path())
            .env("LORD_HOME", self.home.path())
            .env_remove("LORD_FAILPOINT")
            // No session bus: `secrets.backend = auto` finds no keyring and
            // uses the file, so no test touches the user's real keyring.
            // The keyring tests start a private bus of their own.
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/lord-test-bus",
            )
            // No background update checks, except in the test of them.
            .env("LORD_NO_UPDATE_CHECK", "1")
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(&mut self.command(args))
    }

    pub(crate) fn run_cmd(&self, cmd: &mut Command) -> Run {
        let start = Instant::now();
        let output = cmd.output().expect("lord runs");
        Run {
            output,
            elapsed: start.elapsed(),
        }
    }

    /// Installs a fixture with `--yes` and checks it worked.
    pub(crate) fn install(&self, name: &str) -> Run {
        let dir = fixture(name);
        let run = self.run(&[
            "plugin",
            "install",
            dir.to_str().expect("utf-8 path"),
            "--yes",
        ]);
        run.assert_ok();
        run
    }

    pub(crate) fn info(&self, id: &str) -> serde_json::Value {
        let run = self.run(&["plugin", "info", id, "--json"]);
        run.assert_ok();
        serde_json::from_slice(&run.output.stdout).expect("info is JSON")
    }

    /// The installed (WASM) plugins `plugin list --json` shows; the
    /// first-party providers it lists too (kind `native`) are always there.
    pub(crate) fn list(&self) -> Vec<serde_json::Value> {
        let run = self.run(&["plugin", "list", "--json"]);
        run.assert_ok();
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&run.output.stdout).expect("list is JSON");
        all.into_iter().filter(|p| p["kind"] == "wasm").collect()
    }

    /// `lord hello World` still works: the host survived whatever came before.
    #[track_caller]
    pub(crate) fn assert_hello_works(&self) {
        let run = self.run(&["hello", "World"]);
        run.assert_ok();
        assert_eq!(run.stdout(), "Hello, World!\n");
    }
}

/// Copies a fixture into a temp folder, editing its manifest, to make
/// variants (another id, a clashing command, a different host API).
pub(crate) fn variant(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let src = fixture(name);
    let dir = tempfile::tempdir().expect("temp plugin dir");
    std::fs::copy(src.join("plugin.wasm"), dir.path().join("plugin.wasm")).expect("copy wasm");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("read manifest");
    std::fs::write(dir.path().join("plugin.toml"), edit(manifest)).expect("write manifest");
    dir
}
