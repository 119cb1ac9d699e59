//! Alerts end to end: rules in the configuration, `lord monitor watch`
//! judging the real machine, a signed webhook received by a listener in
//! this test, and e-mail through a real SMTP server (PyPI's aiosmtpd,
//! which `.ci/run` installs) that requires STARTTLS with a certificate
//! from a CA made for the test. Hysteresis and durations over made-up
//! sequences are `lord-monitor`'s unit tests (`alert.rs`); here one rule
//! is one the machine always meets, so it must fire exactly once, and
//! another watches a live figure the test moves (how many processes of a
//! name run), across its level and its clearing level.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::pg::{free_port, make_certificates};
use crate::support::Lord;

/// One request the webhook received: its headers (lowercased names) and
/// body.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A webhook receiver on loopback answering 200 to every POST.
fn webhook() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received: Received = Arc::default();
    let store = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            loop {
                line.clear();
                reader.read_line(&mut line).expect("header");
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                if let Some((k, v)) = trimmed.split_once(':') {
                    headers.push((k.trim().to_lowercase(), v.trim().to_owned()));
                }
            }
            let length = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            store.lock().expect("lock").push((headers, body));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, received)
}

/// HMAC-SHA256 (RFC 2104), written out so the test checks the signature
/// with code of its own rather than lord's.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

