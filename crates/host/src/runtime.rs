//! What running plugin code needs, borrowed from the framework's parts for
//! one operation: the settings, the channels and the loader. It makes
//! instances with the right grants and links, and publishes lord's own
//! events about them.

use std::collections::HashMap;
use std::sync::Arc;

use lord_manifest::PluginId;
use lord_sandbox::{Limits, Links, Messaging, PluginInstance};
use lord_store::{InstalledPlugin, PluginState, Store};

use crate::channels::{Channels, LazyChannels};
use crate::error::HostError;
use crate::loader::Loader;
use crate::messenger::{MessageTarget, Messenger, Route};
use crate::settings::Settings;

/// The configuration key of the micro-plugin routes.
pub const MICRO_ROUTES: &str = "micro.routes";

/// Whether `plugin` holds any `message(ID)` grant.
fn messages_others(plugin: &InstalledPlugin) -> bool {
    plugin
        .granted
        .iter()
        .any(|p| p.family() == lord_manifest::PermissionFamily::Message)
}

/// The parts running code reads, for the length of one operation.
#[derive(Clone, Copy)]
pub(crate) struct Runtime<'a> {
    settings: &'a Settings,
    channels: &'a LazyChannels,
    loader: &'a Loader,
}

impl<'a> Runtime<'a> {
    pub(crate) fn new(
        settings: &'a Settings,
        channels: &'a LazyChannels,
        loader: &'a Loader,
    ) -> Self {
        Self {
            settings,
            channels,
            loader,
        }
    }

