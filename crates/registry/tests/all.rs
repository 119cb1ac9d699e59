//! The registry over real HTTP on loopback: a real axum server on an
//! ephemeral port, a real database and blob folder, the real client, and
//! packages packed and signed by `lord-package`.
//!
//! Every case runs against both deployments the registry supports, as
//! `sqlite::NAME` and `postgres::NAME`: SQLite and blobs in the test's
//! data folder; and a real PostgreSQL server started for the test with
//! the blobs in a real S3 API (`moto_server`) when the crate is built with
//! its `cloud` feature, as `cargo test --workspace` builds it (`lord`
//! enables it), or in the data folder without it (`support`). The blob
//! store alone is tested against every object store the build supports,
//! a real Azure Blob API (Azurite) included (`blob_stores`).

mod approvals;
#[cfg(feature = "cloud")]
#[path = "support/azurite.rs"]
mod azurite;
mod bins;
mod blob_stores;
mod body_limits;
mod community;
mod database;
mod https;
mod insights;
#[cfg(feature = "cloud")]
#[path = "support/moto.rs"]
mod moto;
mod offline_root;
mod operations;
mod releases;
mod resync;
mod rollouts;
mod root_trust;
mod security;
mod several_servers;
mod support;
mod usage;
mod web;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lord_package::{Keys, PublicKey, Signature};
use lord_registry::{Registry, Scope, SearchQuery, Sort};
use lord_registry_client::{Client, ClientError};

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
    a_name_with_a_direction_control_is_refused_and_nothing_is_recorded,
    a_plugin_page_shows_the_plugin_and_neutralises_its_readme,
    the_search_page_filters_by_permission_risk_category_and_host_api,
    a_review_needs_an_install_receipt_of_the_reviewers_own_account,
    moderation_hides_content_and_the_audit_names_the_moderator,
    co_installed_plugins_are_recommended_and_installations_stay_anonymous,
    insights_name_rising_errors_abandoned_plugins_and_permission_creep,
    reports_promote_a_rollout_then_roll_it_back_and_publishers_move_it,
    a_critical_finding_blocks_the_publish_and_nothing_is_stored,
    advisories_are_served_as_osv_and_a_publishs_scan_is_kept,
    a_crash_between_the_commit_and_the_signing_is_repaired_at_the_next_start,
    a_two_step_workflow_approves_rejects_expires_and_checks_its_criteria,
    publishing_bins_the_index_and_a_client_reads_one_plugins_bin,
    a_bin_nobody_publishes_to_is_re_signed_before_it_expires,
);

use approvals::a_two_step_workflow_approves_rejects_expires_and_checks_its_criteria;
use bins::{
    a_bin_nobody_publishes_to_is_re_signed_before_it_expires,
    publishing_bins_the_index_and_a_client_reads_one_plugins_bin,
};

use resync::a_crash_between_the_commit_and_the_signing_is_repaired_at_the_next_start;
use rollouts::reports_promote_a_rollout_then_roll_it_back_and_publishers_move_it;
use security::{
    a_critical_finding_blocks_the_publish_and_nothing_is_stored,
    advisories_are_served_as_osv_and_a_publishs_scan_is_kept,
};

use insights::insights_name_rising_errors_abandoned_plugins_and_permission_creep;

use usage::co_installed_plugins_are_recommended_and_installations_stay_anonymous;

use community::{
    a_review_needs_an_install_receipt_of_the_reviewers_own_account,
    moderation_hides_content_and_the_audit_names_the_moderator,
};
use web::{
    a_plugin_page_shows_the_plugin_and_neutralises_its_readme,
    the_search_page_filters_by_permission_risk_category_and_host_api,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How many files lie under `dir`, at any depth.
fn walkdir_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walkdir_count(&entry.path())
                } else {
                    1
                }
            })
            .sum()
    })
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

