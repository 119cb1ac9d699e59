//! Several registry servers on one PostgreSQL database and one blob store
//! (an S3 bucket in `moto_server` with the `cloud` feature, a folder
//! without):
//! each an in-process axum server with a runtime, a connection pool, a
//! data folder and a signing connection of its own, so the only thing they
//! share is what separate processes would share (the database and the
//! blobs). In particular their `tuf/lock` files are different files: the
//! one lock that can keep their signings apart is the database's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use lord_package::{Keys, PublicKey, Signature};
use lord_registry::{Blobs, Registry, Scope};
use lord_registry_client::{Client, ClientError, TrustedIndex};

use crate::{Spec, package, support};

/// One server: what a process would own.
struct Server {
    registry: Arc<Registry>,
    runtime: tokio::runtime::Runtime,
    client: Client,
    _data: tempfile::TempDir,
}

impl Server {
    /// A server on `database`, with `blobs`; when `keys_from` is given, its
    /// `tuf/keys/` is a copy of that server's, as an operator provisions a
    /// second server.
    fn start(database: &str, blobs: Blobs, keys_from: Option<&Server>) -> Self {
        let data = tempfile::tempdir().expect("data");
        if let Some(first) = keys_from {
            let to = data.path().join("tuf/keys");
            std::fs::create_dir_all(&to).expect("keys folder");
            for entry in std::fs::read_dir(first._data.path().join("tuf/keys")).expect("keys") {
                let entry = entry.expect("key");
                if entry.file_type().expect("type").is_file() {
                    std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy key");
                }
            }
        }
        let database = lord_registry::PgOptions::new(database);
        let registry = Arc::new(
            Registry::open_configured(data.path(), Some(&database), Some(blobs)).expect("open"),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(registry.tuf.ready()).expect("ready");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address = listener.local_addr().expect("address");
        runtime.spawn(lord_registry::serve(listener, Arc::clone(&registry)));
        Self {
            registry,
            runtime,
            client: Client::new(&format!("http://{address}")).expect("client"),
            _data: data,
        }
    }

    fn live(&self) -> String {
        format!("{}/api/v1/tuf/", self.client.base())
    }

    /// The index as a client verifies it, walking from root 1 into a fresh
    /// datastore (or `datastore`, to show it moves only forward).
    fn verified_index(&self, datastore: &Path) -> Result<TrustedIndex, ClientError> {
        let root = self.registry.tuf.root().expect("root");
        self.runtime.block_on(TrustedIndex::load(
            &self.live(),
            &root,
            datastore,
            jiff::Timestamp::now(),
        ))
    }

    /// Stops the server as a killed process stops: its tasks are dropped
    /// where they stand, its connections closed.
    fn kill(self) {
        self.runtime.shutdown_background();
        drop(self.registry);
    }
}

/// A shared database, a shared blob folder, a package key and a token.
struct Cluster {
    /// The shared blob folder, without the `cloud` feature.
    #[cfg(not(feature = "cloud"))]
    blobs: tempfile::TempDir,
    /// The shared bucket's URL, with the `cloud` feature.
    #[cfg(feature = "cloud")]
    bucket: String,
    keys: Keys,
    _keys_home: tempfile::TempDir,
    key: PublicKey,
    /// Last, so they stop after the servers have let go of them.
    postgres: support::PgServer,
    #[cfg(feature = "cloud")]
    moto: crate::moto::Moto,
}

impl Cluster {
    fn start() -> Option<Self> {
        let postgres = support::PgServer::start()?;
        #[cfg(feature = "cloud")]
        let moto = crate::moto::Moto::start()?;
        let keys_home = tempfile::tempdir().expect("keys");
        let keys = Keys::new(keys_home.path());
        let key = keys.generate("ada").expect("key");
        Some(Self {
            #[cfg(not(feature = "cloud"))]
            blobs: tempfile::tempdir().expect("blobs"),
            #[cfg(feature = "cloud")]
            bucket: moto.bucket("shared"),
            #[cfg(feature = "cloud")]
            moto,
            keys,
            _keys_home: keys_home,
            key,
            postgres,
        })
    }

