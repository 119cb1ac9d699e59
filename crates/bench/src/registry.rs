//! The registry figures, all against a real registry (`lord_registry`: axum
//! over SQLite with FTS5) in a temporary folder, served on loopback on a
//! runtime of its own, as `lord registry serve` would run beside the
//! client:
//!
//! - fill: 10,000 synthetic plugins recorded through `Db::publish`;
//! - search: a few hundred queries through the real HTTP API and
//!   `lord_registry_client::Client`, each timed alone, reported as median and p95;
//! - install of a ~2 MB plugin package, published through the real
//!   `Client::publish`, split into download, verify, unpack and precompile
//!   (the steps `Framework::plan_from_registry` and `plan_install_package`
//!   run, called one by one so each can be timed);
//! - a refresh of the signed index (TUF) when nothing changed: a fresh
//!   `tuf::Updater` over a warm metadata folder, as each `lord` command
//!   opens one, timed and its requests counted (the workflow needs two:
//!   the next root, absent, and the timestamp).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use lord_manifest::Category;
use lord_package::{Digest, Keys, PublicKey, Signature};
use lord_registry::{Db, NewVersion, Registry, Scope, SearchQuery, Sort};
use lord_registry_client::Client;

use crate::fixtures::Plugins;
use crate::synth::Mix;
use crate::timing::Latencies;

/// Plugins in the searched registry.
pub(crate) const PLUGINS: usize = 10_000;
/// Timed searches, after `WARM_SEARCHES` untimed ones (connection set up,
/// SQLite pages cached, as on a registry that has been serving a while).
pub(crate) const SEARCHES: usize = 400;
const WARM_SEARCHES: usize = 40;
/// Timed installs, after one untimed.
pub(crate) const INSTALL_RUNS: usize = 7;
/// Timed refreshes of the unchanged signed index, after one untimed.
pub(crate) const TUF_REFRESHES: usize = 50;
/// The size the install benchmark's package file is padded to.
pub(crate) const PACKAGE_BYTES: usize = 2 << 20;

#[derive(Debug, Clone)]
pub(crate) struct RegistryResults {
    /// Recording all `PLUGINS` plugins, one `Db::publish` each.
    pub(crate) fill: Duration,
    pub(crate) search: Latencies,
    /// Timed searches that found at least one plugin.
    pub(crate) search_found: usize,
    pub(crate) install: InstallResults,
    /// Refreshes of the signed index when nothing changed.
    pub(crate) tuf_refresh: Latencies,
    /// HTTP requests one such refresh made.
    pub(crate) tuf_requests: usize,
    /// The web pages over the same registry, with their API baselines.
    pub(crate) web: crate::web::WebResults,
}

/// One timing per install run for each step, and their sum.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstallResults {
    pub(crate) package_bytes: usize,
    pub(crate) download: Latencies,
    pub(crate) verify: Latencies,
    pub(crate) unpack: Latencies,
    pub(crate) precompile: Latencies,
    pub(crate) total: Latencies,
}

/// Words for ids, names, descriptions, keywords and queries.
const WORDS: &[&str] = &[
    "file",
    "git",
    "json",
    "yaml",
    "toml",
    "csv",
    "http",
    "server",
    "client",
    "cloud",
    "docker",
    "deploy",
    "build",
    "test",
    "lint",
    "format",
    "search",
    "index",
    "cache",
    "log",
    "trace",
    "metric",
    "alert",
    "secret",
    "vault",
    "token",
    "auth",
    "user",
    "role",
    "policy",
    "network",
    "proxy",
    "dns",
    "tls",
    "cert",
    "key",
    "hash",
    "crypto",
    "sign",
    "verify",
    "backup",
    "restore",
    "sync",
    "archive",
    "zip",
    "image",
    "video",
    "audio",
    "text",
    "markdown",
    "html",
    "template",
    "render",
    "report",
    "table",
    "chart",
    "graph",
    "query",
    "sql",
    "database",
    "schema",
    "migrate",
    "queue",
    "stream",
    "event",
    "hook",
    "task",
    "job",
    "cron",
    "timer",
    "clock",
    "calendar",
    "note",
    "todo",
    "mail",
    "chat",
    "slack",
    "issue",
    "review",
    "release",
    "version",
    "package",
    "module",
    "plugin",
    "shell",
    "terminal",
    "prompt",
    "color",
    "theme",
    "config",
    "env",
    "path",
    "watch",
    "diff",
    "patch",
    "merge",
    "branch",
    "commit",
    "tag",
    "remote",
    "mirror",
    "fetch",
    "upload",
    "download",
    "storage",
    "bucket",
    "object",
    "blob",
    "disk",
    "memory",
    "process",
    "system",
    "kernel",
    "device",
    "sensor",
    "serial",
    "usb",
    "bluetooth",
    "wifi",
    "ssh",
    "ftp",
    "api",
    "rest",
    "graphql",
    "grpc",
    "socket",
    "websocket",
    "browser",
    "scrape",
    "crawl",
    "parse",
    "convert",
    "translate",
    "spell",
    "grammar",
    "word",
    "count",
    "random",
    "uuid",
    "date",
    "time",
    "zone",
    "weather",
    "map",
    "geo",
    "currency",
    "price",
    "invoice",
    "budget",
    "finance",
    "stock",
    "chess",
    "health",
    "fitness",
    "music",
];

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Linus", "Barbara", "Donald", "Edsger", "Frances", "Ken", "Dennis",
    "Margaret", "John", "Radia", "Tim", "Guido", "Yukihiro", "Bjarne", "Anders", "Rob", "Sophie",
];

