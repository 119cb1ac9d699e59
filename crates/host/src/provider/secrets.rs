//! The `secrets` provider: the user's secret store as a capability. It
//! adds the `lord secret` commands and serves the `lord:plugin/secrets`
//! interface to plugins granted `secret(NAME)`; the store itself (the OS
//! keyring or an encrypted file) is `lord-state`'s. Disabled, no plugin
//! can read a secret and the commands are gone, while the store and its
//! values stay as they were.

use lord_manifest::{PluginId, Version};
use serde_json::json;

use super::{Provider, ProviderCommand};

/// The `secrets` provider.
#[derive(Debug, Clone, Copy)]
pub struct Secrets;

impl Provider for Secrets {
    fn id(&self) -> PluginId {
        PluginId::from_static("secrets")
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        "Secrets for plugins granted secret(NAME), kept in the OS keyring or an encrypted file"
    }

    fn commands(&self) -> Vec<ProviderCommand> {
        vec![ProviderCommand {
            name: "secret",
            about: "Store secrets for plugins granted `secret(NAME)` (encrypted at rest)",
        }]
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["lord:plugin/secrets"]
    }

    fn config_schema(&self) -> Option<serde_json::Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "secrets.backend": {
                    "enum": ["auto", "keyring", "file"],
                    "description": "where secrets are kept: the OS keyring when one answers \
                                    (auto), only the keyring, or only the encrypted file"
                }
            }
        }))
    }
}
