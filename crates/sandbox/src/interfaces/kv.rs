//! `lord:plugin/kv`: a plugin granted `db(NAME)` runs key-value operations
//! on the user's profile `NAME` (Redis), through the host's
//! [`DbService`](super::DbService), as `sql` does: the grant checked by
//! exact name, the sizes bounded here, every call under the call's
//! deadline. Only typed operations are offered, each key and value one
//! argument: no raw command reaches the server, so a plugin cannot
//! reconfigure it (`CONFIG SET dir`, `SAVE`) or reach its other databases.

use std::time::{Duration, Instant};

use lord_manifest::PermissionFamily;
use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use super::sql::{DbFailure, Refused, error_to_wit};
use crate::bindings::lord::plugin::kv;
use crate::session::StoreState;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/kv",
    family: Some(PermissionFamily::Db),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    kv::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// The longest key a plugin may name.
pub(crate) const MAX_KEY_BYTES: usize = 64 << 10;
/// The largest value a plugin may set.
pub(crate) const MAX_VALUE_BYTES: usize = 8 << 20;
/// The most keys one `delete` may name.
pub(crate) const MAX_KEYS: usize = 1000;

/// One key-value operation, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    Get(String),
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    },
    Delete(Vec<String>),
    Exists(String),
    Incr {
        key: String,
        by: i64,
    },
    Expire {
        key: String,
        ttl: Duration,
    },
    Ttl(String),
    Scan {
        pattern: String,
        limit: usize,
    },
}

/// A key-value operation a plugin asks for, checked against its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvCall {
    /// The profile's name, as granted.
    pub profile: String,
    pub op: KvOp,
    /// The most a `get` may return (the host refuses a bigger value).
    pub max_bytes: usize,
    /// When the call must end.
    pub deadline: Instant,
}

/// What a key-value operation answered, by operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvAnswer {
    /// `get`.
    Value(Option<Vec<u8>>),
    /// `set`.
    Done,
    /// `delete`: how many existed.
    Count(u64),
    /// `exists`, `expire`.
    Flag(bool),
    /// `incr`: the new value.
    Number(i64),
    /// `ttl`.
    Left(Option<Duration>),
    /// `scan`.
    Keys(Vec<String>),
}

fn check_key(key: &str) -> Result<(), Refused> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Refused::invalid(format!(
            "a key holds {} bytes, over the {MAX_KEY_BYTES} (64 KiB) a plugin may name",
            key.len()
        )));
    }
    Ok(())
}

