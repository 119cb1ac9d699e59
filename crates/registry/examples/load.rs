//! `cargo xtask load [--json] [--seconds N]`: the registry under load, as
//! a team would run it. Two servers (each its own runtime, connection pool,
//! data folder and signing connection) on one PostgreSQL database and one
//! S3 bucket (`moto_server`), all on loopback; 100 clients searching,
//! reading plugin pages and downloading packages from either server, and 4
//! publishing new versions, for a bounded time. It reports throughput,
//! latency percentiles of single requests and errors, and checks at the end
//! that the signed index lists every version published exactly once.
//!
//! Keys: `registry_load_rps`, `registry_load_p50_ms`,
//! `registry_load_p95_ms`, `registry_load_p99_ms`, `registry_load_errors`
//! (must be 0), `registry_load_publishes`; and `registry_load_KIND_p50_ms`
//! and `_p99_ms` for each kind of request (search, plugin, download,
//! publish), to tell where a tail comes from.
//!
//! An example rather than a `lord-bench` section: it needs only the
//! registry and its client, and the servers the registry's tests already
//! know how to start (`tests/support`), not the plugin host's build.

#[path = "../tests/support/moto.rs"]
#[expect(
    dead_code,
    reason = "both servers open the one bucket by URL; per-test buckets are the tests'"
)]
mod moto;
#[path = "../tests/support/mod.rs"]
#[expect(
    dead_code,
    reason = "the load run starts plain servers; the TLS helpers are the tests'"
)]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lord_package::{Keys, PublicKey, Signature};
use lord_registry::{PgOptions, RateLimits, Registry, Scope, SearchQuery};
use lord_registry_client::{Client, TrustedIndex};

const READERS: usize = 100;
const PUBLISHERS: usize = 4;
/// Plugins (two versions each) published before the clock starts.
const SEEDED: usize = 40;
const WORDS: [&str; 8] = ["csv", "git", "json", "http", "yaml", "file", "log", "sql"];

type Failure = Box<dyn std::error::Error>;

/// One server: what a process would own.
struct Server {
    registry: Arc<Registry>,
    runtime: tokio::runtime::Runtime,
    base: String,
    data: tempfile::TempDir,
}

/// A server; with `keys_from`, signing with that server's keys, as an
/// operator provisions a second one.
fn server(
    database: &PgOptions,
    moto: &crate::moto::Moto,
    bucket: &str,
    keys_from: Option<&Server>,
) -> Result<Server, Failure> {
    let dir = tempfile::tempdir()?;
    let data = dir.path();
    if let Some(first) = keys_from {
        let to = data.join("tuf/keys");
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(first.data.path().join("tuf/keys"))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            }
        }
    }
    let registry = Arc::new(Registry::open_configured(
        data,
        Some(database),
        Some(lord_registry::Blobs::open_with(bucket, moto.settings())?),
    )?);
    // All the load comes from one address.
    registry.set_rate_limits(RateLimits::NONE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    runtime.block_on(registry.tuf.ready())?;
    runtime.spawn(lord_registry::serve(listener, Arc::clone(&registry)));
    Ok(Server {
        registry,
        runtime,
        base,
        data: dir,
    })
}

/// The component every load-test package carries: lord's frozen probe
/// (`tests/compat/0.2.0/`, never rebuilt), a real component, since the
/// registry scans each package it is sent and refuses one whose component
/// cannot be read.
const COMPONENT: &[u8] = include_bytes!("../../../tests/compat/0.2.0/plugins/probe/plugin.wasm");

