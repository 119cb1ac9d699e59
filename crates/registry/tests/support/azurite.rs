//! A real Azure Blob API on loopback for one test: npm's `azurite`
//! (`azurite-blob`) as a child of the test on a free port, with its data in
//! a temporary folder, stopped on drop. Every test makes its own
//! containers.
//!
//! Unlike moto, Azurite checks every request's SharedKey signature against
//! the emulator's published account (`devstoreaccount1`), so a test through
//! it proves the registry's settings reach `object_store`'s signer, not only
//! that bytes travel. `object_store` cannot make a container, so this module
//! signs the few requests the tests need beside the registry's own (make a
//! container, list and delete blobs) with the same SharedKey scheme, by
//! hand, as an observer independent of the client under test.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lord_registry::Blobs;

/// The emulator's account, the same in every Azurite.
const ACCOUNT: &str = "devstoreaccount1";
/// Its key, published in Azurite's README: not a secret.
pub(crate) const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The REST API version the hand-signed requests speak.
const VERSION: &str = "2023-11-03";

/// A running `azurite-blob`; killed on drop, its folder deleted after.
pub(crate) struct Azurite {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Azurite {
    /// Starts one, or returns `None` after saying why when `azurite-blob`
    /// is not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        let dir = tempfile::Builder::new()
            .prefix("lord-registry-azurite-")
            .tempdir()
            .expect("a folder for Azurite");
        let mut last_log = String::new();
        // The port is picked by binding port 0 and letting go, so another
        // process may take it first: then Azurite exits and the next try
        // picks another.
        for _ in 0..5 {
            let port = crate::support::free_port();
            let log_path = dir.path().join(format!("azurite-{port}.log"));
            let log = std::fs::File::create(&log_path).expect("Azurite's log");
            let child = Command::new("azurite-blob")
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(dir.path())
                // No access log, and no telemetry: nothing leaves loopback.
                .args(["--silent", "--disableTelemetry"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("Azurite's log"))
                .stderr(log)
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    crate::support::skip_or_fail(
                        "no `azurite-blob` on PATH",
                        "Azure Blob Storage is tested against npm's `azurite` \
                         (.ci/run installs it)",
                    );
                    return None;
                }
                Err(e) => panic!("could not run azurite-blob: {e}"),
            };
            if wait_listening(&mut child, &log_path) {
                return Some(Self {
                    child,
                    port,
                    _dir: dir,
                });
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("azurite-blob did not start; its last log:\n{last_log}");
    }

    /// The settings a registry needs to reach this server, as the CLI
    /// would read them from `AZURE_*` variables: the emulator's account at
    /// an endpoint of our own (`object_store`'s emulator switch would read
    /// the endpoint from the process environment instead).
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        self.settings_with_key(KEY)
    }

    /// [`Azurite::settings`] signing with `key` instead of the account's.
    pub(crate) fn settings_with_key(&self, key: &str) -> Vec<(String, String)> {
        [
            ("azure_storage_account_name", ACCOUNT.to_owned()),
            ("azure_storage_account_key", key.to_owned()),
            (
                "azure_storage_endpoint",
                format!("http://127.0.0.1:{}/{ACCOUNT}", self.port),
            ),
            ("azure_allow_http", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Makes `container` and returns the registry's URL in it.
    pub(crate) fn container(&self, container: &str) -> String {
        let (status, body) = self.signed("PUT", container, &[("restype", "container")]);
        assert_eq!(status, 201, "Azurite did not make {container}: {body}");
        format!("az://{container}/registry")
    }

    /// The blobs of a registry in `container` (made here).
    pub(crate) fn blobs(&self, container: &str) -> Blobs {
        Blobs::open_with(&self.container(container), self.settings()).expect("Azure blobs")
    }

    /// The names of every blob in `container`, as Azure's List Blobs
    /// answers them.
    pub(crate) fn list(&self, container: &str) -> Vec<String> {
        let query = [("comp", "list"), ("restype", "container")];
        let (status, body) = self.signed("GET", container, &query);
        assert_eq!(status, 200, "Azurite did not list {container}: {body}");
        // Names are the only <Name> elements of the answer; ours need no
        // XML unescaping.
        body.split("<Name>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Name>"))
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// Deletes the blob `name` in `container`.
    pub(crate) fn delete(&self, container: &str, name: &str) {
        let (status, body) = self.signed("DELETE", &format!("{container}/{name}"), &[]);
        assert_eq!(status, 202, "Azurite did not delete {name}: {body}");
    }

    /// Sends an empty request for `path` (under the account) signed with
    /// the account's key, as
    /// <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>
    /// describes; `query` sorted by name. Returns the status and body.
    fn signed(&self, method: &str, path: &str, query: &[(&str, &str)]) -> (u16, String) {
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
            .expect("an HTTP date");
        let path = format!("/{ACCOUNT}/{path}");
        // Eleven empty standard headers (Content-Length is empty for an
        // empty body), then the x-ms-* headers and the resource.
        let mut to_sign = format!(
            "{method}\n{}x-ms-date:{date}\nx-ms-version:{VERSION}\n/{ACCOUNT}{path}",
            "\n".repeat(11)
        );
        for (name, value) in query {
            to_sign.push_str(&format!("\n{name}:{value}"));
        }
        let key = BASE64.decode(KEY).expect("the account key is base64");
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
        let signature = BASE64.encode(aws_lc_rs::hmac::sign(&key, to_sign.as_bytes()));
        let query: String = query
            .iter()
            .enumerate()
            .map(|(i, (n, v))| format!("{}{n}={v}", if i == 0 { '?' } else { '&' }))
            .collect();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("reach Azurite");
        // HTTP/1.0, so the answer is not chunked and ends when the
        // connection does.
        write!(
            stream,
            "{method} {path}{query} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             x-ms-date: {date}\r\nx-ms-version: {VERSION}\r\n\
             Authorization: SharedKey {ACCOUNT}:{signature}\r\n\r\n",
            self.port
        )
        .expect("send to Azurite");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("Azurite's answer");
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned());
        (status, body)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until Azurite says it listens (in its log, so a server of someone
/// else's on the port is never mistaken for ours); false if it exited
/// first, as it does when the port was taken.
fn wait_listening(child: &mut Child, log: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("Azurite's status").is_some() {
            return false;
        }
        let said = std::fs::read_to_string(log).unwrap_or_default();
        if said.contains("successfully listens on") {
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "azurite-blob did not listen within 30 s:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