/// aiosmtpd on loopback, refusing mail before STARTTLS, storing what it
/// accepts in a Maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp(dir: &std::path::Path) -> Smtp {
    make_certificates(dir, None);
    let port = free_port();
    let maildir = dir.join("mail");
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .arg("--tlscert")
        .arg(dir.join("server.crt"))
        .arg("--tlskey")
        .arg(dir.join("server.key"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m aiosmtpd (PyPI's aiosmtpd) runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    Smtp {
        child,
        port,
        maildir,
    }
}

fn mails(smtp: &Smtp) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(smtp.maildir.join("new")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

/// Waits until `count()` reaches `n` (deliveries are awaited by lord, but
/// the receivers store them on their own threads).
fn settle(n: usize, count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    count()
}

#[test]
fn a_threshold_alert_fires_once_by_signed_webhook_and_starttls_email() {
    let lord = Lord::new();
    let dir = tempfile::tempdir().expect("smtp dir");
    let smtp = smtp(dir.path());
    let (hook, received) = webhook();
    let mut secret = lord.command(&["secret", "set", "HOOK_KEY"]);
    secret
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = secret.spawn().expect("lord secret set");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"webhook-signing-key")
        .expect("write");
    assert!(child.wait_with_output().expect("wait").status.success());
    std::fs::write(
        lord.home.path().join("config.toml"),
        format!(
            r#"
[[monitor.alerts]]
name = "memory-in-use"
metric = "memory.used_percent"
above = 0

[[monitor.alerts]]
name = "hushed"
metric = "memory.used"
above = 0

[monitor.notify.webhook]
url = "{hook}"
secret = "HOOK_KEY"

[monitor.notify.email]
server = "127.0.0.1"
port = {port}
from = "lord@example.org"
to = ["ops@example.org"]
ca-file = "{ca}"
"#,
            port = smtp.port,
            ca = dir.path().join("ca.crt").display()
        ),
    )
    .expect("config");
    lord.run(&[
        "alert", "silence", "hushed", "--for", "1h", "--reason", "test",
    ])
    .assert_ok();

    // Four samples, the rule met at each: one transition, not four.
    let run = lord.run(&[
        "monitor",
        "watch",
        "--interval",
        "200ms",
        "--count",
        "4",
        "--json",
    ]);
    run.assert_ok();
    let entries: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(entries.len(), 2, "{}", run.stdout());
    let fired = entries
        .iter()
        .find(|e| e["transition"]["rule"] == "memory-in-use")
        .expect("memory-in-use fired");
    assert_eq!(fired["transition"]["state"], "firing");
    assert_eq!(fired["silenced"], false);
    assert_eq!(
        fired["delivered"],
        serde_json::json!(["terminal", "webhook", "email"]),
        "{fired}"
    );
    let hushed = entries
        .iter()
        .find(|e| e["transition"]["rule"] == "hushed")
        .expect("hushed recorded");
    assert_eq!(hushed["silenced"], true);
    assert_eq!(hushed["delivered"], serde_json::json!([]));
    assert!(
        run.stderr().contains("alert: memory-in-use is firing"),
        "{}",
        run.stderr()
    );

    // Exactly one webhook call, signed over the exact body.
    assert_eq!(settle(1, || received.lock().expect("lock").len()), 1);
    let (headers, body) = received.lock().expect("lock")[0].clone();
    let signature = headers
        .iter()
        .find(|(k, _)| k == "x-lord-signature")
        .map(|(_, v)| v.clone())
        .expect("signed");
    assert_eq!(
        signature,
        format!("sha256={}", hmac_sha256(b"webhook-signing-key", &body))
    );
    let payload: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(payload["rule"], "memory-in-use");
    assert_eq!(payload["state"], "firing");

    // Exactly one e-mail, through STARTTLS (aiosmtpd refuses mail without).
    assert_eq!(settle(1, || mails(&smtp).len()), 1);
    let mail = &mails(&smtp)[0];
    assert!(
        mail.contains("Subject: [lord] memory-in-use is firing"),
        "{mail}"
    );
    assert!(mail.contains("To: ops@example.org"), "{mail}");

    // A new watcher knows it is still firing: nothing new goes out.
    let again = lord.run(&[
        "monitor",
        "watch",
        "--interval",
        "200ms",
        "--count",
        "2",
        "--json",
    ]);
    again.assert_ok();
    assert_eq!(again.stdout(), "");
    assert_eq!(settle(1, || received.lock().expect("lock").len()), 1);
    assert_eq!(mails(&smtp).len(), 1);

    // The history is kept.
    let list = lord.run(&["alert", "list", "--json"]);
    list.assert_ok();
    let listed: serde_json::Value = serde_json::from_slice(&list.output.stdout).expect("JSON");
    assert_eq!(listed["rules"][0]["firing"], true);
    assert!(listed["rules"][1]["silenced_until_ms"].is_u64());
    assert_eq!(listed["history"].as_array().map(Vec::len), Some(2));

    // `lord alert test` reaches both channels on demand.
    lord.run(&["alert", "test", "memory-in-use"]).assert_ok();
    assert_eq!(settle(2, || received.lock().expect("lock").len()), 2);
    assert_eq!(settle(2, || mails(&smtp).len()), 2);
    lord.run(&["alert", "test", "nope"])
        .assert_code(2)
        .assert_stderr_contains("no alert rule is named `nope`");
}

#[test]
fn a_mistaken_rule_is_named_with_what_is_allowed() {
    let lord = Lord::new();
    std::fs::write(
        lord.home.path().join("config.toml"),
        "[[monitor.alerts]]\nname = \"x\"\nmetric = \"cpu.pct\"\nabove = 1\n",
    )
    .expect("config");
    lord.run(&["alert", "list"])
        .assert_code(2)
        .assert_stderr_contains("`cpu.pct` is not a metric")
        .assert_stderr_contains("cpu.percent");
}

/// A cloned repository's lord.toml cannot send alerts (and with them a
/// stored secret, as the SMTP password) to a server of its choosing: the
/// mail server it names is never contacted.
#[test]
fn a_project_cannot_say_where_alerts_go_or_which_secret_they_log_in_with() {
    let lord = Lord::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::fs::write(
        lord.project.path().join("lord.toml"),
        format!(
            "[monitor.notify.email]\nserver = \"127.0.0.1\"\nport = {port}\n\
             from = \"a@evil.example\"\nto = [\"b@evil.example\"]\nusername = \"x\"\n\
             password-secret = \"AI_CLOUD_KEY\"\n\n\
             [[monitor.alerts]]\nname = \"always\"\nmetric = \"cpu.percent\"\nabove = -1\n"
        ),
    )
    .expect("lord.toml");
    let run = lord.run(&["alert", "test", "always"]);
    assert_ne!(run.code(), Some(0), "{}", run.stderr());
    run.assert_stderr_contains("may not be set by a project")
        .assert_stderr_contains("monitor.notify.email");
    assert!(
        listener.accept().is_err(),
        "the project's mail server was contacted"
    );
}

/// Processes of one name this test starts and stops, so a live metric
/// (`process:NAME.count`) moves exactly as the test says.
struct Herd {
    program: std::path::PathBuf,
    members: Vec<std::process::Child>,
}

impl Herd {
    fn new(dir: &std::path::Path) -> Self {
        // A copy of `sleep` under a name no other process has.
        let program = dir.join("lordherd");
        std::fs::copy("/bin/sleep", &program).expect("copy sleep");
        Self {
            program,
            members: Vec::new(),
        }
    }

    fn grow(&mut self, n: usize) {
        for _ in 0..n {
            let child = self.start();
            self.members.push(child);
        }
    }

    /// Starts one member. The copy just written can be "busy" for a
    /// moment: a process another test forks meanwhile holds the copy's
    /// write handle until it executes (ETXTBSY), so the start is tried
    /// again a little later.
    fn start(&self) -> std::process::Child {
        const TEXT_FILE_BUSY: i32 = 26;
        let mut tries = 0;
        loop {
            match Command::new(&self.program).arg("120").spawn() {
                Ok(child) => return child,
                Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("herd member starts: {e}"),
            }
        }
    }

    fn shrink(&mut self, n: usize) {
        for mut child in self.members.drain(..n) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        let n = self.members.len();
        self.shrink(n);
    }
}

/// The JSON lines a running `lord monitor watch` printed so far.
fn lines_so_far(lines: &std::sync::mpsc::Receiver<String>, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => got.push(line),
            Err(_) => break,
        }
    }
    got
}