/// A package packed by hand, as a hostile author's own tool would: pack
/// itself refuses a manifest that does not validate.
fn hand_packed(manifest: &str) -> Vec<u8> {
    let wasm = std::fs::read(repo().join("plugins/hello/plugin.wasm")).expect("component");
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in [("plugin.toml", manifest.as_bytes()), ("plugin.wasm", &wasm)] {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, data).expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
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
    /// Last, so they stop after the registry has let go of them.
    _postgres: Option<support::PgServer>,
    #[cfg(feature = "cloud")]
    _moto: Option<crate::moto::Moto>,
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
        #[cfg(feature = "cloud")]
        let moto = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(crate::moto::Moto::start()?),
        };
        #[cfg(feature = "cloud")]
        let blobs = moto.as_ref().map(|moto| moto.blobs("registry"));
        #[cfg(not(feature = "cloud"))]
        let blobs = None;
        let database = url.as_deref().map(lord_registry::PgOptions::new);
        let registry = Arc::new(
            Registry::open_configured(data.path(), database.as_ref(), blobs).expect("open"),
        );
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
            #[cfg(feature = "cloud")]
            _moto: moto,
        })
    }

    fn data_path(&self) -> &Path {
        self._data.path()
    }

    fn publish(&self, spec: &Spec<'_>) -> Result<lord_registry::Published, ClientError> {
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
    let status = |e: ClientError| e.to_string();

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
    // Refused before its blob was stored: nothing is left behind.
    let blobs = r.data_path().join("blobs");
    let stored = walkdir_count(&blobs);
    let (eve_bytes, eve_sig) = package(
        &Spec {
            version: "0.4.0",
            ..Spec::default()
        },
        &r.keys,
        "eve",
    );
    r.runtime
        .block_on(r.client.publish(&r.token, eve_bytes, &eve_sig, &eve))
        .expect_err("another signer accepted");
    assert_eq!(
        walkdir_count(&blobs),
        stored,
        "a refused publish left a blob"
    );

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
    // Only an account that downloaded a plugin may rate it: its receipt
    // is the proof.
    let refused = r
        .runtime
        .block_on(r.client.rate(&r.token, "csv-tools", 5, "forged.00"))
        .expect_err("a rating with a forged receipt");
    assert!(
        refused.to_string().contains("not one this registry issued"),
        "{refused}"
    );
    for (id, stars) in [("csv-tools", 5), ("ping", 2)] {
        let receipt = r
            .runtime
            .block_on(r.client.receipt(&r.token, id, "0.1.0"))
            .expect("receipt");
        r.runtime
            .block_on(r.client.rate(&r.token, id, stars, &receipt.text))
            .expect("rate");
    }
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
    // Another publisher's wildcard token covers the name but never
    // published it (that needs the plugin's pinned key): it may not yank.
    let other = r
        .registry
        .db
        .create_token(&Scope::parse("publish:*").expect("scope"))
        .expect("token");
    let refused = r
        .runtime
        .block_on(r.client.yank(&other, "hello", "0.2.0", true))
        .expect_err("another publisher's yank");
    assert!(refused.to_string().contains("published last"), "{refused}");
    assert_eq!(latest(&r), "0.2.0");
    // A token whose scope names the plugin may, as the operator meant.
    let named = r
        .registry
        .db
        .create_token(&Scope::parse("publish:hello").expect("scope"))
        .expect("token");
    r.runtime
        .block_on(r.client.yank(&named, "hello", "0.2.0", true))
        .expect("a named scope's yank");
    assert_eq!(latest(&r), "0.1.0");
}

// ---- The signed index (TUF): each attack a mirror or compromised server
// could try is refused by the client. A "mirror" here is a folder served
// to the client as file:// metadata, which the test can doctor.

mod signed_index {
    use std::path::{Path, PathBuf};

    use lord_registry_client::TrustedIndex;

    use super::{Backend, Running, Spec};

    fn metadata(r: &Running) -> PathBuf {
        r._data.path().join("tuf/metadata")
    }

