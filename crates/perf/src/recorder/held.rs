//! Usage-log rows waiting to be written, held compactly: a row names its
//! entry point by its index in the recorder's pending keys, so holding a
//! call copies no string; the strings are copied only when rows become
//! [`CallRow`]s, as they are written. The pending keys only grow, so an
//! index means the same entry point for the recorder's life, however the
//! batches that carry them are ordered.

use std::collections::VecDeque;

use crate::calls::CallRow;
use crate::sample::{Outcome, Sample};
use crate::stats::EntryKey;

/// Rows held while nobody has said whether analytics is on: a
/// long-running process that never says keeps its latest calls only.
pub(super) const HELD: usize = 50_000;

/// The rows not yet written, and the entry points they name.
#[derive(Debug, Default)]
pub(super) struct Held {
    keys: Vec<EntryKey>,
    rows: VecDeque<HeldCall>,
}

/// One call as the usage log will store it, its entry point by index.
#[derive(Debug, Clone, Copy)]
struct HeldCall {
    key: u32,
    at_ms: u64,
    outcome: Outcome,
    wall_ns: u64,
    input_bytes: u64,
}

impl Held {
    /// Adds a batch's calls (those with a time: none while analytics is
    /// off), `keys` being the batch's snapshot of the pending keys. Until
    /// the host says analytics is on, only the latest [`HELD`] are kept;
    /// once it is, none is dropped (the recorder writes them before they
    /// pile up, and a failed write keeps the latest `HELD`).
    pub(super) fn add(&mut self, keys: &[EntryKey], samples: &[(u32, u64, Sample)], on: bool) {
        if let Some(new) = keys.get(self.keys.len()..) {
            self.keys.extend_from_slice(new);
        }
        self.rows.extend(held_calls(samples));
        if !on {
            self.keep_latest();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Drops every row (analytics was turned off).
    pub(super) fn clear(&mut self) {
        self.rows.clear();
    }

    /// Takes the rows, for a write; [`Held::put_back`] returns them if it
    /// fails.
    pub(super) fn take(&mut self) -> Held {
        Held {
            keys: self.keys.clone(),
            rows: std::mem::take(&mut self.rows),
        }
    }

    /// Rows a write could not store, put back before the ones held since
    /// (oldest first), keeping the latest [`HELD`].
    pub(super) fn put_back(&mut self, mut earlier: Held) {
        earlier.rows.append(&mut self.rows);
        self.rows = earlier.rows;
        self.keep_latest();
    }

    fn keep_latest(&mut self) {
        let excess = self.rows.len().saturating_sub(HELD);
        self.rows.drain(..excess);
    }

    /// The rows as the usage log stores them.
    pub(super) fn rows(&self, session: u64) -> impl Iterator<Item = CallRow> + '_ {
        self.rows
            .iter()
            .filter_map(move |call| call_row(&self.keys, session, call))
    }
}

/// The usage-log rows of calls not yet folded (still pending).
pub(super) fn pending_rows<'a>(
    keys: &'a [EntryKey],
    samples: &'a [(u32, u64, Sample)],
    session: u64,
) -> impl Iterator<Item = CallRow> + 'a {
    held_calls(samples).filter_map(move |call| call_row(keys, session, &call))
}

/// A batch's calls with a time (none while analytics is off), as held.
fn held_calls(samples: &[(u32, u64, Sample)]) -> impl Iterator<Item = HeldCall> + '_ {
    samples
        .iter()
        .filter(|(_, at_ms, _)| *at_ms > 0)
        .map(|(key, at_ms, sample)| HeldCall {
            key: *key,
            at_ms: *at_ms,
            outcome: sample.outcome,
            wall_ns: sample.wall_ns,
            input_bytes: sample.input_bytes,
        })
}

/// One held call as a usage-log row; `None` for an index no key has,
/// which [`Held::add`] never lets happen.
fn call_row(keys: &[EntryKey], session: u64, call: &HeldCall) -> Option<CallRow> {
    let key = keys.get(call.key as usize)?;
    Some(CallRow {
        at_ms: call.at_ms,
        session,
        plugin: key.plugin.clone(),
        kind: key.kind,
        name: key.name.clone(),
        outcome: call.outcome,
        wall_ns: call.wall_ns,
        input_bytes: call.input_bytes,
    })
}
