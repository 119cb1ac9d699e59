//! The registry's records behind one type, [`Db`], over either backend:
//!
//! - SQLite (`registry.db` in the data folder, [`Db::open`]): no setup,
//!   the default; FTS5 search ranked by BM25 (`db/sqlite.rs`).
//! - PostgreSQL ([`Db::connect`] with a `postgres://` URL): for operators
//!   who already run one or want several registry processes on one
//!   database; `tsvector` search ranked by `ts_rank` (`db/pg.rs`).
//!
//! Both keep the same tables (plugins with download and rating totals
//! beside them so search sorts without joins, versions, keywords, signer
//! keys, hashed API tokens and ratings) and answer the same calls the same
//! way; the tests run every case against both. What they share (scopes,
//! query words, version ordering, the JSON columns) lives here so the two
//! cannot drift. Each keeps its schema as numbered steps applied on open
//! and recorded in `schema_migrations` (`db/migrations.rs`). PostgreSQL
//! is reached through a pool of connections whose size is the operator's
//! ([`PgOptions`], `db/pool.rs`), over TLS verified with rustls
//! (`db/tls.rs`).
//!
//! Invariant: a publish is one transaction (plugin row, version row,
//! keywords, search index), committed only after the package blob is
//! durable, so a reader sees a version with its blob or not at all.
//! Invariant: tokens are stored as SHA-256 hashes only.
//! Invariant: query text reaches a database only as a bound parameter,
//! after [`query_words`] kept letters and digits alone, so neither SQL nor
//! full-text query syntax can be injected.

mod advisories;
mod analytics;
mod approvals;
mod community;
mod insights;
mod migrations;
mod pages;
mod pg;
pub(crate) mod pool;
mod portable;
mod rollouts;
mod sqlite;
mod targets;
mod tls;

pub(crate) use analytics::stale_at;
pub use analytics::{BASKET_DAYS, DayOfUse};
pub(crate) use approvals::Evidence;
pub use community::{Kind, REPORTS_TO_HIDE};
#[cfg(test)]
pub(crate) use insights::ErrorWindows;
pub(crate) use insights::Facts;
pub use pages::VersionText;
pub(crate) use pages::today;
pub(crate) use rollouts::Move;
pub use tls::PgOptions;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::error::RegistryError;
use lord_registry_api::{PluginInfo, SearchPage, VersionInfo};
pub use lord_registry_api::{SearchQuery, Sort};

/// What a token may do: publish and yank the plugins it names (`*` for
/// any plugin; releases of lord itself only under the explicit
/// `publish:lord`), moderate reviews and discussions (`moderate`), and
/// review the approval steps it names (`review:STEP`, `review:*`). Every
/// valid token is an account: it may review and rate what it installed,
/// post and report (`account` is a scope of nothing more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    publish: Vec<String>,
    moderate: bool,
    account: bool,
    review: Vec<String>,
}

/// The scope a token needs to publish releases of lord (`publish:lord`).
/// The wildcard `publish:*` does not cover it: `lord self update` installs
/// what is released under it, so the right is never handed out with the
/// right to publish plugins.
pub(crate) const RELEASES_SCOPE: &str = "lord";

/// The schema step that keeps which token published each plugin last
/// ([`Db::may_change`]); the same text for SQLite and PostgreSQL.
const PUBLISHER_TOKEN: &str = "ALTER TABLE plugins ADD COLUMN publisher_token BIGINT";

