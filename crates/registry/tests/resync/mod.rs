//! A publish or yank whose server stopped after committing the record and
//! before signing it in (the in-process failpoint
//! `Registry::fail_next_before_signing`; the CLI's tests kill a real
//! process there) leaves the index short of the records; the next server
//! started on the same data signs in what is missing before it takes a
//! connection, and a client that trusted the old index follows.

use std::path::Path;
use std::sync::Arc;

use lord_registry::Registry;
use lord_registry_client::Client;

use super::{Backend, Running, Spec};

/// What the verified index lists: (version, yanked) of each target.
fn listed(r: &Running, client: &Client, state: &Path) -> Vec<(String, bool)> {
    r.runtime
        .block_on(client.trusted_index(state))
        .expect("verified index")
        .targets
        .into_iter()
        .map(|t| (t.version, t.yanked))
        .collect()
}

/// Another server on `r`'s data folder and database, as a restart makes.
fn restart(r: &Running) -> (Arc<Registry>, Client) {
    let database = r
        ._postgres
        .as_ref()
        .map(|pg| lord_registry::PgOptions::new(&pg.url()));
    let registry = Arc::new(
        Registry::open_configured(r.data_path(), database.as_ref(), None).expect("reopen"),
    );
    let listener = r
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    r.runtime
        .spawn(lord_registry::serve(listener, Arc::clone(&registry)));
    let client = Client::new(&format!("http://{address}")).expect("client");
    (registry, client)
}

fn timestamp_version(registry: &Registry) -> u64 {
    let bytes = registry
        .tuf
        .file("timestamp.json")
        .expect("read")
        .expect("timestamp");
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("json")["signed"]["version"]
        .as_u64()
        .expect("version")
}

pub(crate) fn a_crash_between_the_commit_and_the_signing_is_repaired_at_the_next_start(
    backend: Backend,
) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    r.publish(&Spec::default()).expect("0.1.0");
    r.registry.fail_next_before_signing();
    r.publish(&Spec {
        version: "0.2.0",
        ..Spec::default()
    })
    .expect_err("the server stopped before signing 0.2.0 in");
    r.registry.fail_next_before_signing();
    r.runtime
        .block_on(r.client.yank(&r.token, "hello", "0.1.0", true))
        .expect_err("the server stopped before signing the yank in");
    let state = tempfile::tempdir().expect("client state");
    assert_eq!(
        listed(&r, &r.client, state.path()),
        [("0.1.0".to_owned(), false)],
        "the index lags the records"
    );

    let (restarted, client) = restart(&r);
    assert_eq!(
        listed(&r, &client, state.path()),
        [("0.1.0".to_owned(), true), ("0.2.0".to_owned(), false)],
        "the next start signed in the publish and the yank"
    );
    // In step now: a further start signs nothing. (Its first answer
    // comes after its start-up is done.)
    let version = timestamp_version(&restarted);
    let (again, client) = restart(&r);
    assert_eq!(listed(&r, &client, state.path()).len(), 2);
    assert_eq!(timestamp_version(&again), version);
}