/// Checks `op` on `profile` against the grants and the limits.
fn check(state: &super::DbState, profile: &str, op: &KvOp) -> Result<(), Refused> {
    state.granted(profile)?;
    match op {
        KvOp::Get(key) | KvOp::Exists(key) | KvOp::Ttl(key) => check_key(key),
        KvOp::Incr { key, .. } | KvOp::Expire { key, .. } => check_key(key),
        KvOp::Set { key, value, .. } => {
            check_key(key)?;
            if value.len() > MAX_VALUE_BYTES {
                return Err(Refused::invalid(format!(
                    "the value holds {} bytes, over the {MAX_VALUE_BYTES} (8 MiB) a plugin may set",
                    value.len()
                )));
            }
            Ok(())
        }
        KvOp::Delete(keys) => {
            if keys.len() > MAX_KEYS {
                return Err(Refused::invalid(format!(
                    "{} keys to delete, over the {MAX_KEYS} one call may name",
                    keys.len()
                )));
            }
            keys.iter().try_for_each(|k| check_key(k))
        }
        KvOp::Scan { pattern, limit } => {
            check_key(pattern)?;
            if *limit > super::MAX_ROWS {
                return Err(Refused::invalid(format!(
                    "a scan may return at most {} keys",
                    super::MAX_ROWS
                )));
            }
            Ok(())
        }
    }
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

impl StoreState {
    /// Checks and runs one operation.
    async fn kv_run(&mut self, profile: String, op: KvOp) -> Result<KvAnswer, DbFailure> {
        check(&self.db, &profile, &op).map_err(|refused| self.db_refused(refused))?;
        let call = KvCall {
            profile,
            op,
            max_bytes: super::MAX_RESULT_BYTES,
            deadline: self.call_deadline(),
        };
        let service = self.db_service()?;
        service.kv(self.plugin.as_str(), call).await
    }
}

/// What an answer of the wrong kind (a host's mistake) is told as.
fn mismatch() -> DbFailure {
    DbFailure::Engine("the host answered another operation".to_owned())
}

impl kv::Host for StoreState {
    async fn get(
        &mut self,
        profile: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::DbError>> {
        self.meter.enter(Area::Db);
        let answer = match self.kv_run(profile, KvOp::Get(key)).await {
            Ok(KvAnswer::Value(value)) => Ok(value),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn set(
        &mut self,
        profile: String,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), kv::DbError>> {
        self.meter.enter(Area::Db);
        let op = KvOp::Set {
            key,
            value,
            ttl: ttl_ms.map(millis),
        };
        let answer = match self.kv_run(profile, op).await {
            Ok(KvAnswer::Done) => Ok(()),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn delete(
        &mut self,
        profile: String,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u64, kv::DbError>> {
        self.meter.enter(Area::Db);
        let answer = match self.kv_run(profile, KvOp::Delete(keys)).await {
            Ok(KvAnswer::Count(n)) => Ok(n),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn exists(
        &mut self,
        profile: String,
        key: String,
    ) -> wasmtime::Result<Result<bool, kv::DbError>> {
        self.meter.enter(Area::Db);
        let answer = match self.kv_run(profile, KvOp::Exists(key)).await {
            Ok(KvAnswer::Flag(b)) => Ok(b),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn incr(
        &mut self,
        profile: String,
        key: String,
        by: i64,
    ) -> wasmtime::Result<Result<i64, kv::DbError>> {
        self.meter.enter(Area::Db);
        let answer = match self.kv_run(profile, KvOp::Incr { key, by }).await {
            Ok(KvAnswer::Number(n)) => Ok(n),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn expire(
        &mut self,
        profile: String,
        key: String,
        ttl_ms: u64,
    ) -> wasmtime::Result<Result<bool, kv::DbError>> {
        self.meter.enter(Area::Db);
        let op = KvOp::Expire {
            key,
            ttl: millis(ttl_ms),
        };
        let answer = match self.kv_run(profile, op).await {
            Ok(KvAnswer::Flag(b)) => Ok(b),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn ttl(
        &mut self,
        profile: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<u64>, kv::DbError>> {
        self.meter.enter(Area::Db);
        let answer = match self.kv_run(profile, KvOp::Ttl(key)).await {
            Ok(KvAnswer::Left(left)) => {
                Ok(left.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
            }
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn scan(
        &mut self,
        profile: String,
        pattern: String,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, kv::DbError>> {
        self.meter.enter(Area::Db);
        let op = KvOp::Scan {
            pattern,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        };
        let answer = match self.kv_run(profile, op).await {
            Ok(KvAnswer::Keys(keys)) => Ok(keys),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> super::super::DbState {
        super::super::DbState::new(&crate::Grants {
            db: vec!["cache".to_owned()],
            ..crate::Grants::default()
        })
    }

    #[test]
    fn only_the_granted_profile_and_bounded_sizes_pass() {
        let s = state();
        assert!(check(&s, "cache", &KvOp::Get("k".into())).is_ok());
        let refused = check(&s, "sessions", &KvOp::Get("k".into())).expect_err("other");
        assert_eq!(
            refused.message,
            "refused: the database profile `sessions` (needs `db(sessions)`)"
        );
        let big = KvOp::Set {
            key: "k".into(),
            value: vec![0; MAX_VALUE_BYTES + 1],
            ttl: None,
        };
        assert!(check(&s, "cache", &big).expect_err("big").denial.is_none());
        let many = KvOp::Delete(vec!["k".to_owned(); MAX_KEYS + 1]);
        assert!(check(&s, "cache", &many).is_err());
        let wide = KvOp::Scan {
            pattern: "*".into(),
            limit: super::super::MAX_ROWS + 1,
        };
        assert!(check(&s, "cache", &wide).is_err());
    }
}
