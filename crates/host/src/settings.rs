//! The settings part: lord's layered configuration, read once per process
//! on first use, and each plugin's own table checked against its schema.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use lord_manifest::PluginId;
use lord_store::InstalledPlugin;
use serde_json::Value;

use crate::error::HostError;

/// The configuration this process runs under.
pub(crate) struct Settings {
    sources: lord_config::Sources,
    merged: OnceLock<Result<lord_config::Config, String>>,
    /// Each plugin's table as checked against its schema, by plugin id and
    /// the schema it was checked against: the configuration is read once
    /// per process, so each table is checked once too, not per call.
    tables: Mutex<HashMap<PluginId, CheckedTable>>,
    /// Each plugin's per-minute limits, read once: they come from the
    /// merged configuration, which never changes once loaded, and every
    /// command asked for them anew (a dozen lookups and formatted keys).
    quota_limits: Mutex<HashMap<PluginId, lord_state::QuotaLimits>>,
    /// The governance policies, read on first use like the rest.
    governance: crate::governance::Governance,
    /// Database profiles as read from the configuration, by name: read
    /// once, not for every statement (a dozen lookups, most of them of
    /// fields left unset, each a walk of every setting), and shared rather
    /// than copied to each statement that asks.
    db_profiles: Mutex<HashMap<String, Arc<lord_db_api::Profile>>>,
}

/// A plugin's table as checked: the schema it was checked against, and the
/// table or the problem found.
type CheckedTable = (Option<Value>, Result<Value, String>);

impl Settings {
    pub(crate) fn new(
        sources: lord_config::Sources,
        policy: crate::governance::PolicyPlaces,
    ) -> Self {
        Self {
            governance: crate::governance::Governance::new(policy),
            sources,
            merged: OnceLock::new(),
            tables: Mutex::new(HashMap::new()),
            quota_limits: Mutex::new(HashMap::new()),
            db_profiles: Mutex::new(HashMap::new()),
        }
    }

    /// The database profile `name`, read from the configuration the first
    /// time it is asked for.
    pub(crate) fn db_profile(&self, name: &str) -> Result<Arc<lord_db_api::Profile>, HostError> {
        let mut known = self.db_profiles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(profile) = known.get(name) {
            return Ok(Arc::clone(profile));
        }
        let settings = self.get()?;
        let profile = Arc::new(lord_db_api::Profile::from_settings(name, |f| {
            settings.get(&format!("db.profiles.{name}.{f}"))
        })?);
        known.insert(name.to_owned(), Arc::clone(&profile));
        Ok(profile)
    }

    /// Chooses the profile and adds `--set` flags; no effect once the
    /// configuration has been read.
    pub(crate) fn configure(&mut self, profile: Option<String>, flags: Vec<String>) {
        if profile.is_some() {
            self.sources.profile = profile;
        }
        self.sources.flags.extend(flags);
    }

    /// `plugin`'s quota limits, from `read` the first time they are asked.
    pub(crate) fn quota_limits(
        &self,
        plugin: &PluginId,
        read: impl FnOnce() -> lord_state::QuotaLimits,
    ) -> lord_state::QuotaLimits {
        let mut known = self.quota_limits.lock().unwrap_or_else(|p| p.into_inner());
        *known.entry(plugin.clone()).or_insert_with(read)
    }

    pub(crate) fn governance(&self) -> &crate::governance::Governance {
        &self.governance
    }

    pub(crate) fn sources(&self) -> &lord_config::Sources {
        &self.sources
    }

    /// The merged configuration (read once per process).
    pub(crate) fn get(&self) -> Result<&lord_config::Config, HostError> {
        self.merged
            .get_or_init(|| lord_config::Config::load(&self.sources).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| HostError::ConfigUnusable(message.clone()))
    }

    /// The string at `key`, or `default` when it is unset or the
    /// configuration cannot be read (the commands that read it report that).
    pub(crate) fn text_or(&self, key: &str, default: &str) -> String {
        self.get()
            .ok()
            .and_then(|c| c.get(key))
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    }

    /// A plugin's own configuration table, checked against its schema.
    pub(crate) fn plugin_table(&self, plugin: &InstalledPlugin) -> Result<Value, HostError> {
        let schema = &plugin.manifest.config_schema;
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((checked, table)) = tables.get(plugin.id())
            && checked == schema
        {
            return table.clone().map_err(|problem| HostError::PluginConfig {
                plugin: plugin.id().clone(),
                problem,
            });
        }
        let table = self.check_table(plugin);
        let kept = match &table {
            Ok(value) => Ok(value.clone()),
            Err(HostError::PluginConfig { problem, .. }) => Err(problem.clone()),
            // The configuration itself is unusable: not this table's to keep.
            Err(_) => return table,
        };
        tables.insert(plugin.id().clone(), (schema.clone(), kept));
        table
    }

    fn check_table(&self, plugin: &InstalledPlugin) -> Result<Value, HostError> {
        let settings = self.get()?;
        if let Some(schema) = &plugin.manifest.config_schema
            && let Some(problem) = settings
                .check_plugins([(plugin.id().as_str(), schema)])
                .into_iter()
                .next()
        {
            return Err(HostError::PluginConfig {
                plugin: plugin.id().clone(),
                problem: problem.to_string(),
            });
        }
        Ok(settings.plugin(plugin.id().as_str()))
    }

    /// The project's `[requires]`: the plugins it wants, by id and range.
    pub(crate) fn project_requires(
        &self,
    ) -> Result<Vec<(PluginId, semver::VersionReq)>, HostError> {
        let Some(Value::Object(table)) = self.get()?.get("requires") else {
            return Ok(Vec::new());
        };
        table
            .iter()
            .map(|(id, range)| {
                let id = id.parse::<PluginId>().map_err(|e| {
                    HostError::Resolve(format!("`requires.{id}` does not name a plugin: {e}"))
                })?;
                let range = range
                    .as_str()
                    .and_then(|r| semver::VersionReq::parse(r).ok())
                    .ok_or_else(|| {
                        HostError::Resolve(format!("`requires.{id}` is not a version range"))
                    })?;
                Ok((id, range))
            })
            .collect()
    }
}
