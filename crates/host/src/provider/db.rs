//! The database providers. `db` is the framework: the `lord db` commands
//! over named connection profiles. Each engine lord speaks (`sqlite`,
//! `postgres`, `mysql` for MySQL and MariaDB, `redis`, `mongodb`,
//! `cassandra` for Cassandra and ScyllaDB) is a provider of its own,
//! listed and disabled like any plugin: disabled, every profile of its
//! engine is refused.
//!
//! A profile (`db.profiles.<name>` in the layered configuration, shaped
//! by `lord-db-api`) names a URL without a password, TLS settings,
//! timeouts and the `lord secret` holding its password
//! (`DB_<NAME>_PASSWORD` unless `password-secret` says otherwise). The
//! password is read here, into a `Password` no formatting prints.
//!
//! Boundary: the host reads profiles and passwords; the drivers live in
//! `lord-db`, which the CLI links, so an embedder of the host compiles no
//! database client.

use std::path::PathBuf;
use std::sync::Arc;

use lord_db_api::{DbError, Engine, Password, Profile};
use lord_manifest::{PluginId, Version};
use serde::Serialize;
use serde_json::json;

use super::{Provider, ProviderCommand};
use crate::error::HostError;

/// The framework provider.
#[derive(Debug, Clone, Copy)]
pub struct Db;

impl Provider for Db {
    fn id(&self) -> PluginId {
        PluginId::from_static("db")
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        "Databases: named connection profiles, queries for scripts, catalogues and versioned \
         migrations, over the engine providers"
    }

    fn commands(&self) -> Vec<ProviderCommand> {
        vec![ProviderCommand {
            name: "db",
            about: "Databases: profiles, ping, query, schema and migrations",
        }]
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["lord:plugin/sql", "lord:plugin/kv", "lord:plugin/document"]
    }

    fn config_schema(&self) -> Option<serde_json::Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "db.profiles": {
                    "type": "object",
                    "description": "named databases: url (never with a password), tls-mode, \
                                    ca-file, connect-timeout, statement-timeout, pool-size, \
                                    password-secret"
                }
            }
        }))
    }
}

/// One engine's provider.
#[derive(Debug, Clone, Copy)]
pub struct EngineProvider(pub Engine);

impl Provider for EngineProvider {
    fn id(&self) -> PluginId {
        PluginId::from_static(self.0.as_str())
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        self.0.description()
    }
}

/// A profile as `lord db list` shows it: never the password, only whether
/// one is stored.
#[derive(Debug, Clone, Serialize)]
pub struct DbProfile {
    #[serde(flatten)]
    pub profile: Profile,
    pub password_stored: bool,
    /// Whether its engine's provider is enabled.
    pub enabled: bool,
}

impl crate::Framework {
    /// Gives plugins' `lord:plugin/sql` calls their sessions: the
    /// embedder's pools (lord's CLI hands over `lord-db`'s), so that the
    /// host itself links no database driver. Without one, every call is
    /// refused. Call before anything runs a plugin.
    pub fn with_db_connector(
        mut self,
        connector: std::sync::Arc<dyn lord_db_api::DbConnector>,
    ) -> Self {
        self.channels.set_db_connector(connector);
        self
    }

    /// Every configured database profile, by name.
    pub fn db_profiles(&self) -> Result<Vec<DbProfile>, HostError> {
        let tree = self.settings()?.subtree("db.profiles");
        let Some(table) = tree.as_object() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in table.keys() {
            out.push(self.db_profile_and_password(name)?.0);
        }
        Ok(out)
    }

    /// The profile `name` and its password, for a connection: refused
    /// while its engine's provider is disabled. The profile is shared with
    /// the process's other users of it, not copied.
    pub fn db_connection(&self, name: &str) -> Result<(Arc<Profile>, Option<Password>), HostError> {
        let (profile, password) =
            profile_and_password(&self.settings, &self.channels().secrets, name)?;
        let engine = profile.engine;
        if self.loader.is_disabled(engine.as_str()) {
            return Err(HostError::Db(DbError::Profile(format!(
                "the database profile `{name}` uses `{engine}`, which is disabled; enable it \
                 with `lord plugin enable {engine}`"
            ))));
        }
        Ok((profile, password))
    }

    /// The project's migrations folder: `migrations/` in the project (or
    /// the working folder outside one).
    pub fn db_migrations_dir(&self) -> PathBuf {
        self.project_dir().join("migrations")
    }

    fn db_profile_and_password(
        &self,
        name: &str,
    ) -> Result<(DbProfile, Option<Password>), HostError> {
        let (profile, password) =
            profile_and_password(&self.settings, &self.channels().secrets, name)?;
        let enabled = !self.loader.is_disabled(profile.engine.as_str());
        Ok((
            DbProfile {
                password_stored: password.is_some(),
                enabled,
                profile: Profile::clone(&profile),
            },
            password,
        ))
    }
}

/// The profile `name` from `settings` and its password from `secrets`.
pub(crate) fn profile_and_password(
    settings: &crate::settings::Settings,
    secrets: &lord_state::Secrets,
    name: &str,
) -> Result<(Arc<Profile>, Option<Password>), HostError> {
    let profile = settings.db_profile(name)?;
    // A SQLite file takes no password: the secret store (perhaps the
    // OS keyring) is not asked.
    let password = if profile.engine.takes_password() {
        secrets
            .get(&profile.password_secret)?
            .map(|value| Password::new(value.expose().to_owned()))
    } else {
        None
    };
    Ok((profile, password))
}