impl Scope {
    /// Reads a comma-separated list of `publish:*`, `publish:ID`,
    /// `review:STEP`, `review:*`, `moderate` and `account`.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let (mut publish, mut review) = (Vec::new(), Vec::new());
        let (mut moderate, mut account) = (false, false);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(step) = part.strip_prefix("review:") {
                if step.is_empty() || step.contains(char::is_whitespace) {
                    return Err(RegistryError::BadRequest(format!(
                        "scope `{part}` names no approval step; write `review:STEP` or `review:*`"
                    )));
                }
                review.push(step.to_owned());
                continue;
            }
            if part == "moderate" {
                moderate = true;
                continue;
            }
            if part == "account" {
                account = true;
                continue;
            }
            let Some(target) = part.strip_prefix("publish:") else {
                return Err(RegistryError::BadRequest(format!(
                    "scope `{part}` is not `publish:*`, `publish:PLUGIN-ID`, `publish:lord`, \
                     `review:STEP`, `moderate` or `account`"
                )));
            };
            if target != "*" {
                target
                    .parse::<lord_manifest::PluginId>()
                    .map_err(|e| RegistryError::BadRequest(format!("scope `{part}`: {e}")))?;
            }
            publish.push(target.to_owned());
        }
        if publish.is_empty() && review.is_empty() && !moderate && !account {
            return Err(RegistryError::BadRequest(
                "a scope is needed, like `publish:*`, `publish:my-plugin`, `moderate` or `account`"
                    .to_owned(),
            ));
        }
        Ok(Self {
            publish,
            moderate,
            account,
            review,
        })
    }

    /// Whether this token may review the approval step `step`.
    pub fn may_review(&self, step: &str) -> bool {
        self.review.iter().any(|r| r == "*" || r == step)
    }

    /// Whether this token may publish and change `id`: a plugin it names
    /// or, with `publish:*`, any plugin; `lord` (its releases) only when
    /// named, never by the wildcard.
    pub fn covers(&self, id: &str) -> bool {
        self.publish
            .iter()
            .any(|p| p == id || (p == "*" && id != RELEASES_SCOPE))
    }

    /// Whether this token may publish any plugin at all (a publish is
    /// refused before its body is read when it may not).
    pub fn may_publish(&self) -> bool {
        !self.publish.is_empty()
    }

    /// Whether this token's scope names `id` itself, not by the wildcard.
    pub fn names(&self, id: &str) -> bool {
        self.publish.iter().any(|p| p == id)
    }

    pub fn may_moderate(&self) -> bool {
        self.moderate
    }

    fn to_text(&self) -> String {
        let mut parts: Vec<String> = self
            .publish
            .iter()
            .map(|p| format!("publish:{p}"))
            .collect();
        parts.extend(self.review.iter().map(|r| format!("review:{r}")));
        if self.moderate {
            parts.push("moderate".to_owned());
        }
        if self.account {
            parts.push("account".to_owned());
        }
        parts.join(",")
    }
}

/// A holder of a valid token: an account.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: i64,
    pub scope: Scope,
    /// The name given when the token was made; may be empty.
    pub name: String,
}

impl Caller {
    /// The name moderation's audit and reviews show.
    pub fn shown_name(&self) -> String {
        if self.name.is_empty() {
            format!("account {}", self.token_id)
        } else {
            self.name.clone()
        }
    }
}

/// What the databases need of a search request beyond the wire type.
pub(crate) trait QueryFilters {
    fn checked_min_rating(&self) -> Result<Option<f64>, RegistryError>;
    fn author_pattern(&self) -> Option<String>;
    fn permission_pattern(&self) -> Result<Option<String>, RegistryError>;
    fn max_risk_rank(&self) -> Result<Option<i64>, RegistryError>;
    fn host_api_version(&self) -> Result<Option<semver::Version>, RegistryError>;
}

impl QueryFilters for SearchQuery {
    /// The minimum mean rating, refused when it is not a number (the
    /// server checks the range; this guards direct callers too).
    fn checked_min_rating(&self) -> Result<Option<f64>, RegistryError> {
        match self.min_rating {
            Some(min) if !min.is_finite() => Err(RegistryError::BadRequest(
                "min_rating must be a number from 0 to 5".to_owned(),
            )),
            other => Ok(other),
        }
    }

