//! The registry's records in SQLite (`registry.db`, WAL): plugins (with
//! download and rating totals kept beside them so search sorts without
//! joins), versions, keywords, signer keys, hashed API tokens and ratings,
//! and an FTS5 index over id, name, description, keywords and authors for
//! relevance-ranked search (BM25).
//!
//! Invariant: a publish is one transaction (plugin row, version row,
//! keywords, search index), committed only after the package blob is
//! durable, so a reader sees a version with its blob or not at all.
//! Invariant: tokens are stored as SHA-256 hashes only.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension as _, params};
use sha2::{Digest as _, Sha256};

use crate::error::RegistryError;
use crate::model::{PluginInfo, SearchHit, SearchPage, VersionInfo};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plugins (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    license TEXT,
    category TEXT NOT NULL,
    keywords TEXT NOT NULL,      -- JSON array
    authors TEXT NOT NULL,       -- JSON array
    key_id TEXT NOT NULL,        -- the signer every version must use
    latest TEXT NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    rating_sum INTEGER NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    host_api TEXT NOT NULL,
    dependencies TEXT NOT NULL,  -- JSON object id -> range
    manifest TEXT NOT NULL,
    signature TEXT NOT NULL,     -- the PACKAGE.sig JSON
    key_id TEXT NOT NULL,
    yanked INTEGER NOT NULL DEFAULT 0,
    published_ms INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, version)
);
CREATE TABLE IF NOT EXISTS keywords (
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    keyword TEXT NOT NULL,
    PRIMARY KEY (plugin_id, keyword)
);
CREATE INDEX IF NOT EXISTS keywords_by_word ON keywords(keyword);
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    token_id INTEGER NOT NULL REFERENCES tokens(id),
    stars INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, token_id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS plugins_fts USING fts5(id, name, description, keywords, authors);
";

/// What a token may do: publish and yank the plugins it names (`*` for
/// any). Every valid token may rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    publish: Vec<String>,
}

