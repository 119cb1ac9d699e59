//! A real, throwaway Redis server for one test binary's run, on loopback:
//! Debian's `redis-server` as a child of the test on a free port (never
//! 6379, never a system server), with no persistence, a password of its
//! own, and the child killed and its folder deleted on drop; or one that
//! takes TLS only, with a certificate for 127.0.0.1 from a CA of the
//! test's own (made as the PostgreSQL tests make theirs). Shared with
//! lord's CLI tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password every test server requires of the default user.
pub(crate) const PASSWORD: &str = "right-horse-battery";

/// A running server; stopped and deleted on drop.
pub(crate) struct Redis {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts a server, or returns `None` after saying why when Redis is
    /// not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// [`Redis::start`] for a server that takes TLS only
    /// ([`Redis::ca_file`] issued its certificate).
    pub(crate) fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    /// The CA that issued a TLS server's certificate.
    pub(crate) fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_with(tls: bool) -> Option<Self> {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).is_file());
        let Some(binary) = binary else {
            skip_or_fail(
                "no redis-server",
                "Redis is needed for the Redis tests: install Debian's `redis-server` package \
                 (.ci/run does)",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("lord-db-redis-")
            .tempdir_in("/tmp")
            .expect("a folder for Redis");
        // The port is picked by binding port 0 and letting go; another
        // process taking it first is rare enough to fail the test on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // In the foreground, as a child: a test binary that ends takes the
        // server with it (Drop), and nothing is written to disk.
        let mut command = Command::new(binary);
        command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--requirepass", PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if tls {
            crate::pg::make_certificates(dir.path(), None);
            let file = |name: &str| dir.path().join(name);
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(file("server.crt"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.crt"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.args(["--port", &port.to_string()]);
        }
        let child = command.spawn().expect("run redis-server");
        let mut server = Self { dir, child, port };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            assert!(
                self.child.try_wait().expect("server status").is_none(),
                "redis-server exited while starting"
            );
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Redis did not accept connections within 30 s");
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` (0 to 15), as the default user.
    pub(crate) fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Redis {
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
