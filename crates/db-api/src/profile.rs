//! Connection profiles: `db.profiles.<name>` in lord's layered
//! configuration, written by `lord db add` and read by every `lord db`
//! command.
//!
//! Invariant: a profile never holds a password. A URL carrying one (in
//! its user part or as a `password=` query) is refused, and the error
//! gives the `lord secret set` command that stores it and the URL to add
//! instead, without repeating the password. The password is read from the
//! secret store when a connection is made, into a [`Password`] no
//! formatting prints.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::DbError;

/// How long a connection may take when the profile does not say.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Connections a profile's pool keeps open at most.
const DEFAULT_POOL_SIZE: u32 = 4;
const MAX_SECONDS: u64 = 86_400;

/// A profile's name: `a-z`, `0-9`, `-` and `_`, at most 64 characters;
/// what a `db(NAME)` grant names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProfileName(String);

impl ProfileName {
    pub fn parse(name: &str) -> Result<Self, DbError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(DbError::Profile(format!(
                "`{}` is not a database profile name; use `a-z`, `0-9`, `-` and `_` (at most 64)",
                name.escape_debug()
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The engines lord speaks; each is a first-party provider of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
    /// MySQL and MariaDB: one wire protocol, one driver.
    Mysql,
}

/// What a kind of database can do; each capability is a trait of its own
/// ([`crate::SqlSession`] for [`Capability::Sql`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Sql,
    KeyValue,
    Document,
    WideColumn,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::Mysql];

    /// The id of its provider, and the word used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite databases in a file, through rusqlite (SQLite built in)",
            Engine::Postgres => "PostgreSQL servers, through the `postgres` client (rustls TLS)",
            Engine::Mysql => "MySQL and MariaDB servers, through the `mysql` client (rustls TLS)",
        }
    }

    pub fn capabilities(self) -> &'static [Capability] {
        match self {
            Engine::Sqlite | Engine::Postgres | Engine::Mysql => &[Capability::Sql],
        }
    }

    /// Whether schema changes can be rolled back with the transaction
    /// holding them. MySQL and MariaDB commit each DDL statement
    /// implicitly, so a migration there is not atomic.
    pub fn transactional_ddl(self) -> bool {
        match self {
            Engine::Sqlite | Engine::Postgres => true,
            Engine::Mysql => false,
        }
    }

    /// Whether the engine runs inside this process (SQLite): its sessions
    /// reach no network and start no runtime of their own, so a short
    /// statement may run on the calling thread, even an async runtime's.
    pub fn in_process(self) -> bool {
        match self {
            Engine::Sqlite => true,
            Engine::Postgres | Engine::Mysql => false,
        }
    }

    /// The placeholder for the `n`th (from 1) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Engine::Sqlite | Engine::Mysql => "?".to_owned(),
            Engine::Postgres => format!("${n}"),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether and how a connection uses TLS (libpq's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disable,
    /// TLS when the server offers it, verified when used.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is verified.
    Require,
    /// TLS, the certificate verified against the CA file (or the system's
    /// roots) and its name against the host.
    VerifyFull,
}

