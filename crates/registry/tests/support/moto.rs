//! A real S3 API on loopback for one test: PyPI's `moto[server]`
//! (`moto_server`) as a child of the test on a free port, stopped on drop.
//! Its buckets live in memory; every test makes its own.
//!
//! moto checks no signatures, so the credentials are placeholders; what it
//! proves is that the registry's blobs go through `object_store`'s S3
//! client and S3's HTTP API (paths, ETags, errors) and come back intact.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lord_registry::Blobs;

/// A running `moto_server`; killed on drop.
pub(crate) struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts one, or returns `None` after saying why when `moto_server` is
    /// not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        for _ in 0..5 {
            let port = crate::support::free_port();
            let child = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    crate::support::skip_or_fail(
                        "no `moto_server` on PATH",
                        "S3 is tested against PyPI's `moto[server]` (.ci/run installs it)",
                    );
                    return None;
                }
                Err(e) => panic!("could not run moto_server: {e}"),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if child.try_wait().expect("moto status").is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self { child, port });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // It exited (the port was taken) or never listened: try again.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start");
    }

    /// The settings a registry needs to reach this server, as the CLI
    /// would read them from `AWS_*` variables.
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
            ("aws_allow_http", "true".to_owned()),
            ("aws_region", "us-east-1".to_owned()),
            ("aws_access_key_id", "placeholder".to_owned()),
            ("aws_secret_access_key", "placeholder".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Makes `bucket` (S3's `PUT /BUCKET`) and returns its URL.
    pub(crate) fn bucket(&self, bucket: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("reach moto");
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )
        .expect("create bucket");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto's answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "moto: {answer}");
        format!("s3://{bucket}/registry")
    }

    /// The blobs of a registry in `bucket` (made if missing).
    pub(crate) fn blobs(&self, bucket: &str) -> Blobs {
        Blobs::open_with(&self.bucket(bucket), self.settings()).expect("S3 blobs")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
