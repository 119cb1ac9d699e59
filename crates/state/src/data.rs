//! Each plugin's own key-value data. A key is either a session value (in
//! memory, gone when the process ends) or persistent (in `state.db`);
//! writing it one way removes the other copy, so a read is never ambiguous.
//! Both kinds count against the plugin's one quota.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::db::StateDb;
use crate::error::StateError;

/// The data of every plugin in this process. Cheap to clone. Only
/// [`crate::Scope`] hands it out per plugin; the plugin id is never taken
/// from a guest.
#[derive(Clone, Debug)]
pub struct PluginData {
    db: StateDb,
    session: Arc<Mutex<Session>>,
    /// What each plugin's persistent keys took when last summed in this
    /// process, until this process writes them again. Only `used` (the
    /// shared-value quota check, which is advisory between processes)
    /// reads it, so a hot loop of shared writes does not sum the table
    /// each time; data writes check their quota in the database.
    persisted: Arc<Mutex<HashMap<String, u64>>>,
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
            persisted: Arc::default(),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.session().get(plugin).and_then(|m| m.get(key)) {
            return Ok(Some(value.clone()));
        }
        self.db.data_get(plugin, key)
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
        self.persisted_cache().remove(plugin);
        // What the plugin holds in memory, except this key.
        let in_memory: u64 = self
            .session()
            .get(plugin)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != key)
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum()
            })
            .unwrap_or(0);
        if persistent {
            // The database checks its share inside its own transaction.
            let room = quota
                .checked_sub(in_memory)
                .ok_or(StateError::QuotaExceeded {
                    plugin: plugin.to_owned(),
                    needed: in_memory + (key.len() + value.len()) as u64,
                    quota,
                })?;
            self.db
                .data_set(plugin, key, &value, room)
                .map_err(|e| match e {
                    StateError::QuotaExceeded { plugin, needed, .. } => StateError::QuotaExceeded {
                        plugin,
                        needed: needed + in_memory,
                        quota,
                    },
                    other @ (StateError::Db(_)
                    | StateError::Io { .. }
                    | StateError::NotGranted { .. }
                    | StateError::Invalid { .. }
                    | StateError::Unavailable(_)
                    | StateError::SecretMissing(_)
                    | StateError::Keyring(_)
                    | StateError::TooLarge { .. }
                    | StateError::Corrupt(_)) => other,
                })?;
            // After the write too: a sum taken meanwhile missed it.
            self.persisted_cache().remove(plugin);
            if let Some(m) = self.session().get_mut(plugin) {
                m.remove(key);
            }
            return Ok(());
        }
        let persisted = self.db.data_used(plugin, key)?;
        let needed = in_memory + persisted + (key.len() + value.len()) as u64;
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

    /// Bytes (keys plus values) the plugin holds, in memory and on disk.
    pub(crate) fn used(&self, plugin: &str) -> Result<u64, StateError> {
        let in_memory: u64 = self
            .session()
            .get(plugin)
            .map(|m| m.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum())
            .unwrap_or(0);
        let cached = self.persisted_cache().get(plugin).copied();
        let persisted = match cached {
            Some(bytes) => bytes,
            None => {
                // No key is empty, so excepting "" excepts none.
                let bytes = self.db.data_used(plugin, "")?;
                self.persisted_cache().insert(plugin.to_owned(), bytes);
                bytes
            }
        };
        Ok(in_memory + persisted)
    }

    fn persisted_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.persisted.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn delete(&self, plugin: &str, key: &str) -> Result<bool, StateError> {
        self.persisted_cache().remove(plugin);
        let in_memory = self
            .session()
            .get_mut(plugin)
            .is_some_and(|m| m.remove(key).is_some());
        let persisted = self.db.data_delete(plugin, key)?;
        Ok(in_memory || persisted)
    }

    /// Drops every key of a plugin, session and persistent (when the
    /// plugin is removed).
    pub fn forget(&self, plugin: &str) -> Result<(), StateError> {
        self.session().remove(plugin);
        self.persisted_cache().remove(plugin);
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