    /// A folder and everything under it (metadata for a mirror, or a whole
    /// `tuf/` with its keys).
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("copy");
        for entry in std::fs::read_dir(from).expect("read") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
            }
        }
    }

    fn load(r: &Running, from: &str, datastore: &Path) -> Result<TrustedIndex, String> {
        load_at(r, from, datastore, jiff::Timestamp::now())
    }

    fn load_at(
        r: &Running,
        from: &str,
        datastore: &Path,
        now: jiff::Timestamp,
    ) -> Result<TrustedIndex, String> {
        let root = r.registry.tuf.root().expect("root");
        r.runtime
            .block_on(TrustedIndex::load(from, &root, datastore, now))
            .map_err(|e| e.to_string())
    }

    /// Every file of the datastore with its bytes.
    fn snapshot_of(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("datastore")
            .map(|e| {
                let e = e.expect("entry");
                (e.file_name(), std::fs::read(e.path()).expect("read"))
            })
            .collect();
        files.sort();
        files
    }

    fn live(r: &Running) -> String {
        format!("{}/api/v1/tuf/", r.client.base())
    }

    fn mirror(dir: &Path) -> String {
        url::Url::from_directory_path(dir).expect("url").to_string()
    }

    /// Every plugin version the bins in a metadata folder list.
    fn binned_entries(metadata: &Path) -> Vec<lord_registry_api::IndexEntry> {
        let mut entries = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(metadata).expect("metadata") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.contains(".bins-") {
                continue;
            }
            let bin: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("bin")).expect("json");
            for (target, info) in bin["signed"]["targets"].as_object().expect("targets") {
                entries.insert(
                    target.clone(),
                    lord_registry_api::IndexEntry {
                        name: target.clone(),
                        length: info["length"].as_u64().expect("length"),
                        digest: info["hashes"]["sha256"].as_str().expect("sha").to_owned(),
                        custom: info["custom"].as_object().cloned().unwrap_or_default(),
                    },
                );
            }
        }
        entries.into_values().collect()
    }

    fn two_versions(r: &Running) -> PathBuf {
        r.publish(&Spec::default()).expect("0.1.0");
        let old = r._data.path().join("mirror-after-0.1.0");
        copy(&metadata(r), &old);
        r.publish(&Spec {
            version: "0.2.0",
            dependencies: &[("base", "^1")],
            ..Spec::default()
        })
        .expect("0.2.0");
        old
    }

    #[test]
    fn the_index_lists_every_version_with_what_resolution_needs() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        let published = r.publish(&Spec::default()).expect("publish");
        let store = tempfile::tempdir().expect("datastore");
        let index = load(&r, &live(&r), store.path()).expect("verified");
        assert_eq!(index.targets.len(), 1);
        let target = &index.targets[0];
        assert_eq!(
            (target.id.as_str(), target.version.as_str()),
            ("hello", "0.1.0")
        );
        assert_eq!(target.digest, published.digest);
        assert_eq!(target.host_api, "^0.2");
        assert_eq!(target.key, r.key.id().to_string());
        assert!(!target.yanked);
        r.runtime
            .block_on(r.client.yank(&r.token, "hello", "0.1.0", true))
            .expect("yank");
        let index = load(&r, &live(&r), store.path()).expect("verified");
        assert!(index.targets[0].yanked, "a yank is signed into the index");
    }

    #[test]
    fn a_rollback_to_older_metadata_is_refused() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        let old = two_versions(&r);
        let store = tempfile::tempdir().expect("datastore");
        assert_eq!(
            load(&r, &live(&r), store.path())
                .expect("verified")
                .targets
                .len(),
            2
        );
        let before = snapshot_of(store.path());
        let error = load(&r, &mirror(&old), store.path()).expect_err("rolled back");
        assert!(error.contains("rollback"), "{error}");
        assert!(error.contains("`timestamp` version"), "{error}");
        assert_eq!(
            snapshot_of(store.path()),
            before,
            "a refused update changes nothing on disk"
        );
    }

    #[test]
    fn frozen_metadata_is_refused_once_it_expires() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        r.registry.tuf.set_lifetimes(lord_registry::tuf::Lifetimes {
            timestamp: std::time::Duration::from_secs(2),
            ..lord_registry::tuf::Lifetimes::default()
        });
        r.publish(&Spec::default()).expect("publish");
        let frozen = r._data.path().join("frozen");
        copy(&metadata(&r), &frozen);
        std::thread::sleep(std::time::Duration::from_millis(3500));
        let store = tempfile::tempdir().expect("datastore");
        let error = load(&r, &mirror(&frozen), store.path()).expect_err("stale metadata used");
        assert!(error.contains("expired"), "{error}");
        assert!(
            error.contains("clock"),
            "the error says what to check: {error}"
        );
        // The live server re-signs its timestamp before it goes stale.
        load(&r, &live(&r), store.path()).expect("the live index stays fresh");
    }

    /// Regression: after one refresh under a clock hours (or a year) ahead,
    /// every refresh at the right time failed until the clock caught up.
    /// Expiry is judged by the current clock only, so a client whose clock
    /// was once wrong recovers as soon as it is right.
    #[test]
    fn a_clock_that_was_once_ahead_does_not_lock_the_client_out() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        r.publish(&Spec::default()).expect("publish");
        let store = tempfile::tempdir().expect("datastore");
        let ahead = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(3);
        load_at(&r, &live(&r), store.path(), ahead).expect("verified while ahead");
        load(&r, &live(&r), store.path()).expect("verified once the clock is right");
        // A clock far enough ahead that the metadata looks expired is
        // refused, and the message says to check the clock.
        let year = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
        let error = load_at(&r, &live(&r), store.path(), year).expect_err("expired");
        assert!(
            error.contains("expired") && error.contains("clock"),
            "{error}"
        );
        load(&r, &live(&r), store.path()).expect("and again once it is right");
    }

    #[test]
    fn mixed_metadata_versions_are_refused() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        two_versions(&r);
        let mixed = r._data.path().join("mixed");
        copy(&metadata(&r), &mixed);
        // The newest snapshot, with the targets of the publish before it
        // under the newest name.
        let newest = std::fs::read_dir(&mixed)
            .expect("mirror")
            .filter_map(|e| {
                let name = e.expect("entry").file_name().into_string().ok()?;
                name.strip_suffix(".targets.json")?.parse::<u64>().ok()
            })
            .max()
            .expect("targets versions");
        std::fs::copy(
            mixed.join(format!("{}.targets.json", newest - 1)),
            mixed.join(format!("{newest}.targets.json")),
        )
        .expect("mix");
        let store = tempfile::tempdir().expect("datastore");
        let error = load(&r, &mirror(&mixed), store.path()).expect_err("mixed metadata used");
        assert!(
            error.contains("does not match the sha256 hash")
                || error.contains("bytes where its signed metadata says")
                || error.contains("larger than"),
            "{error}"
        );
    }

    #[test]
    fn targets_signed_below_the_threshold_are_refused() {
        use std::collections::HashMap;

        use tough::editor::signed::SignedRole;
        use tough::key_source::{KeySource, LocalKeySource};
        use tough::schema::{
            Hashes, KeyHolder, Metafile, Root, Signed, Snapshot, Targets, Timestamp,
        };

        let r = Running::start(Backend::Sqlite).expect("sqlite");
        two_versions(&r);
        let forged = r._data.path().join("forged");
        copy(&metadata(&r), &forged);
        let version: u64 = serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(forged.join("timestamp.json")).expect("timestamp"),
        )
        .expect("json")["signed"]["version"]
            .as_u64()
            .expect("version");

        // An attacker holding one of the two targets keys (and the online
        // snapshot and timestamp keys) drops the other targets signature
        // and re-signs snapshot and timestamp over the result.
        let targets_path = forged.join(format!("{version}.targets.json"));
        let mut targets: Signed<Targets> =
            serde_json::from_slice(&std::fs::read(&targets_path).expect("targets")).expect("parse");
        assert_eq!(targets.signatures.len(), 2);
        targets.signatures.truncate(1);
        let mut bytes = serde_json::to_vec_pretty(&targets).expect("serialize");
        bytes.push(b'\n');
        std::fs::write(&targets_path, &bytes).expect("write");
        let sha = |b: &[u8]| {
            use sha2::Digest as _;
            sha2::Sha256::digest(b).to_vec()
        };
        let nz = |n: u64| std::num::NonZeroU64::new(n).expect("nonzero");
        let root: Signed<Root> =
            serde_json::from_slice(&r.registry.tuf.root().expect("root")).expect("root json");
        let holder = KeyHolder::Root(root.signed);
        let key = |name: &str| -> Vec<Box<dyn KeySource>> {
            vec![Box::new(LocalKeySource {
                path: r._data.path().join(format!("tuf/keys/{name}.der")),
            })]
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        let expires = jiff::Timestamp::from_second(expires.as_second()).expect("time");
        let mut snapshot = Snapshot::new("1.0.0".to_owned(), nz(version + 1), expires);
        snapshot.meta.insert(
            "targets.json".to_owned(),
            Metafile {
                length: Some(bytes.len() as u64),
                hashes: Some(Hashes {
                    sha256: sha(&bytes).into(),
                    _extra: HashMap::new(),
                }),
                version: nz(version),
                _extra: HashMap::new(),
            },
        );
        let snapshot = r
            .runtime
            .block_on(SignedRole::new(snapshot, &holder, &key("snapshot"), &rng))
            .expect("sign snapshot");
        let mut timestamp = Timestamp::new("1.0.0".to_owned(), nz(version + 1), expires);
        timestamp.meta.insert(
            "snapshot.json".to_owned(),
            Metafile {
                length: Some(*snapshot.length()),
                hashes: Some(Hashes {
                    sha256: snapshot.sha256().to_vec().into(),
                    _extra: HashMap::new(),
                }),
                version: nz(version + 1),
                _extra: HashMap::new(),
            },
        );
        let timestamp = r
            .runtime
            .block_on(SignedRole::new(timestamp, &holder, &key("timestamp"), &rng))
            .expect("sign timestamp");
        std::fs::write(
            forged.join(format!("{}.snapshot.json", version + 1)),
            snapshot.buffer(),
        )
        .expect("snapshot");
        std::fs::write(forged.join("timestamp.json"), timestamp.buffer()).expect("timestamp");

        let store = tempfile::tempdir().expect("datastore");
        let error = load(&r, &mirror(&forged), store.path()).expect_err("one signature accepted");
        assert!(error.contains("signed by 1 of the 2 keys"), "{error}");
    }

    fn version_of(metadata: &Path) -> u64 {
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(metadata.join("timestamp.json")).expect("timestamp"),
        )
        .expect("json")["signed"]["version"]
            .as_u64()
            .expect("version")
    }

    /// The server rotates `role`'s keys while clients hold its metadata:
    /// a client follows to the new root and the new index; a replay of
    /// the index from before the rotation is refused; and
    /// an index at a newer version signed with the retired key (what a
    /// thief of the old key would serve) is refused for want of
    /// signatures, naming the role.
    fn server_rotation_holds(role: lord_registry::tuf::Role) {
        use lord_registry::tuf::{Lifetimes, Role, TufRepo};

        let r = Running::start(Backend::Sqlite).expect("sqlite");
        r.publish(&Spec::default()).expect("0.1.0");
        let store = tempfile::tempdir().expect("datastore");
        load(&r, &live(&r), store.path()).expect("verified before the rotation");
        // What a thief holds: the keys and metadata of before.
        let stolen = tempfile::tempdir().expect("stolen");
        copy(&r._data.path().join("tuf"), stolen.path());
        let before = r.registry.tuf.keys().expect("keys");

        let rotation = r
            .runtime
            .block_on(r.registry.tuf.rotate(&[role]))
            .expect("rotate");
        assert_eq!(rotation.root_version, 2);
        let after = r.registry.tuf.keys().expect("keys");
        for (old, new) in before.roles.iter().zip(&after.roles) {
            assert_eq!(
                old.keyids == new.keyids,
                old.role != role,
                "{role} rotated: {old:?} -> {new:?}"
            );
        }
        r.publish(&Spec {
            version: "0.2.0",
            ..Spec::default()
        })
        .expect("publishing signs with the new keys");
        let index = load(&r, &live(&r), store.path()).expect("the client follows the rotation");
        assert_eq!(index.targets.len(), 2);
        let trusted = snapshot_of(store.path());

        let replay = stolen.path().join("metadata");
        let error = load(&r, &mirror(&replay), store.path()).expect_err("replayed index");
        // Older than what is trusted, and (for a rotated online role)
        // signed by a retired key: whichever check comes first refuses it.
        assert!(
            error.contains("rollback") || error.contains("retired"),
            "{error}"
        );
        assert_eq!(
            snapshot_of(store.path()),
            trusted,
            "a refusal changes nothing"
        );

        // The thief signs newer metadata with the retired keys. Only the
        // new root is public knowledge, so it is added after signing.
        let thief = TufRepo::open(stolen.path(), Lifetimes::default()).expect("thief");
        let current = version_of(&metadata(&r));
        // The thief re-signs the versions it holds, so its bins outgrow
        // the live ones as well (bins left behind would be refused first
        // by the snapshot's rollback check).
        let held = binned_entries(&replay);
        assert!(!held.is_empty(), "the stolen index holds a bin");
        while version_of(&replay) <= current {
            r.runtime
                .block_on(thief.resign(&held))
                .expect("thief signs");
        }
        if role == Role::Root {
            // A root 3 signed by the retired root key alone.
            use tough::editor::signed::SignedRole;
            use tough::key_source::{KeySource, LocalKeySource};
            use tough::schema::{KeyHolder, Root, Signed};
            let two: Signed<Root> = serde_json::from_slice(
                &std::fs::read(metadata(&r).join("2.root.json")).expect("root 2"),
            )
            .expect("root json");
            let one: Signed<Root> =
                serde_json::from_slice(&r.registry.tuf.root().expect("root 1")).expect("json");
            let mut three = two.signed.clone();
            three.version = std::num::NonZeroU64::new(3).expect("3");
            let keys: Vec<Box<dyn KeySource>> = vec![Box::new(LocalKeySource {
                path: stolen.path().join("keys/root.der"),
            })];
            let signed = r
                .runtime
                .block_on(SignedRole::new(
                    three,
                    &KeyHolder::Root(one.signed),
                    &keys,
                    &aws_lc_rs::rand::SystemRandom::new(),
                ))
                .expect("sign root 3");
            std::fs::write(replay.join("3.root.json"), signed.buffer()).expect("root 3");
        }
        std::fs::copy(metadata(&r).join("2.root.json"), replay.join("2.root.json"))
            .expect("root 2");
        let error = load(&r, &mirror(&replay), store.path()).expect_err("retired key accepted");
        assert!(
            error.contains(&format!("`{role}` metadata version")) && error.contains("retired"),
            "{error}"
        );
        // The refused role's file is untouched (roles verified before it
        // in the same refresh are kept, as the workflow requires).
        let file = |files: &[(std::ffi::OsString, Vec<u8>)]| {
            files
                .iter()
                .find(|(name, _)| *name == *format!("{role}.json"))
                .cloned()
        };
        assert_eq!(file(&snapshot_of(store.path())), file(&trusted));
        // The server itself keeps working. (Not checked with `store`: for
        // a snapshot or targets rotation the thief's timestamp was signed
        // by a key still in use, so that client now trusts a timestamp
        // newer than the server's, as TUF intends for a current key.)
        let fresh = tempfile::tempdir().expect("datastore");
        assert_eq!(
            load(&r, &live(&r), fresh.path())
                .expect("still verified")
                .targets
                .len(),
            2
        );
    }

    /// A client folder an earlier lord left (tough's datastore in `tuf/`,
    /// the first root in `root.json`): that root is where trust starts,
    /// and once trust lives in `metadata/` the old files are removed.
    #[test]
    fn an_earlier_clients_folder_is_taken_over_and_cleared() {
        let r = Running::start(Backend::Sqlite).expect("sqlite");
        r.publish(&Spec::default()).expect("0.1.0");
        let state = tempfile::tempdir().expect("state");
        std::fs::write(
            state.path().join("root.json"),
            r.registry.tuf.root().expect("root"),
        )
        .expect("saved root");
        std::fs::create_dir_all(state.path().join("tuf")).expect("old datastore");
        std::fs::write(state.path().join("tuf/timestamp.json"), b"{}").expect("old file");
        let index = r
            .runtime
            .block_on(r.client.trusted_index(state.path()))
            .expect("verified");
        assert_eq!(index.targets.len(), 1);
        assert!(state.path().join("metadata/root.json").is_file());
        assert!(!state.path().join("tuf").exists());
        assert!(!state.path().join("root.json").exists());
    }

    #[test]
    fn rotating_the_root_key_on_the_server_retires_it() {
        server_rotation_holds(lord_registry::tuf::Role::Root);
    }

    #[test]
    fn rotating_the_timestamp_key_on_the_server_retires_it() {
        server_rotation_holds(lord_registry::tuf::Role::Timestamp);
    }

    #[test]
    fn rotating_the_snapshot_key_on_the_server_retires_it() {
        server_rotation_holds(lord_registry::tuf::Role::Snapshot);
    }

    #[test]
    fn rotating_the_targets_keys_on_the_server_retires_them() {
        server_rotation_holds(lord_registry::tuf::Role::Targets);
    }

    /// A rotation cut short after its new keys were written but before
    /// the new root was: the next open drops those keys and the old ones
    /// keep signing. Cut short after the root: the next open moves the
    /// keys into place and the first request re-signs with them.
    #[test]
    fn a_rotation_cut_short_leaves_one_consistent_set_of_keys() {
        use lord_registry::tuf::{Lifetimes, TufRepo};

        let r = Running::start(Backend::Sqlite).expect("sqlite");
        r.publish(&Spec::default()).expect("0.1.0");
        let tuf = r._data.path().join("tuf");
        let store = tempfile::tempdir().expect("datastore");
        load(&r, &live(&r), store.path()).expect("verified");

        // Before the commit point: stray keys in keys/next/.
        let before = r.registry.tuf.keys().expect("keys");
        std::fs::create_dir_all(tuf.join("keys/next")).expect("next");
        std::fs::write(tuf.join("keys/next/timestamp.der"), b"half-written").expect("stray");
        let reopened = TufRepo::open(&tuf, Lifetimes::default());
        // An unreadable stray key is an error the operator sees, never a
        // silent change of keys.
        assert!(reopened.is_err());
        std::fs::remove_dir_all(tuf.join("keys/next")).expect("clean");
        let reopened = TufRepo::open(&tuf, Lifetimes::default()).expect("reopen");
        assert_eq!(reopened.keys().expect("keys"), before);

        // After the commit point: a full rotation by another process, its
        // keys put back in next/ and its re-signing undone, as a crash
        // right after writing 2.root.json would leave it.
        let other = tempfile::tempdir().expect("copy");
        copy(&tuf, other.path());
        let copy = TufRepo::open(other.path(), Lifetimes::default()).expect("copy");
        let timestamp_before = std::fs::read(tuf.join("metadata/timestamp.json")).expect("ts");
        r.runtime
            .block_on(copy.rotate(&[lord_registry::tuf::Role::Timestamp]))
            .expect("rotate the copy");
        std::fs::create_dir_all(tuf.join("keys/next")).expect("next");
        std::fs::copy(
            other.path().join("keys/timestamp.der"),
            tuf.join("keys/next/timestamp.der"),
        )
        .expect("new key");
        std::fs::copy(
            other.path().join("metadata/2.root.json"),
            tuf.join("metadata/2.root.json"),
        )
        .expect("new root");
        let reopened = TufRepo::open(&tuf, Lifetimes::default()).expect("reopen");
        assert_eq!(reopened.keys().expect("keys").root_version, 2);
        assert!(!tuf.join("keys/next").exists());
        assert_eq!(
            std::fs::read(tuf.join("metadata/timestamp.json")).expect("ts"),
            timestamp_before,
            "nothing re-signed yet"
        );
        r.runtime.block_on(reopened.ready()).expect("ready");
        assert_ne!(
            std::fs::read(tuf.join("metadata/timestamp.json")).expect("ts"),
            timestamp_before,
            "re-signed with the new key on first use"
        );
        let index = r
            .runtime
            .block_on(TrustedIndex::load(
                &mirror(&tuf.join("metadata")),
                &r.registry.tuf.root().expect("root"),
                store.path(),
                jiff::Timestamp::now(),
            ))
            .expect("a client follows the finished rotation");
        assert_eq!(index.targets.len(), 1);
    }
}

