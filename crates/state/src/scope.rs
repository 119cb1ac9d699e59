//! One plugin's view of the channels, holding its grants: every access
//! check of this crate is here.

use lord_manifest::{Permission, PluginId, Topic};
use serde_json::Value;

use crate::bus::{EventBus, PublishReport, Subscription};
use crate::data::PluginData;
use crate::error::StateError;
use crate::event::{FieldFilter, Propagation};
use crate::secrets::{SecretValue, Secrets};
use crate::shared::{CasOutcome, SharedState, Versioned};

/// What a plugin was granted on these channels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeGrants {
    pub shared_keys: Vec<String>,
    pub publish: Vec<Topic>,
    pub subscribe: Vec<Topic>,
    /// Names of the secrets the plugin may read.
    pub secrets: Vec<String>,
    /// Plugins it may send messages and requests to.
    pub messages: Vec<PluginId>,
    /// Bytes of data (keys plus values) the plugin may hold.
    pub data_quota: u64,
}

impl ScopeGrants {
    /// The channel grants among a plugin's granted permissions: the one
    /// reading of the families the permission table wires through the
    /// scope (`Wiring::Scope`).
    pub fn from_permissions(granted: &[Permission], data_quota: u64) -> Self {
        let mut grants = ScopeGrants {
            data_quota,
            ..ScopeGrants::default()
        };
        // lord's own namespace is never granted, whatever a stored grant
        // says (install refuses such a request; this holds for older ones).
        for permission in granted.iter().filter(|p| p.reserved_for_lord().is_none()) {
            match permission {
                Permission::StateShared(key) => grants.shared_keys.push(key.clone()),
                Permission::EventsPublish(topic) => grants.publish.push(topic.clone()),
                Permission::EventsSubscribe(topic) => grants.subscribe.push(topic.clone()),
                Permission::Secret(name) => grants.secrets.push(name.clone()),
                Permission::Message(target) => grants.messages.push(target.clone()),
                // Wiring::Wasi (the sandbox's WASI context) and
                // Wiring::Unserved: nothing for the scope to check.
                Permission::FsRead(_)
                | Permission::FsWrite(_)
                | Permission::Net(_)
                | Permission::Env(_)
                | Permission::Exec(_)
                | Permission::Db(_)
                | Permission::Ai(_)
                | Permission::SysMetrics
                | Permission::SysMetricsCommandLines
                | Permission::Tty => {}
            }
        }
        grants
    }
}

/// How much one plugin may put through the channels at once. Set by
/// lord's configuration, the same for every plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLimits {
    /// The largest event payload (JSON text), `events.max-payload-kib`.
    pub event_payload_bytes: u64,
    /// The largest shared value, `shared.max-value-kib`.
    pub shared_value_bytes: u64,
    /// The largest message or request payload, `messages.max-payload-kib`.
    pub message_bytes: u64,
    /// What one call may publish before it ends (its events are held
    /// until then): the plugin's whole budget in the log.
    pub call_events: crate::log::LogBudget,
}

impl Default for ChannelLimits {
    /// 64 KiB per payload and value; a call publishes at most its log
    /// budget.
    fn default() -> Self {
        Self {
            event_payload_bytes: 64 * 1024,
            shared_value_bytes: 64 * 1024,
            message_bytes: 64 * 1024,
            call_events: crate::log::LogBudget::default(),
        }
    }
}

/// An event checked against its publisher's grants and limits, held until
/// the call that published it ends well ([`Scope::commit`]); a call that
/// fails publishes none of its events.
#[derive(Debug)]
pub struct Staged {
    topic: Topic,
    payload: Value,
    propagation: Propagation,
    sensitive: bool,
    bytes: u64,
}

impl Staged {
    /// What the event weighs: its topic and payload text.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// One plugin's handle on its data, the shared values it was granted and
/// the topics it may publish or subscribe to.
#[derive(Debug, Clone)]
pub struct Scope {
    plugin: String,
    grants: ScopeGrants,
    data: PluginData,
    shared: SharedState,
    bus: EventBus,
    secrets: Option<Secrets>,
    /// The plugin's own configuration table (`[plugins.<id>]`).
    config: Value,
    limits: ChannelLimits,
}

impl Scope {
    pub fn new(
        plugin: &PluginId,
        grants: ScopeGrants,
        data: PluginData,
        shared: SharedState,
        bus: EventBus,
    ) -> Self {
        Self {
            plugin: plugin.to_string(),
            grants,
            data,
            shared,
            bus,
            secrets: None,
            config: Value::Object(serde_json::Map::new()),
            limits: ChannelLimits::default(),
        }
    }

