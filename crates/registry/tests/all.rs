//! The registry over real HTTP on loopback: a real axum server on an
//! ephemeral port, a real database and blob folder, the real client, and
//! packages packed and signed by `lord-package`.
//!
//! Every case runs against both databases the registry supports, as
//! `sqlite::NAME` and `postgres::NAME`: SQLite in the test's data folder,
//! and a real PostgreSQL server started for the test (`support`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lord_package::{Keys, PublicKey, Signature};
use lord_registry::{Client, Registry, RegistryError, Scope, SearchQuery, Sort};

/// Which database a case runs against.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One `#[test]` per case and backend, each calling the case with its
/// backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                super::$case(super::Backend::Sqlite);
            })*
        }
        mod postgres {
            $(#[test]
            fn $case() {
                super::$case(super::Backend::Postgres);
            })*
        }
    };
}

on_both_backends!(
    a_published_package_is_found_downloaded_and_verifies_for_the_user,
    bad_publishes_are_refused_and_change_nothing,
    search_filters_and_sorts,
    yanking_moves_latest_back_and_restoring_moves_it_forward,
);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What a test plugin looks like.
struct Spec<'a> {
    id: &'a str,
    version: &'a str,
    description: &'a str,
    category: &'a str,
    keywords: &'a [&'a str],
    author: &'a str,
    dependencies: &'a [(&'a str, &'a str)],
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Self {
            id: "hello",
            version: "0.1.0",
            description: "Greets whoever you name.",
            category: "utility",
            keywords: &["greeting"],
            author: "Ada",
            dependencies: &[],
        }
    }
}

/// A packed package: bytes and the signature by `key` in `keys`.
fn package(spec: &Spec<'_>, keys: &Keys, key: &str) -> (Vec<u8>, Signature) {
    let dir = tempfile::tempdir().expect("dir");
    let keywords = spec
        .keywords
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut manifest = format!(
        "[plugin]\nid = \"{}\"\nname = \"{}\"\nversion = \"{}\"\ndescription = \"{}\"\n\
         authors = [\"{}\"]\nlicense = \"MIT\"\ncategory = \"{}\"\nkeywords = [{keywords}]\n\
         host-api = \"^0.2\"\ncomponent = \"plugin.wasm\"\n",
        spec.id, spec.id, spec.version, spec.description, spec.author, spec.category
    );
    if !spec.dependencies.is_empty() {
        manifest.push_str("\n[dependencies]\n");
        for (id, range) in spec.dependencies {
            manifest.push_str(&format!("{id} = \"{range}\"\n"));
        }
    }
    std::fs::write(dir.path().join("plugin.toml"), manifest).expect("manifest");
    std::fs::copy(
        repo().join("plugins/hello/plugin.wasm"),
        dir.path().join("plugin.wasm"),
    )
    .expect("component");
    let packed = lord_package::pack(dir.path()).expect("pack");
    let signature = keys.sign(key, &packed.digest).expect("sign");
    (packed.bytes, signature)
}

/// A running registry and what a test needs to talk to it.
struct Running {
    _data: tempfile::TempDir,
    registry: Arc<Registry>,
    client: Client,
    keys: Keys,
    _keys_home: tempfile::TempDir,
    key: PublicKey,
    token: String,
    runtime: tokio::runtime::Runtime,
    /// Last, so it stops after the registry has let go of it.
    _postgres: Option<support::PgServer>,
}

