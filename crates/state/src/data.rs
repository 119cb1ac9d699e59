//! Each plugin's own key-value data. A key is either a session value (in
//! memory, gone when the process ends) or persistent (in `state.db`);
//! writing it one way removes the other copy, so a read is never ambiguous.
//! Both kinds count against the plugin's one quota, together with the
//! shared values the plugin wrote last.
//!
//! Persistent keys are versioned (see `db.rs`): compare-and-swap writes
//! only if the key is still at the version the caller read, so a
//! read-modify-write that races with another process loses nothing. Session
//! values are not versioned: only this process can see them, and a
//! plugin's calls in one process do not overlap.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::db::StateDb;
use crate::error::StateError;
use crate::shared::{CasOutcome, Versioned};

/// The data of every plugin in this process. Cheap to clone. Only
/// [`crate::Scope`] hands it out per plugin; the plugin id is never taken
/// from a guest.
#[derive(Clone, Debug)]
pub struct PluginData {
    db: StateDb,
    session: Arc<Mutex<Session>>,
}

/// Session values: plugin id → key → value.
type Session = HashMap<String, BTreeMap<String, Vec<u8>>>;

/// Longest key, in bytes.
const MAX_KEY: usize = 256;

impl PluginData {
    pub fn new(db: StateDb) -> Self {
        Self {
            db,
            session: Arc::default(),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.session().get(plugin).and_then(|m| m.get(key)) {
            return Ok(Some(value.clone()));
        }
        Ok(self.db.data_get(plugin, key)?.map(|v| v.value))
    }

    /// A persistent value and its version.
    pub(crate) fn get_versioned(
        &self,
        plugin: &str,
        key: &str,
    ) -> Result<Option<Versioned>, StateError> {
        self.not_in_session(plugin, key)?;
        self.db.data_get(plugin, key)
    }

    /// Writes `value` persistently only if `key` is still at `expected`
    /// (0: absent), checking the quota in the same transaction.
    pub(crate) fn compare_and_swap(
        &self,
        plugin: &str,
        key: &str,
        expected: u64,
        value: &[u8],
        quota: u64,
    ) -> Result<CasOutcome, StateError> {
        check_key(key)?;
        self.not_in_session(plugin, key)?;
        let room = self.room(plugin, key, value.len(), quota)?;
        self.db
            .data_write(plugin, key, value, Some(expected), room)
            .map_err(|e| self.whole_quota(plugin, key, e, quota))
    }

    /// A session value has no version, so a versioned call on one is a
    /// mistake to name rather than a key to treat as absent.
    fn not_in_session(&self, plugin: &str, key: &str) -> Result<(), StateError> {
        if self
            .session()
            .get(plugin)
            .is_some_and(|m| m.contains_key(key))
        {
            return Err(StateError::Invalid {
                what: "data key",
                value: key.chars().take(64).collect(),
                problem: "it holds a session value; versions and compare-and-swap are for \
                          persistent values (write it with `persistent = true`)"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Bytes the plugin holds in memory, except `key`.
    fn in_memory(&self, plugin: &str, except: &str) -> u64 {
        self.session()
            .get(plugin)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != except)
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// What the database may hold for the plugin: the quota less its
    /// session values (the database checks its own share in the write's
    /// transaction).
    fn room(&self, plugin: &str, key: &str, size: usize, quota: u64) -> Result<u64, StateError> {
        let in_memory = self.in_memory(plugin, key);
        quota
            .checked_sub(in_memory)
            .ok_or(StateError::QuotaExceeded {
                plugin: plugin.to_owned(),
                needed: in_memory + (key.len() + size) as u64,
                quota,
            })
    }

    /// A quota refusal from the database, restated against the whole
    /// quota (session values included).
    fn whole_quota(&self, plugin: &str, key: &str, e: StateError, quota: u64) -> StateError {
        e.against_whole_quota(quota, |_| self.in_memory(plugin, key))
    }

    pub(crate) fn set(
        &self,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
        persistent: bool,
        quota: u64,
    ) -> Result<(), StateError> {
        check_key(key)?;
        if persistent {
            let room = self.room(plugin, key, value.len(), quota)?;
            // Expecting no version, the write cannot conflict.
            let _written = self
                .db
                .data_write(plugin, key, &value, None, room)
                .map_err(|e| self.whole_quota(plugin, key, e, quota))?;
            if let Some(m) = self.session().get_mut(plugin) {
                m.remove(key);
            }
            return Ok(());
        }
        // A session value: the persisted share is read outside any
        // transaction, since the value itself never reaches the database.
        let persisted = self.db.data_used(plugin, key)?;
        let needed = self.in_memory(plugin, key) + persisted + (key.len() + value.len()) as u64;
        if needed > quota {
            return Err(StateError::QuotaExceeded {
                plugin: plugin.to_owned(),
                needed,
                quota,
            });
        }
        self.db.data_delete(plugin, key)?;
        self.session()
            .entry(plugin.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    /// Bytes (keys plus values) the plugin holds in memory.
    pub(crate) fn session_bytes(&self, plugin: &str) -> u64 {
        self.in_memory(plugin, "")
    }

    pub(crate) fn delete(&self, plugin: &str, key: &str) -> Result<bool, StateError> {
        let in_memory = self
            .session()
            .get_mut(plugin)
            .is_some_and(|m| m.remove(key).is_some());
        let persisted = self.db.data_delete(plugin, key)?;
        Ok(in_memory || persisted)
    }

    /// Drops every key of a plugin, session and persistent, and the
    /// messages waiting for it (when the plugin is removed).
    pub fn forget(&self, plugin: &str) -> Result<(), StateError> {
        self.session().remove(plugin);
        self.db.forget_plugin(plugin)
    }

    pub(crate) fn keys(&self, plugin: &str) -> Result<Vec<String>, StateError> {
        let mut keys = self.db.data_keys(plugin)?;
        if let Some(m) = self.session().get(plugin) {
            keys.extend(m.keys().cloned());
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

fn check_key(key: &str) -> Result<(), StateError> {
    let problem = if key.is_empty() {
        "a key cannot be empty"
    } else if key.len() > MAX_KEY {
        "a key is at most 256 bytes"
    } else if key.chars().any(char::is_control) {
        "a key cannot contain control characters"
    } else {
        return Ok(());
    };
    Err(StateError::Invalid {
        what: "data key",
        value: key.chars().take(64).collect(),
        problem: problem.to_owned(),
    })
}
