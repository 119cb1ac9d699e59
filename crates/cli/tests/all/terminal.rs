//! What a person's terminal receives. lord runs under real pseudo-terminals
//! (one each for stdin, stdout and stderr, in raw mode so the bytes read
//! are the bytes written) with the hostile fixture `termctl`, which prints,
//! logs and fails with OSC 52 (clipboard), OSC 0 (window title), cursor-up
//! and erase-line, and with a hostile registry written here that answers
//! search and errors with the same. Each test asserts the exact bytes: on a
//! terminal, colour is kept and everything else shows as a visible escape;
//! piped, a plugin's output is data and passes unchanged.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{Lord, variant};

/// What `termctl` writes, returns, logs and fails with.
const PAYLOAD: &str =
    "\x1b[31mred\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[1A\x1b[2Kgone\n";

/// `PAYLOAD` as a terminal shows a plugin's own output: colour kept, the
/// rest escaped.
const PAYLOAD_ON_TTY: &str = "\x1b[31mred\x1b[0m \\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}]0;pwned\\u{7}\\u{1b}[1A\\u{1b}[2Kgone\n";

/// `PAYLOAD` as foreign text inside one of lord's lines: all escaped.
const PAYLOAD_FOREIGN: &str = "\\u{1b}[31mred\\u{1b}[0m \\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}]0;pwned\\u{7}\\u{1b}[1A\\u{1b}[2Kgone\\u{a}";

/// Colour lord adds to its own labels on a terminal.
const ERROR_LABEL: &str = "\x1b[1;31merror:\x1b[0m";
/// A plugin's `warn` log record's label on a terminal: lord's colour.
const WARN_LABEL: &str = "\x1b[1;33mwarn:\x1b[0m";

/// One pseudo-terminal: lord gets the terminal side, the test keeps the
/// other.
struct Pty {
    master: File,
    terminal: File,
}

impl Pty {
    fn open() -> Self {
        use rustix::fs::{Mode, OFlags};
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let terminal = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open the terminal side");
        // Raw mode: no `\n` -> `\r\n`, no echo; the test reads exactly what
        // lord wrote.
        let mut termios = rustix::termios::tcgetattr(&terminal).expect("tcgetattr");
        termios.make_raw();
        rustix::termios::tcsetattr(&terminal, rustix::termios::OptionalActions::Now, &termios)
            .expect("tcsetattr");
        Self {
            master: File::from(master),
            terminal: File::from(terminal),
        }
    }
}

/// Reads everything the terminal side writes, until it is closed (Linux
/// then answers EIO).
fn drain(mut master: File) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        all
    })
}

/// What lord wrote to its terminals, and how it ended.
struct TtyRun {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

impl TtyRun {
    #[track_caller]
    fn assert_stdout(&self, expected: &str) -> &Self {
        assert_eq!(
            String::from_utf8_lossy(&self.stdout),
            expected,
            "stdout as the terminal got it\nstderr: {}",
            String::from_utf8_lossy(&self.stderr)
        );
        self
    }

    #[track_caller]
    fn assert_stderr(&self, expected: &str) -> &Self {
        assert_eq!(
            String::from_utf8_lossy(&self.stderr),
            expected,
            "stderr as the terminal got it"
        );
        self
    }

    /// Standard error from `start` on (what follows a spinner, whose frames
    /// depend on timing), which must be exactly `expected`; and no OSC
    /// anywhere in it.
    #[track_caller]
    fn assert_stderr_from(&self, start: &str, expected: &str) -> &Self {
        let text = String::from_utf8_lossy(&self.stderr);
        assert!(
            !text.contains("\x1b]"),
            "an OSC reached the terminal: {text:?}"
        );
        let at = text
            .find(start)
            .unwrap_or_else(|| panic!("stderr lacks {start:?}: {text:?}"));
        assert_eq!(&text[at..], expected, "stderr as the terminal got it");
        self
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit code");
        self
    }
}

/// Runs lord with stdin, stdout and stderr on pseudo-terminals, typing
/// `answer` on its stdin.
fn on_terminals(lord: &Lord, args: &[&str], answer: &str) -> TtyRun {
    on_terminals_with(lord, args, answer, &[])
}

/// [`on_terminals`] with variables set for lord (`NO_COLOR`).
fn on_terminals_with(lord: &Lord, args: &[&str], answer: &str, env: &[(&str, &str)]) -> TtyRun {
    let (stdin, stdout, stderr) = (Pty::open(), Pty::open(), Pty::open());
    let mut cmd = lord.command(args);
    cmd.env_remove("NO_COLOR");
    cmd.envs(env.iter().copied())
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(stdin.terminal))
        .stdout(Stdio::from(stdout.terminal))
        .stderr(Stdio::from(stderr.terminal));
    let child = cmd.spawn().expect("lord runs");
    // The command holds the terminal sides; only lord may keep them open,
    // so reading ends when lord does.
    drop(cmd);
    let (out, err) = (drain(stdout.master), drain(stderr.master));
    let mut typing = stdin.master;
    typing
        .write_all(answer.as_bytes())
        .expect("type the answer");
    let code = wait(child);
    TtyRun {
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        code,
    }
}

