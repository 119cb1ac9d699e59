//! The SQLite backend (`registry.db` in the data folder, WAL): the default,
//! needing no setup. Search is an FTS5 table over id, name, description,
//! keywords and authors, kept beside `plugins` by rowid and ranked by BM25.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and
//! the registry's load is small.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::migrations::{self, Step};
use super::{
    NewVersion, SearchQuery, Sort, json_list, json_map, newest_live, now_ms, query_words, to_u64,
};
use crate::error::RegistryError;
use lord_registry_api::{PluginInfo, SearchHit, SearchPage, VersionInfo};

use crate::db::QueryFilters as _;

/// Step 1 of the schema: as it stood before migrations.
const SCHEMA_1: &str = "
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

/// Step 2: what the web pages show and filter on (`db/pages.rs`).
/// `risk` starts at critical for plugins published before it, whose
/// manifests SQL cannot read: until their next publish, the "at most"
/// filter never passes an unassessed plugin as safe.
const SCHEMA_2: &str = "
ALTER TABLE versions ADD COLUMN readme TEXT NOT NULL DEFAULT '';
ALTER TABLE plugins ADD COLUMN permissions TEXT NOT NULL DEFAULT ' ';
ALTER TABLE plugins ADD COLUMN risk INTEGER NOT NULL DEFAULT 3;
ALTER TABLE plugins ADD COLUMN host_api TEXT NOT NULL DEFAULT '';
UPDATE plugins SET host_api = COALESCE(
    (SELECT v.host_api FROM versions v WHERE v.plugin_id = plugins.id AND v.version = plugins.latest),
    '');
CREATE INDEX plugins_by_key ON plugins(key_id);
CREATE INDEX plugins_by_host_api ON plugins(host_api);
CREATE TABLE downloads_daily (
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    day INTEGER NOT NULL,        -- days since 1970-01-01 (UTC)
    count INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, day)
);
";

/// The schema's steps (`db/migrations.rs`). The signed index of a SQLite
/// registry lives in its data folder, so it has no step for it.
pub(super) const STEPS: &[Step] = &[
    Step {
        version: 1,
        name: "records and search",
        sql: SCHEMA_1,
    },
    Step {
        version: 2,
        name: "web pages: readmes, permission and risk filters, daily downloads",
        sql: SCHEMA_2,
    },
    Step {
        version: 3,
        name: "community: accounts' names, reviews, discussions, moderation",
        sql: super::community::community_schema!("INTEGER PRIMARY KEY"),
    },
    Step {
        version: 4,
        name: "opt-in use under daily salted hashes",
        sql: super::analytics::SCHEMA,
    },
    Step {
        version: 5,
        name: "security advisories and publish-time scans",
        sql: super::advisories::SCHEMA,
    },
    Step {
        version: 6,
        name: "staged rollouts and their machines' reports",
        sql: super::rollouts::SCHEMA,
    },
    Step {
        version: 7,
        name: "approval workflows and the requests going through them",
        sql: super::approvals::SCHEMA,
    },
    Step {
        version: 8,
        name: "the token that published each plugin last",
        sql: super::PUBLISHER_TOKEN,
    },
];

