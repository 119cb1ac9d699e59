//! Redis through the `redis` crate's synchronous connection: one TCP
//! connection (TLS through rustls for `rediss://` or a `require` /
//! `verify-full` profile) per session.
//!
//! The user (Redis 6 ACL) comes from the URL, the password from
//! `lord secret`. Every command is built with the driver's `Cmd`, which
//! sends each argument as its own length-prefixed bulk string, so no
//! argument can end one command and start another.
//!
//! TLS: Redis has no in-protocol upgrade, so `prefer` on a `redis://` URL
//! means plain TCP; `rediss://`, `require` and `verify-full` mean TLS,
//! always verified against the CA file or the system's roots.

use std::time::Duration;

use lord_db_api::{DbError, Engine, KvReply, KvSession, Password, Profile, TlsMode, bytes_text};
use redis::{ConnectionAddr, ConnectionLike as _, IntoConnectionInfo as _};

/// How many keys one `SCAN` step asks the server to look at.
const SCAN_COUNT: usize = 500;

pub(crate) struct RedisSession {
    conn: redis::Connection,
    profile: String,
}

impl RedisSession {
    pub(crate) fn open(profile: &Profile, password: Option<&Password>) -> Result<Self, DbError> {
        let name = profile.name.to_string();
        let connect = |message: String| DbError::Connect {
            profile: name.clone(),
            engine: "redis",
            message,
        };
        let info = profile
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| connect(e.to_string()))?;
        let mut settings = info.redis_settings().clone();
        if let Some(password) = password {
            settings = settings.set_password(password.expose());
        }
        let mut info = info.set_redis_settings(settings);
        let wants_tls = matches!(profile.tls_mode, TlsMode::Require | TlsMode::VerifyFull);
        if let ConnectionAddr::Tcp(host, port) = info.addr().clone()
            && wants_tls
        {
            info = info.set_addr(ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            });
        }
        let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        if tls {
            if profile.tls_mode == TlsMode::Disable {
                return Err(connect(
                    "the URL is rediss:// (TLS) but the profile's tls-mode is disable; use \
                     redis:// or another tls-mode"
                        .to_owned(),
                ));
            }
            // The driver builds its rustls configuration from the process's
            // provider: lord's, aws-lc-rs (an error means one is already set).
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = match profile.ca_file.as_ref().filter(|_| tls) {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    connect(format!(
                        "could not read the CA file `{}`: {e}",
                        path.display()
                    ))
                })?;
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| connect(e.to_string()))?;
        let conn = client
            .get_connection_with_timeout(profile.connect_timeout)
            .map_err(|e| connect(e.to_string()))?;
        // A statement timeout bounds how long a reply may take.
        conn.set_read_timeout(profile.statement_timeout)
            .map_err(|e| connect(e.to_string()))?;
        Ok(Self {
            conn,
            profile: profile.name.to_string(),
        })
    }

    fn error(&self, e: &redis::RedisError) -> DbError {
        DbError::Engine {
            profile: self.profile.clone(),
            engine: "redis",
            message: e.to_string(),
        }
    }

    fn value_error(&self, message: String) -> DbError {
        DbError::Value {
            profile: self.profile.clone(),
            message,
        }
    }

    fn run(&mut self, cmd: &redis::Cmd) -> Result<redis::Value, DbError> {
        match self.conn.req_command(cmd) {
            Ok(redis::Value::ServerError(e)) => Err(self.error(&e.into())),
            Ok(value) => Ok(value),
            Err(e) => Err(self.error(&e)),
        }
    }

    fn int(&mut self, cmd: &redis::Cmd) -> Result<i64, DbError> {
        let value = self.run(cmd)?;
        if let redis::Value::Int(i) = value {
            return Ok(i);
        }
        Err(self.value_error(format!(
            "expected an integer reply, got {}",
            reply(value).display()
        )))
    }
}

/// A duration as whole milliseconds for `PX`/`PEXPIRE`; under one
/// millisecond is refused rather than made "never expires".
fn millis(ttl: Duration) -> Option<u64> {
    u64::try_from(ttl.as_millis()).ok().filter(|m| *m > 0)
}