const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Liskov",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Thompson",
    "Ritchie",
    "Hamilton",
    "Backus",
    "Perlman",
    "Lee",
    "Rossum",
    "Matsumoto",
    "Stroustrup",
    "Hejlsberg",
    "Pike",
    "Wilson",
    "Kernighan",
    "Wirth",
    "Hoare",
    "Lamport",
];

/// Permissions synthetic plugins ask for.
const PERMISSIONS: &[&str] = &[
    "fs-read($PROJECT)",
    "fs-write($PLUGIN_DATA)",
    "net(api.example.org)",
    "env(HOME)",
    "secret(API_TOKEN)",
    "exec(git)",
    "sys-metrics",
    "events-publish(build.done)",
];

const LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "MIT OR Apache-2.0",
    "BSD-3-Clause",
    "MPL-2.0",
];

pub(crate) fn measure(
    runtime: &tokio::runtime::Runtime,
    plugins: &Plugins,
) -> Result<RegistryResults> {
    let scratch = tempfile::tempdir()?;
    let registry = Arc::new(Registry::open(&scratch.path().join("registry"))?);
    let keys = Keys::new(&scratch.path().join("home"));
    let key = keys.generate("bench")?;

    eprintln!("lord-bench: registry: publishing {PLUGINS} plugins ...");
    let started = Instant::now();
    let ids = fill(&registry.db, &key)?;
    let fill = started.elapsed();
    eprintln!(
        "lord-bench: registry: filled in {:.1} s",
        fill.as_secs_f64()
    );

    // The server on threads of its own, as a registry is another process:
    // the client's runtime, like `lord`'s, is single-threaded.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the registry's runtime")?;
    let outcome = (|| -> Result<RegistryResults> {
        let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        server.spawn(lord_registry::serve(listener, Arc::clone(&registry)));
        let client = Client::new(&format!("http://{address}"))?;
        runtime
            .block_on(async {
                eprintln!("lord-bench: registry: {SEARCHES} searches ...");
                let (search, search_found) = search(&client).await?;
                eprintln!("lord-bench: registry: installing a 2 MB plugin ...");
                let install =
                    install(&client, &registry, &keys, &key, plugins, scratch.path()).await?;
                eprintln!("lord-bench: registry: {TUF_REFRESHES} signed-index refreshes ...");
                let (tuf_refresh, tuf_requests) =
                    tuf_refresh(&format!("http://{address}"), &registry, scratch.path()).await?;
                Ok::<_, anyhow::Error>((search, search_found, install, tuf_refresh, tuf_requests))
            })
            .and_then(
                |(search, search_found, install, tuf_refresh, tuf_requests)| {
                    // Plain blocking sockets: the server answers on its own runtime.
                    eprintln!(
                        "lord-bench: registry: {} plugin and search pages ...",
                        crate::web::PAGES
                    );
                    let web = crate::web::measure(address, &ids, WORDS)?;
                    Ok(RegistryResults {
                        fill,
                        search,
                        search_found,
                        install,
                        tuf_refresh,
                        tuf_requests,
                        web,
                    })
                },
            )
    })();
    // Not a plain drop: the server task never ends by itself.
    server.shutdown_background();
    outcome
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `plugin.toml` of synthetic plugin `n`: unique id, and a name,
/// description, keywords, category, authors and licence drawn from the
/// word lists, description words skewed so some are common and most rare.
fn synthetic_manifest(mix: &mut Mix, n: usize) -> String {
    let first = WORDS[mix.skewed(WORDS.len())];
    let second = *mix.pick(WORDS);
    let description_words = 6 + mix.below(14);
    let mut description: Vec<&str> = (0..description_words)
        .map(|_| WORDS[mix.skewed(WORDS.len())])
        .collect();
    // Most plugins say what they are named for.
    if mix.chance(70) {
        description.insert(0, second);
    }
    let mut keywords: Vec<&str> = Vec::new();
    for _ in 0..1 + mix.below(5) {
        let word = *mix.pick(WORDS);
        if !keywords.contains(&word) {
            keywords.push(word);
        }
    }
    let authors = (0..1 + mix.below(2))
        .map(|_| format!("\"{} {}\"", mix.pick(FIRST_NAMES), mix.pick(LAST_NAMES)))
        .collect::<Vec<_>>()
        .join(", ");
    let keywords = keywords
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    // Permissions as plugins ask for them: most few and mild, some risky,
    // so the web pages' risk filter and permission table have work to do.
    let mut permissions: Vec<&str> = Vec::new();
    for _ in 0..mix.below(4) {
        let permission = *mix.pick(PERMISSIONS);
        if !permissions.contains(&permission) {
            permissions.push(permission);
        }
    }
    let permissions = permissions
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[plugin]
id = "{first}-{second}-{n}"
name = "{} {}"
version = "{}.{}.{}"
description = "{}."
authors = [{authors}]
license = "{}"
category = "{}"
keywords = [{keywords}]
host-api = "^0.2"
component = "plugin.wasm"

[permissions]
request = [{permissions}]
"#,
        capitalised(first),
        capitalised(second),
        mix.below(3),
        mix.below(20),
        mix.below(10),
        capitalised(&description.join(" ")),
        mix.pick(LICENSES),
        mix.pick(&Category::ALL).as_str(),
    )
}

