//! The event bus: topics, patterns, filters, bounded queues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use lord_manifest::Topic;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::StateError;
use crate::event::{Event, FieldFilter, Propagation};
use crate::log::EventLog;

/// Queue length a subscriber gets unless it asks for another.
pub const DEFAULT_QUEUE: usize = 1024;

/// One subscriber, as the bus sees it.
struct Slot {
    id: u64,
    owner: String,
    pattern: Vec<String>,
    filter: Option<FieldFilter>,
    tx: mpsc::Sender<Arc<Event>>,
    delivered: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Inner {
    slots: RwLock<Vec<Arc<Slot>>>,
    next_id: AtomicU64,
    log: Option<EventLog>,
}

/// Publish/subscribe for one process. Cheap to clone: clones share
/// subscribers.
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

/// What one publication reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// Subscribers whose queue took the event.
    pub delivered: u64,
    /// Subscribers whose queue was full: they lose this event, counted.
    pub dropped: u64,
    /// Whether the event was queued for the persisted log.
    pub persisted: bool,
}

/// A subscriber's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionStats {
    pub owner: String,
    pub pattern: String,
    pub delivered: u64,
    pub dropped: u64,
}

/// A live subscription: events arrive on its queue. Dropping it
/// unsubscribes.
pub struct Subscription {
    slot: Arc<Slot>,
    rx: mpsc::Receiver<Arc<Event>>,
    bus: Weak<Inner>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.slot.id)
            .field("owner", &self.slot.owner)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next event; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        self.rx.try_recv().ok()
    }

    pub fn stats(&self) -> SubscriptionStats {
        stats(&self.slot)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.bus.upgrade() {
            let mut slots = inner.slots.write().unwrap_or_else(|p| p.into_inner());
            slots.retain(|s| s.id != self.slot.id);
        }
    }
}

fn stats(slot: &Slot) -> SubscriptionStats {
    SubscriptionStats {
        owner: slot.owner.clone(),
        pattern: slot.pattern.join("."),
        delivered: slot.delivered.load(Ordering::Relaxed),
        dropped: slot.dropped.load(Ordering::Relaxed),
    }
}

/// Milliseconds since the Unix epoch, as events are stamped.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl EventBus {
    /// A bus that persists nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus that writes `global` and `system` events to `log`.
    pub fn with_log(log: EventLog) -> Self {
        Self {
            inner: Arc::new(Inner {
                log: Some(log),
                ..Inner::default()
            }),
        }
    }

    pub fn log(&self) -> Option<&EventLog> {
        self.inner.log.as_ref()
    }

    /// Subscribes `owner` to `pattern` (`*` one segment, `**` any), with an
    /// optional filter on payload fields and a queue of `capacity` events.
    pub fn subscribe(
        &self,
        owner: &str,
        pattern: &Topic,
        filter: Option<FieldFilter>,
        capacity: usize,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let slot = Arc::new(Slot {
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            owner: owner.to_owned(),
            pattern: pattern.segments().map(str::to_owned).collect(),
            filter,
            tx,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        self.inner
            .slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&slot));
        Subscription {
            slot,
            rx,
            bus: Arc::downgrade(&self.inner),
        }
    }

    /// Every subscriber's counts, for `lord events stats` and tests.
    pub fn stats(&self) -> Vec<SubscriptionStats> {
        self.inner
            .slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| stats(s))
            .collect()
    }

    /// Publishes an event. Never waits: a subscriber whose queue is full
    /// loses the event and its drop count goes up. Persisted levels are
    /// queued for the log first, so a replay never misses what a live
    /// subscriber saw.
    pub fn publish(
        &self,
        topic: &Topic,
        source: &str,
        propagation: Propagation,
        payload: Value,
        sensitive: bool,
    ) -> Result<PublishReport, StateError> {
        if topic.is_pattern() {
            return Err(StateError::Invalid {
                what: "topic",
                value: topic.to_string(),
                problem: "events are published on a concrete topic, not a pattern".to_owned(),
            });
        }
        let event = Event {
            seq: 0,
            topic: topic.as_str().to_owned(),
            source: source.to_owned(),
            propagation,
            at_ms: now_ms(),
            payload,
            sensitive,
        };
        let mut report = PublishReport::default();
        let event = Arc::new(event);
        // Live subscribers get the event even when the log could not be
        // written (the log keeps it queued to try again): the failure is
        // reported after delivery, not instead of it.
        let mut unlogged = None;
        if propagation.persisted()
            && let Some(log) = &self.inner.log
        {
            match log.append(Arc::clone(&event)) {
                Ok(()) => report.persisted = true,
                Err(e) => unlogged = Some(e),
            }
        }
        let segments: Vec<&str> = event.topic.split('.').collect();
        let slots = self.inner.slots.read().unwrap_or_else(|p| p.into_inner());
        for slot in slots.iter() {
            if !Topic::segments_match(&slot.pattern, &segments)
                || slot.filter.as_ref().is_some_and(|f| !f.accepts(&event))
            {
                continue;
            }
            match slot.tx.try_send(Arc::clone(&event)) {
                Ok(()) => {
                    slot.delivered.fetch_add(1, Ordering::Relaxed);
                    report.delivered += 1;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slot.dropped.fetch_add(1, Ordering::Relaxed);
                    report.dropped += 1;
                }
                // The subscription is being dropped; it is removed next.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        match unlogged {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}
