//! Events: what the bus carries and what the log keeps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How far an event travels (the seed's propagation levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Propagation {
    /// Subscribers in this process only; never written down.
    Local,
    /// Every subscriber, and the persisted log for later replay.
    Global,
    /// Published by lord itself (lifecycle, commands); persisted. Plugins
    /// cannot publish at this level.
    System,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Local => "local",
            Propagation::Global => "global",
            Propagation::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "local" => Some(Propagation::Local),
            "global" => Some(Propagation::Global),
            "system" => Some(Propagation::System),
            _ => None,
        }
    }

    /// Whether events at this level go to the persisted log.
    pub fn persisted(self) -> bool {
        match self {
            Propagation::Local => false,
            Propagation::Global | Propagation::System => true,
        }
    }
}

/// One event. `seq` is its sequence number in the log, on events read back
/// from it (0 on live delivery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub topic: String,
    /// The publishing plugin's id, or `lord` for the host.
    pub source: String,
    pub propagation: Propagation,
    /// Milliseconds since the Unix epoch, when published.
    pub at_ms: i64,
    pub payload: Value,
    /// Sensitive events are delivered to granted subscribers and stored
    /// only sealed with the secret store's key (never, without one).
    pub sensitive: bool,
}

/// Delivers only events whose payload has `value` at the JSON pointer
/// `pointer` (e.g. `/status` equal to `"failed"`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub pointer: String,
    pub value: Value,
}

impl FieldFilter {
    pub fn new(pointer: impl Into<String>, value: Value) -> Self {
        Self {
            pointer: pointer.into(),
            value,
        }
    }

    pub fn accepts(&self, event: &Event) -> bool {
        event.payload.pointer(&self.pointer) == Some(&self.value)
    }
}