/// The Trojan Source class: a name that shows reversed. The server parses
/// the manifest with the same validator as `lord pdk validate` and
/// `lord plugin install`, refuses with 422 and the same message, and keeps
/// no trace of the plugin.
fn a_name_with_a_direction_control_is_refused_and_nothing_is_recorded(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    let manifest = "[plugin]\nid = \"hello\"\nname = \"Hello \u{202e}exe.txt\"\n\
                    version = \"0.1.0\"\nhost-api = \"^0.2\"\ncomponent = \"plugin.wasm\"\n";
    let bytes = hand_packed(manifest);
    let signature = r
        .keys
        .sign("ada", &lord_package::Digest::of(&bytes))
        .expect("sign");
    let error = r
        .runtime
        .block_on(r.client.publish(&r.token, bytes, &signature, &r.key))
        .expect_err("a reversed name was published");
    assert_eq!(
        error.to_string(),
        "the registry refused (422): plugin.toml:3:15: `name` contains U+202E RIGHT-TO-LEFT \
         OVERRIDE at character 7: a bidirectional control makes text show in another order \
         than it is written; right-to-left scripts are welcome, direction controls are not"
    );
    assert!(
        r.runtime
            .block_on(r.client.plugin("hello"))
            .expect("info")
            .is_none(),
        "the refused plugin was recorded"
    );
    assert!(r.search(SearchQuery::default()).is_empty());
}
