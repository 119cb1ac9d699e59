//! The channels part: plugin data, shared values, the event bus with its
//! log, secrets and mailboxes, opened on first use (`state.db` is touched
//! only when something needs it), and lord's own announcements on the
//! bus. Data, shared values, mailboxes and the log live in `state.db`, so
//! every process sees the same ones; the bus and session values are this
//! process's own.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use lord_manifest::PluginId;
use lord_store::InstalledPlugin;

use crate::error::HostError;
use crate::settings::Settings;

/// The host-owned channels between plugins, for this process.
#[derive(Clone, Debug)]
pub struct Channels {
    pub data: lord_state::PluginData,
    pub shared: lord_state::SharedState,
    pub bus: lord_state::EventBus,
    pub secrets: lord_state::Secrets,
    pub mailboxes: lord_state::Mailboxes,
}

/// The channels and the session's global state, each made on first use.
pub(crate) struct LazyChannels {
    home: PathBuf,
    session: lord_state::SessionInfo,
    /// `state.db`, opened on first use (or early: `open_in_background`).
    db: lord_state::StateDb,
    channels: OnceLock<Channels>,
    /// Every plugin's per-minute counts in this process.
    quotas: OnceLock<lord_state::Quotas>,
    /// Pipeline steps refused for a full data folder, not audited yet.
    data_refusals: crate::quota::DataRefusals,
    global: OnceLock<lord_state::GlobalState>,
    /// lord's own topics, parsed.
    topics: Mutex<HashMap<&'static str, lord_manifest::Topic>>,
    /// Where `lord:plugin/sql` takes its sessions: the embedder's pools
    /// (the host links no database driver); `None` until one is given.
    db_connector: Option<std::sync::Arc<dyn lord_db_api::DbConnector>>,
}

impl LazyChannels {
    pub(crate) fn new(home: PathBuf, session: lord_state::SessionInfo) -> Self {
        Self {
            db: lord_state::StateDb::at(&home),
            home,
            session,
            channels: OnceLock::new(),
            quotas: OnceLock::new(),
            data_refusals: crate::quota::DataRefusals::default(),
            global: OnceLock::new(),
            topics: Mutex::new(HashMap::new()),
            db_connector: None,
        }
    }

    pub(crate) fn set_db_connector(
        &mut self,
        connector: std::sync::Arc<dyn lord_db_api::DbConnector>,
    ) {
        self.db_connector = Some(connector);
    }

    pub(crate) fn db_connector(&self) -> Option<&std::sync::Arc<dyn lord_db_api::DbConnector>> {
        self.db_connector.as_ref()
    }

    /// `$LORD_HOME`.
    pub(crate) fn home(&self) -> &std::path::Path {
        &self.home
    }

    pub(crate) fn get(&self, settings: &Settings) -> &Channels {
        self.channels.get_or_init(|| {
            let db = self.db.clone();
            let log = lord_state::EventLog::with_secrets(
                db.clone(),
                retention(settings),
                lord_state::Secrets::new(&self.home),
            );
            // An unreadable configuration has already been reported by the
            // commands that read it; secrets then use the default backend.
            let backend = settings
                .get()
                .ok()
                .and_then(|c| c.get("secrets.backend"))
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_default();
            Channels {
                data: lord_state::PluginData::new(db.clone()),
                shared: lord_state::SharedState::new(db.clone()),
                bus: lord_state::EventBus::with_log(log),
                secrets: lord_state::Secrets::with_backend(&self.home, backend),
                mailboxes: lord_state::Mailboxes::new(db),
            }
        })
    }

    /// The session's global state: its information, telemetry, and the
    /// logger level and theme from the configuration.
    pub(crate) fn global(&self, settings: &Settings) -> &lord_state::GlobalState {
        self.global.get_or_init(|| {
            lord_state::GlobalState::new(
                self.session.clone(),
                settings.text_or("log.level", "warn"),
                settings.text_or("theme", "auto"),
            )
        })
    }

    /// Opens `state.db` on another thread now, for a process that will
    /// use it shortly (every command ends by delivering and logging). The
    /// channels themselves are made at first use as before, so they read
    /// the configuration as it is then (`--set` applied).
    pub(crate) fn open_in_background(&self) {
        self.db.open_in_background();
    }

    /// For a process about to exit: folds a long write-ahead log back in,
    /// as closing the connection would have (see `StateDb::close_for_exit`).
    pub(crate) fn close_for_exit(&self) {
        self.db.close_for_exit();
    }

    /// Writes the events this process queued for the log, if the log was
    /// ever opened, and adds its plugins' per-minute counts to the shared
    /// windows.
    pub(crate) fn flush(&self) -> Result<(), HostError> {
        if let Some(log) = self.channels.get().and_then(|c| c.bus.log()) {
            log.flush()?;
        }
        if let Some(quotas) = self.quotas.get() {
            quotas.flush()?;
        }
        Ok(())
    }