/// Runs lord with stdout and stderr on pseudo-terminals and `input` on a
/// pipe to its stdin, as `echo ... | lord pipe ...` in a terminal does.
fn fed_on_terminals(lord: &Lord, args: &[&str], input: &str) -> TtyRun {
    let (stdout, stderr) = (Pty::open(), Pty::open());
    let mut cmd = lord.command(args);
    cmd.env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(stdout.terminal))
        .stderr(Stdio::from(stderr.terminal));
    let mut child = cmd.spawn().expect("lord runs");
    drop(cmd);
    let (out, err) = (drain(stdout.master), drain(stderr.master));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("feed stdin");
    let code = wait(child);
    TtyRun {
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        code,
    }
}

/// A pipeline's result is plugin output: escaped on a terminal, and let
/// through as written with `--raw` or `output.raw`.
#[test]
fn a_pipelines_result_is_escaped_on_a_terminal_unless_raw() {
    let lord = Lord::new();
    lord.install("micro/text");
    let input = "  \x1b]0;pwned\x07 x  ";
    let shown = fed_on_terminals(&lord, &["pipe", "trim"], input);
    shown.assert_code(0);
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        "\\u{1b}]0;pwned\\u{7} x\n"
    );
    for args in [
        &["--raw", "pipe", "trim"][..],
        &["--set", "output.raw=true", "pipe", "trim"],
    ] {
        let raw = fed_on_terminals(&lord, args, input);
        raw.assert_code(0);
        assert_eq!(
            String::from_utf8_lossy(&raw.stdout),
            "\x1b]0;pwned\x07 x\n",
            "{args:?}"
        );
    }
}

