//! The audit trail as a hash chain. Each record holds the previous
//! record's hash and its own: SHA-256 over the previous hash and the
//! record's fields, encoded unambiguously (a JSON array). A record is
//! appended by inserting it first (which takes the database's write lock)
//! and only then reading its predecessor, so two processes can never
//! chain onto the same record. [`verify`] walks the chain and names each
//! record that was edited, deleted or moved; against the signed
//! checkpoints kept outside the database, it also finds a truncated tail
//! and a fork (a history that left the checkpointed one).
//!
//! Invariant: the chain covers every record from the first: records from
//! before the chain existed were chained when the store was migrated.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;

use crate::error::StoreError;

/// The previous hash of the first record.
pub const GENESIS: &str = "";

/// One record with its links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainRecord {
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    pub plugin: String,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A point of the chain someone vouched for: the record `seq` had `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

/// What was done to the trail, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Tamper {
    /// The record's fields no longer give its hash, or (edited and
    /// re-hashed) its successor no longer follows it.
    Edited { seq: i64 },
    /// Records between `after` and `before` are gone (`after` 0: from
    /// the start).
    Deleted { after: i64, before: i64 },
    /// The record at `seq` follows `follows`, not the record before it.
    Reordered { seq: i64, follows: i64 },
    /// A checkpoint vouches for record `checkpoint`, past the last one.
    Truncated { last: i64, checkpoint: i64 },
    /// The record at `seq` is not the one a checkpoint vouched for: this
    /// history left the checkpointed one after `agrees_until`.
    Fork { seq: i64, agrees_until: i64 },
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "record {seq} was edited"),
            Self::Deleted { after: 0, before } => {
                write!(f, "records before {before} were deleted")
            }
            Self::Deleted { after, before } => {
                write!(f, "records between {after} and {before} were deleted")
            }
            Self::Reordered { seq, follows } => {
                write!(f, "record {seq} was moved: it follows record {follows}")
            }
            Self::Truncated { last, checkpoint } => write!(
                f,
                "the trail was truncated: it ends at record {last}, but a checkpoint vouches \
                 for record {checkpoint}"
            ),
            Self::Fork { seq, agrees_until } => write!(
                f,
                "the trail forked: record {seq} is not the one its checkpoint vouches for \
                 (it agrees with the checkpoints until record {agrees_until})"
            ),
        }
    }
}

/// The hash of a record after `prev`.
pub fn record_hash(prev: &str, at: i64, plugin: &str, action: &str, detail: &str) -> String {
    use sha2::Digest as _;
    let encoded = serde_json::json!([prev, at, plugin, action, detail]).to_string();
    hex::encode(sha2::Sha256::digest(encoded.as_bytes()))
}

/// Appends one record, chained. Call inside the caller's transaction,
/// or alone (it is then its own).
pub(crate) fn append(
    conn: &Connection,
    at: i64,
    plugin: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let own = conn.is_autocommit();
    if own {
        conn.execute_batch("BEGIN IMMEDIATE")?;
    }
    let result = (|| {
        // Insert first: the write lock is ours from here, so the record
        // read next is the true predecessor, whoever else is writing.
        conn.execute(
            "INSERT INTO audit (at, plugin_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![at, plugin, action, detail],
        )?;
        let seq = conn.last_insert_rowid();
        let prev: String = conn
            .query_row(
                "SELECT hash FROM audit WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
                [seq],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_else(|| GENESIS.to_owned());
        let hash = record_hash(&prev, at, plugin, action, detail);
        conn.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            params![prev, hash, seq],
        )?;
        Ok::<_, rusqlite::Error>(())
    })();
    match (own, result) {
        (true, Ok(())) => conn.execute_batch("COMMIT").map_err(Into::into),
        (true, Err(e)) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e.into())
        }
        (false, result) => result.map_err(Into::into),
    }
}

/// Chains the records written before the chain existed, oldest first
/// (part of the migration that adds the columns).
pub(crate) fn chain_existing(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare("SELECT seq, at, plugin_id, action, detail FROM audit ORDER BY seq")?;
    let rows: Vec<(i64, i64, String, String, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut prev = GENESIS.to_owned();
    for (seq, at, plugin, action, detail) in rows {
        let hash = record_hash(&prev, at, &plugin, &action, &detail);
        conn.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            params![prev, hash, seq],
        )?;
        prev = hash;
    }
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChainRecord> {
    Ok(ChainRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        plugin: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Reads the whole chain, oldest first.
pub(crate) fn read(conn: &Connection) -> Result<Vec<ChainRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, plugin_id, action, detail, prev_hash, hash FROM audit ORDER BY seq",
    )?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest record, if any.
pub(crate) fn newest(conn: &Connection) -> Result<Option<ChainRecord>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT seq, at, plugin_id, action, detail, prev_hash, hash FROM audit
             ORDER BY seq DESC LIMIT 1",
            [],
            row,
        )
        .optional()?)
}

/// Everything wrong with `records` (oldest first), against `checkpoints`.
pub fn verify(records: &[ChainRecord], checkpoints: &[Checkpoint]) -> Vec<Tamper> {
    let by_hash: HashMap<&str, i64> = records.iter().map(|r| (r.hash.as_str(), r.seq)).collect();
    let mut found = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let fields_hold = record_hash(
            &record.prev_hash,
            record.at,
            &record.plugin,
            &record.action,
            &record.detail,
        ) == record.hash;
        if !fields_hold {
            found.push(Tamper::Edited { seq: record.seq });
        }
        let (expected, before_seq) = match i.checked_sub(1).map(|p| &records[p]) {
            Some(previous) => (previous.hash.as_str(), previous.seq),
            None => (GENESIS, 0),
        };
        if record.prev_hash == expected {
            if before_seq + 1 != record.seq && fields_hold {
                found.push(Tamper::Deleted {
                    after: before_seq,
                    before: record.seq,
                });
            }
            continue;
        }
        if let Some(&follows) = by_hash.get(record.prev_hash.as_str()) {
            found.push(Tamper::Reordered {
                seq: record.seq,
                follows,
            });
        } else if before_seq + 1 == record.seq {
            // Its predecessor is in place but is not the record it
            // followed: that one was edited and re-hashed.
            if !found.contains(&Tamper::Edited { seq: before_seq }) {
                found.push(Tamper::Edited { seq: before_seq });
            }
        } else {
            found.push(Tamper::Deleted {
                after: before_seq,
                before: record.seq,
            });
        }
    }
    let last = records.last().map_or(0, |r| r.seq);
    let by_seq: HashMap<i64, &str> = records.iter().map(|r| (r.seq, r.hash.as_str())).collect();
    let mut agrees_until = 0;
    let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
    sorted.sort_by_key(|c| c.seq);
    for checkpoint in sorted {
        match by_seq.get(&checkpoint.seq) {
            Some(hash) if *hash == checkpoint.hash => agrees_until = checkpoint.seq,
            Some(_) => {
                found.push(Tamper::Fork {
                    seq: checkpoint.seq,
                    agrees_until,
                });
                break;
            }
            None if checkpoint.seq > last => {
                found.push(Tamper::Truncated {
                    last,
                    checkpoint: checkpoint.seq,
                });
                break;
            }
            // A deleted record: already named by the walk above.
            None => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainRecord> {
        let mut out: Vec<ChainRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_owned(), |r| r.hash.clone());
            let detail = format!("d{seq}");
            out.push(ChainRecord {
                seq,
                at: seq,
                plugin: "p".into(),
                action: "installed".into(),
                hash: record_hash(&prev, seq, "p", "installed", &detail),
                detail,
                prev_hash: prev,
            });
        }
        out
    }

    fn checkpoint(records: &[ChainRecord], seq: i64) -> Checkpoint {
        let r = records.iter().find(|r| r.seq == seq).unwrap();
        Checkpoint {
            seq,
            hash: r.hash.clone(),
        }
    }

    #[test]
    fn an_intact_chain_has_nothing_to_say() {
        let records = chain(5);
        assert!(verify(&records, &[checkpoint(&records, 5)]).is_empty());
    }

    #[test]
    fn an_edit_is_found_whether_or_not_it_was_rehashed() {
        let mut records = chain(5);
        records[2].detail = "changed".into();
        assert_eq!(verify(&records, &[]), vec![Tamper::Edited { seq: 3 }]);
        let r = &mut records[2];
        r.hash = record_hash(&r.prev_hash, r.at, &r.plugin, &r.action, &r.detail);
        assert_eq!(verify(&records, &[]), vec![Tamper::Edited { seq: 3 }]);
    }

    #[test]
    fn a_deletion_a_move_a_truncation_and_a_fork_are_each_located() {
        let records = chain(6);
        let mut deleted = records.clone();
        deleted.remove(2);
        assert_eq!(
            verify(&deleted, &[]),
            vec![Tamper::Deleted {
                after: 2,
                before: 4
            }]
        );

        let mut moved = records.clone();
        let (a, b) = (moved[2].clone(), moved[3].clone());
        moved[2] = ChainRecord { seq: 3, ..b };
        moved[3] = ChainRecord { seq: 4, ..a };
        let found = verify(&moved, &[]);
        assert!(
            found.contains(&Tamper::Reordered { seq: 3, follows: 4 }),
            "{found:?}"
        );

        let truncated = records[..4].to_vec();
        assert_eq!(
            verify(&truncated, &[checkpoint(&records, 6)]),
            vec![Tamper::Truncated {
                last: 4,
                checkpoint: 6
            }]
        );

        let mut forked = records[..4].to_vec();
        let prev = forked[3].hash.clone();
        forked.push(ChainRecord {
            seq: 5,
            at: 5,
            plugin: "p".into(),
            action: "removed".into(),
            detail: "other".into(),
            hash: record_hash(&prev, 5, "p", "removed", "other"),
            prev_hash: prev,
        });
        let checkpoints = [checkpoint(&records, 4), checkpoint(&records, 5)];
        assert_eq!(
            verify(&forked, &checkpoints),
            vec![Tamper::Fork {
                seq: 5,
                agrees_until: 4
            }]
        );
    }
}
