//! A real model for the tests: llama.cpp's `llama-server` with the
//! SmolLM2-135M-Instruct GGUF, both built or fetched once per machine by
//! `.ci/llm` into `~/.cache/lord-ci` (or named by `LORD_TEST_LLAMA_SERVER`
//! and `LORD_TEST_LLAMA_MODEL`). Started on a free loopback port for one
//! test and killed, by its pid, on drop.
//!
//! Without the binary: a failure in CI (which runs `.ci/llm` first), a
//! printed skip elsewhere.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The versions `.ci/llm` builds and fetches.
const SERVER: &str = "llama-server-11434.0.0/llama-server";
const MODEL: &str = "smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// A running `llama-server`; killed on drop.
pub(crate) struct LlamaServer {
    child: Child,
    port: u16,
    _log: tempfile::NamedTempFile,
}

// Tests have no CLI Context to read the environment through; these
// variables only say where the test's own tools are.
#[expect(
    clippy::disallowed_methods,
    reason = "test support locates its tools and reads CI"
)]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where `.ci/llm` caches what it builds, by the same rule it uses.
fn cache() -> Option<PathBuf> {
    env("LORD_CI_CACHE").map(PathBuf::from).or_else(|| {
        env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("lord-ci"))
    })
}

fn locate(variable: &str, cached: &str) -> Option<PathBuf> {
    env(variable)
        .map(PathBuf::from)
        .or_else(|| cache().map(|c| c.join(cached)))
        .filter(|p| p.is_file())
}

impl LlamaServer {
    /// Starts one with a 2048-token context, or returns `None` after
    /// saying why when the binary or model is missing outside CI.
    pub(crate) fn start() -> Option<Self> {
        let (Some(server), Some(model)) = (
            locate("LORD_TEST_LLAMA_SERVER", SERVER),
            locate("LORD_TEST_LLAMA_MODEL", MODEL),
        ) else {
            let what = "llama-server or the SmolLM2 model is missing; run `.ci/llm` to build and \
                        fetch them into ~/.cache/lord-ci (or set LORD_TEST_LLAMA_SERVER and \
                        LORD_TEST_LLAMA_MODEL)";
            assert!(env("CI").is_none(), "{what}");
            eprintln!("SKIPPED: {what}");
            return None;
        };
        for _ in 0..5 {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("log file");
            let mut child = Command::new(&server)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .arg("-m")
                .arg(&model)
                .args(["-c", "2048", "--threads", "2", "-np", "1"])
                // Quiet, and nothing it could reach for: no web page, no
                // downloads.
                .args(["--no-webui", "--offline", "--log-disable"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().expect("log file"))
                .spawn()
                .unwrap_or_else(|e| panic!("could not run {}: {e}", server.display()));
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                if child.try_wait().expect("llama-server status").is_some() {
                    break;
                }
                // `/health` answers 503 while the model loads, 200 after.
                if health(port) {
                    return Some(Self {
                        child,
                        port,
                        _log: log,
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // It exited (the port was taken) or never became healthy.
            let _ = child.kill();
            let _ = child.wait();
            let mut text = String::new();
            let _ = log.reopen().and_then(|mut f| f.read_to_string(&mut text));
            eprintln!("llama-server on port {port} did not start:\n{text}");
        }
        panic!("llama-server did not start");
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        // `Child::kill` signals this child's own pid, nothing else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn health(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}
