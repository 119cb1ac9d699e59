//! A living registry in one command (`lord registry demo`), and the data
//! the recommender is evaluated on: generated plugins of a few topics
//! (each with its category, keywords, the permissions such plugins ask
//! for, a README), several versions some of which ask for more, and
//! co-install baskets of installations that mostly stay within one or two
//! topics and lean towards popular plugins, as real ones do.
//!
//! Deterministic: a seed gives the same registry on every machine, so the
//! evaluation's numbers are reproducible.

use crate::recommend::Features;

/// One topic plugins cluster around.
struct Topic {
    category: &'static str,
    words: &'static [&'static str],
    permissions: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        category: "development",
        words: &["git", "vcs", "diff", "branch", "commit", "merge"],
        permissions: &["exec(git)", "fs-read($PROJECT)"],
    },
    Topic {
        category: "data",
        words: &["csv", "json", "table", "query", "yaml", "schema"],
        permissions: &["fs-read($PROJECT)", "fs-write($PLUGIN_DATA)"],
    },
    Topic {
        category: "network",
        words: &["http", "api", "fetch", "rest", "webhook", "graphql"],
        permissions: &["net(api.example.org)"],
    },
    Topic {
        category: "security",
        words: &["secret", "token", "audit", "scan", "sign", "vault"],
        permissions: &["secret(API_TOKEN)", "fs-read($PROJECT)"],
    },
    Topic {
        category: "system",
        words: &["cpu", "memory", "disk", "monitor", "process", "load"],
        permissions: &["sys-metrics"],
    },
    Topic {
        category: "productivity",
        words: &["notes", "todo", "journal", "calendar", "timer", "focus"],
        permissions: &["fs-write($PLUGIN_DATA)"],
    },
    Topic {
        category: "integration",
        words: &["slack", "chat", "notify", "email", "matrix", "bot"],
        permissions: &["net(hooks.example.org)", "secret(CHAT_TOKEN)"],
    },
    Topic {
        category: "development",
        words: &["build", "test", "lint", "format", "bench", "ci"],
        permissions: &["exec(cargo)", "fs-read($PROJECT)"],
    },
];

const SUFFIXES: &[&str] = &[
    "kit", "tool", "helper", "lens", "flow", "box", "watch", "pro",
];
const AUTHORS: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Kay",
    "Barbara Liskov",
    "Ken Thompson",
    "Radia Perlman",
    "Guido Rossum",
    "Frances Allen",
];

/// A small deterministic generator (SplitMix64): the demo must not depend
/// on the machine's randomness.
#[derive(Debug, Clone)]
pub struct Mix(u64);

impl Mix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated plugin: its manifest text per version, README, topic
/// and how popular it is.
#[derive(Debug, Clone)]
pub struct DemoPlugin {
    pub id: String,
    pub topic: usize,
    /// Relative popularity (a Zipf-like weight).
    pub weight: f64,
    /// `(version, plugin.toml)`, oldest first.
    pub versions: Vec<(String, String)>,
    pub readme: String,
    pub features: Features,
}

/// `count` plugins over the topics.
pub fn plugins(count: usize, seed: u64) -> Vec<DemoPlugin> {
    let mut mix = Mix::new(seed);
    (0..count)
        .map(|n| {
            let topic_index = n % TOPICS.len();
            let topic = &TOPICS[topic_index];
            let word = *mix.pick(topic.words);
            let suffix = *mix.pick(SUFFIXES);
            let id = format!("{word}-{suffix}-{n}");
            let mut keywords: Vec<&str> = vec![word];
            for _ in 0..2 {
                let other = *mix.pick(topic.words);
                if !keywords.contains(&other) {
                    keywords.push(other);
                }
            }
            let mut permissions: Vec<&str> = topic.permissions[..1 + mix.below(topic.permissions.len())].to_vec();
            let releases = 1 + mix.below(4);
            let mut versions = Vec::new();
            for release in 0..releases {
                // Now and then a release asks for more than the one before.
                if release > 0 && mix.below(5) == 0 && !permissions.contains(&"net(telemetry.example.org)") {
                    permissions.push("net(telemetry.example.org)");
                }
                let version = format!("0.{}.{}", 1 + release, mix.below(4));
                versions.push((version.clone(), manifest(&id, &version, topic, &keywords, &permissions, &mut mix)));
            }
            let families: Vec<&str> = permissions
                .iter()
                .map(|p| p.split('(').next().unwrap_or(p))
                .collect();
            let keywords_owned: Vec<String> = keywords.iter().map(|k| (*k).to_owned()).collect();
            DemoPlugin {
                readme: format!(
                    "# {id}\n\nA {word} {suffix} for lord: {}.\n\n## Use\n\n```sh\nlord {word} --help\n```\n\n\
                     ## Why it asks for its permissions\n\n{}\n",
                    keywords.join(", "),
                    permissions.iter().map(|p| format!("- `{p}`")).collect::<Vec<_>>().join("\n")
                ),
                features: Features::of(&keywords_owned, topic.category, &families, Some("^0.2")),
                weight: 1.0 / (1.0 + (n / TOPICS.len()) as f64).powf(0.9),
                topic: topic_index,
                versions,
                id,
            }
        })
        .collect()
}

