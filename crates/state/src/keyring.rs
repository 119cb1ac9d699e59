//! The OS keyring as a home for secrets: on Linux, the freedesktop Secret
//! Service over D-Bus (GNOME Keyring, KWallet, KeePassXC), through
//! `keyring-core`. Each secret is one item whose `service` attribute names
//! this lord home (so two homes keep apart) and whose `username` is the
//! secret's name. Elsewhere there is no keyring here and the encrypted file
//! is used.
//!
//! Invariant: no message built here carries a secret's bytes. The keyring
//! errors that hold data (`BadEncoding`, `BadDataFormat`) are rewritten
//! before they leave this module.

use std::path::Path;

use crate::error::StateError;
use crate::secrets::SecretValue;

/// A connection to the OS keyring for one lord home.
pub(crate) struct Keyring {
    #[cfg(target_os = "linux")]
    store: std::sync::Arc<keyring_core::CredentialStore>,
    service: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// The `service` attribute of a home's items.
fn service_for(home: &Path) -> String {
    format!("lord-commander {}", home.display())
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;
    use std::sync::Arc;

    use keyring_core::{Entry, Error};

    use super::{Keyring, Path, SecretValue, StateError, service_for};

    /// Says what went wrong without the data some variants carry.
    fn describe(error: &Error) -> String {
        match error {
            Error::PlatformFailure(e) => format!("the Secret Service failed: {e}"),
            Error::NoStorageAccess(e) => {
                format!("the keyring is locked or refused access ({e}); unlock it and retry")
            }
            Error::NoEntry => "no such item".to_owned(),
            Error::BadEncoding(_) => "an item is not UTF-8 text".to_owned(),
            Error::BadDataFormat(_, _) => "an item is not in the expected format".to_owned(),
            Error::BadStoreFormat(e) => format!("the keyring is in an unknown format: {e}"),
            Error::TooLong(what, limit) => format!("{what} is longer than {limit}"),
            Error::Invalid(what, why) => format!("invalid {what}: {why}"),
            Error::Ambiguous(items) => format!(
                "{} keyring items match; remove the extra ones with your keyring manager",
                items.len()
            ),
            Error::NoDefaultStore => "no keyring is configured".to_owned(),
            Error::NotSupportedByStore(what) => format!("the keyring cannot {what}"),
            // `keyring_core::Error` is non-exhaustive: a future variant is
            // described by its kind only, never by its data.
            _ => "the keyring failed".to_owned(),
        }
    }

    fn failed(name: &str, action: &'static str, error: &Error) -> StateError {
        StateError::Keyring(format!(
            "could not {action} secret `{name}` in the OS keyring: {}",
            describe(error)
        ))
    }

    impl Keyring {
        /// Connects to the Secret Service on the session bus.
        pub(crate) fn connect(home: &Path) -> Result<Self, String> {
            let store =
                zbus_secret_service_keyring_store::Store::new().map_err(|e| describe(&e))?;
            let store: Arc<keyring_core::CredentialStore> = store;
            Ok(Self {
                store,
                service: service_for(home),
            })
        }

        fn entry(&self, name: &str) -> Result<Entry, StateError> {
            Entry::new_in_store(&self.store, &self.service, name)
                .map_err(|e| failed(name, "name", &e))
        }

        pub(crate) fn set(&self, name: &str, value: &SecretValue) -> Result<(), StateError> {
            self.entry(name)?
                .set_password(value.expose())
                .map_err(|e| failed(name, "store", &e))
        }

        pub(crate) fn get(&self, name: &str) -> Result<Option<SecretValue>, StateError> {
            match self.entry(name)?.get_password() {
                Ok(value) => Ok(Some(SecretValue::new(value))),
                Err(Error::NoEntry) => Ok(None),
                Err(e) => Err(failed(name, "read", &e)),
            }
        }

        pub(crate) fn remove(&self, name: &str) -> Result<bool, StateError> {
            match self.entry(name)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(Error::NoEntry) => Ok(false),
                Err(e) => Err(failed(name, "remove", &e)),
            }
        }

        /// The names of this home's items.
        pub(crate) fn names(&self) -> Result<Vec<String>, StateError> {
            let spec = HashMap::from([("service", self.service.as_str())]);
            let found = Entry::search_in_store(&self.store, &spec).map_err(|e| {
                StateError::Keyring(format!(
                    "could not list the OS keyring's secrets: {}",
                    describe(&e)
                ))
            })?;
            Ok(found
                .iter()
                .filter_map(Entry::get_specifiers)
                .filter(|(service, _)| *service == self.service)
                .map(|(_, name)| name)
                .collect())
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Keyring {
    pub(crate) fn connect(home: &Path) -> Result<Self, String> {
        let _ = service_for(home);
        Err("this build of lord supports the OS keyring on Linux only".to_owned())
    }

    pub(crate) fn set(&self, _: &str, _: &SecretValue) -> Result<(), StateError> {
        unreachable!("a keyring is never connected on this platform")
    }

    pub(crate) fn get(&self, _: &str) -> Result<Option<SecretValue>, StateError> {
        unreachable!("a keyring is never connected on this platform")
    }

    pub(crate) fn remove(&self, _: &str) -> Result<bool, StateError> {
        unreachable!("a keyring is never connected on this platform")
    }

    pub(crate) fn names(&self) -> Result<Vec<String>, StateError> {
        unreachable!("a keyring is never connected on this platform")
    }
}