/// Waits for lord, at most a minute: a test that hangs says so.
fn wait(mut child: Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lord did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn with_termctl() -> Lord {
    let lord = Lord::new();
    lord.install("hostile/termctl");
    lord
}

#[test]
fn plugin_output_on_a_terminal_keeps_colour_and_shows_every_other_sequence_escaped() {
    let lord = with_termctl();
    on_terminals(&lord, &["termctl"], "")
        .assert_code(0)
        .assert_stdout(&format!(
            "{PAYLOAD_ON_TTY}50%\\u{{d}}done\t\\x{{ff}}\r\n{PAYLOAD_ON_TTY}\x1b[0m"
        ))
        .assert_stderr("\\u{1b}]0;from stderr\\u{7}\x1b[33mnote\x1b[0m\n\x1b[0m");
    let info = lord.info("termctl");
    assert_eq!(info["output_neutralised"], true, "{info}");
    let text = lord.run(&["plugin", "info", "termctl"]);
    assert!(
        text.stdout().contains(
            "  output:      neutralised on a terminal (control sequences shown escaped: OSC 0 \
             (window title), BEL (bell), OSC 52 (clipboard), CSI A (cursor up), CSI K (erase in \
             line), CR (carriage return that would overwrite the line), bytes that are not \
             UTF-8); --raw or output.raw-plugins shows it as written\n"
        ),
        "{}",
        text.stdout()
    );
}

#[test]
fn piped_plugin_output_is_data_and_passes_byte_for_byte() {
    let lord = with_termctl();
    let run = lord.run(&["termctl"]);
    run.assert_ok();
    let mut expected = PAYLOAD.as_bytes().to_vec();
    expected.extend_from_slice(b"50%\rdone\t\xff\r\n");
    expected.extend_from_slice(PAYLOAD.as_bytes());
    assert_eq!(run.output.stdout, expected);
    assert_eq!(
        run.output.stderr,
        b"\x1b]0;from stderr\x07\x1b[33mnote\x1b[0m\n"
    );
    // Nothing reached a terminal, so nothing was neutralised.
    assert_eq!(lord.info("termctl")["output_neutralised"], false);
}

#[test]
fn raw_output_passes_on_a_terminal_per_run_or_by_configuration() {
    let lord = with_termctl();
    let mut expected = PAYLOAD.to_owned();
    expected.push_str("50%\rdone\t\u{fffd}\r\n");
    expected.push_str(PAYLOAD);
    for args in [
        &["termctl", "--raw"][..],
        &["--set", "output.raw=true", "termctl"],
        &["--set", "output.raw-plugins=[\"termctl\"]", "termctl"],
    ] {
        on_terminals(&lord, args, "")
            .assert_code(0)
            .assert_stdout(&expected)
            .assert_stderr("\x1b]0;from stderr\x07\x1b[33mnote\x1b[0m\n");
    }
    assert_eq!(lord.info("termctl")["output_neutralised"], false);
    // Naming another plugin leaves this one neutralised.
    let run = on_terminals(
        &lord,
        &["--set", "output.raw-plugins=[\"hello\"]", "termctl"],
        "",
    );
    assert!(run.stdout.starts_with(PAYLOAD_ON_TTY.as_bytes()));
}

#[test]
fn log_records_and_plugin_failures_stay_one_escaped_line() {
    let lord = with_termctl();
    on_terminals(&lord, &["termctl", "log"], "")
        .assert_code(0)
        .assert_stdout("logged\n")
        .assert_stderr(&format!("[termctl] {WARN_LABEL} {PAYLOAD_FOREIGN}\n"));
    // `NO_COLOR` takes lord's colour away on a terminal; the escaping stays.
    on_terminals_with(&lord, &["termctl", "log"], "", &[("NO_COLOR", "1")])
        .assert_code(0)
        .assert_stderr(&format!("[termctl] warn: {PAYLOAD_FOREIGN}\n"));
    on_terminals(&lord, &["termctl", "fail"], "")
        .assert_code(3)
        .assert_stdout("")
        .assert_stderr(&format!(
            "{ERROR_LABEL} plugin `termctl` failed: {PAYLOAD_FOREIGN}\n"
        ));
    // Piped, they are lord's lines all the same: escaped.
    let run = lord.run(&["termctl", "fail"]);
    assert_eq!(
        run.stderr(),
        format!("error: plugin `termctl` failed: {PAYLOAD_FOREIGN}\n")
    );
}

#[test]
fn the_permission_prompt_cannot_be_drawn_by_the_package() {
    let lord = Lord::new();
    let dir = crate::support::fixture("hostile/termctl");
    let run = on_terminals(
        &lord,
        &["plugin", "install", dir.to_str().expect("utf-8")],
        "n\n",
    );
    // The description's own `risk: low` line stays inside the first line,
    // escaped; lord's risk line says medium, in colour.
    run.assert_code(2).assert_stderr_from(
        "termctl 0.1.0:",
        &format!(
            "termctl 0.1.0: Prints, logs and fails with terminal control sequences.\\u{{a}}  \
             risk: low\\u{{a}}  permissions: none (pure computation)\n  \
             risk: \x1b[33mmedium\x1b[0m\n  \
             permissions:\n    \
             env(TERMCTL_TOKEN)  (\x1b[33mmedium\x1b[0m risk): read the environment variable \
             TERMCTL_TOKEN\n      \
             why: nothing to see here\n  \
             limits: 2000 ms per call, 16 MiB memory, 1024 KiB output, 1024 KiB data\n\
             Grant these permissions and install? [y/N] \
             {ERROR_LABEL} installation of `termctl` was cancelled: the permissions were not \
             granted\n"
        ),
    );
}

/// A permission's path is the manifest's own text: a bidirectional
/// override in it reaches the prompt escaped, so the line cannot read as
/// another folder than the one granted.
#[test]
fn a_permission_path_reaches_the_prompt_escaped() {
    let lord = Lord::new();
    let dir = crate::support::variant("hello", |text| {
        text.replace(
            "request = []",
            "request = [\"fs-read($PROJECT/report\u{202e}fdp.exe)\"]",
        )
    });
    let run = on_terminals(
        &lord,
        &["plugin", "install", dir.path().to_str().expect("utf-8")],
        "n\n",
    );
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(!stderr.contains('\u{202e}'), "{stderr:?}");
    assert!(
        stderr.contains("fs-read($PROJECT/report\\u{202e}fdp.exe)"),
        "{stderr:?}"
    );
}

/// A registry as a hostile operator, or anyone on the path of plain HTTP,
/// would run it: search answers and errors full of control sequences.
/// Returns its base URL.
fn hostile_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream);
        }
    });
    format!("http://{address}")
}