/// A package of `id` at `version` carrying [`COMPONENT`].
fn package(
    keys: &Keys,
    id: &str,
    version: &str,
    n: usize,
) -> Result<(Vec<u8>, Signature), Failure> {
    let dir = tempfile::tempdir()?;
    let word = WORDS[n % WORDS.len()];
    std::fs::write(
        dir.path().join("plugin.toml"),
        format!(
            "[plugin]\nid = \"{id}\"\nname = \"{id}\"\nversion = \"{version}\"\n\
             description = \"Handles {word} for the load test.\"\nauthors = [\"Ada\"]\n\
             license = \"MIT\"\ncategory = \"utility\"\nkeywords = [\"{word}\"]\n\
             host-api = \"^0.2\"\ncomponent = \"plugin.wasm\"\n"
        ),
    )?;
    std::fs::write(dir.path().join("plugin.wasm"), COMPONENT)?;
    let packed = lord_package::pack(dir.path())?;
    let signature = keys.sign("load", &packed.digest)?;
    Ok((packed.bytes, signature))
}

/// What the clients measured.
#[derive(Default)]
struct Tally {
    /// Each request's kind and time.
    latencies: std::sync::Mutex<Vec<(&'static str, Duration)>>,
    errors: AtomicU64,
    published: std::sync::Mutex<Vec<(String, String)>>,
}

impl Tally {
    fn record<T, E: std::fmt::Display>(
        &self,
        kind: &'static str,
        started: Instant,
        outcome: Result<T, E>,
    ) -> Option<T> {
        let took = started.elapsed();
        self.latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((kind, took));
        match outcome {
            Ok(value) => Some(value),
            Err(e) => {
                if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("load: a request failed: {e}");
                }
                None
            }
        }
    }
}

/// One reader: search, read a plugin page, download one of its versions,
/// over and over, alternating servers, until `deadline`.
async fn reader(clients: Arc<Vec<Client>>, n: usize, deadline: Instant, tally: Arc<Tally>) {
    let mut i = n;
    while Instant::now() < deadline {
        let client = &clients[i % clients.len()];
        let query = SearchQuery {
            q: Some(WORDS[i % WORDS.len()].to_owned()),
            ..SearchQuery::default()
        };
        let started = Instant::now();
        let hits = tally.record("search", started, client.search(&query).await);
        let id = format!("seed-{}", i % SEEDED);
        let started = Instant::now();
        let info = tally.record("plugin", started, client.plugin(&id).await);
        if hits.is_some() && matches!(info, Some(None)) {
            tally.record("plugin", started, Err::<(), _>(format!("{id} is missing")));
        }
        let started = Instant::now();
        let version = if i.is_multiple_of(2) {
            "1.0.0"
        } else {
            "1.1.0"
        };
        tally.record("download", started, client.download(&id, version).await);
        i += 1;
    }
}

