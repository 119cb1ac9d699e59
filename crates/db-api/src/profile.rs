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
    /// Redis (and servers speaking its protocol): a key-value store.
    Redis,
    /// MongoDB: a document store.
    #[serde(rename = "mongodb")]
    MongoDb,
    /// Apache Cassandra and ScyllaDB: one protocol (CQL), one driver.
    Cassandra,
}

/// What a kind of database can do; each capability is a trait of its own:
/// [`crate::SqlSession`], [`crate::KvSession`], [`crate::DocumentSession`]
/// and [`crate::WideColumnSession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Sql,
    KeyValue,
    Document,
    WideColumn,
}

impl Engine {
    pub const ALL: [Engine; 6] = [
        Engine::Sqlite,
        Engine::Postgres,
        Engine::Mysql,
        Engine::Redis,
        Engine::MongoDb,
        Engine::Cassandra,
    ];

    /// The id of its provider, and the word used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Redis => "redis",
            Engine::MongoDb => "mongodb",
            Engine::Cassandra => "cassandra",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite databases in a file, through rusqlite (SQLite built in)",
            Engine::Postgres => "PostgreSQL servers, through the `postgres` client (rustls TLS)",
            Engine::Mysql => "MySQL and MariaDB servers, through the `mysql` client (rustls TLS)",
            Engine::Redis => "Redis servers, through the `redis` client (rustls TLS)",
            Engine::MongoDb => {
                "MongoDB servers, through the official `mongodb` driver (rustls TLS)"
            }
            Engine::Cassandra => {
                "Apache Cassandra and ScyllaDB clusters, through the `scylla` driver (CQL)"
            }
        }
    }

    pub fn capabilities(self) -> &'static [Capability] {
        match self {
            Engine::Sqlite | Engine::Postgres | Engine::Mysql => &[Capability::Sql],
            Engine::Redis => &[Capability::KeyValue],
            Engine::MongoDb => &[Capability::Document],
            Engine::Cassandra => &[Capability::WideColumn],
        }
    }

    /// Whether the engine speaks SQL: the engines [`crate::SqlSession`],
    /// the migration runner and `lord db migrate` serve.
    pub fn is_sql(self) -> bool {
        self.capabilities().contains(&Capability::Sql)
    }

    /// Whether a connection to it can take a password (a SQLite file
    /// cannot).
    pub fn takes_password(self) -> bool {
        match self {
            Engine::Sqlite => false,
            Engine::Postgres
            | Engine::Mysql
            | Engine::Redis
            | Engine::MongoDb
            | Engine::Cassandra => true,
        }
    }

    /// The URL schemes naming the engine, the first the one lord writes.
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            Engine::Sqlite => &["sqlite"],
            Engine::Postgres => &["postgres", "postgresql"],
            Engine::Mysql => &["mysql", "mariadb"],
            // `rediss`: Redis over TLS, as redis-cli and every client write it.
            Engine::Redis => &["redis", "rediss"],
            // `mongodb+srv`: the hosts come from a DNS SRV record.
            Engine::MongoDb => &["mongodb", "mongodb+srv"],
            // No scheme is standard for CQL; one word for both servers.
            Engine::Cassandra => &["cassandra"],
        }
    }

    /// Whether schema changes can be rolled back with the transaction
    /// holding them. MySQL and MariaDB commit each DDL statement
    /// implicitly, so a migration there is not atomic.
    pub fn transactional_ddl(self) -> bool {
        match self {
            Engine::Sqlite | Engine::Postgres => true,
            // Not SQL engines: their schema is no transaction's business
            // (Redis and MongoDB have none to migrate; CQL's DDL is not
            // transactional).
            Engine::Mysql | Engine::Redis | Engine::MongoDb | Engine::Cassandra => false,
        }
    }

    /// Whether the engine runs inside this process (SQLite): its sessions
    /// reach no network and start no runtime of their own, so a short
    /// statement may run on the calling thread, even an async runtime's.
    pub fn in_process(self) -> bool {
        match self {
            Engine::Sqlite => true,
            Engine::Postgres
            | Engine::Mysql
            | Engine::Redis
            | Engine::MongoDb
            | Engine::Cassandra => false,
        }
    }

    /// The placeholder for the `n`th (from 1) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            // CQL binds `?` too. Redis and MongoDB take no statement text:
            // their values go as separate arguments or inside a document,
            // so no placeholder is ever written for them.
            Engine::Sqlite
            | Engine::Mysql
            | Engine::Cassandra
            | Engine::Redis
            | Engine::MongoDb => "?".to_owned(),
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
/// no password anywhere in it.
pub fn parse_url(name: &str, text: &str) -> Result<Engine, DbError> {
    let scheme = text.split(':').next().unwrap_or_default();
    let Some(engine) = Engine::ALL
        .into_iter()
        .find(|e| e.schemes().contains(&scheme))
    else {
        return Err(DbError::Profile(
            "the URL must start with sqlite:, postgres://, mysql://, redis:// (rediss:// for \
             TLS), mongodb:// (or mongodb+srv://) or cassandra:// (like \
             postgres://app@127.0.0.1:5432/shop or sqlite:///srv/app.db)"
                .to_owned(),
        ));
    };
    if engine == Engine::Sqlite {
        return sqlite_path(text).map(|_| engine);
    }
    if let Some(stripped) = without_password(text) {
        return Err(DbError::Profile(format!(
            "the URL for `{name}` carries a password, and lord keeps database passwords only in \
             its secret store: run `lord secret set {}`, then `lord db add {name} {stripped}`",
            default_password_secret(name)
        )));
    }
    let url = url::Url::parse(&first_host_only(text))
        .map_err(|e| DbError::Profile(format!("the URL for `{name}` is not a URL: {e}")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DbError::Profile(format!(
            "the URL for `{name}` names no host; write it like {}://USER@HOST:PORT/DATABASE",
            engine.schemes()[0]
        )));
    }
    Ok(engine)
}