impl TlsMode {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// A database password, read from `lord secret`; no formatting prints it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// One connection profile, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: ProfileName,
    pub engine: Engine,
    /// The URL, never with a password.
    pub url: String,
    pub tls_mode: TlsMode,
    pub ca_file: Option<PathBuf>,
    #[serde(serialize_with = "seconds")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "optional_seconds")]
    pub statement_timeout: Option<Duration>,
    /// The `lord secret` its password is read from.
    pub password_secret: String,
    pub pool_size: u32,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

/// The secret a profile's password is read from unless it names another:
/// `DB_<NAME>_PASSWORD`.
pub fn default_password_secret(profile: &str) -> String {
    format!(
        "DB_{}_PASSWORD",
        profile.to_ascii_uppercase().replace('-', "_")
    )
}

/// Checks a URL for the profile `name`: its engine from the scheme, and
/// no password anywhere in it. Returns the engine and the URL as given.
pub fn parse_url(name: &str, text: &str) -> Result<Engine, DbError> {
    let scheme = text.split(':').next().unwrap_or_default();
    let engine = match scheme {
        "sqlite" => return sqlite_path(text).map(|_| Engine::Sqlite),
        "postgres" | "postgresql" => Engine::Postgres,
        "mysql" | "mariadb" => Engine::Mysql,
        _ => {
            return Err(DbError::Profile(
                "the URL must start with sqlite:, postgres:// or mysql:// (like \
                 postgres://app@127.0.0.1:5432/shop or sqlite:///srv/app.db)"
                    .to_owned(),
            ));
        }
    };
    let mut url = url::Url::parse(text)
        .map_err(|e| DbError::Profile(format!("the URL for `{name}` is not a URL: {e}")))?;
    let password_query = url
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"));
    if url.password().is_some() || password_query {
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("password"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        return Err(DbError::Profile(format!(
            "the URL for `{name}` carries a password, and lord keeps database passwords only in \
             its secret store: run `lord secret set {}`, then `lord db add {name} {url}`",
            default_password_secret(name)
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DbError::Profile(format!(
            "the URL for `{name}` names no host; write it like {}://USER@HOST:PORT/DATABASE",
            engine.as_str()
        )));
    }
    Ok(engine)
}

/// The file of a `sqlite:` URL: `sqlite:///srv/app.db` or `sqlite:app.db`.
fn sqlite_path(text: &str) -> Result<PathBuf, DbError> {
    let rest = text.strip_prefix("sqlite:").unwrap_or_default();
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() || path.contains('?') {
        return Err(DbError::Profile(
            "a SQLite URL names a file, like sqlite:///srv/app.db (no options)".to_owned(),
        ));
    }
    Ok(PathBuf::from(path))
}

impl Profile {
    /// The profile `name` from the settings: `field` returns
    /// `db.profiles.<name>.<field>`.
    pub fn from_settings(
        name: &str,
        field: impl Fn(&str) -> Option<Json>,
    ) -> Result<Self, DbError> {
        let name = ProfileName::parse(name)?;
        let text = |f: &str| field(f).and_then(|v| v.as_str().map(str::to_owned));
        let secs = |f: &str| field(f).and_then(|v| v.as_u64()).map(Duration::from_secs);
        let url = text("url").ok_or_else(|| {
            DbError::Profile(format!(
                "there is no database profile `{name}`; see `lord db list`, or add it with \
                 `lord db add {name} URL`"
            ))
        })?;
        let engine = parse_url(name.as_str(), &url)?;
        let tls_mode = match text("tls-mode") {
            Some(mode) => TlsMode::parse(&mode).ok_or_else(|| {
                DbError::Profile(format!(
                    "the database profile `{name}` has an unknown tls-mode `{mode}`"
                ))
            })?,
            None => TlsMode::default(),
        };
        Ok(Self {
            engine,
            url,
            tls_mode,
            ca_file: text("ca-file").map(PathBuf::from),
            connect_timeout: secs("connect-timeout")
                .unwrap_or(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS)),
            statement_timeout: secs("statement-timeout"),
            password_secret: text("password-secret")
                .unwrap_or_else(|| default_password_secret(name.as_str())),
            pool_size: field("pool-size")
                .and_then(|v| v.as_u64())
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(DEFAULT_POOL_SIZE),
            name,
        })
    }

    /// The file of a SQLite profile.
    pub fn sqlite_path(&self) -> Result<PathBuf, DbError> {
        sqlite_path(&self.url)
    }
}

/// Checks `db.profiles.<name>.<field>` (`rest` is `<name>.<field>`) for
/// lord's configuration, so a bad profile is refused when it is written.
pub fn check_setting(rest: &str, value: &Json) -> Result<(), String> {
    let Some((name, field)) = rest
        .split_once('.')
        .filter(|(n, _)| ProfileName::parse(n).is_ok())
    else {
        return Err(
            "is not a database profile's setting; write `db.profiles.<name>.<field>` with a name \
             of `a-z`, `0-9`, `-` and `_`"
                .to_owned(),
        );
    };
    let text = value.as_str();
    match field {
        "url" => match text {
            Some(url) => parse_url(name, url).map(|_| ()).map_err(|e| e.to_string()),
            None => Err(format!("must be a URL; got {value}")),
        },
        "tls-mode" => match text.and_then(TlsMode::parse) {
            Some(_) => Ok(()),
            None => Err(format!(
                "must be disable, prefer, require or verify-full; got {value}"
            )),
        },
        "ca-file" => match text {
            Some(path) if path.starts_with('/') => Ok(()),
            _ => Err(format!("must be an absolute path; got {value}")),
        },
        "connect-timeout" | "statement-timeout" => match value.as_u64() {
            Some(1..=MAX_SECONDS) => Ok(()),
            _ => Err(format!(
                "must be a whole number of seconds from 1 to {MAX_SECONDS}; got {value}"
            )),
        },
        "pool-size" => match value.as_u64() {
            Some(1..=64) => Ok(()),
            _ => Err(format!("must be a whole number from 1 to 64; got {value}")),
        },
        "password-secret" => match text {
            Some(secret)
                if !secret.is_empty()
                    && !secret.starts_with(|c: char| c.is_ascii_digit())
                    && secret
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                Ok(())
            }
            _ => Err(
                "must name a `lord secret` (`A-Z`, `0-9` and `_`), never hold the password itself"
                    .to_owned(),
            ),
        },
        _ => Err(
            "is not a database profile's setting; known: url, tls-mode, ca-file, \
             connect-timeout, statement-timeout, pool-size, password-secret"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_password_is_refused_without_repeating_it() {
        let error = parse_url(
            "shop",
            "postgres://app:hunter2@db.example:5432/shop?sslmode=require",
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(
            error.contains("lord secret set DB_SHOP_PASSWORD"),
            "{error}"
        );
        assert!(
            error.contains("lord db add shop postgres://app@db.example:5432/shop?sslmode=require"),
            "{error}"
        );
        let error = parse_url("my-db", "mysql://app@h/x?password=hunter2&a=b")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("DB_MY_DB_PASSWORD"), "{error}");
        assert!(error.contains("mysql://app@h/x?a=b"), "{error}");
    }

    #[test]
    fn urls_name_their_engine() {
        assert_eq!(
            parse_url("a", "sqlite:///srv/a.db").unwrap(),
            Engine::Sqlite
        );
        assert_eq!(
            parse_url("a", "postgresql://u@h/d").unwrap(),
            Engine::Postgres
        );
        assert_eq!(
            parse_url("a", "mariadb://u@h:3306/d").unwrap(),
            Engine::Mysql
        );
        assert!(parse_url("a", "redis://h").is_err());
        assert!(parse_url("a", "postgres:///d").is_err());
    }

    #[test]
    fn settings_are_checked_by_field() {
        assert!(check_setting("a.url", &Json::from("sqlite:///x.db")).is_ok());
        assert!(check_setting("a.url", &Json::from("postgres://u:p@h/d")).is_err());
        assert!(check_setting("a.tls-mode", &Json::from("verify-full")).is_ok());
        assert!(check_setting("a.tls-mode", &Json::from("verify-ca")).is_err());
        assert!(check_setting("a.connect-timeout", &Json::from(0)).is_err());
        assert!(check_setting("A.url", &Json::from("sqlite:///x.db")).is_err());
        assert!(check_setting("a.password-secret", &Json::from("hunter2")).is_err());
    }
}