/// Records `PLUGINS` synthetic plugins, one version each. `Db::publish`
/// is one transaction per version and the API has no batch form, so this
/// is 10,000 commits, each synced to disk as a real publish is.
///
/// The digest, size and signature are placeholders of the right shape:
/// `Db` records what the server already verified and never re-checks them,
/// and search reads none of them. No blobs are stored, so these plugins
/// cannot be downloaded; the install benchmark publishes its own.
fn fill(db: &Db, key: &PublicKey) -> Result<Vec<String>> {
    let mut mix = Mix::new(0x5EED_0001);
    let mut ids = Vec::with_capacity(PLUGINS);
    let key_id = key.id().to_string();
    let public_key = key.to_text().trim().to_owned();
    for n in 0..PLUGINS {
        let manifest_text = synthetic_manifest(&mut mix, n);
        let manifest = lord_manifest::parse("plugin.toml", &manifest_text)
            .with_context(|| format!("synthetic manifest {n}:\n{manifest_text}"))?;
        let digest = Digest::of(manifest_text.as_bytes()).to_string();
        ids.push(manifest.plugin.id.to_string());
        let readme = synthetic_readme(&mut mix, &manifest);
        let signature = serde_json::json!({
            "version": 1,
            "key": key_id,
            "digest": digest,
            "signature": "0".repeat(128),
        });
        db.publish(&NewVersion {
            manifest,
            manifest_text,
            digest,
            size: 40_000 + mix.below(200_000) as u64,
            signature_json: format!("{signature:#}\n"),
            key_id: key_id.clone(),
            public_key: public_key.clone(),
            readme,
            // Straight into the records, as no token: none yanks them.
            publisher_token: 0,
        })
        .with_context(|| format!("publishing synthetic plugin {n}"))?;
    }
    Ok(ids)
}

