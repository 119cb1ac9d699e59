//! `targets_metadata_bytes_100k`: the bytes of signed metadata a client
//! downloads to resolve one plugin when the registry's index holds 100,000
//! package versions (`--index-size`).
//!
//! Two readings of "100,000 versions", both measured and reported: spread
//! over 1,000 plugins of 100 versions each (a large public registry), and
//! all of one plugin (a registry that keeps every nightly build). The key
//! is the spread reading, the registry the bins are for: the server signs
//! each plugin's versions into the hashed bin of its id (`bins.rs` in
//! lord-registry), so a client reads the top-level roles and one bin. In
//! the one-plugin reading that bin holds all 100,000 versions, which
//! resolving that plugin needs whatever the layout; it is reported
//! beside the key (`_one_plugin`) so its growth stays visible. Each index
//! is signed directly by the server's `TufRepo` in one signing of 100,000
//! targets (no publishes through HTTP: only the metadata is measured),
//! with each target's `custom` as a real publish writes it (digest, key
//! id, signature, host API, a dependency).
//!
//! The client is `lord_registry_client::tuf::Updater` doing what lord's
//! resolution does (`PluginIndex::versions`: refresh, then the targets
//! under `plugins/ID/` through the delegations that cover them) from a
//! fresh folder over `file://`, so the count is exactly the metadata it
//! reads: timestamp, snapshot, top-level targets and the plugin's bin. The
//! first root, which trust starts from and which does not grow with
//! versions, is not counted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use lord_registry::tuf::{Lifetimes, TufRepo};
use lord_registry::{IndexEntry, TargetInfo};
use lord_registry_client::tuf::Updater;

/// Versions in the index.
const VERSIONS: usize = 100_000;

/// What `--index-size` measured.
#[derive(Debug, Clone)]
pub(crate) struct IndexSize {
    /// 1,000 plugins of 100 versions.
    pub(crate) spread_bytes: u64,
    /// One plugin of 100,000 versions.
    pub(crate) one_plugin_bytes: u64,
    /// Requests the client made to resolve, per reading.
    pub(crate) requests: (usize, usize),
    /// Time to sign each index (generation, not measured for the key).
    pub(crate) signing: (Duration, Duration),
    /// Time to sign one more version into each index, as a publish does.
    pub(crate) publish: (Duration, Duration),
}

impl IndexSize {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "targets_metadata_bytes_100k": self.spread_bytes,
            "targets_metadata_bytes_100k_spread": self.spread_bytes,
            "targets_metadata_bytes_100k_one_plugin": self.one_plugin_bytes,
            "targets_metadata_requests_spread": self.requests.0,
            "targets_metadata_requests_one_plugin": self.requests.1,
            "index_sign_100k_spread_s": self.signing.0.as_secs_f64(),
            "index_sign_100k_one_plugin_s": self.signing.1.as_secs_f64(),
            "index_publish_100k_spread_ms": self.publish.0.as_secs_f64() * 1e3,
            "index_publish_100k_one_plugin_ms": self.publish.1.as_secs_f64() * 1e3,
        })
    }
}

/// One version's entry as a publish signs it in.
fn entry(plugin: usize, version: usize) -> IndexEntry {
    let id = format!("plugin-{plugin:05}");
    let target = TargetInfo {
        id: id.clone(),
        version: format!(
            "{}.{}.{}",
            version / 10_000,
            (version / 100) % 100,
            version % 100
        ),
        digest: format!("{:064x}", plugin * VERSIONS + version),
        length: 48_000 + (version as u64 % 1_000),
        host_api: "^0.2".to_owned(),
        dependencies: BTreeMap::from([("base".to_owned(), "^1".to_owned())]),
        yanked: false,
        key: "ed25519:0123456789abcdef".to_owned(),
        signature: "ab".repeat(64),
    };
    IndexEntry::from(&target)
}

/// Signs an index of `plugins` × `versions` targets in `dir`; the time,
/// and then the time of one more version of one plugin signed in, as a
/// publish does (one bin, the top-level roles).
async fn sign(dir: &Path, plugins: usize, versions: usize) -> Result<(Duration, Duration)> {
    let repo = TufRepo::open(dir, Lifetimes::default())?;
    repo.ready().await?;
    let entries: Vec<IndexEntry> = (0..plugins)
        .flat_map(|p| (0..versions).map(move |v| entry(p, v)))
        .collect();
    let started = Instant::now();
    repo.resign(&entries).await?;
    let signing = started.elapsed();
    let started = Instant::now();
    repo.resign(&[entry(plugins / 2, versions)]).await?;
    Ok((signing, started.elapsed()))
}

/// What a fresh client downloads to resolve `plugin-00000` from the index
/// in `dir`: bytes and requests.
async fn resolve_one(dir: &Path) -> Result<(u64, usize)> {
    let client = tempfile::tempdir().context("a client folder")?;
    let root = std::fs::read(dir.join("metadata/1.root.json")).context("the first root")?;
    Updater::init(client.path(), &root)?;
    let url = format!("file://{}/", dir.join("metadata").display());
    let mut updater = Updater::open(
        client.path(),
        &url,
        reqwest::Client::new(),
        jiff::Timestamp::now(),
    )?;
    let found = updater.targets_in("plugins/plugin-00000/").await?.len();
    anyhow::ensure!(found > 0, "the client found no version of plugin-00000");
    Ok((updater.bytes_fetched(), updater.requests()))
}

pub(crate) async fn measure() -> Result<IndexSize> {
    let spread = tempfile::tempdir().context("a registry folder")?;
    let one = tempfile::tempdir().context("a registry folder")?;
    eprintln!("lord-bench: signing 100,000 versions over 1,000 plugins ...");
    let (spread_signing, spread_publish) = sign(spread.path(), 1_000, VERSIONS / 1_000).await?;
    eprintln!("lord-bench: signing 100,000 versions of one plugin ...");
    let (one_signing, one_publish) = sign(one.path(), 1, VERSIONS).await?;
    let (spread_bytes, spread_requests) = resolve_one(spread.path()).await?;
    let (one_plugin_bytes, one_requests) = resolve_one(one.path()).await?;
    Ok(IndexSize {
        spread_bytes,
        one_plugin_bytes,
        requests: (spread_requests, one_requests),
        signing: (spread_signing, one_signing),
        publish: (spread_publish, one_publish),
    })
}

/// `--index-size`: the figures alone, as JSON (the key whatever `--json`
/// says: it is one number, for scripts).
pub(crate) fn report(runtime: &tokio::runtime::Runtime) -> Result<()> {
    let measured = runtime.block_on(measure())?;
    println!("{:#}", measured.json());
    Ok(())
}
