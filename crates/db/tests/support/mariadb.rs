//! A real, throwaway MariaDB server for one test binary's run, on
//! loopback: `mariadb-install-db` into a temporary folder, `mariadbd` as a
//! child of the test on a free port (never 3306, never a system server),
//! and the child killed and the folder deleted on drop. Shared with lord's
//! CLI tests.
//!
//! As root (CI) the server runs as Debian's `mysql` user, in a folder
//! handed to that user. The `root` account logs in without a password
//! over TCP from loopback; [`MariaDb::sql`] runs statements as it through
//! the `mariadb` client program, so this file needs no driver crate.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stopped and deleted on drop.
pub(crate) struct MariaDb {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl MariaDb {
    /// Starts a server, or returns `None` after saying why when MariaDB is
    /// not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// [`MariaDb::start`] for a server that takes TCP connections over TLS
    /// only, with a certificate for 127.0.0.1 issued by a CA of its own
    /// (made as the PostgreSQL tests make theirs; [`MariaDb::ca_file`]).
    pub(crate) fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    /// The CA that issued a TLS server's certificate.
    pub(crate) fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_with(tls: bool) -> Option<Self> {
        if !Path::new("/usr/sbin/mariadbd").is_file() {
            skip_or_fail(
                "no /usr/sbin/mariadbd",
                "MariaDB is needed for the MySQL/MariaDB tests: install Debian's \
                 `mariadb-server` package (.ci/run does)",
            );
            return None;
        }
        let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = tempfile::Builder::new()
            .prefix("lord-db-mariadb-")
            .tempdir_in("/tmp")
            .expect("a folder for MariaDB");
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("data folder");
        // Temporary tables of its own: two servers bootstrapping at once in
        // the shared /tmp collide on their names.
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).expect("tmp folder");
        let user = if root { "mysql" } else { "" };
        if tls {
            crate::pg::make_certificates(dir.path(), None);
        }
        if root {
            let status = Command::new("chown")
                .args(["-R", "mysql:mysql"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the MariaDB folder");
        }
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdout(Stdio::null());
        if root {
            install.arg(format!("--user={user}"));
        }
        let output = install.output().expect("run mariadb-install-db");
        assert!(
            output.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The port is picked by binding port 0 and letting go; another
        // process taking it first is rare enough to fail the test on.
        let port = free_port();
        let log = dir.path().join("server.log");
        let mut server = Command::new("/usr/sbin/mariadbd");
        server
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.path().join("s.sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--port={port}"))
            .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
            // Nothing outlives the test: no durability, little memory.
            .args([
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(["--innodb-log-file-size=8M", "--performance-schema=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if root {
            server.arg(format!("--user={user}"));
        }
        if tls {
            let file = |name: &str| dir.path().join(name).display().to_string();
            server
                .arg(format!("--ssl-ca={}", file("ca.crt")))
                .arg(format!("--ssl-cert={}", file("server.crt")))
                .arg(format!("--ssl-key={}", file("server.key")))
                .arg("--require-secure-transport=ON");
        }
        let child = server.spawn().expect("run mariadbd");
        let mut server = Self { dir, child, port };
        assert!(
            server.wait_ready(),
            "MariaDB exited while starting; its log:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        Some(server)
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("server status").is_some() {
                return false;
            }
            if self.try_sql("SELECT 1").is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("MariaDB did not accept connections within 60 s");
    }

    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new("mariadb")
            .arg("--no-defaults")
            .args([
                "--protocol=tcp",
                "-h",
                "127.0.0.1",
                "-u",
                "root",
                "-N",
                "-B",
            ])
            .arg(format!("--port={}", self.port))
            .args(["-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Runs `sql` as root; its tab-separated output.
    pub(crate) fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("MariaDB refused `{sql}`: {e}"))
    }

    /// A new, empty database `name` and its URL (as root, no password).
    pub(crate) fn database(&self, name: &str) -> String {
        self.sql(&format!("CREATE DATABASE `{name}`"));
        format!("mysql://root@127.0.0.1:{}/{name}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MariaDb {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
