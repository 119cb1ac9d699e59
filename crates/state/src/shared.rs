//! Named values shared between plugins, each with a version that every
//! write moves on, so compare-and-swap never loses an update. They live in
//! `state.db`, so they outlast the process that wrote them and a version
//! means the same in every process: a compare-and-swap in one process
//! conflicts with a write another process made in between. Each value
//! remembers who wrote it last: it counts against that plugin's quota,
//! checked in the write's own transaction.
//!
//! Watching: a write in this process wakes this process's watchers at
//! once. Writes by other processes are seen by polling SQLite's
//! `PRAGMA data_version` (which moves when another connection commits)
//! every [`WATCH_POLL`] while anything watches, and re-reading the watched
//! keys when it moved: one pragma per tick, a query per watched key only
//! when something changed. No file notification is used: SQLite's WAL
//! changes on every commit of anything, so a notification would wake as
//! often as the poll and still need the same check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use tokio::sync::watch;

use crate::db::{StateDb, next_version, shared_held, stored, used, version};
use crate::error::StateError;

/// How often a process with watchers looks for other processes' writes:
/// the most a watcher waits to see one.
pub const WATCH_POLL: Duration = Duration::from_millis(50);

/// A value and the version it was written at (a key never written, or
/// deleted, is at version 0). Versions come from one counter for the whole
/// state database, so they grow with every write but not by one per key.
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

/// The watched keys of this process.
#[derive(Default)]
struct Watchers {
    senders: Mutex<HashMap<String, watch::Sender<Option<Versioned>>>>,
    /// Whether the thread that looks for other processes' writes runs.
    polling: Mutex<bool>,
}

/// The shared values in `state.db`. Cheap to clone: clones share watchers.
#[derive(Clone)]
pub struct SharedState {
    db: StateDb,
    watchers: Arc<Watchers>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState").finish_non_exhaustive()
    }
}

fn read(db: &StateDb, key: &str) -> Result<Option<Versioned>, StateError> {
    Ok(db
        .conn()?
        .prepare_cached("SELECT value, version FROM shared WHERE key = ?1")?
        .query_row([key], |r| {
            Ok(Versioned {
                value: r.get(0)?,
                version: version(r.get(1)?),
            })
        })
        .optional()?)
}

