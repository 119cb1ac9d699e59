//! `ai.db`: conversations and the prompt log. Every exchange (prompt,
//! reply, counts, cost, timing, who asked: the CLI or a plugin) is a row,
//! searchable through an FTS5 index kept by triggers; sessions keep their
//! messages so `-c` continues where a conversation stopped. A session is
//! saved in one transaction, so a killed process leaves the old turn or
//! the new one.
//!
//! Invariant: no key is ever written here: the rows hold what was said
//! and counted, and requests are logged as their messages, never their
//! headers.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::AiError;
use crate::session::{Kept, Retention, Session};
use crate::types::{Message, Role, Usage};

/// The file's name under `$LORD_HOME`.
pub const LOG_FILE: &str = "ai.db";

const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    model TEXT,
    role TEXT,
    budget INTEGER,
    retention TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    pinned INTEGER NOT NULL,
    summary INTEGER NOT NULL,
    PRIMARY KEY (session, position)
);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    caller TEXT NOT NULL,
    session TEXT,
    profile TEXT NOT NULL,
    model TEXT NOT NULL,
    system TEXT,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost REAL,
    first_token_ms REAL NOT NULL,
    total_ms REAL NOT NULL,
    finish TEXT NOT NULL,
    error TEXT,
    template TEXT
);
CREATE INDEX IF NOT EXISTS exchanges_at ON exchanges(at_ms);
CREATE VIRTUAL TABLE IF NOT EXISTS exchanges_text USING fts5(
    prompt, reply, system, content='exchanges', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS exchanges_text_insert AFTER INSERT ON exchanges BEGIN
    INSERT INTO exchanges_text(rowid, prompt, reply, system)
    VALUES (new.id, new.prompt, new.reply, coalesce(new.system, ''));
END;
CREATE TRIGGER IF NOT EXISTS exchanges_text_delete AFTER DELETE ON exchanges BEGIN
    INSERT INTO exchanges_text(exchanges_text, rowid, prompt, reply, system)
    VALUES ('delete', old.id, old.prompt, old.reply, coalesce(old.system, ''));
END;
";

/// One logged exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub id: i64,
    pub at_ms: i64,
    /// `cli`, or the id of the plugin that asked.
    pub caller: String,
    pub session: Option<String>,
    pub profile: String,
    pub model: String,
    pub system: Option<String>,
    /// The newest user message.
    pub prompt: String,
    pub reply: String,
    pub usage: Usage,
    /// In the price table's currency; `None` when the model has no price.
    pub cost: Option<f64>,
    pub first_token_ms: f64,
    pub total_ms: f64,
    pub finish: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The template it was rendered from.
    pub template: Option<String>,
}

impl Exchange {
    /// The row for one request and what came of it: the newest user
    /// message as the prompt, the system messages joined, the reply's
    /// counts, cost (from `prices`, when the model has one) and timing,
    /// or the error.
    #[expect(
        clippy::too_many_arguments,
        reason = "one row's worth of facts, each named"
    )]
    pub fn of(
        at_ms: i64,
        caller: &str,
        session: Option<&str>,
        endpoint: &crate::types::Endpoint,
        request: &crate::types::Request,
        result: Result<&crate::types::Reply, &AiError>,
        prices: Option<&crate::price::Prices>,
        template: Option<&str>,
    ) -> Self {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut exchange = Self {
            id: 0,
            at_ms,
            caller: caller.to_owned(),
            session: session.map(str::to_owned),
            profile: endpoint.name.clone(),
            model: request
                .model
                .clone()
                .or_else(|| endpoint.model.clone())
                .unwrap_or_default(),
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            prompt: request
                .messages
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(|m| m.content.clone())
                .unwrap_or_default(),
            reply: String::new(),
            usage: Usage::default(),
            cost: None,
            first_token_ms: 0.0,
            total_ms: 0.0,
            finish: "error".to_owned(),
            error: None,
            template: template.map(str::to_owned),
        };
        match result {
            Ok(reply) => {
                exchange.model.clone_from(&reply.model);
                exchange.reply.clone_from(&reply.text);
                exchange.usage = reply.usage;
                exchange.cost = prices.and_then(|p| p.cost(&reply.model, reply.usage));
                exchange.first_token_ms = reply.timing.first_token_ms;
                exchange.total_ms = reply.timing.total_ms;
                exchange.finish = reply.finish.as_str().to_owned();
            }
            Err(error) => exchange.error = Some(error.to_string()),
        }
        exchange
    }
}

/// Which exchanges to list.
#[derive(Debug, Clone, Default)]
pub struct ExchangeFilter {
    /// Words to find in prompts, replies or system prompts (FTS5 query
    /// syntax: words, "phrases", prefix*).
    pub search: Option<String>,
    pub session: Option<String>,
    pub since_ms: Option<i64>,
    pub limit: usize,
}