    /// Bounds what the plugin puts through the channels.
    pub fn with_limits(mut self, limits: ChannelLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    /// The plugin's configuration, already checked against its schema.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// A value of the plugin's own configuration, by dotted key relative
    /// to its table (`""` for all of it). No plugin can name another's.
    pub fn config(&self, key: &str) -> Option<&Value> {
        if key.is_empty() {
            return Some(&self.config);
        }
        key.split('.')
            .try_fold(&self.config, |node, part| node.as_object()?.get(part))
    }

    /// Lets the plugin read the secrets it was granted from `secrets`.
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Reads a secret: `secret(NAME)` must have been granted.
    pub fn secret(&self, name: &str) -> Result<SecretValue, StateError> {
        if !self.grants.secrets.iter().any(|n| n == name) {
            return Err(StateError::NotGranted {
                plugin: self.plugin.clone(),
                access: format!("the secret `{}`", printable(name)),
                permission: format!("secret({})", printable(name)),
            });
        }
        let secrets = self
            .secrets
            .as_ref()
            .ok_or_else(|| StateError::SecretMissing(name.to_owned()))?;
        secrets
            .get(name)?
            .ok_or_else(|| StateError::SecretMissing(name.to_owned()))
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    // The plugin's own data: no permission, its namespace only.

    pub fn data_get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.data.get(&self.plugin, key)
    }

    /// Within the plugin's quota, together with its shared values.
    pub fn data_set(&self, key: &str, value: Vec<u8>, persistent: bool) -> Result<(), StateError> {
        self.data
            .set(&self.plugin, key, value, persistent, self.grants.data_quota)
    }

    /// A persistent value with its version (0 never appears: absent is
    /// `None`).
    pub fn data_get_versioned(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        self.data.get_versioned(&self.plugin, key)
    }

    /// Writes `value` persistently only if `key` is still at `expected`
    /// (0: absent), whichever process wrote it last; within the quota.
    pub fn data_compare_and_swap(
        &self,
        key: &str,
        expected: u64,
        value: Vec<u8>,
    ) -> Result<CasOutcome, StateError> {
        self.data
            .compare_and_swap(&self.plugin, key, expected, &value, self.grants.data_quota)
    }

    pub fn data_delete(&self, key: &str) -> Result<bool, StateError> {
        self.data.delete(&self.plugin, key)
    }

    pub fn data_keys(&self) -> Result<Vec<String>, StateError> {
        self.data.keys(&self.plugin)
    }

    // Shared values: `state-shared(KEY)` per key.

    fn shared_key(&self, key: &str) -> Result<(), StateError> {
        if !lord_manifest::is_lords(key) && self.grants.shared_keys.iter().any(|k| k == key) {
            return Ok(());
        }
        Err(StateError::NotGranted {
            plugin: self.plugin.clone(),
            access: format!("the shared key `{}`", printable(key)),
            permission: format!("state-shared({})", printable(key)),
        })
    }

    pub fn shared_get(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        self.shared_key(key)?;
        self.shared.get(key)
    }

    /// The room a shared value of the plugin's may take in the database:
    /// within the size limit, and with its session data, within its data
    /// quota. The database checks the rest (its persistent data and its
    /// other shared values) inside the write's own transaction.
    fn shared_room(&self, key: &str, value: &[u8]) -> Result<u64, StateError> {
        let size = value.len() as u64;
        if size > self.limits.shared_value_bytes {
            return Err(StateError::TooLarge {
                what: "shared value",
                size,
                limit: self.limits.shared_value_bytes,
                setting: "shared.max-value-kib",
            });
        }
        let session = self.data.session_bytes(&self.plugin);
        self.grants
            .data_quota
            .checked_sub(session)
            .ok_or_else(|| StateError::QuotaExceeded {
                plugin: self.plugin.clone(),
                needed: session + key.len() as u64 + size,
                quota: self.grants.data_quota,
            })
    }

    /// A write of a shared value: checked, then one transaction; a quota
    /// refusal restated against the whole quota.
    fn shared_write(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<u64>,
    ) -> Result<CasOutcome, StateError> {
        self.shared_key(key)?;
        let room = self.shared_room(key, &value)?;
        self.shared
            .write_by(&self.plugin, key, value, expected, Some(room))
            .map_err(|e| {
                e.against_whole_quota(self.grants.data_quota, |plugin| {
                    self.data.session_bytes(plugin)
                })
            })
    }

    pub fn shared_set(&self, key: &str, value: Vec<u8>) -> Result<u64, StateError> {
        match self.shared_write(key, value, None)? {
            CasOutcome::Swapped(version) => Ok(version),
            // Expecting no version, a write cannot conflict.
            CasOutcome::Conflict(_) => Err(StateError::Corrupt(format!(
                "an unconditional write of `{}` conflicted",
                printable(key)
            ))),
        }
    }

    pub fn shared_compare_and_swap(
        &self,
        key: &str,
        expected: u64,
        value: Vec<u8>,
    ) -> Result<CasOutcome, StateError> {
        self.shared_write(key, value, Some(expected))
    }

    // Events: `events-publish(TOPIC)` and `events-subscribe(PATTERN)`.

    /// Publishes now: for the host's own callers, which have no call to
    /// wait for. A guest's events go through [`Scope::stage`].
    pub fn publish(
        &self,
        topic: &str,
        payload: Value,
        propagation: Propagation,
        sensitive: bool,
    ) -> Result<PublishReport, StateError> {
        let parsed = self.may_publish(topic, propagation)?;
        self.bus
            .publish(&parsed, &self.plugin, propagation, payload, sensitive)
    }

    /// Checks an event a guest publishes (grant, lord's topics, payload
    /// size and syntax) and holds it for [`Scope::commit`].
    pub fn stage(
        &self,
        topic: &str,
        payload: &str,
        propagation: Propagation,
        sensitive: bool,
    ) -> Result<Staged, StateError> {
        let size = payload.len() as u64;
        if size > self.limits.event_payload_bytes {
            return Err(StateError::TooLarge {
                what: "event payload",
                size,
                limit: self.limits.event_payload_bytes,
                setting: "events.max-payload-kib",
            });
        }
        let parsed = self.may_publish(topic, propagation)?;
        let value = serde_json::from_str(payload).map_err(|e| StateError::Invalid {
            what: "event payload",
            // A sensitive payload is sealed at rest; its text must not
            // reach an error a plugin may print or the host may audit.
            value: if sensitive {
                format!("({size} bytes of a sensitive event, not shown)")
            } else {
                printable(payload)
            },
            problem: format!("it is not JSON: {e}"),
        })?;
        Ok(Staged {
            bytes: (topic.len() as u64) + size,
            topic: parsed,
            payload: value,
            propagation,
            sensitive,
        })
    }

    /// Publishes an event [`Scope::stage`] checked, once its call ended
    /// well.
    pub fn commit(&self, staged: Staged) -> Result<PublishReport, StateError> {
        self.bus.publish(
            &staged.topic,
            &self.plugin,
            staged.propagation,
            staged.payload,
            staged.sensitive,
        )
    }

    /// The topic parsed, if the plugin may publish on it at that level.
    fn may_publish(&self, topic: &str, propagation: Propagation) -> Result<Topic, StateError> {
        let parsed = Topic::concrete(topic).map_err(|problem| StateError::Invalid {
            what: "topic",
            value: printable(topic),
            problem,
        })?;
        match propagation {
            Propagation::Local | Propagation::Global => {}
            Propagation::System => {
                return Err(StateError::NotGranted {
                    plugin: self.plugin.clone(),
                    access: "publishing at the `system` level (lord's own events)".to_owned(),
                    permission: "nothing: use `local` or `global`".to_owned(),
                });
            }
        }
        // A stored grant on lord's topics (from before install refused
        // them) reaches nothing: only lord speaks there, so a subscriber
        // can trust what it hears on them.
        if lord_manifest::is_lords(topic) {
            return Err(StateError::NotGranted {
                plugin: self.plugin.clone(),
                access: format!("publishing on `{topic}`"),
                permission: "nothing: topics under `lord.` are lord's own".to_owned(),
            });
        }
        if !self.grants.publish.iter().any(|t| t.matches(topic)) {
            return Err(StateError::NotGranted {
                plugin: self.plugin.clone(),
                access: format!("publishing on `{topic}`"),
                permission: format!("events-publish({topic})"),
            });
        }
        Ok(parsed)
    }

    /// Subscribes to `pattern`, which must be one the plugin was granted
    /// (or a concrete topic a granted pattern covers).
    pub fn subscribe(
        &self,
        pattern: &str,
        filter: Option<FieldFilter>,
        capacity: usize,
    ) -> Result<Subscription, StateError> {
        let parsed = Topic::pattern(pattern).map_err(|problem| StateError::Invalid {
            what: "topic pattern",
            value: printable(pattern),
            problem,
        })?;
        let granted = self
            .grants
            .subscribe
            .iter()
            .any(|g| g.as_str() == pattern || (!parsed.is_pattern() && g.matches(pattern)));
        if !granted {
            return Err(StateError::NotGranted {
                plugin: self.plugin.clone(),
                access: format!("subscribing to `{}`", printable(pattern)),
                permission: format!("events-subscribe({})", printable(pattern)),
            });
        }
        Ok(self.bus.subscribe(&self.plugin, &parsed, filter, capacity))
    }
}

/// A guest-supplied name, cut short and without control characters, fit
/// to put in an error message.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}
