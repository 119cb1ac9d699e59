//! The key-value capability (Redis): one connection's commands on keys
//! holding bytes, and a raw command for everything else the server does.
//!
//! Invariant: a command is a list of separate arguments, each sent to the
//! server as one length-prefixed argument; nothing here joins arguments
//! into a line a server would split again, so a value holding spaces,
//! quotes or `\r\n` stays one value.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::DbError;
use crate::profile::Engine;

/// One reply of a key-value server, as its protocol (RESP2 or RESP3)
/// shapes it.
#[derive(Debug, Clone, PartialEq)]
pub enum KvReply {
    Nil,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A bulk string: bytes, perhaps text.
    Bytes(Vec<u8>),
    /// A status line such as `OK` or `QUEUED`.
    Status(String),
    Array(Vec<KvReply>),
    Map(Vec<(KvReply, KvReply)>),
}

impl KvReply {
    /// The reply's bytes as text, when it is a string that is UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            KvReply::Bytes(b) => std::str::from_utf8(b).ok(),
            KvReply::Status(s) => Some(s),
            KvReply::Nil
            | KvReply::Int(_)
            | KvReply::Float(_)
            | KvReply::Bool(_)
            | KvReply::Array(_)
            | KvReply::Map(_) => None,
        }
    }

    /// The reply as `redis-cli` prints it, on one line per element.
    pub fn display(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, "");
        out
    }

    fn write(&self, out: &mut String, indent: &str) {
        match self {
            KvReply::Nil => out.push_str("(nil)"),
            KvReply::Int(i) => out.push_str(&format!("(integer) {i}")),
            KvReply::Float(f) => out.push_str(&format!("(double) {f}")),
            KvReply::Bool(b) => out.push_str(&format!("(boolean) {b}")),
            KvReply::Status(s) => out.push_str(s),
            KvReply::Bytes(b) => out.push_str(&format!("{:?}", bytes_text(b))),
            KvReply::Array(items) if items.is_empty() => out.push_str("(empty array)"),
            KvReply::Array(items) => {
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push('\n');
                        out.push_str(indent);
                    }
                    let label = format!("{}) ", n + 1);
                    out.push_str(&label);
                    let inner = format!("{indent}{}", " ".repeat(label.len()));
                    item.write(out, &inner);
                }
            }
            KvReply::Map(pairs) if pairs.is_empty() => out.push_str("(empty hash)"),
            KvReply::Map(pairs) => {
                for (n, (key, value)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push('\n');
                        out.push_str(indent);
                    }
                    key.write(out, indent);
                    out.push_str(" => ");
                    value.write(out, indent);
                }
            }
        }
    }
}

/// Bytes as text: UTF-8 as it is, anything else as `\x` and hex (the form
/// [`crate::Value::display`] gives bytes).
pub fn bytes_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("\\x{}", hex::encode(bytes)),
    }
}

impl Serialize for KvReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            KvReply::Nil => s.serialize_none(),
            KvReply::Int(i) => s.serialize_i64(*i),
            KvReply::Float(f) if f.is_finite() => s.serialize_f64(*f),
            KvReply::Float(f) => s.serialize_str(&f.to_string()),
            KvReply::Bool(b) => s.serialize_bool(*b),
            KvReply::Bytes(b) => s.serialize_str(&bytes_text(b)),
            KvReply::Status(t) => s.serialize_str(t),
            KvReply::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            KvReply::Map(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    let key = match key.as_text() {
                        Some(text) => text.to_owned(),
                        None => key.display(),
                    };
                    map.serialize_entry(&key, value)?;
                }
                map.end()
            }
        }
    }
}

/// One open connection to a key-value store. Keys are text; values are
/// bytes.
pub trait KvSession: Send {
    fn engine(&self) -> Engine;

    /// The value at `key`; `None` when there is none.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, DbError>;

    /// Sets `key` to `value`, expiring after `ttl` when given (whole
    /// milliseconds; under one is refused) and never otherwise.
    fn set(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), DbError>;

    /// Deletes `keys`: how many existed.
    fn delete(&mut self, keys: &[&str]) -> Result<u64, DbError>;

    fn exists(&mut self, key: &str) -> Result<bool, DbError>;

    /// The keys matching the glob `pattern` (`*`, `?`, `[a-z]`), walked
    /// with a cursor rather than one blocking `KEYS`, at most `limit` of
    /// them, sorted. Keys that are not UTF-8 come back with their bytes
    /// as `\x` and hex.
    fn scan(&mut self, pattern: &str, limit: usize) -> Result<Vec<String>, DbError>;

    /// Adds `by` to the integer at `key` (0 when absent): the new value.
    fn incr(&mut self, key: &str, by: i64) -> Result<i64, DbError>;

    /// Makes `key` expire after `ttl`: whether the key exists.
    fn expire(&mut self, key: &str, ttl: Duration) -> Result<bool, DbError>;

    /// How long `key` has left: `None` when it has no expiry or does not
    /// exist.
    fn ttl(&mut self, key: &str) -> Result<Option<Duration>, DbError>;

    /// Runs one command given as separate arguments (`["SET", "k", "v"]`),
    /// each sent as one argument whatever it holds.
    fn command(&mut self, args: &[Vec<u8>]) -> Result<KvReply, DbError>;

    /// Runs `commands` as one transaction (Redis: `MULTI` ... `EXEC`): all
    /// of them or, when one is refused before it runs, none. Their replies
    /// in order.
    fn transaction(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<KvReply>, DbError>;
}