    /// The store every server shares.
    fn shared_blobs(&self) -> Blobs {
        #[cfg(feature = "cloud")]
        return Blobs::open_with(&self.bucket, self.moto.settings()).expect("S3 blobs");
        #[cfg(not(feature = "cloud"))]
        {
            let url = url::Url::from_directory_path(self.blobs.path()).expect("blob url");
            Blobs::open(url.as_str()).expect("blob folder")
        }
    }

    fn server(&self, keys_from: Option<&Server>) -> Server {
        Server::start(&self.postgres.url(), self.shared_blobs(), keys_from)
    }

    /// Two servers, the second given the first's keys as an operator
    /// provisions it, and a publishing token valid on both.
    fn two_servers(&self) -> (Server, Server, String) {
        let a = self.server(None);
        let b = self.server(Some(&a));
        let token = a
            .registry
            .db
            .create_token(&Scope::parse("publish:*").expect("scope"))
            .expect("token");
        (a, b, token)
    }

    /// `count` packages: plugins `p0`..`p3`, versions `0.N.0`.
    fn packages(&self, count: usize) -> Vec<((String, String), Vec<u8>, Signature)> {
        (0..count)
            .map(|n| {
                let id = format!("p{}", n % 4);
                let version = format!("0.{}.0", n / 4);
                let (bytes, signature) = package(
                    &Spec {
                        id: &id,
                        version: &version,
                        ..Spec::default()
                    },
                    &self.keys,
                    "ada",
                );
                ((id, version), bytes, signature)
            })
            .collect()
    }
}

/// Publishes `packages` at once, alternating between the servers behind
/// `clients`, sixteen at a time; the outcome of each, in order.
fn publish_all(
    clients: &[Client],
    token: &str,
    key: &PublicKey,
    packages: Vec<((String, String), Vec<u8>, Signature)>,
) -> Vec<Result<lord_registry::Published, ClientError>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let tasks: Vec<_> = packages
        .into_iter()
        .enumerate()
        .map(|(n, (_, bytes, signature))| {
            let client = clients[n % clients.len()].clone();
            let (token, key, limit) = (token.to_owned(), key.clone(), Arc::clone(&limit));
            runtime.spawn(async move {
                let _permit = limit.acquire().await.expect("semaphore");
                client.publish(&token, bytes, &signature, &key).await
            })
        })
        .collect();
    runtime.block_on(async {
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("publish task"));
        }
        outcomes
    })
}

/// Every (id, version) the index lists, with how often and its digest.
fn listing(index: &TrustedIndex) -> BTreeMap<(String, String), (usize, String)> {
    let mut listed = BTreeMap::new();
    for target in &index.targets {
        let entry = listed
            .entry((target.id.clone(), target.version.clone()))
            .or_insert((0, target.digest.clone()));
        entry.0 += 1;
    }
    listed
}

#[test]
fn two_servers_publishing_200_versions_at_once_sign_one_history() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let (a, b, token) = cluster.two_servers();
    let packages = cluster.packages(200);
    let names: Vec<_> = packages.iter().map(|(name, _, _)| name.clone()).collect();
    let outcomes = publish_all(
        &[a.client.clone(), b.client.clone()],
        &token,
        &cluster.key,
        packages,
    );
    let mut digests = BTreeMap::new();
    for (name, outcome) in names.iter().zip(outcomes) {
        let published = outcome.unwrap_or_else(|e| panic!("{name:?} was refused: {e}"));
        digests.insert(name.clone(), published.digest);
    }
    for server in [&a, &b] {
        let store = tempfile::tempdir().expect("datastore");
        let index = server.verified_index(store.path()).expect("verified");
        let listed = listing(&index);
        assert_eq!(listed.len(), 200, "every version is in the index");
        for (name, (times, digest)) in &listed {
            assert_eq!(*times, 1, "{name:?} is listed once");
            assert_eq!(Some(digest), digests.get(name), "{name:?} has its digest");
        }
    }
    // Every package is served by both servers, whichever stored it.
    for (name, digest) in digests.iter().step_by(37) {
        for server in [&a, &b] {
            let download = server
                .runtime
                .block_on(server.client.download(&name.0, &name.1))
                .expect("download");
            assert_eq!(
                &lord_package::Digest::of(&download.bytes).to_string(),
                digest,
                "{name:?}"
            );
        }
    }
    // One history: each publish signed one version on top of the one
    // before, whichever server signed it (the first signing is version 1).
    let timestamp = a.registry.tuf.file("timestamp.json").expect("read");
    let version = serde_json::from_slice::<serde_json::Value>(&timestamp.expect("timestamp"))
        .expect("json")["signed"]["version"]
        .as_u64();
    assert_eq!(version, Some(201));
}