    pub(crate) fn loader(&self) -> &'a Loader {
        self.loader
    }

    /// The policies in force.
    pub(crate) fn governance(&self) -> &'a crate::governance::Governance {
        self.settings.governance()
    }

    /// What the result-cache keys of `plugin`'s answers start from, as it
    /// is installed, granted and configured now, and as its grants resolve
    /// in this process.
    pub(crate) fn result_base(
        &self,
        plugin: &InstalledPlugin,
    ) -> Result<crate::results::ResultBase, HostError> {
        let config = self.settings.plugin_table(plugin)?;
        let context = self.loader.resolved_context(plugin);
        Ok(crate::results::ResultBase::new(plugin, &config, &context))
    }

    pub(crate) fn channels(&self) -> &'a Channels {
        self.channels.get(self.settings)
    }

    /// The routes `[[micro.routes]]` configures (A/B splits and gradual
    /// rollouts between micro handlers), each checked.
    pub(crate) fn micro_routes(&self) -> Result<Vec<lord_manifest::RouteSpec>, HostError> {
        match self.settings.get()?.get(MICRO_ROUTES) {
            Some(value) => lord_micro::parse_routes(MICRO_ROUTES, &value)
                .map_err(|e| HostError::ConfigUnusable(e.to_string())),
            None => Ok(Vec::new()),
        }
    }

    /// Whether the user shares use with the registry
    /// (`registry.share-usage`); off when unset or unreadable.
    pub(crate) fn shares_usage(&self) -> bool {
        self.settings
            .get()
            .ok()
            .and_then(|c| c.get("registry.share-usage"))
            .and_then(|v| v.as_bool())
            == Some(true)
    }

    /// `plugin`'s per-minute quotas, as its instances are charged.
    pub(crate) fn quota(&self, plugin: &PluginId) -> lord_state::PluginQuota {
        self.channels.quota(self.settings, plugin)
    }

    /// Every plugin's quota refusals this process has not judged yet.
    pub(crate) fn take_throttles(&self) -> Vec<(String, Vec<lord_state::Throttle>)> {
        self.channels.take_throttles()
    }

    /// Pipeline steps refused for a full data folder, not audited yet.
    pub(crate) fn data_refusals(&self) -> &'a crate::quota::DataRefusals {
        self.channels.data_refusals()
    }

    /// When refusals disable a plugin.
    pub(crate) fn strikes(&self) -> crate::quota::Strikes {
        crate::quota::strikes(self.settings)
    }

    /// `plugin`'s `$PLUGIN_DATA` folder and its quota, when its grants
    /// name the folder. The limit is read only then: most plugins have
    /// none, and reading it is two configuration lookups.
    pub(crate) fn data_folder(&self, plugin: &InstalledPlugin) -> Option<crate::quota::DataFolder> {
        self.loader
            .data_dir(plugin)
            .map(|dir| crate::quota::DataFolder {
                plugin: plugin.id().clone(),
                dir,
                limit: crate::quota::data_bytes(self.settings, plugin.id()),
            })
    }

    pub(crate) fn global(&self) -> &'a lord_state::GlobalState {
        self.channels.global(self.settings)
    }

    /// Publishes a lifecycle event about `id`; if it cannot be recorded,
    /// the audit log says so.
    pub(crate) fn announce(
        &self,
        store: &mut Store,
        id: &PluginId,
        topic: &'static str,
        mut payload: serde_json::Value,
    ) {
        if let Some(map) = payload.as_object_mut() {
            map.insert("plugin".to_owned(), serde_json::Value::from(id.as_str()));
        }
        if let Some(e) = self.channels.announce(self.settings, topic, payload) {
            let _ = store.audit(id, "event not recorded", &e.to_string());
        }
    }

    /// A fresh instance of `plugin` with its grants and links.
    pub(crate) async fn instantiate(
        &self,
        store: &Store,
        plugin: &InstalledPlugin,
    ) -> Result<PluginInstance, HostError> {
        let compiled = self.loader.prepare(plugin)?;
        // A messenger resolves its targets (installed? enabled?) when it is
        // made, so a plugin that may message others gets a fresh one per
        // instance; everything else is made once per process.
        let (grants, links) = if messages_others(plugin) {
            (self.loader.grants(plugin)?, self.links(store, plugin)?)
        } else {
            self.loader.wiring(plugin, || {
                Ok((self.loader.grants(plugin)?, self.own_links(plugin)?))
            })?
        };
        let limits = Limits::from_manifest(&plugin.manifest.limits);
        Ok(compiled.instantiate(&grants, limits, &links).await?)
    }

    /// Everything `plugin`'s host interfaces reach: its channel scope and,
    /// for its `message(ID)` grants, a messenger.
    pub(crate) fn links(
        &self,
        store: &Store,
        plugin: &InstalledPlugin,
    ) -> Result<Links, HostError> {
        let links = self.own_links(plugin)?;
        // The channel grants come from the one exhaustive reading of
        // permissions, `ScopeGrants::from_permissions`.
        let targets: HashMap<_, _> = lord_state::ScopeGrants::from_permissions(&plugin.granted, 0)
            .messages
            .iter()
            .map(|target| (target.to_string(), self.message_target(store, target)))
            .collect();
        if targets.is_empty() {
            return Ok(links);
        }
        let messenger: Arc<dyn Messaging> = Arc::new(Messenger::new(
            plugin.id().as_str(),
            targets,
            self.channels().mailboxes.clone(),
        ));
        Ok(links.with(messenger))
    }

    /// The links of a plugin that may not send messages: its scope and,
    /// with a `sys-metrics` grant, the process's sampler of the machine;
    /// with `ai(NAME)` grants, a service reaching those profiles only; with
    /// `db(NAME)` grants, likewise for those database profiles.
    pub(crate) fn own_links(&self, plugin: &InstalledPlugin) -> Result<Links, HostError> {
        let scope = self.channels.scope_for(self.settings, plugin)?;
        let mut links = Links::default()
            .with(scope)
            .with(self.loader.recorder().clone())
            .with(self.quota(plugin.id()));
        let reads_metrics = plugin
            .granted
            .iter()
            .any(|p| p.family() == lord_manifest::PermissionFamily::SysMetrics);
        if reads_metrics {
            links = links.with(crate::provider::monitor::sampler());
        }
        let profiles: Vec<String> = plugin
            .granted
            .iter()
            .filter_map(|p| {
                if let lord_manifest::Permission::Ai(name) = p {
                    Some(name.clone())
                } else {
                    None
                }
            })
            .collect();
        if !profiles.is_empty()
            && let Some(service) = crate::provider::ai_link::PluginAi::service(
                self.settings.get()?,
                &self.channels().secrets,
                &profiles,
                |kind| !self.loader.is_disabled(kind.as_str()),
                self.channels.home().to_owned(),
            )
        {
            links = links.with(service);
        }
        let databases: Vec<String> = plugin
            .granted
            .iter()
            .filter_map(|p| {
                if let lord_manifest::Permission::Db(name) = p {
                    Some(name.clone())
                } else {
                    None
                }
            })
            .collect();
        if !databases.is_empty()
            && let Some(connector) = self.channels.db_connector()
        {
            let service = crate::provider::db_link::PluginDb::service(
                self.settings,
                &self.channels().secrets,
                &databases,
                |engine| !self.loader.is_disabled(engine.as_str()),
                std::sync::Arc::clone(connector),
            );
            links = links.with(service);
        }
        Ok(links)
    }

    /// How a granted target may be reached: queued messages need it
    /// installed and accepting them; requests, enabled too.
    fn message_target(&self, store: &Store, id: &PluginId) -> Route {
        let target = match store.get(id) {
            Ok(Some(target)) => target,
            Ok(None) => return unreachable_route(format!("plugin `{id}` is not installed")),
            Err(e) => return unreachable_route(e.to_string()),
        };
        if !target.manifest.accepts_messages {
            return unreachable_route(format!(
                "plugin `{id}` does not accept messages (its manifest has no `[messages] accept = true`)"
            ));
        }
        let state = target.state;
        let request = match state {
            PluginState::Enabled => self.request_target(target),
            // A message waits in its mailbox until the receiver is enabled
            // and some command delivers it; a request cannot wait.
            PluginState::Installed | PluginState::Disabled | PluginState::Failed => Err(format!(
                "plugin `{id}` is {state}; enable it with `lord plugin enable {id}`"
            )),
        };
        Route {
            queue: Ok(()),
            request,
        }
    }

    /// An enabled plugin that accepts messages, ready to run requests.
    fn request_target(&self, target: InstalledPlugin) -> Result<MessageTarget, String> {
        // The target runs with its own grants and no messenger: a handler
        // cannot send requests, so requests never chain.
        let grants = self.loader.grants(&target).map_err(|e| e.to_string())?;
        let links = self.own_links(&target).map_err(|e| e.to_string())?;
        let limits = Limits::from_manifest(&target.manifest.limits);
        let data = self.data_folder(&target);
        let policy = self
            .governance()
            .step_policy(&target)
            .map_err(|e| e.to_string())?;
        let sandbox = self.loader.lazy_sandbox();
        Ok(MessageTarget::new(
            move || {
                sandbox
                    .get()
                    .and_then(|s| {
                        s.prepare(
                            target.id(),
                            &target.component,
                            &target.wasm_sha256,
                            &target.granted,
                        )
                        .map_err(HostError::from)
                    })
                    .map_err(|e| e.to_string())
            },
            grants,
            links,
            limits,
            data,
            policy,
        ))
    }
}

/// A target neither messages nor requests can reach, and why.
fn unreachable_route(reason: String) -> Route {
    Route {
        queue: Err(reason.clone()),
        request: Err(reason),
    }
}