impl SharedState {
    pub fn new(db: StateDb) -> Self {
        Self {
            db,
            watchers: Arc::default(),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<Versioned>, StateError> {
        read(&self.db, key)
    }

    /// Writes unconditionally, as the host (no plugin's quota); returns the
    /// new version.
    pub fn set(&self, key: &str, value: Vec<u8>) -> Result<u64, StateError> {
        match self.write_by("", key, value, None, None)? {
            CasOutcome::Swapped(version) => Ok(version),
            // Expecting no version, a write cannot conflict.
            CasOutcome::Conflict(_) => Err(StateError::Corrupt(format!(
                "an unconditional write of `{key}` conflicted"
            ))),
        }
    }

    /// Writes only if the key is still at `expected` (0: never written or
    /// deleted), as the host.
    pub fn compare_and_swap(
        &self,
        key: &str,
        expected: u64,
        value: Vec<u8>,
    ) -> Result<CasOutcome, StateError> {
        self.write_by("", key, value, Some(expected), None)
    }

    /// Writes as plugin `writer` in one transaction: only if the key is at
    /// `expected` (when given), and only if what `writer` then holds in
    /// the database (its data and the shared values it wrote last) fits in
    /// `room` (when given).
    pub(crate) fn write_by(
        &self,
        writer: &str,
        key: &str,
        value: Vec<u8>,
        expected: Option<u64>,
        room: Option<u64>,
    ) -> Result<CasOutcome, StateError> {
        let outcome = self.db.write(|tx| {
            if let Some(expected) = expected {
                let current: Option<Versioned> = tx
                    .prepare_cached("SELECT value, version FROM shared WHERE key = ?1")?
                    .query_row([key], |r| {
                        Ok(Versioned {
                            value: r.get(0)?,
                            version: version(r.get(1)?),
                        })
                    })
                    .optional()?;
                if current.as_ref().map_or(0, |c| c.version) != expected {
                    return Ok(CasOutcome::Conflict(current));
                }
            }
            if let Some(room) = room {
                let needed = used(tx, writer, "")?
                    + shared_held(tx, writer, key)?
                    + (key.len() + value.len()) as u64;
                if needed > room {
                    return Err(StateError::QuotaExceeded {
                        plugin: writer.to_owned(),
                        needed,
                        quota: room,
                    });
                }
            }
            let version = next_version(tx)?;
            tx.prepare_cached(
                "INSERT INTO shared (key, value, version, writer) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE
                 SET value = excluded.value, version = excluded.version, writer = excluded.writer",
            )?
            .execute(params![key, value, stored(version), writer])?;
            Ok(CasOutcome::Swapped(version))
        })?;
        if let CasOutcome::Swapped(version) = outcome {
            self.notify(key, Some(Versioned { value, version }));
        }
        Ok(outcome)
    }

    /// Removes a key; watchers see `None`. The deletion takes a version
    /// too, like every write.
    pub fn delete(&self, key: &str) -> Result<bool, StateError> {
        let deleted = self.db.write(|tx| {
            let deleted = tx.execute("DELETE FROM shared WHERE key = ?1", [key])? > 0;
            if deleted {
                next_version(tx)?;
            }
            Ok(deleted)
        })?;
        if deleted {
            self.notify(key, None);
        }
        Ok(deleted)
    }

    /// Tells this process's watchers of `key` what it now holds.
    fn notify(&self, key: &str, now: Option<Versioned>) {
        let senders = self
            .watchers
            .senders
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = senders.get(key) {
            // No receivers left is fine: the poller forgets the key.
            sender.send_replace(now);
        }
    }

    /// Watches a key: the receiver holds the latest value and wakes on
    /// every write, this process's at once and other processes' within
    /// [`WATCH_POLL`]. Dropping it unsubscribes.
    pub fn subscribe(&self, key: &str) -> Result<watch::Receiver<Option<Versioned>>, StateError> {
        let current = self.get(key)?;
        let receiver = {
            let mut senders = self
                .watchers
                .senders
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match senders.get(key) {
                Some(sender) => sender.subscribe(),
                None => {
                    let (sender, receiver) = watch::channel(current);
                    senders.insert(key.to_owned(), sender);
                    receiver
                }
            }
        };
        let mut polling = self
            .watchers
            .polling
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !*polling {
            *polling = true;
            let db = self.db.clone();
            let watchers = Arc::clone(&self.watchers);
            std::thread::Builder::new()
                .name("lord-shared-watch".to_owned())
                .spawn(move || poll(&db, &watchers))
                .map_err(|source| StateError::Io {
                    action: "start the watcher of",
                    path: std::path::PathBuf::from("state.db"),
                    source,
                })?;
        }
        Ok(receiver)
    }
}

/// Looks for other processes' writes to the watched keys until no one
/// watches. A failed read is tried again on the next tick.
fn poll(db: &StateDb, watchers: &Watchers) {
    let mut seen: Option<i64> = None;
    loop {
        std::thread::sleep(WATCH_POLL);
        let keys: Vec<(String, Option<u64>)> = {
            let mut senders = watchers.senders.lock().unwrap_or_else(|p| p.into_inner());
            senders.retain(|_, sender| sender.receiver_count() > 0);
            if senders.is_empty() {
                // Under the senders' lock, so a subscriber arriving now
                // either was kept above or finds the poller stopped.
                *watchers.polling.lock().unwrap_or_else(|p| p.into_inner()) = false;
                return;
            }
            senders
                .iter()
                .map(|(key, sender)| (key.clone(), sender.borrow().as_ref().map(|v| v.version)))
                .collect()
        };
        let version = db
            .conn()
            .and_then(|conn| Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?));
        let Ok(version) = version else { continue };
        if seen == Some(version) {
            continue;
        }
        seen = Some(version);
        for (key, had) in keys {
            let Ok(now) = read(db, &key) else { continue };
            if now.as_ref().map(|v| v.version) != had {
                let senders = watchers.senders.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(sender) = senders.get(&key) {
                    sender.send_replace(now);
                }
            }
        }
    }
}
