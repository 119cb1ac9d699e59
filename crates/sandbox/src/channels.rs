//! The host side of the `data`, `shared`, `events`, `secrets` and `config` interfaces: each call
//! goes through the plugin's `lord_state::Scope`, which holds its grants.
//! A refused access is also recorded as a denial, so a call that then fails
//! reports exactly what was refused.

use lord_state::{CasOutcome, Propagation, Scope, StateError, Versioned};

use crate::bindings::lord::plugin::{config, data, events, secrets, shared};
use crate::instance::StoreState;

impl StoreState {
    /// The plugin's scope, or the reason there is none.
    fn scope(&self) -> Result<&Scope, String> {
        self.scope
            .as_deref()
            .ok_or_else(|| "this host was started without plugin state".to_owned())
    }

    /// Turns a channel error into the guest's `err`, recording refusals.
    fn refused(&self, error: StateError) -> String {
        let message = error.to_string();
        match &error {
            StateError::NotGranted {
                access, permission, ..
            } => {
                // Only a real permission name is worth proposing; the
                // `system` refusal names none.
                let needs = permission
                    .parse::<lord_manifest::Permission>()
                    .ok()
                    .map(|p| p.to_string());
                self.denials
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(access.clone(), needs);
            }
            StateError::Db(_)
            | StateError::Io { .. }
            | StateError::QuotaExceeded { .. }
            | StateError::Invalid { .. }
            | StateError::Unavailable(_)
            | StateError::SecretMissing(_)
            | StateError::Keyring(_)
            | StateError::Corrupt(_) => {}
        }
        message
    }

    fn with_scope<T>(
        &self,
        call: impl FnOnce(&Scope) -> Result<T, StateError>,
    ) -> Result<T, String> {
        let scope = self.scope()?;
        call(scope).map_err(|e| self.refused(e))
    }
}

fn versioned(v: Versioned) -> shared::Versioned {
    shared::Versioned {
        value: v.value,
        version: v.version,
    }
}

impl data::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        Ok(self.with_scope(|s| s.data_get(&key)))
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        persistent: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(self.with_scope(|s| s.data_set(&key, value, persistent)))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        Ok(self.with_scope(|s| s.data_delete(&key)))
    }

    fn keys(&mut self) -> wasmtime::Result<Result<Vec<String>, String>> {
        Ok(self.with_scope(Scope::data_keys))
    }
}

impl shared::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<shared::Versioned>, String>> {
        Ok(self.with_scope(|s| s.shared_get(&key).map(|v| v.map(versioned))))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, String>> {
        Ok(self.with_scope(|s| s.shared_set(&key, value)))
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<shared::CasOutcome, String>> {
        Ok(self.with_scope(|s| {
            s.shared_compare_and_swap(&key, expected, value)
                .map(|outcome| match outcome {
                    CasOutcome::Swapped(version) => shared::CasOutcome::Swapped(version),
                    CasOutcome::Conflict(current) => {
                        shared::CasOutcome::Conflict(current.map(versioned))
                    }
                })
        }))
    }
}

impl events::Host for StoreState {
    fn publish(
        &mut self,
        topic: String,
        payload: String,
        propagation: events::Propagation,
        sensitive: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        let propagation = match propagation {
            events::Propagation::Local => Propagation::Local,
            events::Propagation::Global => Propagation::Global,
        };
        let payload: serde_json::Value = match serde_json::from_str(&payload) {
            Ok(value) => value,
            Err(e) => return Ok(Err(format!("the event payload is not JSON: {e}"))),
        };
        Ok(self.with_scope(|s| s.publish(&topic, payload, propagation, sensitive).map(drop)))
    }
}

impl secrets::Host for StoreState {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, String>> {
        Ok(self.with_scope(|s| s.secret(&name).map(|v| v.expose().to_owned())))
    }
}

impl config::Host for StoreState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self
            .scope
            .as_deref()
            .and_then(|scope| scope.config(&key))
            .map(ToString::to_string))
    }
}