    /// Every plugin's quota refusals this process has not judged yet.
    pub(crate) fn take_throttles(&self) -> Vec<(String, Vec<lord_state::Throttle>)> {
        self.quotas
            .get()
            .map(lord_state::Quotas::take_throttles)
            .unwrap_or_default()
    }

    /// Where pipeline steps refused for a full data folder are noted, to
    /// be audited once the pipeline ended ([`crate::Framework::judge_throttles`]).
    pub(crate) fn data_refusals(&self) -> &crate::quota::DataRefusals {
        &self.data_refusals
    }

    /// `plugin`'s per-minute quotas: its limits from the configuration, its
    /// counts shared by every handle of this process.
    pub(crate) fn quota(&self, settings: &Settings, plugin: &PluginId) -> lord_state::PluginQuota {
        self.quotas
            .get_or_init(|| lord_state::Quotas::new(self.db.clone()))
            .plugin(plugin.as_str(), crate::quota::limits(settings, plugin))
    }

    /// Publishes one of lord's own events (`system` level, persisted). A
    /// failure to record it must not fail the operation it describes, so it
    /// is handed back to show or audit, not raised.
    pub(crate) fn announce(
        &self,
        settings: &Settings,
        topic: &'static str,
        payload: serde_json::Value,
    ) -> Option<HostError> {
        let topic = match self.topic(topic) {
            Ok(topic) => topic,
            Err(e) => return Some(e),
        };
        self.get(settings)
            .bus
            .publish(
                &topic,
                "lord",
                lord_state::Propagation::System,
                payload,
                false,
            )
            .map_err(HostError::from)
            .err()
    }

    /// One of lord's own topics, parsed once per process.
    fn topic(&self, name: &'static str) -> Result<lord_manifest::Topic, HostError> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(topic) = topics.get(name) {
            return Ok(topic.clone());
        }
        let topic = lord_manifest::Topic::concrete(name).map_err(|problem| {
            HostError::State(lord_state::StateError::Invalid {
                what: "topic",
                value: name.to_owned(),
                problem,
            })
        })?;
        topics.insert(name, topic.clone());
        Ok(topic)
    }

    /// A plugin's view of the channels, holding its channel grants and its
    /// configuration table.
    pub(crate) fn scope_for(
        &self,
        settings: &Settings,
        plugin: &InstalledPlugin,
    ) -> Result<lord_state::Scope, HostError> {
        let channels = self.get(settings);
        Ok(lord_state::Scope::new(
            plugin.id(),
            lord_state::ScopeGrants::from_permissions(
                &plugin.granted,
                plugin.manifest.limits.max_data_bytes(),
            ),
            channels.data.clone(),
            channels.shared.clone(),
            channels.bus.clone(),
        )
        .with_secrets(channels.secrets.clone())
        .with_limits(channel_limits(settings))
        .with_config(settings.plugin_table(plugin)?))
    }
}

/// A whole number from lord's configuration, or `default` when it is
/// unset or the configuration is unreadable (reported elsewhere).
fn number(settings: &Settings, key: &str, default: u64) -> u64 {
    settings
        .get()
        .ok()
        .and_then(|c| c.get(key))
        .and_then(|v| v.as_u64())
        .unwrap_or(default)
}

/// Each plugin's share of the event log, and how long lord keeps events.
fn retention(settings: &Settings) -> lord_state::Retention {
    let defaults = lord_state::Retention::default();
    lord_state::Retention {
        max_age: std::time::Duration::from_secs(
            number(settings, "events.retention-days", 7).saturating_mul(24 * 3600),
        ),
        per_plugin: lord_state::LogBudget {
            bytes: number(settings, "events.plugin-budget-kib", 4096).saturating_mul(1024),
            events: number(settings, "events.plugin-budget-events", 10_000),
        },
        ..defaults
    }
}

/// What one plugin may put through the channels at once.
pub(crate) fn channel_limits(settings: &Settings) -> lord_state::ChannelLimits {
    let kib = |key, default| number(settings, key, default).saturating_mul(1024);
    lord_state::ChannelLimits {
        event_payload_bytes: kib("events.max-payload-kib", 64),
        shared_value_bytes: kib("shared.max-value-kib", 64),
        message_bytes: kib("messages.max-payload-kib", 64),
        call_events: retention(settings).per_plugin,
    }
}

impl Drop for LazyChannels {
    /// A framework dropped without `close_for_exit` (an embedder, a test)
    /// still adds its plugins' counts to the shared windows; a window that
    /// cannot be written costs the count, never the caller.
    fn drop(&mut self) {
        if let Some(quotas) = self.quotas.get() {
            let _ = quotas.flush();
        }
    }
}
