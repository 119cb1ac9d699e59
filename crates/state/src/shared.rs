//! Named values shared between plugins, each with a version that every
//! write moves on, so compare-and-swap never loses an update. Each value
//! remembers who wrote it last: it counts against that plugin's quota.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A value and the version it was written at (versions start at 1; a key
/// never written is at version 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    pub version: u64,
}

/// What a compare-and-swap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasOutcome {
    /// Written; the new version.
    Swapped(u64),
    /// Someone wrote first: the current value (`None` if the key is gone),
    /// to retry against.
    Conflict(Option<Versioned>),
}

struct Slot {
    current: Option<Versioned>,
    /// Watchers see every write; made when the first one subscribes.
    watch: Option<watch::Sender<Option<Versioned>>>,
    /// The last version handed out, kept after a delete so a version is
    /// never reused.
    last_version: u64,
    /// Who wrote the current value (a plugin id, or empty for the host).
    writer: String,
}

impl Slot {
    fn empty() -> Self {
        Slot {
            current: None,
            watch: None,
            last_version: 0,
            writer: String::new(),
        }
    }
}

/// The shared values of one session. Cheap to clone: clones share values.
#[derive(Clone, Default)]
pub struct SharedState {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState").finish_non_exhaustive()
    }
}

impl SharedState {
    pub fn new() -> Self {
        Self::default()
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<Versioned> {
        self.slots().get(key).and_then(|s| s.current.clone())
    }

    /// Writes unconditionally; returns the new version.
    pub fn set(&self, key: &str, value: Vec<u8>) -> u64 {
        self.set_by("", key, value)
    }

    /// Writes as plugin `writer`, whose quota the value then counts
    /// against.
    pub(crate) fn set_by(&self, writer: &str, key: &str, value: Vec<u8>) -> u64 {
        let mut slots = self.slots();
        let slot = slots.entry(key.to_owned()).or_insert_with(Slot::empty);
        writer.clone_into(&mut slot.writer);
        write(slot, Some(value))
    }

    /// Bytes (keys plus values) of the values `writer` wrote last, except
    /// the one at `except`.
    pub(crate) fn held_by(&self, writer: &str, except: &str) -> u64 {
        self.slots()
            .iter()
            .filter(|(key, slot)| slot.writer == writer && key.as_str() != except)
            .filter_map(|(key, slot)| slot.current.as_ref().map(|v| key.len() + v.value.len()))
            .sum::<usize>() as u64
    }

    /// Writes only if the key is still at `expected` (0: never written or
    /// deleted).
    pub fn compare_and_swap(&self, key: &str, expected: u64, value: Vec<u8>) -> CasOutcome {
        self.compare_and_swap_by("", key, expected, value)
    }

    /// Compare-and-swap as plugin `writer`.
    pub(crate) fn compare_and_swap_by(
        &self,
        writer: &str,
        key: &str,
        expected: u64,
        value: Vec<u8>,
    ) -> CasOutcome {
        let mut slots = self.slots();
        let slot = slots.entry(key.to_owned()).or_insert_with(Slot::empty);
        let at = slot.current.as_ref().map_or(0, |v| v.version);
        if at != expected {
            return CasOutcome::Conflict(slot.current.clone());
        }
        writer.clone_into(&mut slot.writer);
        CasOutcome::Swapped(write(slot, Some(value)))
    }

    /// Removes a key; watchers see `None`.
    pub fn delete(&self, key: &str) -> bool {
        let mut slots = self.slots();
        match slots.get_mut(key) {
            Some(slot) if slot.current.is_some() => {
                write(slot, None);
                true
            }
            Some(_) | None => false,
        }
    }

    /// Watches a key: the receiver holds the latest value and wakes on every
    /// write. Dropping it unsubscribes.
    pub fn subscribe(&self, key: &str) -> watch::Receiver<Option<Versioned>> {
        let mut slots = self.slots();
        let slot = slots.entry(key.to_owned()).or_insert_with(Slot::empty);
        match &slot.watch {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(slot.current.clone());
                slot.watch = Some(sender);
                receiver
            }
        }
    }
}

fn write(slot: &mut Slot, value: Option<Vec<u8>>) -> u64 {
    slot.last_version += 1;
    let version = slot.last_version;
    slot.current = value.map(|value| Versioned { value, version });
    if let Some(sender) = &slot.watch {
        // No receivers left is fine: the value is kept for the next one.
        sender.send_replace(slot.current.clone());
    }
    version
}