#[test]
fn a_server_killed_mid_publish_leaves_the_other_serving_and_the_index_valid() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let (a, b, token) = cluster.two_servers();
    let mut packages = cluster.packages(41);
    let before_store = tempfile::tempdir().expect("datastore");
    let early = packages.drain(..8).collect();
    for outcome in publish_all(
        &[a.client.clone(), b.client.clone()],
        &token,
        &cluster.key,
        early,
    ) {
        outcome.expect("published before the crash");
    }
    let before = b.verified_index(before_store.path()).expect("verified");
    assert_eq!(before.targets.len(), 8);

    // A dies with its signing written but not committed, while B is busy
    // publishing; then A is gone for good.
    let (doomed_name, doomed_bytes, doomed_signature) = packages.remove(0);
    a.registry.tuf.die_before_next_commit();
    let (token_b, key_b) = (token.clone(), cluster.key.clone());
    let during = std::thread::spawn({
        let batch: Vec<_> = packages.drain(..16).collect();
        let client = b.client.clone();
        move || publish_all(&[client], &token_b, &key_b, batch)
    });
    let died = a.runtime.block_on(a.client.publish(
        &token,
        doomed_bytes.clone(),
        &doomed_signature,
        &cluster.key,
    ));
    // The client is told there was a fault and given a reference; what
    // failed (here the failpoint) stays in the server's own log.
    assert!(
        died.as_ref().is_err_and(|e| {
            let told = e.to_string();
            told.contains("500")
                && told.contains("the registry failed to answer (error ")
                && !told.contains("failpoint")
        }),
        "the failpoint fired: {died:?}"
    );
    a.kill();
    for outcome in during.join().expect("publishes on B") {
        outcome.expect("B kept publishing while A died");
    }
    for outcome in publish_all(
        std::slice::from_ref(&b.client),
        &token,
        &cluster.key,
        packages,
    ) {
        outcome.expect("B publishes after A is gone");
    }

    // The index is valid, moved forward from what the client saw before,
    // and lists everything but the version A recorded and never signed.
    let index = b.verified_index(before_store.path()).expect("verified");
    let listed = listing(&index);
    assert_eq!(listed.len(), 40);
    assert!(listed.values().all(|(times, _)| *times == 1));
    assert!(!listed.contains_key(&doomed_name));
    // The author's retry is refused (the version is recorded) and signs
    // it in: nothing recorded stays out of the index.
    let retried =
        b.runtime.block_on(
            b.client
                .publish(&token, doomed_bytes, &doomed_signature, &cluster.key),
        );
    assert!(
        matches!(retried, Err(ClientError::Remote { status: 409, .. })),
        "{retried:?}"
    );
    let index = b.verified_index(before_store.path()).expect("verified");
    let listed = listing(&index);
    assert_eq!(listed.len(), 41);
    assert_eq!(listed.get(&doomed_name).map(|(times, _)| *times), Some(1));
}

#[test]
fn a_server_with_other_keys_or_none_refuses_to_sign_the_shared_index() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let _a = cluster.server(None);
    // Keys of a registry of its own, and no keys at all.
    let elsewhere = tempfile::tempdir().expect("another registry");
    drop(Registry::open(elsewhere.path()).expect("another registry"));
    for other_keys in [Some(elsewhere.path().join("tuf/keys")), None] {
        let data = tempfile::tempdir().expect("data");
        if let Some(keys) = &other_keys {
            let to = data.path().join("tuf/keys");
            std::fs::create_dir_all(&to).expect("keys folder");
            for entry in std::fs::read_dir(keys).expect("keys") {
                let entry = entry.expect("key");
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy key");
            }
        }
        let database = lord_registry::PgOptions::new(&cluster.postgres.url());
        let stranger =
            Registry::open_configured(data.path(), Some(&database), Some(cluster.shared_blobs()))
                .expect("open");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let refused = runtime
            .block_on(stranger.tuf.ready())
            .expect_err("keys the root does not list are refused");
        assert!(
            refused.to_string().contains("copy `tuf/keys/`"),
            "{refused}"
        );
    }
}
