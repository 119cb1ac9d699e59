//! Whether each first-party provider (a native plugin compiled into the
//! host) is enabled. A provider with no row is enabled: a new lord's
//! providers work without any setup, and only a user's choice is stored.

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