/// Brings the schema up to date, every pending step in one immediate
/// transaction: a second process opening the same file waits (busy
/// timeout) and then finds the steps applied.
fn migrate(conn: &mut Connection) -> Result<(), RegistryError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(migrations::TABLE)?;
    let applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for step in migrations::pending(STEPS, applied)? {
        tx.execute_batch(step.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)",
            params![step.version, step.name, now_ms()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The FTS5 query for free text: each word as a quoted prefix term, all
/// required. Quoting makes any input a literal, so no query syntax leaks.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = query_words(text)
        .into_iter()
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The registry database in SQLite.
#[derive(Debug)]
pub(super) struct Sqlite {
    pub(super) conn: Mutex<Connection>,
}

impl Sqlite {
    pub(super) fn open(dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(dir).map_err(crate::error::io("create", dir))?;
        let mut conn = Connection::open(dir.join("registry.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every
        // change is a transaction), so the poisoned guard is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn ping(&self) -> Result<(), RegistryError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    pub(super) fn insert_token(
        &self,
        hash: &str,
        scope: &str,
        name: &str,
    ) -> Result<(), RegistryError> {
        self.conn().execute(
            "INSERT INTO tokens (hash, scope, created_ms, name) VALUES (?1, ?2, ?3, ?4)",
            params![hash, scope, now_ms(), name],
        )?;
        Ok(())
    }

    pub(super) fn token(&self, hash: &str) -> Result<Option<(i64, String, String)>, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, scope, name FROM tokens WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    pub(super) fn search(&self, query: &SearchQuery) -> Result<SearchPage, RegistryError> {
        let (limit, offset) = query.page();
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
        if let Some(pattern) = query.author_pattern() {
            // SQLite's LIKE ignores ASCII case, as PostgreSQL's ILIKE does.
            conds.push("p.authors LIKE ? ESCAPE '\\'".to_owned());
            args.push(pattern.into());
        }
        if let Some(min) = query.checked_min_rating()? {
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
        if let Some(pattern) = query.permission_pattern()? {
            conds.push("p.permissions LIKE ?".to_owned());
            args.push(pattern.into());
        }
        if let Some(rank) = query.max_risk_rank()? {
            conds.push("p.risk <= ?".to_owned());
            args.push(rank.into());
        }
        if let Some(publisher) = &query.publisher {
            conds.push("p.key_id = ?".to_owned());
            args.push(publisher.clone().into());
        }
        let conn = self.conn();
        if let Some(version) = query.host_api_version()? {
            let accepting =
                super::requirements_accepting(Self::host_api_requirements(&conn)?, &version);
            conds.push(format!(
                "p.host_api IN ({})",
                std::iter::once("NULL")
                    .chain(accepting.iter().map(|_| "?"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            args.extend(accepting.into_iter().map(Into::into));
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
        let order = match query.order(text.is_some()) {
            Sort::Relevance => "relevance DESC, p.downloads DESC, p.id",
            Sort::Downloads => "p.downloads DESC, p.id",
            Sort::Rating => "rating DESC, p.rating_count DESC, p.id",
            Sort::Updated => "p.updated_ms DESC, p.id",
        };
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
            total: to_u64(total),
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

    /// The versions of `id`, unordered ([`super::Db::plugin`] orders them).
    fn versions(conn: &Connection, id: &str) -> Result<Vec<VersionInfo>, RegistryError> {
        let mut stmt = conn.prepare(
            "SELECT version, digest, size, host_api, dependencies, yanked, key_id, published_ms
             FROM versions WHERE plugin_id = ?1",
        )?;
        let versions = stmt
            .query_map([id], |r| {
                Ok(VersionInfo {
                    version: r.get(0)?,
                    digest: r.get(1)?,
                    size: r.get::<_, i64>(2).map(to_u64)?,
                    host_api: r.get(3)?,
                    dependencies: json_map(&r.get::<_, String>(4)?),
                    yanked: r.get(5)?,
                    key: r.get(6)?,
                    published_ms: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(versions)
    }

    pub(super) fn plugin(&self, id: &str) -> Result<Option<PluginInfo>, RegistryError> {
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

    pub(super) fn signature(
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

    pub(super) fn public_key(&self, key_id: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT public_key FROM keys WHERE key_id = ?1",
                [key_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub(super) fn count_download(&self, id: &str) -> Result<(), RegistryError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE plugins SET downloads = downloads + 1 WHERE id = ?1",
            [id],
        )?;
        tx.execute(
            "INSERT INTO downloads_daily (plugin_id, day, count) VALUES (?1, ?2, 1)
             ON CONFLICT (plugin_id, day) DO UPDATE SET count = downloads_daily.count + 1",
            params![id, super::pages::today()],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(super) fn publish(&self, new: &NewVersion) -> Result<(), RegistryError> {
        let meta = &new.manifest.plugin;
        let id = meta.id.as_str();
        let version = meta.version.to_string();
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock before the checks, so two
        // processes on one file cannot both pass them.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let pinned: Option<String> = tx
            .query_row("SELECT key_id FROM plugins WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(pinned) = &pinned
            && *pinned != new.key_id
        {
            return Err(new.wrong_signer(pinned));
        }
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM versions WHERE plugin_id = ?1 AND version = ?2)",
            [id, &version],
            |r| r.get(0),
        )?;
        if exists {
            return Err(new.duplicate());
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO plugins (id, name, description, license, category, keywords, authors,
                                  key_id, latest, created_ms, updated_ms,
                                  permissions, risk, host_api, publisher_token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (id) DO UPDATE SET
                name = excluded.name, description = excluded.description,
                license = excluded.license, category = excluded.category,
                keywords = excluded.keywords, authors = excluded.authors,
                updated_ms = excluded.updated_ms, permissions = excluded.permissions,
                risk = excluded.risk, host_api = excluded.host_api,
                publisher_token = excluded.publisher_token",
            params![
                id,
                meta.name,
                meta.description,
                meta.license,
                meta.category.as_str(),
                new.keywords_json(),
                new.authors_json(),
                new.key_id,
                version,
                now,
                new.permissions_text(),
                new.risk_rank(),
                meta.host_api.to_string(),
                new.publisher_token,
            ],
        )?;
        tx.execute(
            "INSERT INTO versions (plugin_id, version, digest, size, host_api, dependencies,
                                   manifest, signature, key_id, published_ms, readme)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                id,
                version,
                new.digest,
                new.size_i64(),
                meta.host_api.to_string(),
                new.dependencies_json(),
                new.manifest_text,
                new.signature_json,
                new.key_id,
                now,
                new.readme,
            ],
        )?;
        tx.execute(
            "INSERT INTO keys (key_id, public_key) VALUES (?1, ?2)
             ON CONFLICT (key_id) DO NOTHING",
            params![new.key_id, new.public_key],
        )?;
        tx.execute("DELETE FROM keywords WHERE plugin_id = ?1", [id])?;
        for keyword in &meta.keywords {
            tx.execute(
                "INSERT INTO keywords (plugin_id, keyword) VALUES (?1, ?2)
                 ON CONFLICT (plugin_id, keyword) DO NOTHING",
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

    pub(super) fn set_yanked(
        &self,
        id: &str,
        version: &str,
        yanked: bool,
    ) -> Result<bool, RegistryError> {
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

    pub(super) fn rate(&self, id: &str, token_id: i64, stars: u8) -> Result<bool, RegistryError> {
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
        let hidden: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM reviews WHERE plugin_id = ?1 AND token_id = ?2 AND hidden = 1)",
            params![id, token_id],
            |r| r.get(0),
        )?;
        if hidden {
            return Err(super::community::hidden_review_refusal(id));
        }
        tx.execute(
            "INSERT INTO ratings (plugin_id, token_id, stars) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin_id, token_id) DO UPDATE SET stars = excluded.stars",
            params![id, token_id, stars],
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

    pub(super) fn set_verified(&self, id: &str, verified: bool) -> Result<bool, RegistryError> {
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
    if let Some(latest) = newest_live(&rows) {
        let latest = latest.to_string();
        tx.execute(
            "UPDATE plugins SET latest = ?2 WHERE id = ?1",
            params![id, latest],
        )?;
        // What search filters read comes from the latest version, not
        // from whichever was published last (an older one, or one yanked).
        let manifest: String = tx.query_row(
            "SELECT manifest FROM versions WHERE plugin_id = ?1 AND version = ?2",
            params![id, latest],
            |r| r.get(0),
        )?;
        if let Some((permissions, risk, host_api)) = super::listing_of(&manifest) {
            tx.execute(
                "UPDATE plugins SET permissions = ?2, risk = ?3, host_api = ?4 WHERE id = ?1",
                params![id, permissions, risk, host_api],
            )?;
        }
    }
    Ok(())
}

fn hit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchHit> {
    Ok(SearchHit {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        latest: r.get(3)?,
        category: r.get(4)?,
        keywords: json_list(&r.get::<_, String>(5)?),
        authors: json_list(&r.get::<_, String>(6)?),
        downloads: r.get::<_, i64>(7).map(to_u64)?,
        rating: r.get(8)?,
        ratings: r.get::<_, i64>(9).map(to_u64)?,
        verified: r.get(10)?,
        updated_ms: r.get(11)?,
        relevance: r.get(12)?,
    })
}
