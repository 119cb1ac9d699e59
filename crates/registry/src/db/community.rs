//! Reviews, discussions and moderation records, written once for both
//! backends through [`Sql`] (`db/portable.rs`).
//!
//! - A review is one per account and version (`UNIQUE (plugin_id, version,
//!   token_id)`); an edit replaces it and keeps what it replaced in
//!   `review_edits`. Its stars are the account's rating of the plugin
//!   (`ratings`, whose totals the plugin row keeps).
//! - Posts are a plugin's discussion.
//! - Reports, hiding and showing are moderation; every action, the spam
//!   filter's and the report threshold's included, is a row of
//!   `moderation_audit` naming who did it.
//!
//! Invariant: nothing is deleted. Hidden content stays in the database and
//! in the audit trail; only what pages and the API list leaves it out.

use lord_registry_api::{AuditEntry, PostInfo, ReviewInfo};

use super::portable::{Sql, Val};
use super::{Backend, Caller, Db, now_ms};
use crate::error::RegistryError;

/// Step of both schemas that adds these tables, with the backend's
/// auto-numbered key column spelled by `$id`.
macro_rules! community_schema {
    ($id:literal) => {
        concat!(
            "ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
CREATE TABLE receipt_key (id BIGINT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE reviews (
    id ",
            $id,
            ",
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    version TEXT NOT NULL,
    token_id BIGINT NOT NULL REFERENCES tokens(id),
    stars BIGINT NOT NULL,
    text TEXT NOT NULL,
    hidden BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (plugin_id, version, token_id)
);
CREATE INDEX reviews_by_plugin ON reviews(plugin_id);
CREATE TABLE review_edits (
    review_id BIGINT NOT NULL REFERENCES reviews(id),
    stars BIGINT NOT NULL,
    text TEXT NOT NULL,
    replaced_ms BIGINT NOT NULL
);
CREATE TABLE posts (
    id ",
            $id,
            ",
    plugin_id TEXT NOT NULL REFERENCES plugins(id),
    token_id BIGINT NOT NULL REFERENCES tokens(id),
    text TEXT NOT NULL,
    hidden BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
CREATE INDEX posts_by_plugin ON posts(plugin_id);
CREATE TABLE reports (
    id ",
            $id,
            ",
    kind TEXT NOT NULL,
    target BIGINT NOT NULL,
    token_id BIGINT NOT NULL REFERENCES tokens(id),
    reason TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    UNIQUE (kind, target, token_id)
);
CREATE TABLE moderation_audit (
    id ",
            $id,
            ",
    at_ms BIGINT NOT NULL,
    token_id BIGINT NOT NULL,
    moderator TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    target BIGINT NOT NULL,
    reason TEXT NOT NULL
);
"
        )
    };
}
pub(super) use community_schema;

/// Reports from this many accounts hide a review or post until a
/// moderator looks at it.
pub const REPORTS_TO_HIDE: i64 = 3;

/// What moderation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Review,
    Post,
}

impl Kind {
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        match text {
            "review" | "reviews" => Ok(Self::Review),
            "post" | "posts" => Ok(Self::Post),
            other => Err(RegistryError::BadRequest(format!(
                "`{other}` is not something to moderate: use `review` or `post`"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Post => "post",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Review => "reviews",
            Self::Post => "posts",
        }
    }
}

/// The name an account shows under: its own, or its number.
fn shown_name(name: &str, id: i64) -> String {
    if name.is_empty() {
        format!("account {id}")
    } else {
        name.to_owned()
    }
}

fn audit_row(
    sql: &mut dyn Sql,
    by: (i64, &str),
    action: &str,
    kind: Kind,
    target: i64,
    reason: &str,
) -> Result<(), RegistryError> {
    sql.exec(
        "INSERT INTO moderation_audit (at_ms, token_id, moderator, action, kind, target, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            now_ms().into(),
            by.0.into(),
            by.1.into(),
            action.into(),
            kind.as_str().into(),
            target.into(),
            reason.into(),
        ],
    )?;
    Ok(())
}

/// The spam filter's name in the audit.
const SPAM_FILTER: &str = "spam filter";
/// The report threshold's name in the audit.
const REPORTS: &str = "report threshold";

const REVIEW_COLUMNS: &str = "r.id, r.plugin_id, r.version, t.name, t.id, r.stars, r.text,
    (SELECT COUNT(*) FROM review_edits e WHERE e.review_id = r.id), r.hidden, r.created_ms,
    r.updated_ms FROM reviews r JOIN tokens t ON t.id = r.token_id";

fn review_of(row: &[Val]) -> ReviewInfo {
    ReviewInfo {
        id: row[0].int(),
        plugin: row[1].text(),
        version: row[2].text(),
        author: shown_name(&row[3].text(), row[4].int()),
        stars: u8::try_from(row[5].int()).unwrap_or(0),
        text: row[6].text(),
        edits: u64::try_from(row[7].int()).unwrap_or(0),
        hidden: row[8].int() != 0,
        created_ms: row[9].int(),
        updated_ms: row[10].int(),
    }
}

const POST_COLUMNS: &str = "p.id, p.plugin_id, t.name, t.id, p.text, p.hidden, p.created_ms
    FROM posts p JOIN tokens t ON t.id = p.token_id";

fn post_of(row: &[Val]) -> PostInfo {
    PostInfo {
        id: row[0].int(),
        plugin: row[1].text(),
        author: shown_name(&row[2].text(), row[3].int()),
        text: row[4].text(),
        hidden: row[5].int() != 0,
        created_ms: row[6].int(),
    }
}

/// Recomputes a plugin's rating totals from `ratings`.
/// A hidden review's stars stop counting: its author's rating of the
/// plugin goes, and the totals are counted again.
fn uncount_review(sql: &mut dyn Sql, review: i64) -> Result<(), RegistryError> {
    let rows = sql.rows(
        "SELECT plugin_id, token_id FROM reviews WHERE id = $1",
        &[review.into()],
    )?;
    if let Some(row) = rows.first() {
        sql.exec(
            "DELETE FROM ratings WHERE plugin_id = $1 AND token_id = $2",
            &[row[0].clone(), row[1].clone()],
        )?;
        refresh_rating(sql, &row[0].text())?;
    }
    Ok(())
}

/// The words refusing a rating from an account whose review of the
/// plugin is hidden.
pub(crate) fn hidden_review_refusal(plugin: &str) -> RegistryError {
    RegistryError::Forbidden(format!(
        "your review of {plugin} is hidden by the registry's moderation, so your rating of it \
         does not count; ask its moderators to look at it again"
    ))
}

fn refresh_rating(sql: &mut dyn Sql, plugin: &str) -> Result<(), RegistryError> {
    sql.exec(
        "UPDATE plugins SET
            rating_sum = (SELECT COALESCE(SUM(stars), 0) FROM ratings WHERE plugin_id = $1),
            rating_count = (SELECT COUNT(*) FROM ratings WHERE plugin_id = $1)
         WHERE id = $1",
        &[plugin.into()],
    )?;
    Ok(())
}

/// Runs `work` in one transaction on whichever backend `db` has.
pub(super) fn transaction<T: Send + 'static>(
    db: &Db,
    work: impl FnOnce(&mut dyn Sql) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    run_in(db, rusqlite::TransactionBehavior::Immediate, work)
}

/// [`transaction`] for work that only reads: on SQLite a deferred one,
/// which takes no write lock, so a read never waits behind a writer.
pub(super) fn reading<T: Send + 'static>(
    db: &Db,
    work: impl FnOnce(&mut dyn Sql) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    run_in(db, rusqlite::TransactionBehavior::Deferred, work)
}