    /// The author filter as a `LIKE` pattern with `\` as its escape, so
    /// `%` and `_` in the input match themselves.
    fn author_pattern(&self) -> Option<String> {
        self.author.as_ref().map(|author| {
            let escaped = author
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
    }

    /// The permission filter as a `LIKE` pattern over the space-framed
    /// family list a plugin row keeps (`" fs-read net "`); only a family
    /// name passes, so the pattern holds no wildcard of the caller's.
    fn permission_pattern(&self) -> Result<Option<String>, RegistryError> {
        self.permission
            .as_deref()
            .map(|name| {
                lord_manifest::PermissionFamily::ALL
                    .into_iter()
                    .find(|family| family.as_str() == name)
                    .map(|family| format!("% {} %", family.as_str()))
                    .ok_or_else(|| {
                        RegistryError::BadRequest(format!(
                            "`{name}` is not a permission family, like `net` or `fs-write`"
                        ))
                    })
            })
            .transpose()
    }

    /// The highest risk asked for, as the rank the plugin row keeps.
    fn max_risk_rank(&self) -> Result<Option<i64>, RegistryError> {
        self.max_risk
            .as_deref()
            .map(|text| {
                text.parse::<lord_manifest::RiskLevel>()
                    .map(risk_rank)
                    .map_err(|_| {
                        RegistryError::BadRequest(format!(
                            "`{text}` is not a risk level: use low, medium, high or critical"
                        ))
                    })
            })
            .transpose()
    }

    fn host_api_version(&self) -> Result<Option<semver::Version>, RegistryError> {
        self.host_api
            .as_deref()
            .map(|text| {
                semver::Version::parse(text).map_err(|e| {
                    RegistryError::BadRequest(format!(
                        "host_api `{text}` is not a version, like 0.2.1: {e}"
                    ))
                })
            })
            .transpose()
    }
}

/// A risk level as the number a plugin row keeps, so "at most" is `<=`.
pub(crate) fn risk_rank(level: lord_manifest::RiskLevel) -> i64 {
    match level {
        lord_manifest::RiskLevel::Low => 0,
        lord_manifest::RiskLevel::Medium => 1,
        lord_manifest::RiskLevel::High => 2,
        lord_manifest::RiskLevel::Critical => 3,
    }
}

/// Of the distinct `host-api` requirements plugins declare, those that
/// accept `version`: the host API filter matches requirements as semver
/// does, which SQL cannot, and the distinct requirements are few.
fn requirements_accepting(requirements: Vec<String>, version: &semver::Version) -> Vec<String> {
    requirements
        .into_iter()
        .filter(|text| semver::VersionReq::parse(text).is_ok_and(|req| req.matches(version)))
        .collect()
}

/// A version ready to record: checked by the server, blob already durable.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub manifest: lord_manifest::Manifest,
    pub manifest_text: String,
    pub digest: String,
    pub size: u64,
    pub signature_json: String,
    pub key_id: String,
    pub public_key: String,
    /// The package's README as published (Markdown, capped), rendered
    /// and sanitised only when a page shows it.
    pub readme: String,
    /// The token that publishes it: a `publish:*` token may yank, roll
    /// out and submit for approval only the plugins it published last.
    pub publisher_token: i64,
}

impl NewVersion {
    fn keywords_json(&self) -> String {
        serde_json::to_string(&self.manifest.plugin.keywords).unwrap_or_else(|_| "[]".to_owned())
    }

    fn authors_json(&self) -> String {
        serde_json::to_string(&self.manifest.plugin.authors).unwrap_or_else(|_| "[]".to_owned())
    }

