//! Secrets: stored in the OS keyring when one runs, else encrypted in a
//! file; read by a plugin only with its grant; and a planted value found
//! nowhere afterwards: not in any output of any run, any `--json`, the
//! event log, the audit log, or any file under `$LORD_HOME`.
//!
//! The keyring tests run a real GNOME Keyring on a private D-Bus session
//! bus of their own (no bus activation, so nothing else starts), never the
//! user's.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Lord, Run};

const PLANTED: &str = "tok-PLANTED-7c1e9a55d0b24f6e";

pub(crate) fn set_secret(lord: &Lord, name: &str, value: &str) -> Run {
    set_secret_cmd(lord.command(&["secret", "set", name]), value)
}

fn set_secret_cmd(mut cmd: Command, value: &str) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("lord runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{value}\n").as_bytes())
        .expect("write the secret");
    let output = child.wait_with_output().expect("lord ends");
    Run {
        output,
        elapsed: std::time::Duration::ZERO,
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub(crate) fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_planted_secret_is_used_by_its_grantee_and_found_nowhere_else() {
    let lord = Lord::new();
    let mut outputs = Vec::new();
    let mut keep = |run: Run| {
        outputs.push(format!("{}{}", run.stdout(), run.stderr()));
        run
    };

    keep(lord.install("vault"));
    keep(lord.install("hostile/statesnoop"));
    // Not set yet: the plugin fails and says how to set it.
    keep(lord.run(&["vault"]))
        .assert_code(3)
        .assert_stderr_contains("lord secret set API_TOKEN");

    keep(set_secret(&lord, "API_TOKEN", PLANTED)).assert_ok();
    let listed = keep(lord.run(&["secret", "list", "--json"]));
    listed.assert_ok();
    assert_eq!(
        listed.stdout().trim(),
        r#"[{"name":"API_TOKEN","stored_in":"file"}]"#
    );

    let used = keep(lord.run(&["vault"]));
    used.assert_ok();
    assert_eq!(
        used.stdout(),
        format!(
            "API_TOKEN is set: {} characters, 3 of 3 character classes\n",
            PLANTED.len()
        )
    );

    // A plugin without the grant is refused, and told only the name.
    keep(lord.run(&["statesnoop", "secret"]))
        .assert_code(3)
        .assert_stderr_contains("the secret `API_TOKEN`");

    for args in [
        &["plugin", "info", "vault", "--json"][..],
        &["plugin", "info", "statesnoop", "--json"],
        &["plugin", "list", "--json"],
        &["events", "replay", "--since", "1h", "--json"],
        &["events", "tail", "-n", "100"],
    ] {
        keep(lord.run(args)).assert_ok();
    }

    for (i, output) in outputs.iter().enumerate() {
        assert!(
            !output.contains(PLANTED),
            "output #{i} shows the secret:\n{output}"
        );
    }
    assert_eq!(
        files_containing(lord.home.path(), PLANTED.as_bytes()),
        Vec::<String>::new(),
        "the secret is stored in the clear"
    );

    // Only the user can read the store and its key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = lord.home.path().join("secrets");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("store.enc")), 0o600);
        assert_eq!(mode(&dir.join("key")), 0o600);
    }

    lord.run(&["secret", "remove", "API_TOKEN"]).assert_ok();
    lord.run(&["vault"]).assert_code(3);
    lord.run(&["secret", "remove", "API_TOKEN"])
        .assert_code(2)
        .assert_stderr_contains("no secret named `API_TOKEN`");
}

#[test]
fn a_tampered_secret_store_is_refused_not_misread() {
    let lord = Lord::new();
    set_secret(&lord, "API_TOKEN", PLANTED).assert_ok();
    let store = lord.home.path().join("secrets/store.enc");
    let mut bytes = std::fs::read(&store).expect("store");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&store, bytes).expect("tamper");
    let run = lord.run(&["secret", "list"]);
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("does not decrypt");
    assert!(!run.stderr().contains(PLANTED));
}

