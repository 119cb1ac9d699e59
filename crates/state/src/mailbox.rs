//! Queued messages between plugins: one bounded mailbox per receiver,
//! delivered highest priority first (then oldest first). A full mailbox
//! never blocks a sender: a message of higher priority than the lowest
//! queued one displaces it, anything else is refused; both count as drops.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Messages a receiver may have waiting.
pub const MAILBOX_CAPACITY: usize = 256;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: String,
    pub to: String,
    pub payload: String,
    /// 0 (lowest) to 255 (highest).
    pub priority: u8,
}

/// What posting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Queued,
    /// Queued, and a lower-priority message was dropped to make room.
    Displaced,
    /// The mailbox is full of messages at least as urgent: dropped.
    Refused,
}

/// A receiver's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxStats {
    pub queued: usize,
    pub dropped: u64,
}

#[derive(Default)]
struct Mailbox {
    /// Keyed by (255 - priority, arrival): iteration order is delivery order.
    queue: BTreeMap<(u8, u64), Message>,
    dropped: u64,
}

/// Every receiver's mailbox in this process. Cheap to clone.
#[derive(Clone)]
pub struct Mailboxes {
    inner: Arc<Mutex<(u64, HashMap<String, Mailbox>)>>,
    capacity: usize,
}

impl std::fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailboxes")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for Mailboxes {
    fn default() -> Self {
        Self::with_capacity(MAILBOX_CAPACITY)
    }
}

impl Mailboxes {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Queues `message` for its receiver without ever waiting.
    pub fn post(&self, message: Message) -> Posted {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (seq, boxes) = &mut *inner;
        *seq += 1;
        let key = (u8::MAX - message.priority, *seq);
        let mailbox = boxes.entry(message.to.clone()).or_default();
        if mailbox.queue.len() < self.capacity {
            mailbox.queue.insert(key, message);
            return Posted::Queued;
        }
        // The least urgent queued message is the last in delivery order.
        let displace = mailbox
            .queue
            .last_key_value()
            .is_some_and(|(last, _)| last.0 > key.0);
        mailbox.dropped += 1;
        if displace {
            mailbox.queue.pop_last();
            mailbox.queue.insert(key, message);
            Posted::Displaced
        } else {
            Posted::Refused
        }
    }

    /// Takes a receiver's messages, in delivery order.
    pub fn take(&self, to: &str) -> Vec<Message> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .1
            .get_mut(to)
            .map(|m| std::mem::take(&mut m.queue).into_values().collect())
            .unwrap_or_default()
    }

    /// Receivers with messages waiting.
    pub fn receivers(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = inner
            .1
            .iter()
            .filter(|(_, m)| !m.queue.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    pub fn stats(&self, to: &str) -> MailboxStats {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .1
            .get(to)
            .map(|m| MailboxStats {
                queued: m.queue.len(),
                dropped: m.dropped,
            })
            .unwrap_or_default()
    }
}
