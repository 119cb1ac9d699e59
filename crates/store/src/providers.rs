//! Whether each first-party provider (a native plugin compiled into the
//! host) is enabled. A provider with no row is enabled: a new lord's
//! providers work without any setup, and only a user's choice is stored.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use crate::error::StoreError;
use crate::record::PluginState;
use crate::store::{Store, now};

/// A provider's recorded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderState {
    pub id: String,
    pub state: PluginState,
    /// Why it is in that state (`disabled by the user`).
    pub reason: Option<String>,
}

impl Store {
    /// Every recorded provider state, by id, in one query: a caller going
    /// through all providers (every process does, at start) reads the
    /// table once instead of once per provider. A provider missing from
    /// it is enabled.
    pub fn provider_states(&self) -> Result<HashMap<String, ProviderState>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, state, reason FROM providers")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut states = HashMap::new();
        for row in rows {
            let (id, state, reason) = row?;
            let state = state.parse().map_err(StoreError::Corrupt)?;
            states.insert(id.clone(), ProviderState { id, state, reason });
        }
        Ok(states)
    }

    /// The recorded state of the provider `id`; enabled when none is.
    pub fn provider_state(&self, id: &str) -> Result<ProviderState, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT state, reason FROM providers WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((state, reason)) => ProviderState {
                id: id.to_owned(),
                state: state.parse().map_err(StoreError::Corrupt)?,
                reason,
            },
            None => ProviderState {
                id: id.to_owned(),
                state: PluginState::Enabled,
                reason: None,
            },
        })
    }

    /// Records the state of the provider `id`, with an audit row in the
    /// same transaction.
    pub fn set_provider_state(
        &mut self,
        id: &str,
        state: PluginState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let at = now();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO providers (id, state, reason, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET state = ?2, reason = ?3, updated_at = ?4",
            params![id, state.as_str(), reason, at],
        )?;
        tx.execute(
            "INSERT INTO audit (at, plugin_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![at, id, state.as_str(), reason.unwrap_or("")],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failpoint::Failpoint;

    #[test]
    fn all_states_read_at_once_agree_with_each_read_alone() {
        let home = tempfile::tempdir().expect("temp home");
        let mut store = Store::open(home.path(), Failpoint::new(None)).expect("store");
        assert!(store.provider_states().expect("states").is_empty());
        store
            .set_provider_state("db", PluginState::Disabled, Some("disabled by the user"))
            .expect("disable");
        store
            .set_provider_state("ai", PluginState::Enabled, None)
            .expect("enable");
        let states = store.provider_states().expect("states");
        assert_eq!(states.len(), 2);
        for id in ["db", "ai"] {
            assert_eq!(states[id], store.provider_state(id).expect("state"));
        }
        // No row: enabled, as `provider_state` says.
        assert!(!states.contains_key("text"));
        assert_eq!(
            store.provider_state("text").expect("state").state,
            PluginState::Enabled
        );
    }
}
