//! Key-value stores (Redis): `db(PROFILE)` in the manifest, then [`get`],
//! [`set`], [`delete`], [`exists`], [`incr`], [`expire`], [`ttl`] and
//! [`scan`]. The host connects and keeps the password; every key and value
//! travels as one separate argument, never spliced into a command.
//!
//! ```no_run
//! use lord_pdk::kv;
//!
//! kv::set("cache", "greeting", b"hello", Some(60_000))?; // expires in a minute
//! assert_eq!(kv::get("cache", "greeting")?.as_deref(), Some(&b"hello"[..]));
//! let visits = kv::incr("cache", "visits", 1)?;
//! # Ok::<(), lord_pdk::kv::DbError>(())
//! ```

use crate::bindings::lord::plugin::kv as host;

pub use host::DbError;

/// The value at `key`; `None` when there is none.
pub fn get(profile: &str, key: &str) -> Result<Option<Vec<u8>>, DbError> {
    host::get(profile, key)
}

/// Sets `key` to `value`, expiring after `ttl_ms` milliseconds when given.
pub fn set(profile: &str, key: &str, value: &[u8], ttl_ms: Option<u64>) -> Result<(), DbError> {
    host::set(profile, key, value, ttl_ms)
}

/// Deletes `keys`: how many existed.
pub fn delete(profile: &str, keys: &[&str]) -> Result<u64, DbError> {
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    host::delete(profile, &keys)
}

pub fn exists(profile: &str, key: &str) -> Result<bool, DbError> {
    host::exists(profile, key)
}

/// Adds `by` to the integer at `key` (0 when absent): the new value.
pub fn incr(profile: &str, key: &str, by: i64) -> Result<i64, DbError> {
    host::incr(profile, key, by)
}

/// Makes `key` expire after `ttl_ms`: whether the key exists.
pub fn expire(profile: &str, key: &str, ttl_ms: u64) -> Result<bool, DbError> {
    host::expire(profile, key, ttl_ms)
}

/// The milliseconds `key` has left; `None` without an expiry or key.
pub fn ttl(profile: &str, key: &str) -> Result<Option<u64>, DbError> {
    host::ttl(profile, key)
}

/// The keys matching the glob `pattern`, at most `limit` (10,000 at
/// most), sorted.
pub fn scan(profile: &str, pattern: &str, limit: u32) -> Result<Vec<String>, DbError> {
    host::scan(profile, pattern, limit)
}