/// One publisher: new versions of its own plugin until `deadline`.
async fn publisher(
    clients: Arc<Vec<Client>>,
    n: usize,
    deadline: Instant,
    tally: Arc<Tally>,
    keys: Arc<Keys>,
    key: PublicKey,
    token: String,
) {
    let id = format!("pub-{n}");
    let mut patch = 0;
    while Instant::now() < deadline {
        let version = format!("1.0.{patch}");
        let Ok((bytes, signature)) = package(&keys, &id, &version, n) else {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let client = &clients[(n + patch) % clients.len()];
        let started = Instant::now();
        if tally
            .record(
                "publish",
                started,
                client.publish(&token, bytes, &signature, &key).await,
            )
            .is_some()
        {
            tally
                .published
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id.clone(), version));
        }
        patch += 1;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Every published version listed once, in the index both servers sign.
fn check_index(servers: &[Server], published: &[(String, String)]) -> Result<u64, Failure> {
    let mut wrong = 0;
    for server in servers {
        let store = tempfile::tempdir()?;
        let root = server.registry.tuf.root()?;
        let index = server.runtime.block_on(TrustedIndex::load(
            &format!("{}/api/v1/tuf/", server.base),
            &root,
            store.path(),
            jiff::Timestamp::now(),
        ))?;
        let mut listed: BTreeMap<(String, String), u32> = BTreeMap::new();
        for target in &index.targets {
            *listed
                .entry((target.id.clone(), target.version.clone()))
                .or_default() += 1;
        }
        wrong += published
            .iter()
            .filter(|name| listed.get(*name) != Some(&1))
            .count() as u64;
        wrong += listed.values().filter(|n| **n != 1).count() as u64;
    }
    Ok(wrong)
}

/// The figures, by key: the whole run's, then each kind of request's.
fn figures(
    mut latencies: Vec<(&'static str, Duration)>,
    elapsed: f64,
    errors: u64,
    publishes: usize,
) -> Vec<(String, f64)> {
    let mut all: Vec<Duration> = latencies.iter().map(|(_, d)| *d).collect();
    all.sort();
    let mut figures = vec![
        ("registry_load_rps".to_owned(), all.len() as f64 / elapsed),
        ("registry_load_p50_ms".to_owned(), percentile(&all, 0.50)),
        ("registry_load_p95_ms".to_owned(), percentile(&all, 0.95)),
        ("registry_load_p99_ms".to_owned(), percentile(&all, 0.99)),
        ("registry_load_errors".to_owned(), errors as f64),
        ("registry_load_publishes".to_owned(), publishes as f64),
        ("registry_load_requests".to_owned(), all.len() as f64),
    ];
    latencies.sort();
    for kind in ["search", "plugin", "download", "publish"] {
        let times: Vec<Duration> = latencies
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
            figures.push((
                format!("registry_load_{kind}_{name}_ms"),
                percentile(&times, p),
            ));
        }
    }
    figures
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let seconds: u64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(20), |s| s.parse())?;
    let postgres = support::PgServer::start().ok_or("the load run needs PostgreSQL")?;
    let moto = crate::moto::Moto::start().ok_or("the load run needs moto_server")?;
    let bucket = moto.bucket("load");
    let mut database = PgOptions::new(&postgres.url());
    database.pool_size = 16;
    let first = server(&database, &moto, &bucket, None)?;
    let second = server(&database, &moto, &bucket, Some(&first))?;
    let servers = [first, second];

    let keys_home = tempfile::tempdir()?;
    let keys = Arc::new(Keys::new(keys_home.path()));
    let key = keys.generate("load")?;
    let token = servers[0]
        .registry
        .db
        .create_token(&Scope::parse("publish:*")?)?;
    let clients: Arc<Vec<Client>> = Arc::new(
        servers
            .iter()
            .map(|s| Client::new(&s.base))
            .collect::<Result<_, _>>()?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut seeded = Vec::new();
    for n in 0..SEEDED {
        for version in ["1.0.0", "1.1.0"] {
            let id = format!("seed-{n}");
            let (bytes, signature) = package(&keys, &id, version, n)?;
            runtime.block_on(clients[n % 2].publish(&token, bytes, &signature, &key))?;
            seeded.push((id, version.to_owned()));
        }
    }
    eprintln!("load: {READERS} readers and {PUBLISHERS} publishers for {seconds} s on 2 servers");

    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for n in 0..READERS {
        tasks.push(runtime.spawn(reader(
            Arc::clone(&clients),
            n,
            deadline,
            Arc::clone(&tally),
        )));
    }
    for n in 0..PUBLISHERS {
        tasks.push(runtime.spawn(publisher(
            Arc::clone(&clients),
            n,
            deadline,
            Arc::clone(&tally),
            Arc::clone(&keys),
            key.clone(),
            token.clone(),
        )));
    }
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    let elapsed = started.elapsed().as_secs_f64();

    let latencies = std::mem::take(&mut *tally.latencies.lock().unwrap_or_else(|p| p.into_inner()));
    let mut published =
        std::mem::take(&mut *tally.published.lock().unwrap_or_else(|p| p.into_inner()));
    let publishes = published.len();
    published.extend(seeded);
    let index_errors = check_index(&servers, &published)?;
    let errors = tally.errors.load(Ordering::Relaxed) + index_errors;
    let figures = figures(latencies, elapsed, errors, publishes);
    if json {
        let object: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!((v * 100.0).round() / 100.0)))
            .collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        for (key, value) in figures {
            println!("{key:<26} {value:>10.2}");
        }
    }
    drop(servers);
    drop(moto);
    drop(postgres);
    if errors > 0 {
        return Err(format!("{errors} errors under load").into());
    }
    Ok(())
}
