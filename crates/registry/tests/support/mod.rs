//! Real servers for one test, on loopback. S3 is `moto.rs` and Azure Blob
//! Storage `azurite.rs` (modules of their own in the test crate, which only
//! `cloud` builds need); this file is PostgreSQL, and is shared with lord's
//! CLI tests and the load run.
//!
//! A real, throwaway PostgreSQL server for one test: `initdb` into a
//! temporary folder, `postgres` in the foreground as a child of the test
//! on a free loopback port (never 5432, never the system's cluster), a
//! `registry` database in it, and `pg_ctl stop -m immediate` on drop.
//!
//! One server per test keeps tests independent and parallel without
//! shared state to clean; it costs well under a second (initdb without
//! fsync, a server without durability: nothing here outlives the test).
//!
//! initdb and postgres refuse to run as root, and the tests run as root
//! in CI, so as root both run as the `postgres` user that Debian's
//! package creates, in a folder handed to that user.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stopped and deleted on drop.
pub(crate) struct PgServer {
    bin: PathBuf,
    user: Option<(u32, u32)>,
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl PgServer {
    /// Starts a server, or returns `None` after saying why when PostgreSQL
    /// is not installed and this is not CI (where it must be).
    pub(crate) fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// [`PgServer::start`] for a server that takes TCP connections over
    /// TLS only, with a certificate for 127.0.0.1 issued by a CA of its own
    /// (`ca.crt` in its folder, [`PgServer::ca_file`]), made with the
    /// `openssl` program.
    pub(crate) fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    /// The CA that issued a TLS server's certificate.
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_with(tls: bool) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            return missing("no /usr/lib/postgresql/*/bin/initdb");
        };
        let user = if is_root() {
            match postgres_user() {
                Some(ids) => Some(ids),
                None => return missing("running as root and there is no `postgres` user"),
            }
        } else {
            None
        };
        // As root the folder must be reachable by the `postgres` user, so
        // it goes in /tmp rather than wherever TMPDIR points (which may be
        // under a private home).
        let dir = if user.is_some() {
            tempfile::Builder::new()
                .prefix("lord-registry-pg-")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new()
                .prefix("lord-registry-pg-")
                .tempdir()
        }
        .expect("a folder for PostgreSQL");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.path().join("data");
        let output = command(&bin, "initdb", user, dir.path())
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--no-locale", "--no-sync", "--no-instructions"])
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut tls_args = Vec::new();
        if tls {
            make_certificates(dir.path(), user);
            // TCP only over TLS; the Unix socket (how the database is made
            // below) stays open.
            fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
                 hostnossl all all 0.0.0.0/0 reject\n",
            )
            .expect("pg_hba.conf");
            for (name, file) in [
                ("ssl_cert_file", "server.crt"),
                ("ssl_key_file", "server.key"),
            ] {
                tls_args.push("-c".to_owned());
                tls_args.push(format!("{name}={}", dir.path().join(file).display()));
            }
            tls_args.extend(["-c".to_owned(), "ssl=on".to_owned()]);
        }
        // The port is picked by binding port 0 and letting go, so another
        // process may take it first: then the server exits at once and
        // the next try picks another.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("server-{port}.log"));
            let log_file = fs::File::create(&log).expect("log file");
            let mut child = command(&bin, "postgres", user, dir.path())
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1"])
                // Nothing here outlives the test: skip durability, keep
                // memory small so parallel tests' servers fit.
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
                .args(["-c", "max_connections=40"])
                .args(&tls_args)
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                .spawn()
                .expect("run postgres");
            if wait_ready(&mut child, port, &data, dir.path()) {
                return Some(Self {
                    bin,
                    user,
                    dir,
                    child,
                    port,
                });
            }
            last_log = fs::read_to_string(&log).unwrap_or_default();
            // The server exited by itself; reap it and try another port.
            let _ = child.wait();
        }
        panic!("PostgreSQL did not start; its last log:\n{last_log}");
    }

    /// The URL of the test's database, as an operator would pass it.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/registry", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // `immediate`: no checkpoint for data about to be deleted.
        let stopped = command(&self.bin, "pg_ctl", self.user, self.dir.path())
            .arg("stop")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "-t", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Waits until the server on `port` accepts connections and makes the
/// `registry` database; false if the server exited first. A server found
/// on the port must be ours (its data folder is `data`): another test's
/// may have taken the port, and then ours exits.
fn wait_ready(child: &mut Child, port: u16, data: &Path, socket_dir: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    // Over the Unix socket, which a TLS-only server still serves in clear.
    let admin = format!(
        "host={} port={port} user=postgres dbname=postgres connect_timeout=5",
        socket_dir.display()
    );
    loop {
        if child.try_wait().expect("server status").is_some() {
            return false;
        }
        if let Ok(mut client) = ::postgres::Client::connect(&admin, ::postgres::NoTls)
            && client
                .query_one("SHOW data_directory", &[])
                .and_then(|row| row.try_get::<_, String>(0))
                .is_ok_and(|dir| Path::new(&dir) == data)
        {
            client
                .batch_execute("CREATE DATABASE registry")
                .expect("create the registry database");
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not accept connections within 30 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`; the key
/// readable by the server's user alone, as PostgreSQL demands.
pub(crate) fn make_certificates(dir: &Path, user: Option<(u32, u32)>) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run openssl (Debian's `openssl` package)");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-days", "2", "-subj", "/CN=lord test CA"],
        &["-keyout", "ca.key", "-out", "ca.crt"],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &["-subj", "/CN=127.0.0.1", "-keyout", "server.key"],
        &["-out", "server.csr"],
    ]
    .concat());
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    let key = dir.join("server.key");
    let private = <fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    fs::set_permissions(&key, private).expect("key mode");
    if let Some((uid, gid)) = user {
        for file in ["server.key", "server.crt", "ca.crt"] {
            std::os::unix::fs::chown(dir.join(file), Some(uid), Some(gid)).expect("chown");
        }
    }
}

/// A PostgreSQL program, run as `user` when given (that is, as root).
fn command(bin: &Path, program: &str, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut command = Command::new(bin.join(program));
    // A folder the program may enter (it warns about an unreadable one).
    command.current_dir(cwd);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

/// The newest Debian-installed PostgreSQL's programs.
fn bin_dir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The `postgres` user's uid and gid, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Without PostgreSQL: a failure in CI, which must run these tests, and a
/// notice elsewhere, so a developer without it still runs the SQLite half.
fn missing(why: &str) -> Option<PgServer> {
    skip_or_fail(
        why,
        "PostgreSQL is needed for the registry's PostgreSQL tests: install Debian's \
         `postgresql` package (.ci/run does)",
    );
    None
}

/// Fails in CI, where every server the tests use must be installed, and
/// says loudly elsewhere that a test is skipped and why.
pub(crate) fn skip_or_fail(why: &str, what_to_do: &str) {
    // Tests have no CLI Context to read the environment through, and CI
    // is the one variable that decides between failing and skipping.
    #[allow(clippy::disallowed_methods)]
    let in_ci = std::env::var_os("CI").is_some();
    assert!(!in_ci, "{why}: {what_to_do}");
    eprintln!("SKIPPED: {why}; {what_to_do}");
}