/// A README of the usual shape (a few kilobytes: headings, paragraphs, a
/// list, a code block, links) for the plugin page to render.
fn synthetic_readme(mix: &mut Mix, manifest: &lord_manifest::Manifest) -> String {
    let meta = &manifest.plugin;
    let mut text = format!(
        "# {}\n\n{}\n\n## Install\n\n```sh\nlord plugin install {}\n```\n\n## Use\n\n",
        meta.name, meta.description, meta.id
    );
    for _ in 0..3 + mix.below(6) {
        let sentence: Vec<&str> = (0..12 + mix.below(20)).map(|_| *mix.pick(WORDS)).collect();
        text.push_str(&capitalised(&sentence.join(" ")));
        text.push_str(". See [the docs](https://example.org/docs) for *more*.\n\n");
    }
    text.push_str("## Options\n\n");
    for word in (0..4).map(|_| *mix.pick(WORDS)) {
        text.push_str(&format!("- `--{word}`: sets the **{word}** behaviour.\n"));
    }
    text
}

/// A query as `lord plugin search` sends it: one or two words, sometimes
/// a category, keyword or author filter, sometimes another sort order.
fn synthetic_query(mix: &mut Mix) -> SearchQuery {
    let mut words = vec![*mix.pick(WORDS)];
    if mix.chance(40) {
        words.push(*mix.pick(WORDS));
    }
    let mut query = SearchQuery {
        q: Some(words.join(" ")),
        ..SearchQuery::default()
    };
    if mix.chance(20) {
        query.category = Some(mix.pick(&Category::ALL).as_str().to_owned());
    }
    if mix.chance(10) {
        query.tag = Some((*mix.pick(WORDS)).to_owned());
    }
    if mix.chance(10) {
        query.author = Some((*mix.pick(LAST_NAMES)).to_owned());
    }
    query.sort = match mix.below(10) {
        0 | 1 => Some(Sort::Downloads),
        2 | 3 => Some(Sort::Updated),
        4 => Some(Sort::Rating),
        _ => None,
    };
    query
}

/// Each search's time from request to parsed page.
async fn search(client: &Client) -> Result<(Latencies, usize)> {
    let mut mix = Mix::new(0x5EED_0002);
    let mut latencies = Latencies::default();
    let mut found = 0;
    for n in 0..WARM_SEARCHES + SEARCHES {
        let query = synthetic_query(&mut mix);
        let start = Instant::now();
        let page = client.search(&query).await?;
        let elapsed = start.elapsed();
        if n >= WARM_SEARCHES {
            latencies.push(elapsed);
            found += usize::from(page.total > 0);
        }
    }
    // A registry whose searches find nothing would measure only misses.
    ensure!(
        found * 2 >= SEARCHES,
        "only {found} of {SEARCHES} searches found a plugin; the synthetic registry is not \
         searchable as intended"
    );
    Ok((latencies, found))
}

/// The bench plugin, padded with `docs/blob.bin` so that its package file
/// is about `PACKAGE_BYTES`: the padding is incompressible, so the bytes
/// downloaded, hashed and decompressed are real, not a gzip shortcut.
fn padded_package(plugins: &Plugins, dir: &Path) -> Result<lord_package::Packed> {
    let source = plugins.bench();
    std::fs::create_dir_all(dir.join("docs"))?;
    for file in [lord_manifest::MANIFEST_FILE, "plugin.wasm"] {
        std::fs::copy(source.join(file), dir.join(file))
            .with_context(|| format!("copying {}", source.join(file).display()))?;
    }
    let mut blob_len = PACKAGE_BYTES;
    let mut packed = None;
    // Twice is enough: the second pass corrects for the component and
    // the archive's own overhead.
    for _ in 0..3 {
        let mut blob = vec![0; blob_len];
        Mix::new(0x5EED_0004).fill(&mut blob);
        std::fs::write(dir.join("docs").join("blob.bin"), &blob)?;
        let attempt = lord_package::pack(dir)?;
        let size = attempt.bytes.len();
        packed = Some(attempt);
        if size.abs_diff(PACKAGE_BYTES) <= 4096 {
            break;
        }
        blob_len = (blob_len + PACKAGE_BYTES).saturating_sub(size);
    }
    let packed = packed.context("no package was packed")?;
    ensure!(
        packed.bytes.len().abs_diff(PACKAGE_BYTES) <= PACKAGE_BYTES / 50,
        "the padded package is {} bytes, not about {PACKAGE_BYTES}",
        packed.bytes.len()
    );
    Ok(packed)
}

