//! Queued messages between plugins: one bounded mailbox per receiver in
//! `state.db`, delivered highest priority first (then oldest first). A
//! message waits there until some `lord` process can hand it to its
//! receiver: the one that sent it, right after its command, or a later one
//! when the receiver could not take it then (disabled, failing, or the
//! sending process ended first). Taking a receiver's messages deletes them
//! in the same transaction that reads them, so when two processes deliver
//! at once each message goes to exactly one of them.
//!
//! A full mailbox never blocks a sender: a message of higher priority than
//! the least urgent queued one (lowest priority, newest first) displaces
//! it, anything else is refused; both count as drops, kept per receiver.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::db::StateDb;
use crate::error::StateError;

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

/// Every receiver's mailbox. Cheap to clone.
#[derive(Clone)]
pub struct Mailboxes {
    db: StateDb,
    capacity: usize,
    /// The last answer of [`Mailboxes::receivers`], while it is fresh.
    receivers: std::sync::Arc<std::sync::Mutex<Option<Seen>>>,
}

/// How long a list of receivers is kept: what another process posts is
/// noticed within this long. What this process posts or takes is noticed
/// at once (the connection's change count moves).
const RECEIVERS_FRESH: std::time::Duration = std::time::Duration::from_millis(50);

/// Receivers as read at `at`, with the connection's change count then.
struct Seen {
    at: std::time::Instant,
    total_changes: u64,
    receivers: Vec<String>,
}

impl std::fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailboxes")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Mailboxes {
    pub fn new(db: StateDb) -> Self {
        Self::with_capacity(db, MAILBOX_CAPACITY)
    }

    pub fn with_capacity(db: StateDb, capacity: usize) -> Self {
        Self {
            db,
            capacity: capacity.max(1),
            receivers: std::sync::Arc::default(),
        }
    }

    /// Queues `message` for its receiver, in one transaction; it waits
    /// only for another process's write to end, never for the receiver.
    pub fn post(&self, message: &Message) -> Result<Posted, StateError> {
        let capacity = i64::try_from(self.capacity).unwrap_or(i64::MAX);
        self.db.write(|tx| {
            let queued: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM messages WHERE receiver = ?1")?
                .query_row([&message.to], |r| r.get(0))?;
            let mut posted = Posted::Queued;
            if queued >= capacity {
                // The least urgent queued message is the last in delivery
                // order.
                let last: Option<(i64, u8)> = tx
                    .prepare_cached(
                        "SELECT seq, priority FROM messages WHERE receiver = ?1
                         ORDER BY priority ASC, seq DESC LIMIT 1",
                    )?
                    .query_row([&message.to], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                tx.prepare_cached(
                    "INSERT INTO message_drops (receiver, dropped) VALUES (?1, 1)
                     ON CONFLICT (receiver) DO UPDATE SET dropped = dropped + 1",
                )?
                .execute([&message.to])?;
                match last {
                    Some((seq, priority)) if priority < message.priority => {
                        tx.execute("DELETE FROM messages WHERE seq = ?1", [seq])?;
                        posted = Posted::Displaced;
                    }
                    Some(_) | None => return Ok(Posted::Refused),
                }
            }
            tx.prepare_cached(
                "INSERT INTO messages (receiver, sender, payload, priority)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                message.to,
                message.from,
                message.payload,
                message.priority
            ])?;
            Ok(posted)
        })
    }

    /// Takes a receiver's messages, in delivery order: read and deleted in
    /// one transaction, so no other process can take them too.
    pub fn take(&self, to: &str) -> Result<Vec<Message>, StateError> {
        self.db.write(|tx| {
            let messages = tx
                .prepare_cached(
                    "SELECT sender, payload, priority FROM messages WHERE receiver = ?1
                     ORDER BY priority DESC, seq ASC",
                )?
                .query_map([to], |r| {
                    Ok(Message {
                        from: r.get(0)?,
                        to: to.to_owned(),
                        payload: r.get(1)?,
                        priority: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if !messages.is_empty() {
                tx.prepare_cached("DELETE FROM messages WHERE receiver = ?1")?
                    .execute([to])?;
            }
            Ok(messages)
        })
    }

    /// Receivers with messages waiting, by name. A read: it makes no
    /// write, so a command with nothing to deliver stays free of syncs.
    /// Every command's delivery asks, so an embedder running commands back
    /// to back would query the table each time; the answer is kept for
    /// [`RECEIVERS_FRESH`] unless this connection has written since.
    pub fn receivers(&self) -> Result<Vec<String>, StateError> {
        let conn = self.db.conn()?;
        let total_changes = conn.total_changes();
        let mut seen = self.receivers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = seen.as_ref()
            && seen.total_changes == total_changes
            && seen.at.elapsed() < RECEIVERS_FRESH
        {
            return Ok(seen.receivers.clone());
        }
        let receivers: Vec<String> = conn
            .prepare_cached("SELECT DISTINCT receiver FROM messages ORDER BY receiver")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        *seen = Some(Seen {
            at: std::time::Instant::now(),
            total_changes,
            receivers: receivers.clone(),
        });
        Ok(receivers)
    }

    pub fn stats(&self, to: &str) -> Result<MailboxStats, StateError> {
        let conn = self.db.conn()?;
        let queued: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM messages WHERE receiver = ?1")?
            .query_row([to], |r| r.get(0))?;
        let dropped: Option<i64> = conn
            .prepare_cached("SELECT dropped FROM message_drops WHERE receiver = ?1")?
            .query_row([to], |r| r.get(0))
            .optional()?;
        Ok(MailboxStats {
            queued: usize::try_from(queued).unwrap_or(0),
            dropped: u64::try_from(dropped.unwrap_or(0)).unwrap_or(0),
        })
    }
}
