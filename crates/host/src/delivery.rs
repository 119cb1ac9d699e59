//! The delivery part: after each command, the events plugins subscribed to
//! and the messages queued for them reach their `handle-event` and
//! `handle-message`, in rounds.
//!
//! Before a process's first command every enabled plugin holding
//! `events-subscribe` grants is subscribed (one query on the store), with
//! its manifest's `[[events.filter]]` on each pattern. Events published by
//! handlers go in the next round, up to [`ROUNDS`], so two plugins
//! answering each other cannot loop forever. A failing handler counts
//! towards its own breaker, never the publisher's.

use std::sync::{Arc, Mutex};

use lord_manifest::PluginId;
use lord_store::{PluginState, Store};

use crate::error::HostError;
use crate::lifecycle::Lifecycle;
use crate::runtime::Runtime;

/// Events a subscribing plugin may have queued between deliveries.
const QUEUE: usize = 1024;

/// Rounds of delivery after a command.
const ROUNDS: usize = 4;

/// A subscribing plugin and its subscriptions (one per granted pattern).
type Subscriber = (PluginId, Vec<lord_state::Subscription>);

/// The subscriptions made for this process.
#[derive(Default)]
pub(crate) struct Delivery {
    subscribers: Mutex<Option<Vec<Subscriber>>>,
}

impl Delivery {
    /// Subscribes every enabled plugin with `events-subscribe` grants, once
    /// per process, before any command publishes.
    pub(crate) fn subscribe(&self, rt: Runtime<'_>, store: &Store) -> Result<(), HostError> {
        let mut subscribed = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        if subscribed.is_some() {
            return Ok(());
        }
        let bus = &rt.channels().bus;
        let subscribers = store
            .subscribers()?
            .into_iter()
            .map(|subscriber| {
                let patterns =
                    lord_state::ScopeGrants::from_permissions(&subscriber.granted, 0).subscribe;
                let subscriptions = patterns
                    .iter()
                    .map(|pattern| {
                        let filter = subscriber
                            .filters
                            .iter()
                            .find(|f| f.pattern == *pattern)
                            .map(|f| {
                                lord_state::FieldFilter::new(f.field.clone(), f.equals.clone())
                            });
                        bus.subscribe(subscriber.id.as_str(), pattern, filter, QUEUE)
                    })
                    .collect();
                (subscriber.id, subscriptions)
            })
            .collect();
        *subscribed = Some(subscribers);
        Ok(())
    }

    /// The events queued for each subscribing plugin, each once (an event
    /// two of a plugin's patterns cover is delivered once).
    fn drain(&self) -> Vec<(PluginId, Vec<Arc<lord_state::Event>>)> {
        let mut subscribed = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(subscribers) = subscribed.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, subscriptions) in subscribers.iter_mut() {
            let mut events: Vec<Arc<lord_state::Event>> = Vec::new();
            for subscription in subscriptions.iter_mut() {
                while let Some(event) = subscription.try_recv() {
                    if !events.iter().any(|e| Arc::ptr_eq(e, &event)) {
                        events.push(event);
                    }
                }
            }
            if !events.is_empty() {
                events.sort_by_key(|e| e.at_ms);
                out.push((id.clone(), events));
            }
        }
        out
    }

    /// Hands queued messages and events to their receivers, in rounds. A
    /// subscriber that fails is recorded (and counts towards its breaker)
    /// and misses the rest of that round's events; the command that
    /// published them is not affected.
    pub(crate) async fn deliver(&self, lifecycle: &Lifecycle, rt: Runtime<'_>, store: &mut Store) {
        for _ in 0..ROUNDS {
            let batches = self.drain();
            let receivers = rt.channels().mailboxes.receivers();
            if batches.is_empty() && receivers.is_empty() {
                return;
            }
            for to in receivers {
                deliver_messages(lifecycle, rt, store, &to).await;
            }
            for (id, events) in batches {
                deliver_events(lifecycle, rt, store, &id, &events).await;
            }
        }
    }
}

/// One subscriber's events of one round, in one instance.
async fn deliver_events(
    lifecycle: &Lifecycle,
    rt: Runtime<'_>,
    store: &mut Store,
    id: &PluginId,
    events: &[Arc<lord_state::Event>],
) {
    let plugin = match store.require(id) {
        Ok(plugin) if plugin.state == PluginState::Enabled => plugin,
        Ok(_) | Err(_) => return,
    };
    let mut instance = match lifecycle.load(rt, store, &plugin).await {
        Ok(instance) => instance,
        Err(e) => {
            let _ = store.audit(id, "events not delivered", &e.to_string());
            return;
        }
    };
    for (delivered, event) in events.iter().enumerate() {
        if let Err(e) = instance.handle_event(event).await {
            let detail = format!(
                "handle-event failed on `{}`: {e}; {} later event(s) of this round skipped",
                event.topic,
                events.len() - delivered - 1
            );
            if e.failure.is_plugin_fault() {
                let _ = lifecycle.failed(rt, store, id, &detail).await;
            } else {
                let _ = store.audit(id, "host failure", &detail);
            }
            break;
        }
    }
}

/// Hands a receiver its queued messages (highest priority first). A
/// handler that refuses a message (`err`) is audited but not counted
/// against its breaker: a sender must not be able to disable a receiver by
/// sending it bad messages. Traps and limits still count.
async fn deliver_messages(lifecycle: &Lifecycle, rt: Runtime<'_>, store: &mut Store, to: &str) {
    let mailboxes = &rt.channels().mailboxes;
    let messages = mailboxes.take(to);
    let Ok(id) = to.parse::<PluginId>() else {
        return;
    };
    let plugin = match store.require(&id) {
        Ok(plugin) if plugin.state == PluginState::Enabled => plugin,
        Ok(_) | Err(_) => return,
    };
    let mut instance = match lifecycle.load(rt, store, &plugin).await {
        Ok(instance) => instance,
        Err(e) => {
            let _ = store.audit(&id, "messages not delivered", &e.to_string());
            return;
        }
    };
    for (index, message) in messages.iter().enumerate() {
        match instance
            .handle_message(&message.from, &message.payload)
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.failure, lord_sandbox::Failure::Returned { .. }) => {
                let detail = format!("refused a message from `{}`: {e}", message.from);
                let _ = store.audit(&id, "message refused", &detail);
            }
            Err(e) => {
                let detail = format!(
                    "handle-message failed on a message from `{}`: {e}",
                    message.from
                );
                if e.failure.is_plugin_fault() {
                    let _ = lifecycle.failed(rt, store, &id, &detail).await;
                } else {
                    let _ = store.audit(&id, "host failure", &detail);
                }
                // A failed instance is poisoned: the messages after the
                // one that failed wait for the next round, in a fresh one.
                for rest in messages.iter().skip(index + 1) {
                    mailboxes.post(rest.clone());
                }
                break;
            }
        }
    }
}