/// `work` in one transaction, begun on SQLite with `behavior`.
fn run_in<T: Send + 'static>(
    db: &Db,
    behavior: rusqlite::TransactionBehavior,
    work: impl FnOnce(&mut dyn Sql) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    match &db.backend {
        Backend::Sqlite(lite) => {
            let mut conn = lite.conn();
            let mut tx = conn.transaction_with_behavior(behavior)?;
            let out = work(&mut tx)?;
            tx.commit()?;
            Ok(out)
        }
        Backend::Postgres(pg) => pg.pool.run(move |c| {
            let mut tx = c.transaction()?;
            let out = work(&mut tx)?;
            tx.commit()?;
            Ok(out)
        }),
    }
}

impl Db {
    /// The key install receipts are signed with, made on first use and
    /// shared by every server of this database.
    pub fn receipt_key(&self) -> Result<Vec<u8>, RegistryError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| RegistryError::Internal(format!("no randomness for a key: {e}")))?;
        let fresh = hex::encode(fresh);
        let text = transaction(self, move |sql| {
            sql.exec(
                "INSERT INTO receipt_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                &[fresh.into()],
            )?;
            let rows = sql.rows("SELECT secret FROM receipt_key WHERE id = 1", &[])?;
            Ok(rows.first().map(|r| r[0].text()).unwrap_or_default())
        })?;
        hex::decode(text)
            .map_err(|e| RegistryError::Database(format!("the receipt key is damaged: {e}")))
    }

    /// Records `caller`'s review of `plugin` `version` (replacing theirs,
    /// and keeping the old text, when there is one) and their rating.
    /// `spam` is the filter's reason when it judged the text spam: the
    /// review is then kept hidden, and the audit says so.
    pub fn review(
        &self,
        caller: &Caller,
        plugin: &str,
        version: &str,
        stars: u8,
        text: &str,
        spam: Option<&'static str>,
    ) -> Result<ReviewInfo, RegistryError> {
        let (plugin, version, text) = (plugin.to_owned(), version.to_owned(), text.to_owned());
        let account = caller.token_id;
        transaction(self, move |sql| {
            if sql.is_postgres() {
                // Ratings of one plugin one after the other, so the totals count each.
                sql.rows(
                    "SELECT 1 FROM plugins WHERE id = $1 FOR UPDATE",
                    &[plugin.as_str().into()],
                )?;
            }
            let known = sql.rows(
                "SELECT 1 FROM versions WHERE plugin_id = $1 AND version = $2",
                &[plugin.as_str().into(), version.as_str().into()],
            )?;
            if known.is_empty() {
                return Err(RegistryError::NotFound(format!(
                    "{plugin} {version} is not published"
                )));
            }
            let now = now_ms();
            let hidden = i64::from(spam.is_some());
            let stars = i64::from(stars);
            let existing = sql.rows(
                "SELECT id, stars, text FROM reviews WHERE plugin_id = $1 AND version = $2 AND token_id = $3",
                &[plugin.as_str().into(), version.as_str().into(), account.into()],
            )?;
            let id = if let Some(old) = existing.first() {
                let id = old[0].int();
                sql.exec(
                    "INSERT INTO review_edits (review_id, stars, text, replaced_ms) VALUES ($1, $2, $3, $4)",
                    &[id.into(), old[1].clone(), old[2].clone(), now.into()],
                )?;
                // An edit never shows a review that moderation or reports
                // hid: only a moderator does.
                sql.exec(
                    "UPDATE reviews SET stars = $1, text = $2,
                        hidden = CASE WHEN hidden = 1 THEN 1 ELSE CAST($3 AS BIGINT) END, updated_ms = $4
                     WHERE id = $5",
                    &[stars.into(), text.as_str().into(), hidden.into(), now.into(), id.into()],
                )?;
                id
            } else {
                let rows = sql.rows(
                    "INSERT INTO reviews (plugin_id, version, token_id, stars, text, hidden, created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
                    &[plugin.as_str().into(), version.as_str().into(), account.into(), stars.into(),
                      text.as_str().into(), hidden.into(), now.into()],
                )?;
                rows.first().map_or(0, |r| r[0].int())
            };
            if let Some(reason) = spam {
                audit_row(sql, (0, SPAM_FILTER), "hide", Kind::Review, id, reason)?;
            }
            let still_hidden = sql.rows(
                "SELECT 1 FROM reviews WHERE id = $1 AND hidden = 1",
                &[id.into()],
            )?;
            if still_hidden.is_empty() {
                sql.exec(
                    "INSERT INTO ratings (plugin_id, token_id, stars) VALUES ($1, $2, CAST($3 AS BIGINT))
                     ON CONFLICT (plugin_id, token_id) DO UPDATE SET stars = excluded.stars",
                    &[plugin.as_str().into(), account.into(), stars.into()],
                )?;
                refresh_rating(sql, &plugin)?;
            } else {
                uncount_review(sql, id)?;
            }
            let rows = sql.rows(
                &format!("SELECT {REVIEW_COLUMNS} WHERE r.id = $1"),
                &[id.into()],
            )?;
            rows.first().map(|r| review_of(r)).ok_or_else(|| {
                RegistryError::Internal("a review vanished as it was written".to_owned())
            })
        })
    }

    /// Reviews of `plugin`, newest first; hidden ones only when asked.
    pub fn reviews(
        &self,
        plugin: &str,
        with_hidden: bool,
    ) -> Result<Vec<ReviewInfo>, RegistryError> {
        let plugin = plugin.to_owned();
        transaction(self, move |sql| {
            let rows = sql.rows(
                &format!(
                    "SELECT {REVIEW_COLUMNS} WHERE r.plugin_id = $1 AND (r.hidden = 0 OR CAST($2 AS BIGINT) = 1)
                     ORDER BY r.updated_ms DESC, r.id DESC LIMIT 200"
                ),
                &[plugin.into(), i64::from(with_hidden).into()],
            )?;
            Ok(rows.iter().map(|r| review_of(r)).collect())
        })
    }

    /// Adds `caller`'s post to `plugin`'s discussion (hidden at once when
    /// `spam` says why).
    pub fn post(
        &self,
        caller: &Caller,
        plugin: &str,
        text: &str,
        spam: Option<&'static str>,
    ) -> Result<PostInfo, RegistryError> {
        let (plugin, text) = (plugin.to_owned(), text.to_owned());
        let account = caller.token_id;
        transaction(self, move |sql| {
            if sql
                .rows(
                    "SELECT 1 FROM plugins WHERE id = $1",
                    &[plugin.as_str().into()],
                )?
                .is_empty()
            {
                return Err(RegistryError::NotFound(format!(
                    "no plugin named `{plugin}` is published"
                )));
            }
            let rows = sql.rows(
                "INSERT INTO posts (plugin_id, token_id, text, hidden, created_ms)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    plugin.as_str().into(),
                    account.into(),
                    text.into(),
                    i64::from(spam.is_some()).into(),
                    now_ms().into(),
                ],
            )?;
            let id = rows.first().map_or(0, |r| r[0].int());
            if let Some(reason) = spam {
                audit_row(sql, (0, SPAM_FILTER), "hide", Kind::Post, id, reason)?;
            }
            let rows = sql.rows(
                &format!("SELECT {POST_COLUMNS} WHERE p.id = $1"),
                &[id.into()],
            )?;
            rows.first().map(|r| post_of(r)).ok_or_else(|| {
                RegistryError::Internal("a post vanished as it was written".to_owned())
            })
        })
    }

    /// `plugin`'s discussion, oldest first; hidden posts only when asked.
    pub fn posts(&self, plugin: &str, with_hidden: bool) -> Result<Vec<PostInfo>, RegistryError> {
        let plugin = plugin.to_owned();
        transaction(self, move |sql| {
            let rows = sql.rows(
                &format!(
                    "SELECT {POST_COLUMNS} WHERE p.plugin_id = $1 AND (p.hidden = 0 OR CAST($2 AS BIGINT) = 1)
                     ORDER BY p.created_ms, p.id LIMIT 200"
                ),
                &[plugin.into(), i64::from(with_hidden).into()],
            )?;
            Ok(rows.iter().map(|r| post_of(r)).collect())
        })
    }

    /// Records `caller`'s report of a review or post (once per account);
    /// at [`REPORTS_TO_HIDE`] accounts it is hidden until a moderator
    /// looks. `false` when there is no such content.
    pub fn report(
        &self,
        caller: &Caller,
        kind: Kind,
        target: i64,
        reason: &str,
    ) -> Result<bool, RegistryError> {
        let (account, name, reason) = (caller.token_id, caller.shown_name(), reason.to_owned());
        transaction(self, move |sql| {
            let table = kind.table();
            if sql
                .rows(
                    &format!("SELECT 1 FROM {table} WHERE id = $1"),
                    &[target.into()],
                )?
                .is_empty()
            {
                return Ok(false);
            }
            let added = sql.exec(
                "INSERT INTO reports (kind, target, token_id, reason, created_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, target, token_id) DO NOTHING",
                &[kind.as_str().into(), target.into(), account.into(), reason.as_str().into(), now_ms().into()],
            )?;
            if added > 0 {
                audit_row(sql, (account, &name), "report", kind, target, &reason)?;
            }
            let count = sql.rows(
                "SELECT COUNT(*) FROM reports WHERE kind = $1 AND target = $2",
                &[kind.as_str().into(), target.into()],
            )?;
            let count = count.first().map_or(0, |r| r[0].int());
            if added > 0 && count == REPORTS_TO_HIDE {
                sql.exec(
                    &format!("UPDATE {table} SET hidden = 1 WHERE id = $1"),
                    &[target.into()],
                )?;
                audit_row(
                    sql,
                    (0, REPORTS),
                    "hide",
                    kind,
                    target,
                    &format!("reported by {count} accounts"),
                )?;
                if kind == Kind::Review {
                    uncount_review(sql, target)?;
                }
            }
            Ok(true)
        })
    }

    /// A moderator hides or shows a review or post; the audit names them.
    /// Refused unless `moderator`'s token may moderate; `false` when there
    /// is no such content.
    pub fn moderate(
        &self,
        moderator: &Caller,
        kind: Kind,
        target: i64,
        hidden: bool,
        reason: &str,
    ) -> Result<bool, RegistryError> {
        if !moderator.scope.may_moderate() {
            return Err(RegistryError::Forbidden(
                "this token may not moderate; ask the registry's operator for one with scope `moderate`"
                    .to_owned(),
            ));
        }
        let (account, name, reason) = (
            moderator.token_id,
            moderator.shown_name(),
            reason.to_owned(),
        );
        transaction(self, move |sql| {
            let changed = sql.exec(
                &format!("UPDATE {} SET hidden = $1 WHERE id = $2", kind.table()),
                &[i64::from(hidden).into(), target.into()],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            let action = if hidden { "hide" } else { "show" };
            audit_row(sql, (account, &name), action, kind, target, &reason)?;
            if kind == Kind::Review {
                // A hidden review's stars stop counting; shown again, they count again.
                let rows = sql.rows(
                    "SELECT plugin_id, token_id, stars FROM reviews WHERE id = $1",
                    &[target.into()],
                )?;
                if hidden {
                    uncount_review(sql, target)?;
                } else if let Some(row) = rows.first() {
                    sql.exec(
                        "INSERT INTO ratings (plugin_id, token_id, stars) VALUES ($1, $2, CAST($3 AS BIGINT))
                         ON CONFLICT (plugin_id, token_id) DO UPDATE SET stars = excluded.stars",
                        &[row[0].clone(), row[1].clone(), row[2].clone()],
                    )?;
                    refresh_rating(sql, &row[0].text())?;
                }
            }
            Ok(true)
        })
    }

    /// The newest `limit` lines of the moderation audit, newest first.
    pub fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, RegistryError> {
        transaction(self, move |sql| {
            let rows = sql.rows(
                "SELECT at_ms, moderator, action, kind, target, reason FROM moderation_audit
                 ORDER BY id DESC LIMIT $1",
                &[i64::from(limit).into()],
            )?;
            Ok(rows
                .iter()
                .map(|r| AuditEntry {
                    at_ms: r[0].int(),
                    moderator: r[1].text(),
                    action: r[2].text(),
                    kind: r[3].text(),
                    target: r[4].int(),
                    reason: r[5].text(),
                })
                .collect())
        })
    }
}