    fn dependencies_json(&self) -> String {
        let dependencies: BTreeMap<String, String> = self
            .manifest
            .dependencies
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        serde_json::to_string(&dependencies).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The permission families the version asks for, space-framed
    /// (`" fs-read net "`), for the search filter's `LIKE`.
    fn permissions_text(&self) -> String {
        permission_families(&self.manifest.permissions)
    }

    fn risk_rank(&self) -> i64 {
        risk_rank(lord_manifest::derive_risk(&self.manifest.permissions))
    }

    fn size_i64(&self) -> i64 {
        i64::try_from(self.size).unwrap_or(i64::MAX)
    }

    /// The refusal for a signer other than the plugin's pinned one.
    fn wrong_signer(&self, pinned: &str) -> RegistryError {
        RegistryError::Forbidden(format!(
            "`{}` is published under key {pinned}; sign new versions with that key",
            self.manifest.plugin.id
        ))
    }

    fn duplicate(&self) -> RegistryError {
        RegistryError::Duplicate {
            id: self.manifest.plugin.id.to_string(),
            version: self.manifest.plugin.version.to_string(),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token and the hash that is all the database keeps of it.
fn new_token() -> Result<(String, String), RegistryError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| RegistryError::BadRequest(format!("no randomness for a token: {e}")))?;
    let token = format!("lrt_{}", hex::encode(bytes));
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The words of a free-text query: runs of letters and digits, at most
/// 16. Everything else (quotes, operators, parentheses) is a separator,
/// which is what keeps query syntax out of both backends' full-text
/// languages: each backend quotes these and asks for every one as a prefix.
fn query_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .collect()
}

/// Newest first by semver (unparsable versions last).
fn sort_versions(versions: &mut [VersionInfo]) {
    versions.sort_by(|a, b| {
        let parse = |v: &str| semver::Version::parse(v).ok();
        parse(&b.version).cmp(&parse(&a.version))
    });
}

/// The permission families `permissions` ask for, each once, spaced
/// (` fs-read net `), so a filter matches a family by ` NAME `.
fn permission_families(permissions: &[lord_manifest::Permission]) -> String {
    let families: std::collections::BTreeSet<&str> =
        permissions.iter().map(|p| p.family().as_str()).collect();
    let mut text = String::from(" ");
    for family in families {
        text.push_str(family);
        text.push(' ');
    }
    text
}

/// What search filters read of a plugin, from its latest version's
/// manifest: the permission families it asks for (as `permissions_text`
/// spells them), its risk's rank and its host API requirement. `None` for
/// a manifest that no longer parses (the row keeps what it had).
fn listing_of(manifest_text: &str) -> Option<(String, i64, String)> {
    let manifest = lord_manifest::parse("plugin.toml", manifest_text).ok()?;
    Some((
        permission_families(&manifest.permissions),
        risk_rank(lord_manifest::derive_risk(&manifest.permissions)),
        manifest.plugin.host_api.to_string(),
    ))
}

/// The version `latest` should name: the newest that is not yanked, or the
/// newest of all when every one is.
fn newest_live(rows: &[(String, bool)]) -> Option<semver::Version> {
    let newest = |live_only: bool| {
        rows.iter()
            .filter(|(_, yanked)| !live_only || !yanked)
            .filter_map(|(v, _)| semver::Version::parse(v).ok())
            .max()
    };
    newest(true).or_else(|| newest(false))
}

/// A JSON array column (keywords, authors) read back; bad JSON reads as
/// empty rather than failing a whole search page.
fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn json_map(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Connections a PostgreSQL-backed registry opens when not told otherwise:
/// enough that a slow search does not hold up downloads, few enough that
/// several servers fit in PostgreSQL's default 100 connections.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// The registry database: SQLite in the data folder or a PostgreSQL
/// server. Every call blocks; the server runs them on blocking threads.
#[derive(Debug)]
pub struct Db {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(pg::Postgres),
}

impl Db {
    /// Opens (creating) the SQLite database `registry.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::Sqlite::open(dir)?),
        })
    }

    /// Connects to the PostgreSQL database at `database_url`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME`, with libpq's
    /// `sslmode` and `sslrootcert` for TLS) with [`DEFAULT_POOL_SIZE`]
    /// connections and brings the registry's schema up to date there.
    pub fn connect(database_url: &str) -> Result<Self, RegistryError> {
        Self::connect_with(&PgOptions::new(database_url))
    }

