//! The delivery part: after each command, the events plugins subscribed to
//! and the messages queued for them reach their `handle-event` and
//! `handle-message`, in rounds.
//!
//! Events are this process's: each reaches the subscribers enabled when it
//! was published, after the command that published it, in the process
//! that published it (a `global` one is also kept in the log, for `lord
//! events replay`, never delivered again). Messages are everyone's: they
//! wait in `state.db`, and each round hands every enabled receiver all of
//! its waiting messages, whichever process queued them (taken in one
//! transaction, so two processes delivering at once never both hand over
//! the same one). A receiver that is not enabled keeps its mailbox for a
//! later command.
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
use crate::quota::DataFolder;
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
        let mut refused = std::collections::BTreeSet::new();
        for _ in 0..ROUNDS {
            let batches = self.drain();
            // Unreadable mailboxes leave the messages waiting for a later
            // command; the events of this round are still delivered.
            let receivers = rt.channels().mailboxes.receivers().unwrap_or_default();
            if batches.is_empty() && receivers.is_empty() {
                return;
            }
            let mut delivered = !batches.is_empty();
            for to in receivers {
                if refused.contains(&to) {
                    continue;
                }
                match deliver_messages(lifecycle, rt, store, &to).await {
                    Handed::Delivered => delivered = true,
                    Handed::Waiting => {}
                    // Refused in every round: asked once per command.
                    Handed::Refused => {
                        refused.insert(to);
                    }
                }
            }
            for (id, events) in batches {
                deliver_events(lifecycle, rt, store, &id, &events).await;
            }
            // Only receivers that cannot take their messages now: they
            // wait for a later command, not for another round.
            if !delivered {
                return;
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
    // A handler over its calls or CPU time per minute misses this round's
    // events (they are the publisher's, and are not kept for it). Not a
    // strike against it: the publisher chose how many to send.
    let quota = rt.quota(id);
    if let Err(throttle) = quota.check() {
        let _ = store.audit(id, "events not delivered", &throttle.to_string());
        return;
    }
    // Nor does a handler whose data folder is over its quota: handlers
    // write there as commands do, and must not fill it past the quota
    // that stops the commands.
    let data = rt.data_folder(&plugin);
    if let Some(over) = data.as_ref().and_then(DataFolder::over) {
        let _ = store.audit(id, "events not delivered", &over);
        return;
    }
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
        let later = events.len() - delivered - 1;
        if filled(store, id, data.as_ref(), || {
            (later > 0).then(|| format!("{later} later event(s) of this round not delivered"))
        }) {
            break;
        }
    }
    // What the handlers themselves overran (their own events, requests)
    // does count against them.
    let _ = lifecycle
        .throttled(rt, store, id, quota.take_throttles())
        .await;
}

/// Whether a handler just filled its plugin's data folder past its
/// quota; if so the audit log says so, with `rest` (what it will not be
/// handed now, if anything), and nothing of the plugin's runs again until
/// files are removed. Measured after every event or message, so one
/// round's handlers cannot go on filling it.
fn filled(
    store: &mut Store,
    id: &PluginId,
    data: Option<&DataFolder>,
    rest: impl FnOnce() -> Option<String>,
) -> bool {
    let Some(over) = data.and_then(DataFolder::over) else {
        return false;
    };
    let detail = match rest() {
        Some(rest) => format!("{over}; {rest}"),
        None => over,
    };
    let _ = store.audit(id, "over data quota", &detail);
    true
}

/// What one receiver's turn in a round came to.
enum Handed {
    /// Messages were taken (delivered, refused by the handler, or put back
    /// after a failure worth another round).
    Delivered,
    /// None could be taken now; they wait for a later command.
    Waiting,
    /// The policies refuse to run the receiver: its messages wait, and
    /// later rounds of this command pass it over.
    Refused,
}

/// Hands a receiver its queued messages (highest priority first), if it is
/// enabled, accepts messages and the policies let it run; otherwise they
/// stay in its mailbox for a later command. A handler that refuses a
/// message (`err`) is audited but not counted against its breaker: a
/// sender must not be able to disable a receiver by sending it bad
/// messages. Traps and limits still count.
async fn deliver_messages(
    lifecycle: &Lifecycle,
    rt: Runtime<'_>,
    store: &mut Store,
    to: &str,
) -> Handed {
    let mailboxes = &rt.channels().mailboxes;
    let Ok(id) = to.parse::<PluginId>() else {
        return Handed::Waiting;
    };
    let plugin = match store.require(&id) {
        Ok(plugin) if plugin.state == PluginState::Enabled && plugin.manifest.accepts_messages => {
            plugin
        }
        Ok(_) | Err(_) => return Handed::Waiting,
    };
    // Taken (read and deleted) in one transaction: another process
    // delivering now finds none of them.
    // Over its calls or CPU time per minute, its messages wait in its
    // mailbox for a later command.
    // Not a strike against it: the senders chose how many to send.
    let quota = rt.quota(&id);
    if let Err(throttle) = quota.check() {
        let _ = store.audit(&id, "messages not delivered", &throttle.to_string());
        return Handed::Waiting;
    }
    // A receiver whose data folder is over its quota keeps its messages
    // waiting until files are removed from it.
    let data = rt.data_folder(&plugin);
    if let Some(over) = data.as_ref().and_then(DataFolder::over) {
        let _ = store.audit(&id, "messages not delivered", &over);
        return Handed::Waiting;
    }
    // Asked before any message is taken: a refused receiver's messages
    // stay in its mailbox untouched.
    if let Err(e) = rt.governance().govern(
        store,
        lord_policy::Action::Run,
        || crate::governance::installed_facts(&plugin),
        None,
        None,
    ) {
        let _ = store.audit(&id, "messages not delivered", &e.to_string());
        return Handed::Refused;
    }
    let messages = match mailboxes.take(to) {
        Ok(messages) if !messages.is_empty() => messages,
        Ok(_) => return Handed::Waiting,
        Err(e) => {
            let _ = store.audit(&id, "messages not delivered", &e.to_string());
            return Handed::Waiting;
        }
    };
    let mut instance = match lifecycle.load_decided(rt, store, &plugin).await {
        Ok(instance) => instance,
        Err(e) => {
            let _ = store.audit(&id, "messages not delivered", &e.to_string());
            put_back(mailboxes, store, &id, &messages);
            return Handed::Delivered;
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
                // one that failed wait for the next round (or, if the
                // receiver is now disabled, a later command).
                put_back(mailboxes, store, &id, &messages[index + 1..]);
                break;
            }
        }
        let later = &messages[index + 1..];
        if filled(store, &id, data.as_ref(), || {
            (!later.is_empty())
                .then(|| format!("{} later message(s) wait in its mailbox", later.len()))
        }) {
            put_back(mailboxes, store, &id, later);
            break;
        }
    }
    let _ = lifecycle
        .throttled(rt, store, &id, quota.take_throttles())
        .await;
    Handed::Delivered
}

/// Queues taken messages again, for a later round or command.
fn put_back(
    mailboxes: &lord_state::Mailboxes,
    store: &mut Store,
    id: &PluginId,
    messages: &[lord_state::Message],
) {
    for message in messages {
        if let Err(e) = mailboxes.post(message) {
            let _ = store.audit(id, "message lost", &e.to_string());
        }
    }
}