impl Scope {
    /// Reads `publish:*` or `publish:ID[,publish:ID...]`.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut publish = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some(target) = part.strip_prefix("publish:") else {
                return Err(RegistryError::BadRequest(format!(
                    "scope `{part}` is not `publish:*` or `publish:PLUGIN-ID`"
                )));
            };
            if target != "*" {
                target
                    .parse::<lord_manifest::PluginId>()
                    .map_err(|e| RegistryError::BadRequest(format!("scope `{part}`: {e}")))?;
            }
            publish.push(target.to_owned());
        }
        if publish.is_empty() {
            return Err(RegistryError::BadRequest(
                "a scope is needed, like `publish:*` or `publish:my-plugin`".to_owned(),
            ));
        }
        Ok(Self { publish })
    }

    pub fn covers(&self, id: &str) -> bool {
        self.publish.iter().any(|p| p == "*" || p == id)
    }

    fn to_text(&self) -> String {
        self.publish
            .iter()
            .map(|p| format!("publish:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A holder of a valid token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: i64,
    pub scope: Scope,
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Relevance,
    Downloads,
    Rating,
    Updated,
}

/// A search request.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub author: Option<String>,
    pub min_rating: Option<f64>,
    pub verified: Option<bool>,
    pub sort: Option<Sort>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
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
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The FTS5 query for free text: each word as a quoted prefix term, all
/// required. Quoting makes any input a literal, so no query syntax leaks.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The registry database.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(dir).map_err(crate::error::io("create", dir))?;
        let conn = Connection::open(dir.join("registry.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // change is a transaction), so the poisoned guard is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes a token with `scope` and returns it; only its hash is kept.
    pub fn create_token(&self, scope: &Scope) -> Result<String, RegistryError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| RegistryError::BadRequest(format!("no randomness for a token: {e}")))?;
        let token = format!("lrt_{}", hex::encode(bytes));
        self.conn().execute(
            "INSERT INTO tokens (hash, scope, created_ms) VALUES (?1, ?2, ?3)",
            params![token_hash(&token), scope.to_text(), now_ms()],
        )?;
        Ok(token)
    }

    pub fn caller(&self, token: &str) -> Result<Option<Caller>, RegistryError> {
        let row: Option<(i64, String)> = self
            .conn()
            .query_row(
                "SELECT id, scope FROM tokens WHERE hash = ?1",
                [token_hash(token)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(token_id, scope)| {
            Ok(Caller {
                token_id,
                scope: Scope::parse(&scope)?,
            })
        })
        .transpose()
    }

    pub fn search(&self, query: &SearchQuery) -> Result<SearchPage, RegistryError> {
        let limit = query.limit.unwrap_or(20).min(100);
        let offset = query.offset.unwrap_or(0);
        let text = query.q.as_deref().and_then(fts_query);
        let mut conds = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let from = if let Some(text) = &text {
            conds.push("plugins_fts MATCH ?".to_owned());
            args.push(text.clone().into());
            "plugins p JOIN plugins_fts ON plugins_fts.rowid = p.rowid"
        } else {
            "plugins p"
        };
        if let Some(category) = &query.category {
            conds.push("p.category = ?".to_owned());
            args.push(category.to_lowercase().into());
        }
        if let Some(tag) = &query.tag {
            conds.push(
                "EXISTS (SELECT 1 FROM keywords k WHERE k.plugin_id = p.id AND k.keyword = ?)"
                    .to_owned(),
            );
            args.push(tag.to_lowercase().into());
        }
        if let Some(author) = &query.author {
            conds.push("p.authors LIKE ? ESCAPE '\\'".to_owned());
            let escaped = author
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
        }
        if let Some(min) = query.min_rating {
            if !min.is_finite() {
                return Err(RegistryError::BadRequest(
                    "min_rating must be a number from 0 to 5".to_owned(),
                ));
            }
            conds.push(
                "(CASE WHEN p.rating_count > 0 THEN p.rating_sum * 1.0 / p.rating_count ELSE 0 END) >= ?"
                    .to_owned(),
            );
            args.push(min.into());
        }
        if let Some(verified) = query.verified {
            conds.push("p.verified = ?".to_owned());
            args.push(i64::from(verified).into());
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let relevance = if text.is_some() {
            "-bm25(plugins_fts, 10.0, 5.0, 1.0, 3.0, 1.0)"
        } else {
            "0.0"
        };
        let sort = query.sort.unwrap_or(if text.is_some() {
            Sort::Relevance
        } else {
            Sort::Downloads
        });
        let order = match sort {
            Sort::Relevance => "relevance DESC, p.downloads DESC, p.id",
            Sort::Downloads => "p.downloads DESC, p.id",
            Sort::Rating => "rating DESC, p.rating_count DESC, p.id",
            Sort::Updated => "p.updated_ms DESC, p.id",
        };
        let conn = self.conn();
        let total: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM {from} {filter}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT p.id, p.name, p.description, p.latest, p.category, p.keywords, p.authors,
                    p.downloads,
                    CASE WHEN p.rating_count > 0 THEN p.rating_sum * 1.0 / p.rating_count ELSE 0.0 END AS rating,
                    p.rating_count, p.verified, p.updated_ms, {relevance} AS relevance
             FROM {from} {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let hits = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), hit_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchPage {
            total: u64::try_from(total).unwrap_or(0),
            hits,
        })
    }

    fn summary(
        conn: &Connection,
        id: &str,
    ) -> Result<Option<(SearchHit, Option<String>)>, RegistryError> {
        Ok(conn
            .query_row(
                "SELECT p.id, p.name, p.description, p.latest, p.category, p.keywords, p.authors,
                        p.downloads,
                        CASE WHEN p.rating_count > 0 THEN p.rating_sum * 1.0 / p.rating_count ELSE 0.0 END,
                        p.rating_count, p.verified, p.updated_ms, 0.0, p.license
                 FROM plugins p WHERE p.id = ?1",
                [id],
                |r| Ok((hit_from_row(r)?, r.get(13)?)),
            )
            .optional()?)
    }

    fn versions(conn: &Connection, id: &str) -> Result<Vec<VersionInfo>, RegistryError> {
        let mut stmt = conn.prepare(
            "SELECT version, digest, size, host_api, dependencies, yanked, key_id, published_ms
             FROM versions WHERE plugin_id = ?1",
        )?;
        let mut versions = stmt
            .query_map([id], |r| {
                let deps: String = r.get(4)?;
                Ok(VersionInfo {
                    version: r.get(0)?,
                    digest: r.get(1)?,
                    size: r.get::<_, i64>(2).map(|s| u64::try_from(s).unwrap_or(0))?,
                    host_api: r.get(3)?,
                    dependencies: serde_json::from_str(&deps).unwrap_or_default(),
                    yanked: r.get(5)?,
                    key: r.get(6)?,
                    published_ms: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        versions.sort_by(|a, b| {
            let parse = |v: &str| semver::Version::parse(v).ok();
            parse(&b.version).cmp(&parse(&a.version))
        });
        Ok(versions)
    }

    pub fn plugin(&self, id: &str) -> Result<Option<PluginInfo>, RegistryError> {
        let conn = self.conn();
        let Some((summary, license)) = Self::summary(&conn, id)? else {
            return Ok(None);
        };
        Ok(Some(PluginInfo {
            summary,
            license,
            versions: Self::versions(&conn, id)?,
        }))
    }

    /// The signature JSON and digest of one version.
    pub fn signature(
        &self,
        id: &str,
        version: &str,
    ) -> Result<Option<(String, String)>, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT signature, digest FROM versions WHERE plugin_id = ?1 AND version = ?2",
                [id, version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn public_key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT public_key FROM keys WHERE key_id = ?1",
                [key_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn count_download(&self, id: &str) -> Result<(), RegistryError> {
        self.conn().execute(
            "UPDATE plugins SET downloads = downloads + 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Records a checked version. Refuses a duplicate and a signer other
    /// than the one the plugin was first published with.
    pub fn publish(&self, new: &NewVersion) -> Result<(), RegistryError> {
        let meta = &new.manifest.plugin;
        let id = meta.id.as_str();
        let version = meta.version.to_string();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let pinned: Option<String> = tx
            .query_row("SELECT key_id FROM plugins WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(pinned) = &pinned
            && *pinned != new.key_id
        {
            return Err(RegistryError::Forbidden(format!(
                "`{id}` is published under key {pinned}; sign new versions with that key"
            )));
        }
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM versions WHERE plugin_id = ?1 AND version = ?2)",
            [id, &version],
            |r| r.get(0),
        )?;
        if exists {
            return Err(RegistryError::Duplicate {
                id: id.to_owned(),
                version,
            });
        }
        let now = now_ms();
        let keywords = serde_json::to_string(&meta.keywords).unwrap_or_else(|_| "[]".to_owned());
        let authors = serde_json::to_string(&meta.authors).unwrap_or_else(|_| "[]".to_owned());
        let dependencies: BTreeMap<String, String> = new
            .manifest
            .dependencies
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tx.execute(
            "INSERT INTO plugins (id, name, description, license, category, keywords, authors,
                                  key_id, latest, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
             ON CONFLICT (id) DO UPDATE SET
                name = excluded.name, description = excluded.description,
                license = excluded.license, category = excluded.category,
                keywords = excluded.keywords, authors = excluded.authors,
                updated_ms = excluded.updated_ms",
            params![
                id,
                meta.name,
                meta.description,
                meta.license,
                meta.category.as_str(),
                keywords,
                authors,
                new.key_id,
                version,
                now,
            ],
        )?;
        tx.execute(
            "INSERT INTO versions (plugin_id, version, digest, size, host_api, dependencies,
                                   manifest, signature, key_id, published_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                version,
                new.digest,
                i64::try_from(new.size).unwrap_or(i64::MAX),
                meta.host_api.to_string(),
                serde_json::to_string(&dependencies).unwrap_or_else(|_| "{}".to_owned()),
                new.manifest_text,
                new.signature_json,
                new.key_id,
                now,
            ],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO keys (key_id, public_key) VALUES (?1, ?2)",
            params![new.key_id, new.public_key],
        )?;
        tx.execute("DELETE FROM keywords WHERE plugin_id = ?1", [id])?;
        for keyword in &meta.keywords {
            tx.execute(
                "INSERT OR IGNORE INTO keywords (plugin_id, keyword) VALUES (?1, ?2)",
                params![id, keyword.to_lowercase()],
            )?;
        }
        let rowid: i64 = tx.query_row("SELECT rowid FROM plugins WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
        tx.execute("DELETE FROM plugins_fts WHERE rowid = ?1", [rowid])?;
        tx.execute(
            "INSERT INTO plugins_fts (rowid, id, name, description, keywords, authors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                rowid,
                id.replace('-', " "),
                meta.name,
                meta.description,
                meta.keywords.join(" "),
                meta.authors.join(" "),
            ],
        )?;
        refresh_latest(&tx, id)?;
        tx.commit()?;
        Ok(())
    }

    /// Yanks or restores a version; `false` if there is no such version.
    pub fn set_yanked(&self, id: &str, version: &str, yanked: bool) -> Result<bool, RegistryError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE versions SET yanked = ?3 WHERE plugin_id = ?1 AND version = ?2",
            params![id, version, yanked],
        )?;
        if changed > 0 {
            refresh_latest(&tx, id)?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Records `caller`'s rating (a second rating replaces the first);
    /// `false` if there is no such plugin.
    pub fn rate(&self, id: &str, caller: &Caller, stars: u8) -> Result<bool, RegistryError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM plugins WHERE id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        if !known {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO ratings (plugin_id, token_id, stars) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin_id, token_id) DO UPDATE SET stars = excluded.stars",
            params![id, caller.token_id, stars],
        )?;
        tx.execute(
            "UPDATE plugins SET
                rating_sum = (SELECT COALESCE(SUM(stars), 0) FROM ratings WHERE plugin_id = ?1),
                rating_count = (SELECT COUNT(*) FROM ratings WHERE plugin_id = ?1)
             WHERE id = ?1",
            [id],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Marks a plugin verified by the registry's operator.
    pub fn set_verified(&self, id: &str, verified: bool) -> Result<bool, RegistryError> {
        Ok(self.conn().execute(
            "UPDATE plugins SET verified = ?2 WHERE id = ?1",
            params![id, verified],
        )? > 0)
    }
}

/// Sets `latest` to the newest version that is not yanked (the newest of
/// all when every one is).
fn refresh_latest(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<(), RegistryError> {
    let mut stmt = tx.prepare("SELECT version, yanked FROM versions WHERE plugin_id = ?1")?;
    let rows = stmt
        .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let newest = |live_only: bool| {
        rows.iter()
            .filter(|(_, yanked)| !live_only || !yanked)
            .filter_map(|(v, _)| semver::Version::parse(v).ok())
            .max()
    };
    if let Some(latest) = newest(true).or_else(|| newest(false)) {
        tx.execute(
            "UPDATE plugins SET latest = ?2 WHERE id = ?1",
            params![id, latest.to_string()],
        )?;
    }
    Ok(())
}

fn hit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchHit> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    Ok(SearchHit {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        latest: r.get(3)?,
        category: r.get(4)?,
        keywords: list(5)?,
        authors: list(6)?,
        downloads: r.get::<_, i64>(7).map(|d| u64::try_from(d).unwrap_or(0))?,
        rating: r.get(8)?,
        ratings: r.get::<_, i64>(9).map(|d| u64::try_from(d).unwrap_or(0))?,
        verified: r.get(10)?,
        updated_ms: r.get(11)?,
        relevance: r.get(12)?,
    })
}