impl Running {
    /// A registry on `backend`; `None` when that backend cannot run here
    /// (PostgreSQL not installed outside CI: `support` says so).
    fn start(backend: Backend) -> Option<Self> {
        let data = tempfile::tempdir().expect("data");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(support::PgServer::start()?),
        };
        let url = postgres.as_ref().map(support::PgServer::url);
        let registry =
            Arc::new(Registry::open_with(data.path(), url.as_deref(), None).expect("open"));
        assert_eq!(
            data.path().join("registry.db").exists(),
            url.is_none(),
            "the records went to the other database"
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address = listener.local_addr().expect("address");
        runtime.spawn(lord_registry::serve(listener, Arc::clone(&registry)));
        let keys_home = tempfile::tempdir().expect("keys");
        let keys = Keys::new(keys_home.path());
        let key = keys.generate("ada").expect("key");
        let token = registry
            .db
            .create_token(&Scope::parse("publish:*").expect("scope"))
            .expect("token");
        Some(Self {
            client: Client::new(&format!("http://{address}")).expect("client"),
            _data: data,
            registry,
            keys,
            _keys_home: keys_home,
            key,
            token,
            runtime,
            _postgres: postgres,
        })
    }

    fn publish(&self, spec: &Spec<'_>) -> Result<lord_registry::Published, RegistryError> {
        let (bytes, signature) = package(spec, &self.keys, "ada");
        self.runtime.block_on(
            self.client
                .publish(&self.token, bytes, &signature, &self.key),
        )
    }

    fn search(&self, query: SearchQuery) -> Vec<String> {
        self.runtime
            .block_on(self.client.search(&query))
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect()
    }
}

fn a_published_package_is_found_downloaded_and_verifies_for_the_user(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    let published = r.publish(&Spec::default()).expect("publish");
    assert_eq!(published.id, "hello");

    let page = r
        .runtime
        .block_on(r.client.search(&SearchQuery {
            q: Some("greet".to_owned()),
            ..SearchQuery::default()
        }))
        .expect("search");
    assert_eq!(page.total, 1);
    assert_eq!(page.hits[0].id, "hello");
    assert!(page.hits[0].relevance > 0.0);

    let info = r
        .runtime
        .block_on(r.client.plugin("hello"))
        .expect("info")
        .expect("known");
    assert_eq!(info.versions.len(), 1);
    assert_eq!(info.versions[0].digest, published.digest);
    assert_eq!(info.versions[0].key, r.key.id().to_string());

    // The user verifies against their own trusted keys, not the server.
    let download = r
        .runtime
        .block_on(r.client.download("hello", "0.1.0"))
        .expect("download");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("hello-0.1.0.lordpkg");
    std::fs::write(&file, &download.bytes).expect("write");
    std::fs::write(Signature::path_for(&file), &download.signature).expect("sig");
    let dest = tempfile::tempdir().expect("dest");
    let opened = lord_package::open(
        &file,
        dest.path(),
        std::slice::from_ref(&r.key),
        false,
        &lord_package::Limits::default(),
    )
    .expect("verifies");
    assert_eq!(opened.digest.to_string(), published.digest);
    let stranger = Keys::new(dir.path()).generate("stranger").expect("key");
    let dest = tempfile::tempdir().expect("dest");
    assert!(
        lord_package::open(
            &file,
            dest.path(),
            &[stranger],
            false,
            &lord_package::Limits::default()
        )
        .is_err(),
        "a package verified under a key the user does not trust"
    );

    let info = r
        .runtime
        .block_on(r.client.plugin("hello"))
        .expect("info")
        .expect("known");
    assert_eq!(info.summary.downloads, 1);
    assert!(
        r.runtime
            .block_on(r.client.plugin("nothing"))
            .expect("info")
            .is_none()
    );
}