/// Hysteresis on a live metric: a rule on how many `lordherd` processes
/// run fires at 3 (above 2.5), stays firing while the count dips to 2
/// (above its clearing level 1.5), does not fire again when it climbs back
/// to 3, and resolves only at 1. The watcher runs throughout, sampling the
/// real machine every 200 ms; the webhook sees exactly one firing and one
/// resolution.
#[test]
fn a_live_alert_respects_hysteresis_and_fires_and_resolves_once() {
    let lord = Lord::new();
    let dir = tempfile::tempdir().expect("dir");
    let mut herd = Herd::new(dir.path());
    let (hook, received) = webhook();
    std::fs::write(
        lord.home.path().join("config.toml"),
        format!(
            r#"
[[monitor.alerts]]
name = "herd"
metric = "process:lordherd.count"
above = 2.5
clear = 1.5

[monitor.notify.webhook]
url = "{hook}"
"#
        ),
    )
    .expect("config");
    let mut watch = lord.command(&["monitor", "watch", "--interval", "200ms", "--json"]);
    watch.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = crate::monitor::Killed(watch.spawn().expect("lord monitor watch"));
    let stdout = child.0.stdout.take().expect("stdout");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let state = |line: &str| -> String {
        let entry: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(entry["transition"]["rule"], "herd", "{entry}");
        entry["transition"]["state"]
            .as_str()
            .expect("state")
            .to_owned()
    };
    // Quiet at 2: nothing.
    herd.grow(2);
    assert_eq!(
        lines_so_far(&lines, Duration::from_millis(1500)),
        Vec::<String>::new()
    );
    // 3 is above 2.5: it fires, once.
    herd.grow(1);
    let fired = lines_so_far(&lines, Duration::from_secs(3));
    assert_eq!(
        fired.iter().map(|l| state(l)).collect::<Vec<_>>(),
        ["firing"]
    );
    // Down to 2: below the level but above the clearing level, so still
    // firing and nothing is said.
    herd.shrink(1);
    assert_eq!(
        lines_so_far(&lines, Duration::from_millis(1500)),
        Vec::<String>::new()
    );
    // Back to 3: still the same alert, not a new one.
    herd.grow(1);
    assert_eq!(
        lines_so_far(&lines, Duration::from_millis(1500)),
        Vec::<String>::new()
    );
    // Down to 1, below 1.5: it resolves, once.
    herd.shrink(2);
    let resolved = lines_so_far(&lines, Duration::from_secs(3));
    assert_eq!(
        resolved.iter().map(|l| state(l)).collect::<Vec<_>>(),
        ["resolved"]
    );
    drop(child);

    assert_eq!(settle(2, || received.lock().expect("lock").len()), 2);
    let states: Vec<String> = received
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, body)| {
            let payload: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
            payload["state"].as_str().expect("state").to_owned()
        })
        .collect();
    assert_eq!(states, ["firing", "resolved"]);
}