/// A session as `lord ai sessions` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub profile: String,
    pub model: Option<String>,
    pub messages: u64,
    pub tokens: u64,
    pub budget: Option<u64>,
    pub retention: String,
    pub updated_ms: i64,
}

/// The open `ai.db`.
#[derive(Debug)]
pub struct Log {
    conn: Connection,
    path: PathBuf,
}

impl Log {
    pub fn open(path: &Path) -> Result<Self, AiError> {
        let db = |source| AiError::Db {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| AiError::File {
                path: parent.display().to_string(),
                detail: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(db)?;
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(AiError::File {
                path: path.display().to_string(),
                detail: format!(
                    "written by a newer lord (schema {version}, this one knows {SCHEMA_VERSION}); \
                     update lord"
                ),
            });
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(db)?;
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    fn db(&self, source: rusqlite::Error) -> AiError {
        AiError::Db {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Writes the session whole, replacing what was kept of it.
    pub fn save_session(&mut self, session: &Session, now_ms: i64) -> Result<(), AiError> {
        let path = self.path.display().to_string();
        let db = |source| AiError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(db)?;
        let result = (|| {
            tx.execute(
                "INSERT INTO sessions (id, profile, model, role, budget, retention, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT(id) DO UPDATE SET profile = ?2, model = ?3, role = ?4, budget = ?5,
                     retention = ?6, updated_ms = ?7",
                params![
                    session.id,
                    session.profile,
                    session.model,
                    session.role,
                    session.budget.map(|b| b as i64),
                    session.retention.as_str(),
                    now_ms
                ],
            )?;
            tx.execute("DELETE FROM messages WHERE session = ?1", [&session.id])?;
            let mut insert = tx.prepare(
                "INSERT INTO messages (session, position, role, content, tokens, pinned, summary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, kept) in session.kept.iter().enumerate() {
                insert.execute(params![
                    session.id,
                    position as i64,
                    kept.message.role.as_str(),
                    kept.message.content,
                    kept.tokens as i64,
                    kept.pinned,
                    kept.summary
                ])?;
            }
            Ok::<_, rusqlite::Error>(())
        })();
        result.map_err(db)?;
        tx.commit().map_err(db)
    }

    pub fn load_session(&self, id: &str) -> Result<Option<Session>, AiError> {
        let row = self
            .conn
            .query_row(
                "SELECT profile, model, role, budget, retention FROM sessions WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.db(e))?;
        let Some((profile, model, role, budget, retention)) = row else {
            return Ok(None);
        };
        let mut statement = self
            .conn
            .prepare(
                "SELECT role, content, tokens, pinned, summary FROM messages
                 WHERE session = ?1 ORDER BY position",
            )
            .map_err(|e| self.db(e))?;
        let kept = statement
            .query_map([id], |r| {
                let role: String = r.get(0)?;
                Ok(Kept {
                    message: Message::new(
                        Role::parse(&role).unwrap_or(Role::User),
                        r.get::<_, String>(1)?,
                    ),
                    tokens: r.get::<_, i64>(2)? as u64,
                    pinned: r.get(3)?,
                    summary: r.get(4)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| self.db(e))?;
        Ok(Some(Session {
            id: id.to_owned(),
            profile,
            model,
            role,
            budget: budget.map(|b| b as u64),
            retention: Retention::parse(&retention).unwrap_or(Retention::DropOldest),
            kept,
        }))
    }

    /// The session most recently written to, for `-c`.
    pub fn latest_session(&self) -> Result<Option<String>, AiError> {
        self.conn
            .query_row(
                "SELECT id FROM sessions ORDER BY updated_ms DESC, rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>, AiError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT s.id, s.profile, s.model, count(m.position), coalesce(sum(m.tokens), 0),
                        s.budget, s.retention, s.updated_ms
                 FROM sessions s LEFT JOIN messages m ON m.session = s.id
                 GROUP BY s.id ORDER BY s.updated_ms DESC",
            )
            .map_err(|e| self.db(e))?;
        statement
            .query_map([], |r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    profile: r.get(1)?,
                    model: r.get(2)?,
                    messages: r.get::<_, i64>(3)? as u64,
                    tokens: r.get::<_, i64>(4)? as u64,
                    budget: r.get::<_, Option<i64>>(5)?.map(|b| b as u64),
                    retention: r.get(6)?,
                    updated_ms: r.get(7)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.db(e))
    }

    pub fn delete_session(&mut self, id: &str) -> Result<bool, AiError> {
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE id = ?1", [id])
            .map_err(|e| self.db(e))?;
        Ok(n > 0)
    }

    /// Appends one exchange; returns its id.
    pub fn record(&mut self, e: &Exchange) -> Result<i64, AiError> {
        self.conn
            .execute(
                "INSERT INTO exchanges (at_ms, caller, session, profile, model, system, prompt, reply,
                     input_tokens, output_tokens, cost, first_token_ms, total_ms, finish, error, template)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    e.at_ms,
                    e.caller,
                    e.session,
                    e.profile,
                    e.model,
                    e.system,
                    e.prompt,
                    e.reply,
                    e.usage.input_tokens as i64,
                    e.usage.output_tokens as i64,
                    e.cost,
                    e.first_token_ms,
                    e.total_ms,
                    e.finish,
                    e.error,
                    e.template
                ],
            )
            .map_err(|err| self.db(err))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Exchanges matching `filter`, newest first.
    pub fn exchanges(&self, filter: &ExchangeFilter) -> Result<Vec<Exchange>, AiError> {
        let mut sql = String::from(
            "SELECT e.id, e.at_ms, e.caller, e.session, e.profile, e.model, e.system, e.prompt,
                    e.reply, e.input_tokens, e.output_tokens, e.cost, e.first_token_ms, e.total_ms,
                    e.finish, e.error, e.template
             FROM exchanges e WHERE 1 = 1",
        );
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(search) = &filter.search {
            sql.push_str(
                " AND e.id IN (SELECT rowid FROM exchanges_text WHERE exchanges_text MATCH ?)",
            );
            values.push(fts_query(search).into());
        }
        if let Some(session) = &filter.session {
            sql.push_str(" AND e.session = ?");
            values.push(session.clone().into());
        }
        if let Some(since) = filter.since_ms {
            sql.push_str(" AND e.at_ms >= ?");
            values.push(since.into());
        }
        sql.push_str(" ORDER BY e.id DESC LIMIT ?");
        values.push((filter.limit.max(1) as i64).into());
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.db(e))?;
        statement
            .query_map(rusqlite::params_from_iter(values), |r| {
                Ok(Exchange {
                    id: r.get(0)?,
                    at_ms: r.get(1)?,
                    caller: r.get(2)?,
                    session: r.get(3)?,
                    profile: r.get(4)?,
                    model: r.get(5)?,
                    system: r.get(6)?,
                    prompt: r.get(7)?,
                    reply: r.get(8)?,
                    usage: Usage {
                        input_tokens: r.get::<_, i64>(9)? as u64,
                        output_tokens: r.get::<_, i64>(10)? as u64,
                    },
                    cost: r.get(11)?,
                    first_token_ms: r.get(12)?,
                    total_ms: r.get(13)?,
                    finish: r.get(14)?,
                    error: r.get(15)?,
                    template: r.get(16)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.db(e))
    }
}

/// A user's search as an FTS5 query: each word quoted (so `-`, `:` or `*`
/// inside a word are text, not syntax) unless it ends in `*` (a prefix).
fn fts_query(search: &str) -> String {
    search
        .split_whitespace()
        .map(|word| match word.strip_suffix('*') {
            Some(stem) if !stem.is_empty() => format!("\"{}\"*", stem.replace('"', "\"\"")),
            Some(_) | None => format!("\"{}\"", word.replace('"', "\"\"")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(prompt: &str, reply: &str) -> Exchange {
        Exchange {
            id: 0,
            at_ms: 1,
            caller: "cli".into(),
            session: Some("s1".into()),
            profile: "local".into(),
            model: "m".into(),
            system: None,
            prompt: prompt.into(),
            reply: reply.into(),
            usage: Usage {
                input_tokens: 3,
                output_tokens: 4,
            },
            cost: Some(0.5),
            first_token_ms: 1.0,
            total_ms: 2.0,
            finish: "stop".into(),
            error: None,
            template: None,
        }
    }

    #[test]
    fn exchanges_are_found_by_words_in_prompt_or_reply() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(&dir.path().join(LOG_FILE)).unwrap();
        log.record(&exchange("what is a gecko?", "a small lizard"))
            .unwrap();
        log.record(&exchange("name a bird", "a robin")).unwrap();
        let found = |search: &str| {
            log.exchanges(&ExchangeFilter {
                search: Some(search.into()),
                limit: 10,
                ..ExchangeFilter::default()
            })
            .unwrap()
        };
        assert_eq!(found("lizard")[0].prompt, "what is a gecko?");
        assert_eq!(found("rob*").len(), 1);
        assert_eq!(found("a").len(), 2);
        // Syntax characters are words, not operators.
        assert!(found("NOT: -x").is_empty());
    }

    #[test]
    fn a_session_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(&dir.path().join(LOG_FILE)).unwrap();
        let mut session = Session::new("s1".into(), "local".into());
        session.budget = Some(100);
        session.retention = Retention::Summarise;
        session.push(Message::new(Role::User, "hi"), true);
        session.answered(
            "hello".into(),
            Usage {
                input_tokens: 9,
                output_tokens: 2,
            },
        );
        log.save_session(&session, 5).unwrap();
        assert_eq!(log.load_session("s1").unwrap(), Some(session));
        assert_eq!(log.latest_session().unwrap().as_deref(), Some("s1"));
        assert_eq!(log.sessions().unwrap()[0].tokens, 11);
    }
}