fn bad_publishes_are_refused_and_change_nothing(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    r.publish(&Spec::default()).expect("publish");

    let (bytes, signature) = package(
        &Spec {
            version: "0.2.0",
            ..Spec::default()
        },
        &r.keys,
        "ada",
    );
    let status = |e: RegistryError| e.to_string();

    // No token, a bad token.
    let error = r
        .runtime
        .block_on(
            r.client
                .publish("lrt_wrong", bytes.clone(), &signature, &r.key),
        )
        .expect_err("bad token accepted");
    assert!(status(error).contains("401"));

    // A token for another plugin.
    let narrow = r
        .registry
        .db
        .create_token(&Scope::parse("publish:other").expect("scope"))
        .expect("token");
    let error = r
        .runtime
        .block_on(r.client.publish(&narrow, bytes.clone(), &signature, &r.key))
        .expect_err("out-of-scope token accepted");
    assert!(status(error).contains("may not publish `hello`"));

    // Bytes changed after signing.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let error = r
        .runtime
        .block_on(r.client.publish(&r.token, tampered, &signature, &r.key))
        .expect_err("tampered package accepted");
    assert!(status(error).contains("changed after it was signed"));

    // Signed by someone else than the plugin's pinned key.
    r.keys.generate("eve").expect("key");
    let eve = r.keys.public("eve").expect("eve");
    let (eve_bytes, eve_sig) = package(
        &Spec {
            version: "0.3.0",
            ..Spec::default()
        },
        &r.keys,
        "eve",
    );
    let error = r
        .runtime
        .block_on(r.client.publish(&r.token, eve_bytes, &eve_sig, &eve))
        .expect_err("another signer accepted");
    assert!(status(error).contains("is published under key"));

    // The same version twice.
    let error = r.publish(&Spec::default()).expect_err("duplicate accepted");
    assert!(status(error).contains("already published"));

    // Not a package at all, correctly signed.
    let junk = b"not a package".to_vec();
    let junk_sig = r
        .keys
        .sign("ada", &lord_package::Digest::of(&junk))
        .expect("sign");
    let error = r
        .runtime
        .block_on(r.client.publish(&r.token, junk, &junk_sig, &r.key))
        .expect_err("junk accepted");
    assert!(status(error).contains("truncated or damaged"));

    let info = r
        .runtime
        .block_on(r.client.plugin("hello"))
        .expect("info")
        .expect("known");
    let versions: Vec<_> = info.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["0.1.0"]);

    // And a correct one still goes through.
    r.runtime
        .block_on(r.client.publish(&r.token, bytes, &signature, &r.key))
        .expect("publish 0.2.0");
}

fn search_filters_and_sorts(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for spec in [
        Spec {
            id: "csv-tools",
            description: "Read and write CSV files quickly.",
            category: "data",
            keywords: &["csv", "table"],
            author: "Grace Hopper",
            ..Spec::default()
        },
        Spec {
            id: "json-query",
            description: "Query JSON documents with paths; CSV export too.",
            category: "data",
            keywords: &["json"],
            author: "Ada Lovelace",
            ..Spec::default()
        },
        Spec {
            id: "ping",
            description: "Check that hosts answer.",
            category: "network",
            keywords: &["network"],
            author: "Ada Lovelace",
            ..Spec::default()
        },
    ] {
        r.publish(&spec).expect("publish");
    }
    // Relevance: the plugin named for CSV outranks one that mentions it.
    let q = |text: &str| SearchQuery {
        q: Some(text.to_owned()),
        ..SearchQuery::default()
    };
    assert_eq!(r.search(q("csv")), ["csv-tools", "json-query"]);
    // Words match as prefixes: "qu" finds "quickly" and "query".
    let mut prefix = r.search(q("qu"));
    prefix.sort();
    assert_eq!(prefix, ["csv-tools", "json-query"]);
    assert_eq!(
        r.search(SearchQuery {
            category: Some("data".to_owned()),
            sort: Some(Sort::Updated),
            ..SearchQuery::default()
        }),
        ["json-query", "csv-tools"]
    );
    assert_eq!(
        r.search(SearchQuery {
            tag: Some("network".to_owned()),
            ..SearchQuery::default()
        }),
        ["ping"]
    );
    let mut by_ada = r.search(SearchQuery {
        author: Some("lovelace".to_owned()),
        ..SearchQuery::default()
    });
    by_ada.sort();
    assert_eq!(by_ada, ["json-query", "ping"]);

    // Downloads and ratings reorder.
    for _ in 0..3 {
        r.runtime
            .block_on(r.client.download("ping", "0.1.0"))
            .expect("download");
    }
    r.runtime
        .block_on(r.client.download("json-query", "0.1.0"))
        .expect("download");
    assert_eq!(
        r.search(SearchQuery {
            sort: Some(Sort::Downloads),
            ..SearchQuery::default()
        }),
        ["ping", "json-query", "csv-tools"]
    );
    r.runtime
        .block_on(r.client.rate(&r.token, "csv-tools", 5))
        .expect("rate");
    r.runtime
        .block_on(r.client.rate(&r.token, "ping", 2))
        .expect("rate");
    assert_eq!(
        r.search(SearchQuery {
            min_rating: Some(4.0),
            ..SearchQuery::default()
        }),
        ["csv-tools"]
    );
    assert_eq!(
        r.search(SearchQuery {
            sort: Some(Sort::Rating),
            ..SearchQuery::default()
        })[0],
        "csv-tools"
    );
    assert!(r.registry.db.set_verified("ping", true).expect("verify"));
    assert_eq!(
        r.search(SearchQuery {
            verified: Some(true),
            ..SearchQuery::default()
        }),
        ["ping"]
    );
    // Query syntax in the text is taken literally, never as FTS, tsquery
    // or SQL syntax: these are words to look for, and the search answers.
    assert!(r.search(q("\"csv\" OR NEAR(")).len() <= 2);
    assert!(
        r.search(q("csv' | !x:* & (y) <-> z\\; DROP TABLE plugins; --"))
            .is_empty()
    );
    assert_eq!(r.search(q("csv:*")), ["csv-tools", "json-query"]);
    assert!(r.search(q("'")).len() == 3, "no words: every plugin");
}