fn manifest(
    id: &str,
    version: &str,
    topic: &Topic,
    keywords: &[&str],
    permissions: &[&str],
    mix: &mut Mix,
) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[plugin]\nid = \"{id}\"\nname = \"{}\"\nversion = \"{version}\"\n\
         description = \"{} for your {} work.\"\nauthors = [\"{}\"]\nlicense = \"MIT\"\n\
         category = \"{}\"\nkeywords = [{}]\nhost-api = \"^0.2\"\ncomponent = \"plugin.wasm\"\n\n\
         [permissions]\nrequest = [{}]\n\n\
         [[commands]]\nname = \"{id}\"\nabout = \"Show what this plugin's grants let it reach\"\n",
        id.replace('-', " "),
        capitalised(keywords[0]),
        keywords.get(1).copied().unwrap_or("daily"),
        mix.pick(AUTHORS),
        topic.category,
        quoted(keywords),
        quoted(permissions),
    )
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Picks a plugin of `topic` (any topic when `None`) by popularity.
fn weighted(plugins: &[DemoPlugin], topic: Option<usize>, mix: &mut Mix) -> usize {
    let total: f64 = plugins
        .iter()
        .filter(|p| topic.is_none_or(|t| p.topic == t))
        .map(|p| p.weight)
        .sum();
    let mut at = (mix.next_u64() as f64 / u64::MAX as f64) * total;
    for (i, p) in plugins.iter().enumerate() {
        if topic.is_some_and(|t| p.topic != t) {
            continue;
        }
        at -= p.weight;
        if at <= 0.0 {
            return i;
        }
    }
    plugins.len() - 1
}

/// `count` co-install baskets: each installation cares for one topic
/// mostly, sometimes a second, and picks popular plugins more often.
pub fn baskets(plugins: &[DemoPlugin], count: usize, seed: u64) -> Vec<Vec<String>> {
    let mut mix = Mix::new(seed);
    (0..count)
        .map(|_| {
            let first = mix.below(TOPICS.len());
            let second = mix.below(TOPICS.len());
            let size = 3 + mix.below(7);
            let mut basket: Vec<String> = Vec::new();
            for _ in 0..size * 3 {
                if basket.len() >= size {
                    break;
                }
                let roll = mix.below(10);
                let topic = match roll {
                    0..=6 => Some(first),
                    7 | 8 => Some(second),
                    _ => None,
                };
                let id = &plugins[weighted(plugins, topic, &mut mix)].id;
                if !basket.contains(id) {
                    basket.push(id.clone());
                }
            }
            basket
        })
        .collect()
}

/// What [`fill`] put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    pub plugins: usize,
    pub versions: usize,
    pub installations: usize,
    pub reviews: usize,
}

/// The component every demo package carries: lord's own probe, frozen
/// with the 0.2.0 contract (`tests/compat/0.2.0/`, never rebuilt, so it
/// is always there to embed), which answers any command with what its
/// grants let it reach, line by line. Running a demo plugin so shows the
/// sandbox at work under the permissions that plugin asked for.
const COMPONENT: &[u8] = include_bytes!("../../../tests/compat/0.2.0/plugins/probe/plugin.wasm");

/// The name of the demo publisher's key in the `Keys` given to [`fill`].
pub const DEMO_KEY: &str = "demo";

/// A real package of one demo version: its manifest and [`COMPONENT`],
/// packed and signed with `key` in `keys`.
fn demo_package(
    text: &str,
    keys: &lord_package::Keys,
) -> Result<(Vec<u8>, lord_package::Signature), crate::RegistryError> {
    let failed = |e: &dyn std::fmt::Display| {
        crate::RegistryError::Internal(format!("could not make a demo package: {e}"))
    };
    let dir = tempfile::tempdir().map_err(|e| failed(&e))?;
    std::fs::write(dir.path().join("plugin.toml"), text).map_err(|e| failed(&e))?;
    std::fs::write(dir.path().join("plugin.wasm"), COMPONENT).map_err(|e| failed(&e))?;
    let packed = lord_package::pack(dir.path()).map_err(|e| failed(&e))?;
    let signature = keys
        .sign(DEMO_KEY, &packed.digest)
        .map_err(|e| failed(&e))?;
    Ok((packed.bytes, signature))
}