/// Publishes the padded package, then installs it `INSTALL_RUNS` times
/// (after one untimed run), timing each step.
/// Refreshes of the signed index when nothing changed since the last one:
/// each a fresh updater over the same warm folder (one HTTP client, so the
/// connection is warm, as within one `lord` process).
async fn tuf_refresh(
    base: &str,
    registry: &Registry,
    scratch: &Path,
) -> Result<(Latencies, usize)> {
    use lord_registry_client::tuf::Updater;
    let dir = scratch.join("tuf-client");
    Updater::init(&dir, &registry.tuf.root()?)?;
    let http = reqwest::Client::new();
    let metadata = format!("{base}/api/v1/tuf/");
    let mut latencies = Latencies::default();
    let mut requests = 0;
    for run in 0..=TUF_REFRESHES {
        let start = Instant::now();
        let mut updater = Updater::open(&dir, &metadata, http.clone(), jiff::Timestamp::now())?;
        updater.refresh().await?;
        let elapsed = start.elapsed();
        // The first refresh fetches everything; the rest find it unchanged.
        if run > 0 {
            latencies.push(elapsed);
            requests = updater.requests();
        }
    }
    Ok((latencies, requests))
}

async fn install(
    client: &Client,
    registry: &Registry,
    keys: &Keys,
    key: &PublicKey,
    plugins: &Plugins,
    scratch: &Path,
) -> Result<InstallResults> {
    let packed = padded_package(plugins, &scratch.join("package"))?;
    let signature = keys.sign("bench", &packed.digest)?;
    let token = registry.db.create_token(&Scope::parse("publish:*")?)?;
    let id = packed.id.clone();
    let version = packed.version.to_string();
    let mut results = InstallResults {
        package_bytes: packed.bytes.len(),
        ..InstallResults::default()
    };
    client
        .publish(&token, packed.bytes, &signature, key)
        .await?;

    let manifest_path = scratch.join("package").join(lord_manifest::MANIFEST_FILE);
    let manifest = lord_manifest::parse(
        &manifest_path.display().to_string(),
        &std::fs::read_to_string(&manifest_path)?,
    )?;
    // Read once, as `plan_install_package` reads them before it starts.
    let trusted = keys.trusted()?;
    // One engine for every run, as one `lord` process has; each run
    // compiles afresh, since `install_check` always compiles.
    let sandbox = lord_sandbox::Sandbox::new(&scratch.join("cache"))?;
    let limits = lord_package::Limits::default();
    let unpacking = scratch.join("unpacking");
    std::fs::create_dir_all(&unpacking)?;

    // The download path installs take: the package at its TUF target
    // path, checked against the verified index.
    let index = client.trusted_index(&scratch.join("index")).await?;
    let target = index
        .targets
        .iter()
        .find(|t| t.id == id.as_str() && t.version == version)
        .context("the published version is not in the signed index")?
        .clone();
    for run in 0..=INSTALL_RUNS {
        let start = Instant::now();
        let download = client.download_package(&index, &target).await?;
        let downloaded = Instant::now();

        let digest = Digest::of(&download.bytes);
        let signature = Signature::parse(Path::new("package.sig"), &download.signature)?;
        lord_package::verify(&signature, &digest, &trusted)?;
        let verified = Instant::now();

        let staging = tempfile::tempdir_in(&unpacking)?;
        lord_package::unpack(&download.bytes, staging.path(), &limits)?;
        let unpacked = Instant::now();

        let component = staging.path().join(&manifest.plugin.component);
        sandbox.install_check(&manifest.plugin.id, &component, &manifest.permissions)?;
        let compiled = Instant::now();

        // The first run pays one-off costs (the engine's first compile,
        // the connection); it is a warm-up.
        if run > 0 {
            results.download.push(downloaded - start);
            results.verify.push(verified - downloaded);
            results.unpack.push(unpacked - verified);
            results.precompile.push(compiled - unpacked);
            results.total.push(compiled - start);
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_manifests_parse_and_are_unique() {
        let mut mix = Mix::new(1);
        let mut ids = std::collections::BTreeSet::new();
        for n in 0..500 {
            let text = synthetic_manifest(&mut mix, n);
            let manifest = lord_manifest::parse("plugin.toml", &text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(ids.insert(manifest.plugin.id.to_string()));
        }
    }

    #[test]
    fn synthetic_queries_vary() {
        let mut mix = Mix::new(2);
        let queries: Vec<SearchQuery> = (0..200).map(|_| synthetic_query(&mut mix)).collect();
        assert!(queries.iter().all(|q| q.q.is_some()));
        assert!(queries.iter().any(|q| q.category.is_some()));
        assert!(queries.iter().any(|q| q.sort.is_some()));
        assert!(queries.iter().any(|q| q.sort.is_none()));
    }
}