/// A reply of the driver as the contract's.
fn reply(value: redis::Value) -> KvReply {
    match value {
        redis::Value::Nil => KvReply::Nil,
        redis::Value::Int(i) => KvReply::Int(i),
        redis::Value::BulkString(b) => KvReply::Bytes(b),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            KvReply::Array(items.into_iter().map(reply).collect())
        }
        redis::Value::Push { data, .. } => KvReply::Array(data.into_iter().map(reply).collect()),
        redis::Value::SimpleString(s) => KvReply::Status(s),
        redis::Value::Okay => KvReply::Status("OK".to_owned()),
        redis::Value::Map(pairs) => KvReply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (reply(k), reply(v)))
                .collect(),
        ),
        redis::Value::Attribute { data, .. } => reply(*data),
        redis::Value::Double(f) => KvReply::Float(f),
        redis::Value::Boolean(b) => KvReply::Bool(b),
        redis::Value::VerbatimString { text, .. } => KvReply::Bytes(text.into_bytes()),
        redis::Value::BigNumber(digits) => KvReply::Status(bytes_text(&digits)),
        redis::Value::ServerError(e) => KvReply::Status(format!("(error) {e}")),
        // The driver's enum is non-exhaustive: a reply shape added later is
        // shown by its debug form rather than dropped.
        other => KvReply::Status(format!("{other:?}")),
    }
}

impl KvSession for RedisSession {
    fn engine(&self) -> Engine {
        Engine::Redis
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        let value = self.run(redis::cmd("GET").arg(key))?;
        if let redis::Value::BulkString(b) = value {
            return Ok(Some(b));
        }
        if value == redis::Value::Nil {
            return Ok(None);
        }
        Err(self.value_error(format!(
            "`{key}` does not hold a string: {}",
            reply(value).display()
        )))
    }

    fn set(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), DbError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            let ms = millis(ttl)
                .ok_or_else(|| self.value_error("a TTL must be at least 1 ms".to_owned()))?;
            cmd.arg("PX").arg(ms);
        }
        self.run(&cmd).map(|_| ())
    }

    fn delete(&mut self, keys: &[&str]) -> Result<u64, DbError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let n = self.int(redis::cmd("DEL").arg(keys))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn exists(&mut self, key: &str) -> Result<bool, DbError> {
        Ok(self.int(redis::cmd("EXISTS").arg(key))? > 0)
    }

    fn scan(&mut self, pattern: &str, limit: usize) -> Result<Vec<String>, DbError> {
        let mut keys = Vec::new();
        let mut cursor = b"0".to_vec();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let redis::Value::Array(mut parts) = self.run(&cmd)? else {
                return Err(self.value_error("SCAN answered something else than a list".into()));
            };
            let (Some(redis::Value::Array(batch)), Some(redis::Value::BulkString(next))) =
                (parts.pop(), parts.pop())
            else {
                return Err(self.value_error("SCAN answered an unknown shape".into()));
            };
            for key in batch {
                if let redis::Value::BulkString(key) = key {
                    keys.push(bytes_text(&key));
                }
            }
            // A key can come twice across steps while the keyspace is
            // rehashed; the list is made unique below.
            if next == b"0" || keys.len() >= limit {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        keys.truncate(limit);
        Ok(keys)
    }

    fn incr(&mut self, key: &str, by: i64) -> Result<i64, DbError> {
        self.int(redis::cmd("INCRBY").arg(key).arg(by))
    }

    fn expire(&mut self, key: &str, ttl: Duration) -> Result<bool, DbError> {
        let ms =
            millis(ttl).ok_or_else(|| self.value_error("a TTL must be at least 1 ms".into()))?;
        Ok(self.int(redis::cmd("PEXPIRE").arg(key).arg(ms))? == 1)
    }

    fn ttl(&mut self, key: &str) -> Result<Option<Duration>, DbError> {
        let ms = self.int(redis::cmd("PTTL").arg(key))?;
        // -1: no expiry; -2: no key.
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    fn command(&mut self, args: &[Vec<u8>]) -> Result<KvReply, DbError> {
        let Some((name, rest)) = args.split_first() else {
            return Err(self.value_error("a command needs at least its name".into()));
        };
        let mut cmd = redis::cmd(&String::from_utf8_lossy(name));
        for arg in rest {
            cmd.arg(arg.as_slice());
        }
        self.run(&cmd).map(reply)
    }

    fn transaction(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<KvReply>, DbError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for args in commands {
            let Some((name, rest)) = args.split_first() else {
                return Err(self.value_error("a command needs at least its name".into()));
            };
            let cmd = pipe.cmd(&String::from_utf8_lossy(name));
            for arg in rest {
                cmd.arg(arg.as_slice());
            }
        }
        let replies: Vec<redis::Value> = pipe.query(&mut self.conn).map_err(|e| self.error(&e))?;
        Ok(replies.into_iter().map(reply).collect())
    }
}