/// The URL's parts around its authority: `(scheme://, authority, rest)`,
/// the authority being what lies between `//` and the path or query.
fn split_authority(text: &str) -> Option<(&str, &str, &str)> {
    let start = text.find("://")? + 3;
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    Some((&text[..start], &text[start..end], &text[end..]))
}

/// The URL with its password taken out (from the user part and any
/// `password=` query), or `None` when it holds none. Read as text, not
/// through a URL parser, so a host list (`h1:27017,h2:27017`, how
/// MongoDB and Cassandra name a cluster) is kept whole in the URL the
/// error suggests. The user part ends at the last `@` before the path,
/// or else at an `@` before the query: a password may hold `?`, `#` or
/// `/` (libpq and the drivers read `postgres://app:2024#Kq@db/shop` and
/// `postgres://app:2024/x@db/shop` so), which a URL parser would take for
/// the query, fragment or path, and pass the password through as a host.
fn without_password(text: &str) -> Option<String> {
    let mut found = false;
    let mut stripped = text.to_owned();
    if let Some(at) = text.find("://") {
        let start = at + 3;
        let end = text[start..].find('/').map_or(text.len(), |i| start + i);
        // The drivers end the user part at an `@` past a `/` too
        // (`postgres://app:2024/x@db/shop` logs in with `2024/x`); one
        // after the query's `?` is the query's.
        let query = text[start..].find('?').map_or(text.len(), |i| start + i);
        let at = text[start..end]
            .rfind('@')
            .or_else(|| text[start..query].find('@'));
        if let Some(i) = at {
            let userinfo = &text[start..start + i];
            if userinfo.contains(':') {
                found = true;
                let (scheme, after) = (&text[..start], &text[start + i + 1..]);
                stripped = match userinfo.split(':').next().unwrap_or_default() {
                    "" => format!("{scheme}{after}"),
                    user => format!("{scheme}{user}@{after}"),
                };
            }
        }
    }
    let (base, query) = match stripped.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (stripped.as_str(), None),
    };
    let mut out = base.to_owned();
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                let password = key.eq_ignore_ascii_case("password");
                found |= password;
                !password
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    found.then_some(out)
}

/// The URL with only the first host of a host list, for a URL parser.
fn first_host_only(text: &str) -> String {
    match split_authority(text) {
        Some((scheme, authority, rest)) => {
            let (userinfo, hosts) = match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
                None => (String::new(), authority),
            };
            let first = hosts.split(',').next().unwrap_or_default();
            format!("{scheme}{userinfo}{first}{rest}")
        }
        None => text.to_owned(),
    }
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
        assert_eq!(parse_url("a", "redis://h").unwrap(), Engine::Redis);
        assert_eq!(
            parse_url("a", "rediss://app@h:6380/2").unwrap(),
            Engine::Redis
        );
        assert_eq!(
            parse_url("a", "mongodb://app@h1:27017,h2:27017/shop?replicaSet=rs0").unwrap(),
            Engine::MongoDb
        );
        assert_eq!(
            parse_url("a", "mongodb+srv://app@cluster.example/shop").unwrap(),
            Engine::MongoDb
        );
        assert_eq!(
            parse_url("a", "cassandra://app@10.0.0.1:9042,10.0.0.2:9042/shop").unwrap(),
            Engine::Cassandra
        );
        assert!(parse_url("a", "postgres:///d").is_err());
        assert!(parse_url("a", "memcached://h").is_err());
    }

    #[test]
    fn passwords_are_refused_in_every_engines_url() {
        for (url, kept) in [
            ("redis://:hunter2@h:6379/0", "redis://h:6379/0"),
            ("rediss://app:hunter2@h", "rediss://app@h"),
            (
                "mongodb://app:hunter2@h1:27017,h2:27017/shop?authSource=admin",
                "mongodb://app@h1:27017,h2:27017/shop?authSource=admin",
            ),
            (
                "cassandra://app@h:9042/ks?password=hunter2",
                "cassandra://app@h:9042/ks",
            ),
            // A password holding what a URL parser reads as the start of
            // the query or fragment is still a password.
            (
                "postgres://app:2024#hunter2@db/shop",
                "postgres://app@db/shop",
            ),
            (
                "postgres://app:x?hunter2@db/shop?sslmode=require",
                "postgres://app@db/shop?sslmode=require",
            ),
            ("mysql://:hunter2#?@db", "mysql://db"),
            (
                "postgres://app:2024/hunter2@db/shop",
                "postgres://app@db/shop",
            ),
        ] {
            let error = parse_url("c", url).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
            assert!(error.contains(&format!("lord db add c {kept}")), "{error}");
        }
    }

    #[test]
    fn engines_name_their_capability() {
        for engine in Engine::ALL {
            assert_eq!(engine.capabilities().len(), 1, "{engine}");
            assert_eq!(
                engine.is_sql(),
                engine.transactional_ddl() || engine == Engine::Mysql
            );
            let url = format!("{}://u@h/d", engine.schemes()[0]);
            if engine != Engine::Sqlite {
                assert_eq!(parse_url("a", &url).unwrap(), engine, "{url}");
            }
        }
        assert_eq!(Engine::Redis.capabilities(), [Capability::KeyValue]);
        assert_eq!(Engine::MongoDb.capabilities(), [Capability::Document]);
        assert_eq!(Engine::Cassandra.capabilities(), [Capability::WideColumn]);
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