/// One hit whose every field tries something.
fn search_page() -> serde_json::Value {
    serde_json::json!({
        "total": 1,
        "hits": [{
            "id": "evil\x1b]0;owned\x07",
            "name": "Evil\x1b[2J",
            "description": "Clipboard \x1b]52;c;cm0gLXJmIH4=\x07 then \x1b[1A\x1b[2K\u{202e}txt.exe",
            "latest": "1.0.0\x1b[2J",
            "category": "utility",
            "keywords": ["k\x1b[31m"],
            "authors": ["a\x1b]8;;http://x\x07"],
            "downloads": 7,
            "rating": 0.0,
            "ratings": 0,
            "verified": false,
            "updated_ms": 0,
            "relevance": 1.0,
        }],
    })
}

fn answer(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = if path.starts_with("/api/v1/search") {
        ("200 OK", search_page().to_string())
    } else {
        (
            "403 Forbidden",
            serde_json::json!({ "error": PAYLOAD }).to_string(),
        )
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn search_results_from_a_hostile_registry_show_escaped() {
    let lord = Lord::new();
    let url = hostile_registry();
    on_terminals(&lord, &["plugin", "search", "evil", "--registry", &url], "")
        .assert_code(0)
        .assert_stdout(
            "evil\\u{1b}]0;owned\\u{7}  1.0.0\\u{1b}[2J        7 dl  unrated      Clipboard \
             \\u{1b}]52;c;cm0gLXJmIH4=\\u{7} then \\u{1b}[1A\\u{1b}[2K\\u{202e}txt.exe\n",
        );
    // JSON for scripts: the same strings, every hidden character a
    // `\uXXXX` escape.
    let run = on_terminals(
        &lord,
        &["plugin", "search", "evil", "--registry", &url, "--json"],
        "",
    );
    run.assert_code(0);
    let text = String::from_utf8(run.stdout.clone()).expect("utf-8");
    assert!(
        text.contains(
            "\"description\": \"Clipboard \\u001b]52;c;cm0gLXJmIH4=\\u0007 then \
             \\u001b[1A\\u001b[2K\\u202etxt.exe\","
        ),
        "{text}"
    );
    assert!(!text.contains(['\x1b', '\u{202e}', '\x07']), "{text:?}");
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        parsed,
        search_page(),
        "the JSON means what the registry sent"
    );
}

#[test]
fn a_hostile_registrys_error_shows_escaped_on_one_line() {
    let lord = Lord::new();
    let url = hostile_registry();
    on_terminals(
        &lord,
        &["plugin", "install", "evil", "--registry", &url],
        "",
    )
    .assert_code(2)
    .assert_stderr_from(
        ERROR_LABEL,
        &format!("{ERROR_LABEL} the registry refused (403): {PAYLOAD_FOREIGN}\n"),
    );
}

/// The Trojan Source class: a name that shows reversed.
fn reversed_name() -> tempfile::TempDir {
    variant("hostile/termctl", |m| {
        m.replace(
            "name = \"Hostile: termctl\"",
            "name = \"Hello \u{202e}exe.txt\"",
        )
    })
}

const REVERSED: &str = "plugin.toml:3:15: `name` contains U+202E RIGHT-TO-LEFT OVERRIDE at \
                        character 7: a bidirectional control makes text show in another order \
                        than it is written; right-to-left scripts are welcome, direction controls \
                        are not";

#[test]
fn pdk_validate_refuses_a_direction_control_naming_field_and_position() {
    let lord = Lord::new();
    let dir = reversed_name();
    let run = lord.run(&["pdk", "validate", dir.path().to_str().expect("utf-8")]);
    assert_ne!(run.code(), Some(0), "{}", run.stdout());
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(all.contains(REVERSED), "{all}");
}

#[test]
fn plugin_install_refuses_a_direction_control_naming_field_and_position() {
    let lord = Lord::new();
    let dir = reversed_name();
    lord.run(&[
        "plugin",
        "install",
        dir.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains(REVERSED);
    assert!(lord.list().is_empty(), "the plugin was installed");
}
