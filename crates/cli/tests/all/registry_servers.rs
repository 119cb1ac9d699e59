//! Two `lord registry serve` processes on one PostgreSQL database and one
//! blob folder, one of them killed mid-publish by the failpoint
//! `registry-index-before-commit` (`LORD_FAILPOINT`: the process aborts
//! after writing its signing of the shared index and before committing
//! it, as `kill -9` at that moment would). The other keeps serving, and a
//! user's lord installs from it through the verified index, including the
//! version the dead server recorded and its author then published again.
//!
//! And one server killed by `registry-before-sign` (the process aborts
//! right after a publish's record is committed and before it is signed
//! into the index): restarted on the same data, it signs the version in
//! before taking connections, and a user installs it. On SQLite and on
//! PostgreSQL.

use std::path::Path;
use std::process::Child;

use crate::pg::PgServer;
use crate::registry::{flavour, listening, publish_to, trusting, version_of};
use crate::support::Lord;

/// A `lord registry serve` process, killed (by pid) on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(lord: &Lord, data: &Path, database: &str, blobs: &str, failpoint: Option<&str>) -> Server {
    serve_on(lord, data, Some(database), Some(blobs), failpoint)
}

/// A server on `data`, with its records in `database` and blobs in
/// `blobs` when given (in `data` otherwise).
fn serve_on(
    lord: &Lord,
    data: &Path,
    database: Option<&str>,
    blobs: Option<&str>,
    failpoint: Option<&str>,
) -> Server {
    let mut command = lord.command(&[
        "registry",
        "serve",
        "--data",
        data.to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
    ]);
    if let Some(database) = database {
        command.args(["--database-url", database]);
    }
    if let Some(blobs) = blobs {
        command.args(["--blob-url", blobs]);
    }
    if let Some(name) = failpoint {
        command.env("LORD_FAILPOINT", name);
    }
    let (child, url, _) = listening(command);
    Server { child, url }
}

#[test]
fn a_server_killed_mid_publish_leaves_the_other_serving_a_valid_index() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let database = postgres.url();
    let author = Lord::new();
    let blobs = tempfile::tempdir().expect("blobs");
    let blob_url = format!("file://{}/", blobs.path().display());
    let (data_b, data_a) = (
        tempfile::tempdir().expect("data"),
        tempfile::tempdir().expect("data"),
    );
    let b = serve(&author, data_b.path(), &database, &blob_url, None);
    let token = author.run(&[
        "registry",
        "token",
        "create",
        "--scope",
        "publish:*",
        "--data",
        data_b.path().to_str().expect("utf-8"),
        "--database-url",
        &database,
    ]);
    token.assert_ok();
    let token = token.stdout().trim().to_owned();
    // A signs with B's keys, as an operator provisions a second server.
    let keys = data_a.path().join("tuf/keys");
    std::fs::create_dir_all(&keys).expect("keys");
    for entry in std::fs::read_dir(data_b.path().join("tuf/keys")).expect("keys") {
        let entry = entry.expect("key");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), keys.join(entry.file_name())).expect("copy key");
        }
    }
    let mut a = serve(
        &author,
        data_a.path(),
        &database,
        &blob_url,
        Some("registry-index-before-commit"),
    );

    let v1 = flavour("base", "1.0.0", "^0.2", &[]);
    let v11 = flavour("base", "1.1.0", "^0.2", &[]);
    let v12 = flavour("base", "1.2.0", "^0.2", &[]);
    publish_to(&author, v1.path(), &b.url, &token).assert_ok();
    let died = publish_to(&author, v11.path(), &a.url, &token);
    assert_ne!(died.code(), Some(0), "the publish through A was cut off");
    let status = a.child.wait().expect("A is gone");
    assert!(!status.success(), "A died at the failpoint: {status:?}");

    publish_to(&author, v12.path(), &b.url, &token).assert_ok();
    // 1.1.0 was recorded by A but never signed in: its author's retry is
    // refused as already published, and signs it in.
    publish_to(&author, v11.path(), &b.url, &token).assert_stderr_contains("already published");

    let user = trusting(&author);
    for (wanted, got) in [("base@=1.1.0", "1.1.0"), ("base@^1", "1.2.0")] {
        user.run(&["plugin", "remove", "base"]);
        user.run(&["plugin", "install", wanted, "--registry", &b.url, "--yes"])
            .assert_ok();
        assert_eq!(version_of(&user, "base"), got, "{wanted}");
    }
}

/// The publish through a server armed with `registry-before-sign` kills
/// it after the record's commit; the next start signs the version in.
fn a_server_killed_between_commit_and_signing_signs_in_at_its_next_start(database: Option<&str>) {
    use std::os::unix::process::ExitStatusExt as _;
    let author = Lord::new();
    let data = tempfile::tempdir().expect("data");
    let mut dying = serve_on(
        &author,
        data.path(),
        database,
        None,
        Some("registry-before-sign"),
    );
    let mut token = vec![
        "registry",
        "token",
        "create",
        "--scope",
        "publish:*",
        "--data",
        data.path().to_str().expect("utf-8"),
    ];
    if let Some(database) = database {
        token.extend(["--database-url", database]);
    }
    let token = author.run(&token);
    token.assert_ok();
    let token = token.stdout().trim().to_owned();
    let v1 = flavour("base", "1.0.0", "^0.2", &[]);
    let died = publish_to(&author, v1.path(), &dying.url, &token);
    assert_ne!(died.code(), Some(0), "the publish was cut off");
    let status = dying.child.wait().expect("the server is gone");
    assert_eq!(
        status.signal(),
        Some(6),
        "aborted at the failpoint: {status:?}"
    );

    let restarted = serve_on(&author, data.path(), database, None, None);
    let user = trusting(&author);
    user.run(&[
        "plugin",
        "install",
        "base@=1.0.0",
        "--registry",
        &restarted.url,
        "--yes",
    ])
    .assert_ok();
    assert_eq!(version_of(&user, "base"), "1.0.0");
}

#[test]
fn a_sqlite_server_killed_between_commit_and_signing_signs_in_at_its_next_start() {
    a_server_killed_between_commit_and_signing_signs_in_at_its_next_start(None);
}

#[test]
fn a_postgres_server_killed_between_commit_and_signing_signs_in_at_its_next_start() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    a_server_killed_between_commit_and_signing_signs_in_at_its_next_start(Some(&postgres.url()));
}