    /// [`Db::connect`] with a password kept apart from the URL and a pool
    /// size of the operator's.
    pub fn connect_with(options: &PgOptions) -> Result<Self, RegistryError> {
        Ok(Self {
            backend: Backend::Postgres(pg::Postgres::connect(options)?),
        })
    }

    /// Where the signed index keeps its metadata when it is shared: a
    /// connection of its own to the same PostgreSQL database for signing,
    /// and the request pool for reading; `None` for SQLite, whose index
    /// lives in the data folder.
    pub(crate) fn index_pools(&self) -> Result<Option<(pool::Pool, pool::Pool)>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(db) => db.index_pools().map(Some),
        }
    }

    /// Whether the database answers (the readiness probe).
    pub fn ping(&self) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.ping(),
            Backend::Postgres(db) => db.ping(),
        }
    }

    /// Makes a token with `scope` and returns it; only its hash is kept.
    pub fn create_token(&self, scope: &Scope) -> Result<String, RegistryError> {
        self.create_named_token(scope, "")
    }

    /// [`Db::create_token`] for an account that shows as `name` (in
    /// reviews, posts and the moderation audit).
    pub fn create_named_token(&self, scope: &Scope, name: &str) -> Result<String, RegistryError> {
        if name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(RegistryError::BadRequest(
                "an account name is at most 64 characters, without control characters".to_owned(),
            ));
        }
        let (token, hash) = new_token()?;
        match &self.backend {
            Backend::Sqlite(db) => db.insert_token(&hash, &scope.to_text(), name)?,
            Backend::Postgres(db) => db.insert_token(&hash, &scope.to_text(), name)?,
        }
        Ok(token)
    }

    /// The holder of `token`, if it is one this registry made.
    pub fn caller(&self, token: &str) -> Result<Option<Caller>, RegistryError> {
        let hash = token_hash(token);
        let row = match &self.backend {
            Backend::Sqlite(db) => db.token(&hash)?,
            Backend::Postgres(db) => db.token(&hash)?,
        };
        row.map(|(token_id, scope, name)| {
            Ok(Caller {
                token_id,
                scope: Scope::parse(&scope)?,
                name,
            })
        })
        .transpose()
    }

    pub fn search(&self, query: &SearchQuery) -> Result<SearchPage, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.search(query),
            Backend::Postgres(db) => db.search(query),
        }
    }

    pub fn plugin(&self, id: &str) -> Result<Option<PluginInfo>, RegistryError> {
        let mut info = match &self.backend {
            Backend::Sqlite(db) => db.plugin(id)?,
            Backend::Postgres(db) => db.plugin(id)?,
        };
        if let Some(info) = &mut info {
            sort_versions(&mut info.versions);
        }
        Ok(info)
    }

    /// The signature JSON and digest of one version.
    pub fn signature(
        &self,
        id: &str,
        version: &str,
    ) -> Result<Option<(String, String)>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.signature(id, version),
            Backend::Postgres(db) => db.signature(id, version),
        }
    }

    pub fn public_key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.public_key(key_id),
            Backend::Postgres(db) => db.public_key(key_id),
        }
    }

    pub fn count_download(&self, id: &str) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.count_download(id),
            Backend::Postgres(db) => db.count_download(id),
        }
    }

    /// The key every version of `id` must be signed with and the token
    /// that published it last (`None` for one published before the
    /// registry kept it), once `id` is published.
    fn owner_of(&self, id: &str) -> Result<Option<(String, Option<i64>)>, RegistryError> {
        let id = id.to_owned();
        community::reading(self, move |sql| {
            let rows = sql.rows(
                "SELECT key_id, publisher_token FROM plugins WHERE id = $1",
                &[id.as_str().into()],
            )?;
            Ok(rows.first().map(|row| {
                let token = match &row[1] {
                    portable::Val::Null => None,
                    portable::Val::Int(token) => Some(*token),
                    portable::Val::Text(text) => text.parse().ok(),
                };
                (row[0].text(), token)
            }))
        })
    }

    /// What [`Db::publish`] would refuse, asked before the package's blob
    /// is stored, so a refused publish leaves nothing behind: a signer
    /// other than the plugin's pinned one, or a version published before
    /// with other bytes (the same bytes again are a retry, which `publish`
    /// refuses and its caller signs in). `publish` asks again, under its
    /// lock.
    pub fn check_publish(&self, new: &NewVersion) -> Result<(), RegistryError> {
        let id = new.manifest.plugin.id.as_str();
        if let Some((pinned, _)) = self.owner_of(id)?
            && pinned != new.key_id
        {
            return Err(new.wrong_signer(&pinned));
        }
        match self.signature(id, &new.manifest.plugin.version.to_string())? {
            Some((_, digest)) if digest != new.digest => Err(new.duplicate()),
            Some(_) | None => Ok(()),
        }
    }

    /// Records a checked version. Refuses a duplicate and a signer other
    /// than the one the plugin was first published with.
    pub fn publish(&self, new: &NewVersion) -> Result<(), RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.publish(new),
            Backend::Postgres(db) => db.publish(new),
        }
    }

    /// Whether `caller` may change `id` beyond publishing to it (yank,
    /// roll out, submit for approval): a token whose scope names `id`, or
    /// a `publish:*` token that published its latest version. A wildcard
    /// covers any name, but publishing needs the plugin's pinned key, so
    /// a wildcard token that never published `id` must not act on it.
    pub fn may_change(&self, id: &str, caller: &Caller) -> Result<bool, RegistryError> {
        if caller.scope.names(id) {
            return Ok(true);
        }
        if !caller.scope.covers(id) {
            return Ok(false);
        }
        let publisher = self.owner_of(id)?.and_then(|(_, token)| token);
        Ok(publisher == Some(caller.token_id))
    }

    /// Yanks or restores a version; `false` if there is no such version.
    pub fn set_yanked(&self, id: &str, version: &str, yanked: bool) -> Result<bool, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.set_yanked(id, version, yanked),
            Backend::Postgres(db) => db.set_yanked(id, version, yanked),
        }
    }

    /// Records `caller`'s rating (a second rating replaces the first);
    /// `false` if there is no such plugin.
    pub fn rate(&self, id: &str, caller: &Caller, stars: u8) -> Result<bool, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.rate(id, caller.token_id, stars),
            Backend::Postgres(db) => db.rate(id, caller.token_id, stars),
        }
    }

    /// Marks a plugin verified by the registry's operator.
    pub fn set_verified(&self, id: &str, verified: bool) -> Result<bool, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.set_verified(id, verified),
            Backend::Postgres(db) => db.set_verified(id, verified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Scope, query_words};

    #[test]
    fn the_wildcard_covers_every_plugin_but_not_lord_itself() {
        let wildcard = Scope::parse("publish:*").expect("scope");
        assert!(wildcard.covers("tally"));
        assert!(!wildcard.covers("lord"));
        let releases = Scope::parse("publish:lord").expect("scope");
        assert!(releases.covers("lord"));
        assert!(!releases.covers("tally"));
    }

    #[test]
    fn query_words_keep_letters_and_digits_only() {
        assert_eq!(
            query_words("\"csv\" OR NEAR( a:* & !b'; DROP TABLE x--"),
            ["csv", "OR", "NEAR", "a", "b", "DROP", "TABLE", "x"]
        );
        assert_eq!(query_words("Ünïcode café-2"), ["Ünïcode", "café", "2"]);
        assert!(query_words(" ::*&| ").is_empty());
        assert_eq!(query_words(&"w ".repeat(40)).len(), 16);
    }
}