/// The newest version the demo made of `id`.
fn newest(made: &[DemoPlugin], id: &str) -> String {
    made.iter()
        .find(|p| p.id == id)
        .and_then(|p| p.versions.last())
        .map(|(v, _)| v.clone())
        .unwrap_or_default()
}

/// Fills `registry` with `count` demo plugins and their versions: real
/// packages (each the demo's manifest and [`COMPONENT`]) signed by the
/// key [`DEMO_KEY`] in `keys` (made if missing), published as a publish
/// would be and signed into the index, so any of them can be installed
/// by whoever trusts that key; then 90 days of downloads, a day of opt-in
/// use reports from installations, and reviews and discussion from demo
/// accounts.
pub async fn fill(
    registry: &std::sync::Arc<crate::Registry>,
    count: usize,
    seed: u64,
    keys: &lord_package::Keys,
) -> Result<Filled, crate::RegistryError> {
    let failed = |e: lord_package::PackageError| {
        crate::RegistryError::Internal(format!("the demo key is unusable: {e}"))
    };
    let key = match keys.public(DEMO_KEY) {
        Ok(key) => key,
        Err(_) => keys.generate(DEMO_KEY).map_err(failed)?,
    };
    let db = &registry.db;
    let token = db.create_named_token(&crate::Scope::parse("publish:*")?, "demo publisher")?;
    let publisher = db
        .caller(&token)?
        .ok_or_else(|| crate::RegistryError::Internal("the demo publisher vanished".to_owned()))?;
    let mut mix = Mix::new(seed ^ 0xDE30);
    let made = plugins(count, seed);
    let mut versions = 0;
    let mut signed = Vec::new();
    for plugin in &made {
        for (_, text) in &plugin.versions {
            let (bytes, signature) = demo_package(text, keys)?;
            let (target, _) = crate::server::record_package(
                registry,
                publisher.clone(),
                bytes,
                signature.to_json(),
                key.to_text().trim().to_owned(),
            )
            .await?;
            signed.push(lord_registry_api::IndexEntry::from(&target));
            versions += 1;
        }
    }
    // One signing for them all, rather than one per version.
    registry.tuf.ready().await?;
    registry.tuf.resign(&signed).await?;
    let today = crate::db::today();
    for plugin in &made {
        let daily = (plugin.weight * 40.0).ceil() as usize;
        for back in 0..90 {
            let count = mix.below(daily + 1) as u64;
            if count > 0 {
                db.add_downloads(&plugin.id, today - back, count)?;
            }
        }
    }
    let installations = baskets(&made, count * 4, seed ^ 0xBA5C);
    for (n, basket) in installations.iter().enumerate() {
        db.record_usage(&lord_registry_api::UsageReport {
            installation: format!("demo-installation-{n:06}"),
            host_api: lord_manifest::host_api_version().to_string(),
            plugins: basket
                .iter()
                .map(|id| lord_registry_api::PluginUsage {
                    id: id.clone(),
                    version: newest(&made, id),
                    runs: 1 + mix.below(40) as u64,
                    errors: mix.below(3) as u64,
                    p95_us: None,
                })
                .collect(),
        })?;
    }
    const SAID: &[(u8, &str)] = &[
        (
            5,
            "Does exactly what it says, and asks for nothing more than it needs.",
        ),
        (4, "Works well; the first run is a little slow."),
        (3, "Useful, but the docs could show more examples."),
        (5, "I use it every day."),
        (
            2,
            "Broke after the last update; the author fixed it within a day.",
        ),
    ];
    let scope = crate::Scope::parse("account")?;
    let mut reviews = 0;
    for (n, name) in AUTHORS.iter().enumerate() {
        let token = db.create_named_token(&scope, &format!("{name} (demo)"))?;
        let caller = db
            .caller(&token)?
            .ok_or_else(|| crate::RegistryError::Internal("a demo account vanished".to_owned()))?;
        for plugin in made
            .iter()
            .skip(n)
            .step_by(AUTHORS.len())
            .take(count / 2 + 1)
        {
            let Some((version, _)) = plugin.versions.last() else {
                continue;
            };
            let (stars, text) = *mix.pick(SAID);
            db.review(&caller, &plugin.id, version, stars, text, None)?;
            reviews += 1;
            if mix.below(4) == 0 {
                db.post(
                    &caller,
                    &plugin.id,
                    "Is there a way to use it from a pipeline?",
                    None,
                )?;
            }
        }
    }
    Ok(Filled {
        plugins: made.len(),
        versions,
        installations: installations.len(),
        reviews,
    })
}