/// A GNOME Keyring on a private session bus, unlocked with a test
/// password. Both daemons are killed (by pid) when it drops.
struct PrivateKeyring {
    dir: tempfile::TempDir,
    address: String,
    bus: Child,
    keyring: Option<Child>,
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        for child in self
            .keyring
            .iter_mut()
            .chain(std::iter::once(&mut self.bus))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl PrivateKeyring {
    /// Starts one, or `None` on a developer machine without the daemons.
    /// Under CI (`CI` set) missing daemons fail the test: `.ci/run`
    /// installs them.
    fn start() -> Option<Self> {
        let missing: Vec<_> = ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"]
            .into_iter()
            .filter(|p| !have(p))
            .collect();
        if !missing.is_empty() {
            // The rule against reading the environment directly is for the
            // CLI's own code; a test harness asks whether it runs in CI.
            #[allow(clippy::disallowed_methods)]
            let in_ci = std::env::var_os("CI").is_some();
            assert!(
                !in_ci,
                "CI must install {missing:?} (Debian: dbus gnome-keyring libsecret-tools)"
            );
            eprintln!("skipping the keyring test: {missing:?} not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("keyring dir");
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        // The bus prints its address once it listens.
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("bus stdout"))
            .read_line(&mut line)
            .expect("bus address");
        let address = format!("unix:path={}", socket.display());
        let mut this = Self {
            address,
            bus,
            keyring: None,
            dir,
        };
        let run = this.dir.path().join("run");
        std::fs::create_dir(&run).expect("runtime dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir mode");
        }
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &this.address)
            .env("HOME", this.dir.path())
            .env("XDG_RUNTIME_DIR", &run)
            .env("XDG_DATA_HOME", this.dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        // The login keyring's password, then end of input.
        keyring
            .stdin
            .take()
            .expect("keyring stdin")
            .write_all(b"test-login-password")
            .expect("unlock");
        this.keyring = Some(keyring);
        // Ready when an item can be stored and cleared.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut probe = this.tool(&["store", "--label=probe", "lord-probe", "1"]);
            probe.stdin(Stdio::piped());
            let mut child = probe.spawn().expect("secret-tool runs");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"x")
                .expect("probe");
            if child.wait().expect("secret-tool ends").success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the private keyring never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            this.tool(&["clear", "lord-probe", "1"])
                .status()
                .expect("clear")
                .success()
        );
        Some(this)
    }

    /// `secret-tool` on this keyring's bus.
    fn tool(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("secret-tool");
        cmd.args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    }

    /// The value the keyring holds for `name` of `lord`'s home.
    fn lookup(&self, lord: &Lord, name: &str) -> Option<String> {
        let service = format!("lord-commander {}", lord.home.path().display());
        let output = self
            .tool(&["lookup", "service", &service, "username", name])
            .output()
            .expect("secret-tool lookup");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A `lord` command that talks to this keyring.
    fn lord(&self, lord: &Lord, args: &[&str]) -> Command {
        let mut cmd = lord.command(args);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address);
        cmd
    }
}

#[test]
fn secrets_live_in_the_os_keyring_when_one_runs() {
    let Some(keyring) = PrivateKeyring::start() else {
        return;
    };
    let lord = Lord::new();
    let run = |args: &[&str]| lord.run_cmd(&mut keyring.lord(&lord, args));
    let mut outputs = Vec::new();

    lord.install("vault").assert_ok();
    let stored = set_secret_cmd(
        keyring.lord(&lord, &["secret", "set", "API_TOKEN"]),
        PLANTED,
    );
    stored
        .assert_ok()
        .assert_stderr_contains("stored secret `API_TOKEN` in the OS keyring");
    assert_eq!(keyring.lookup(&lord, "API_TOKEN").as_deref(), Some(PLANTED));
    assert!(
        !lord.home.path().join("secrets/store.enc").exists(),
        "a keyring secret also went to the file"
    );

    let used = run(&["vault"]);
    used.assert_ok();
    assert!(
        used.stdout()
            .contains(&format!("{} characters", PLANTED.len()))
    );
    outputs.push(used);

    let listed = run(&["secret", "list", "--json"]);
    listed.assert_ok();
    assert_eq!(
        listed.stdout().trim(),
        r#"[{"name":"API_TOKEN","stored_in":"keyring"}]"#
    );
    outputs.push(listed);

    // A secret set while the file was the backend stays readable, and
    // setting it again moves it into the keyring.
    set_secret_cmd(
        keyring.lord(
            &lord,
            &[
                "--set",
                "secrets.backend=file",
                "secret",
                "set",
                "OLD_TOKEN",
            ],
        ),
        "old-value",
    )
    .assert_ok()
    .assert_stderr_contains("in the encrypted file");
    assert_eq!(keyring.lookup(&lord, "OLD_TOKEN"), None);
    let both = run(&["secret", "list", "--json"]);
    assert_eq!(
        both.stdout().trim(),
        r#"[{"name":"API_TOKEN","stored_in":"keyring"},{"name":"OLD_TOKEN","stored_in":"file"}]"#
    );
    set_secret_cmd(
        keyring.lord(&lord, &["secret", "set", "OLD_TOKEN"]),
        "new-value",
    )
    .assert_ok();
    assert_eq!(
        keyring.lookup(&lord, "OLD_TOKEN").as_deref(),
        Some("new-value")
    );
    let moved = run(&["secret", "list", "--json"]);
    assert_eq!(
        moved.stdout().trim(),
        r#"[{"name":"API_TOKEN","stored_in":"keyring"},{"name":"OLD_TOKEN","stored_in":"keyring"}]"#
    );

    // Another home on the same keyring sees none of these.
    let other = Lord::new();
    let theirs = other.run_cmd(&mut keyring.lord(&other, &["secret", "list", "--json"]));
    theirs.assert_ok();
    assert_eq!(theirs.stdout().trim(), "[]");

    for output in &outputs {
        assert!(!format!("{}{}", output.stdout(), output.stderr()).contains(PLANTED));
    }
    assert_eq!(
        files_containing(lord.home.path(), PLANTED.as_bytes()),
        Vec::<String>::new()
    );

    run(&["secret", "remove", "API_TOKEN"]).assert_ok();
    assert_eq!(keyring.lookup(&lord, "API_TOKEN"), None);
    run(&["vault"]).assert_code(3);
}

#[test]
fn an_insisted_keyring_that_does_not_answer_is_a_clear_error() {
    // The default test bus address leads nowhere.
    let lord = Lord::new();
    let run = set_secret_cmd(
        lord.command(&[
            "--set",
            "secrets.backend=keyring",
            "secret",
            "set",
            "API_TOKEN",
        ]),
        PLANTED,
    );
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("no OS keyring answers")
        .assert_stderr_contains("secrets.backend = \"file\"");
    assert!(!run.stderr().contains(PLANTED));
    assert!(!lord.home.path().join("secrets/store.enc").exists());
}