fn yanking_moves_latest_back_and_restoring_moves_it_forward(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    r.publish(&Spec::default()).expect("0.1.0");
    r.publish(&Spec {
        version: "0.2.0",
        dependencies: &[("base", "^1")],
        ..Spec::default()
    })
    .expect("0.2.0");
    let latest = |r: &Running| {
        r.runtime
            .block_on(r.client.plugin("hello"))
            .expect("info")
            .expect("known")
            .summary
            .latest
    };
    assert_eq!(latest(&r), "0.2.0");
    r.runtime
        .block_on(r.client.yank(&r.token, "hello", "0.2.0", true))
        .expect("yank");
    assert_eq!(latest(&r), "0.1.0");
    let info = r
        .runtime
        .block_on(r.client.plugin("hello"))
        .expect("info")
        .expect("known");
    assert!(info.versions[0].yanked);
    assert_eq!(
        info.versions[0].dependencies,
        BTreeMap::from([("base".to_owned(), "^1".to_owned())])
    );
    r.runtime
        .block_on(r.client.yank(&r.token, "hello", "0.2.0", false))
        .expect("restore");
    assert_eq!(latest(&r), "0.2.0");
}

#[test]
fn blobs_live_in_any_object_store_the_build_supports() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let folder = url::Url::from_directory_path(dir.path()).expect("file url");
    for url in ["memory:///", folder.as_str()] {
        let blobs = lord_registry::Blobs::open(url).expect("open");
        let digest = "ab".repeat(32);
        runtime
            .block_on(blobs.put(&digest, b"package bytes".to_vec()))
            .expect("put");
        // A second put of the same digest keeps the first.
        runtime
            .block_on(blobs.put(&digest, b"other".to_vec()))
            .expect("put again");
        assert_eq!(
            runtime.block_on(blobs.get(&digest)).expect("get"),
            b"package bytes"
        );
        assert!(runtime.block_on(blobs.get(&"cd".repeat(32))).is_err());
    }
    assert!(dir.path().join("sha256/ab").is_dir());
    // Without the `cloud` feature, a cloud URL is refused and says why.
    let error = lord_registry::Blobs::open("s3://bucket/prefix").expect_err("s3 without cloud");
    assert!(error.to_string().contains("`cloud` feature"), "{error}");
}
