//! First-party providers: native plugins compiled into the host. A
//! provider registers through one trait, [`Provider`]: its id, version and
//! description, the CLI commands it adds, the host interfaces it serves to
//! sandboxed plugins, its native micro-plugins and its configuration
//! schema. `lord plugin list` shows providers (kind `native`) beside WASM
//! plugins, and a provider can be disabled like any plugin: its commands
//! leave the CLI, its micro-plugins leave pipelines, and its host
//! interfaces leave the linker, so a plugin importing one is refused with
//! the reason.
//!
//! Built in: [`secrets`] (the `lord secret` commands and the
//! `lord:plugin/secrets` interface), [`text`] (the `json.parse` and
//! `lines` micro-plugins), [`monitor`] (the `lord monitor` commands) and
//! [`ai`] (the `lord ai` commands, the `lord:plugin/ai` interface, and one
//! provider per AI service) and [`db`] (the `lord db` commands, the
//! `lord:plugin/sql` interface, and one provider per SQL engine).
//!
//! Invariant: a provider's id is reserved: no plugin can be installed
//! under it.

pub mod ai;
pub(crate) mod ai_link;
pub mod db;
pub(crate) mod db_link;
pub mod monitor;
pub mod secrets;
pub mod text;

use std::sync::Arc;

use lord_manifest::{PluginId, Version};
use lord_micro::MicroPlugin;
use lord_store::{PluginState, Store};

use crate::error::HostError;
use crate::loader::Loader;

/// A command a provider adds to the CLI. The CLI that ships the provider
/// implements it; the framework lists it only while the provider is
/// enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderCommand {
    pub name: &'static str,
    pub about: &'static str,
}

/// A native plugin compiled into the host.
pub trait Provider: Send + Sync {
    /// Its id: shown in `lord plugin list`, used to enable and disable it,
    /// and reserved against plugins.
    fn id(&self) -> PluginId;
    fn version(&self) -> Version;
    fn description(&self) -> &'static str;
    /// Commands it adds to the CLI.
    fn commands(&self) -> Vec<ProviderCommand> {
        Vec::new()
    }
    /// WIT interfaces (`lord:plugin/secrets`) it serves to sandboxed
    /// plugins; left out of the linker while it is disabled.
    fn interfaces(&self) -> &'static [&'static str] {
        &[]
    }
    /// Native micro-plugins it adds to pipelines (isolation `none`).
    fn micro(&self) -> Vec<MicroPlugin> {
        Vec::new()
    }
    /// The JSON Schema of the configuration it reads.
    fn config_schema(&self) -> Option<serde_json::Value> {
        None
    }
}

/// One provider as `lord plugin list` and `info` show it.
#[derive(Debug, Clone)]
pub struct NativePlugin {
    pub id: PluginId,
    pub version: Version,
    pub description: String,
    pub state: PluginState,
    pub reason: Option<String>,
    pub commands: Vec<ProviderCommand>,
    pub interfaces: Vec<String>,
    /// Its micro-plugins' ids.
    pub micro: Vec<String>,
    pub config_schema: Option<serde_json::Value>,
}

/// The providers this framework runs with, and whether each is enabled.
pub(crate) struct Providers {
    all: Vec<Arc<dyn Provider>>,
}

impl Providers {
    /// The providers built into lord-host.
    pub(crate) fn built_in() -> Self {
        Self {
            all: vec![
                Arc::new(secrets::Secrets),
                Arc::new(text::Text),
                Arc::new(monitor::Monitor),
                Arc::new(ai::Ai),
                Arc::new(ai::Service(lord_ai::Kind::OpenAi)),
                Arc::new(ai::Service(lord_ai::Kind::Anthropic)),
                Arc::new(ai::Service(lord_ai::Kind::Ollama)),
                Arc::new(ai::Service(lord_ai::Kind::HuggingFace)),
                Arc::new(ai::Service(lord_ai::Kind::Gemini)),
                Arc::new(db::Db),
                Arc::new(db::EngineProvider(lord_db_api::Engine::Sqlite)),
                Arc::new(db::EngineProvider(lord_db_api::Engine::Postgres)),
                Arc::new(db::EngineProvider(lord_db_api::Engine::Mysql)),
                Arc::new(db::EngineProvider(lord_db_api::Engine::Redis)),
                Arc::new(db::EngineProvider(lord_db_api::Engine::MongoDb)),
                Arc::new(db::EngineProvider(lord_db_api::Engine::Cassandra)),
            ],
        }
    }

    /// Adds an embedder's provider. A provider of the same id replaces it.
    pub(crate) fn add(&mut self, provider: Arc<dyn Provider>) {
        let id = provider.id();
        self.all.retain(|p| p.id() != id);
        self.all.push(provider);
    }

    pub(crate) fn find(&self, id: &PluginId) -> Option<&Arc<dyn Provider>> {
        self.all.iter().find(|p| p.id() == *id)
    }

    /// The enabled providers.
    pub(crate) fn enabled(&self, store: &Store) -> Result<Vec<&Arc<dyn Provider>>, HostError> {
        let states = store.provider_states()?;
        Ok(self
            .all
            .iter()
            .filter(|provider| state_in(&states, &provider.id()).0 == PluginState::Enabled)
            .collect())
    }

    /// Every provider with its state.
    pub(crate) fn list(&self, store: &Store) -> Result<Vec<NativePlugin>, HostError> {
        let states = store.provider_states()?;
        self.all
            .iter()
            .map(|provider| {
                let id = provider.id();
                let (state, reason) = state_in(&states, &id);
                Ok(NativePlugin {
                    version: provider.version(),
                    description: provider.description().to_owned(),
                    state,
                    reason,
                    commands: provider.commands(),
                    interfaces: provider
                        .interfaces()
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                    micro: provider.micro().iter().map(|m| m.id.to_string()).collect(),
                    config_schema: provider.config_schema(),
                    id,
                })
            })
            .collect()
    }

    /// Leaves the interfaces of disabled providers out of the engine.
    pub(crate) fn withhold_disabled(
        &self,
        store: &Store,
        loader: &Loader,
    ) -> Result<(), HostError> {
        let states = store.provider_states()?;
        for provider in &self.all {
            let id = provider.id();
            if state_in(&states, &id).0 == PluginState::Enabled {
                continue;
            }
            loader.note_disabled(&id);
            for interface in provider.interfaces() {
                loader.withhold(
                    interface,
                    format!(
                        "it is served by the provider `{id}`, which is disabled; enable it with \
                         `lord plugin enable {id}`"
                    ),
                );
            }
        }
        Ok(())
    }

    /// The provider whose built-in micro-plugin has the id `micro`, if one
    /// has (so no plugin may declare it: both in one manager would fail
    /// every pipeline).
    pub(crate) fn micro_owner(&self, micro: &lord_manifest::MicroId) -> Option<PluginId> {
        self.all
            .iter()
            .find(|p| p.micro().iter().any(|m| &m.id == micro))
            .map(|p| p.id())
    }

    /// Whether `id` names a provider (so no plugin may take it).
    pub(crate) fn reserves(&self, id: &PluginId) -> bool {
        self.find(id).is_some()
    }
}

/// A provider's state and its reason in `states` (read in one query); one
/// without a row is enabled.
fn state_in(
    states: &std::collections::HashMap<String, lord_store::ProviderState>,
    id: &PluginId,
) -> (PluginState, Option<String>) {
    states
        .get(id.as_str())
        .map_or((PluginState::Enabled, None), |recorded| {
            (recorded.state, recorded.reason.clone())
        })
}
