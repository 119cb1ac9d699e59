//! Redis: every key of the profile's database, each as the server's own
//! `DUMP` (its value in the RDB serialization, which holds every type the
//! server has: strings, lists, sets, sorted sets, hashes, streams with
//! their consumer groups, module types) with its remaining time to live.
//!
//! The dump walks the keyspace with `SCAN`; each batch of keys is read in
//! one `MULTI`/`EXEC` (`TYPE`, `PTTL`, `DUMP` per key), so a key's type,
//! TTL and value are of one moment. A key that vanished between `SCAN`
//! and `DUMP` is skipped and not counted; a key written during the dump
//! may or may not be in it (`SCAN` promises only the keys present for its
//! whole walk). The payload is lord's own stream:
//!
//! ```text
//! lord-redis-dump 1\n
//! then per key: type, key, payload as (u64 big-endian length, bytes);
//!               the TTL in ms as i64 big-endian between key and payload
//!               (-1: none)
//! ```
//!
//! A key keeps the time it had left when it was dumped: a cache restored a
//! week later is not expired whole on arrival, and the key counts of the
//! manifest still hold after a restore.
//!
//! A restore sends `RESTORE key ttl payload` (with `REPLACE` under
//! `--replace`), in `MULTI`/`EXEC` batches. Before it writes anything, one
//! key of each RDB format in the file is restored under a name no key has
//! with an expiry in the past (`ABSTTL 1`): the server checks the payload
//! and its format version and stores nothing, so a server too old for the
//! file is found with nothing touched.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use lord_db_api::{DbError, KvReply, KvSession, Password, Profile};

use crate::Pooled as _;

use super::{BackupError, Dumped, RestoreOptions, Step, TableRows, archive};

const HEADER: &str = "lord-redis-dump 1\n";
/// Keys read or restored per `MULTI`/`EXEC`.
const BATCH_KEYS: usize = 200;
/// Bytes of `RESTORE` payloads sent per `MULTI`/`EXEC` at most (a key
/// larger than this goes alone).
const BATCH_BYTES: usize = 8 << 20;
/// Keys of each RDB format tried on the server before a restore.
const SAMPLES: usize = 4;

/// One key of the dump.
struct Record {
    kind: String,
    key: Vec<u8>,
    /// Milliseconds left, when the key expires.
    ttl: Option<u64>,
    payload: Vec<u8>,
}

impl Record {
    /// The RDB format the payload is in: the two bytes (little-endian)
    /// ahead of its CRC-64.
    fn rdb_version(&self) -> Option<u16> {
        let n = self.payload.len();
        (n >= 10).then(|| u16::from_le_bytes([self.payload[n - 10], self.payload[n - 9]]))
    }
}

fn session(
    profile: &Profile,
    password: Option<&Password>,
) -> Result<Box<dyn KvSession>, BackupError> {
    <dyn KvSession>::from_connection(crate::open(profile, password)?).map_err(|c| {
        BackupError::Db(DbError::Profile(format!(
            "the database profile `{}` is a {} database, not Redis",
            profile.name,
            c.engine()
        )))
    })
}

fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

fn shape(profile: &Profile, what: &str) -> BackupError {
    BackupError::Db(DbError::Value {
        profile: profile.name.to_string(),
        message: format!("the server answered {what} in an unknown shape"),
    })
}

/// The server's version, from `INFO server`.
fn server_version(s: &mut dyn KvSession, profile: &Profile) -> Result<String, BackupError> {
    let info = s.command(&args(&[b"INFO", b"server"]))?;
    let text = info.as_text().ok_or_else(|| shape(profile, "INFO"))?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .trim()
        .to_owned())
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_be_bytes())?;
    out.write_all(bytes)
}

fn write_record(out: &mut impl Write, record: &Record) -> std::io::Result<u64> {
    write_bytes(out, record.kind.as_bytes())?;
    write_bytes(out, &record.key)?;
    let ttl = record.ttl.and_then(|t| i64::try_from(t).ok()).unwrap_or(-1);
    out.write_all(&ttl.to_be_bytes())?;
    write_bytes(out, &record.payload)?;
    Ok((record.kind.len() + record.key.len() + record.payload.len() + 32) as u64)
}

/// One step of `SCAN` from `cursor`: the next cursor and the keys.
fn scan_step(
    s: &mut dyn KvSession,
    profile: &Profile,
    cursor: &[u8],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), BackupError> {
    let reply = s.command(&args(&[b"SCAN", cursor, b"COUNT", b"1000"]))?;
    let KvReply::Array(mut parts) = reply else {
        return Err(shape(profile, "SCAN"));
    };
    let (Some(KvReply::Array(batch)), Some(KvReply::Bytes(next))) = (parts.pop(), parts.pop())
    else {
        return Err(shape(profile, "SCAN"));
    };
    let keys = batch
        .into_iter()
        .filter_map(|k| match k {
            KvReply::Bytes(k) => Some(k),
            KvReply::Nil
            | KvReply::Int(_)
            | KvReply::Float(_)
            | KvReply::Bool(_)
            | KvReply::Status(_)
            | KvReply::Array(_)
            | KvReply::Map(_) => None,
        })
        .collect();
    Ok((next, keys))
}

/// Type, TTL and value of each of `keys`, read in one `MULTI`/`EXEC`;
/// keys gone by then are left out.
fn read_keys(
    s: &mut dyn KvSession,
    profile: &Profile,
    keys: Vec<Vec<u8>>,
) -> Result<Vec<Record>, BackupError> {
    let mut commands = Vec::with_capacity(keys.len() * 3);
    for key in &keys {
        commands.push(args(&[b"TYPE", key]));
        commands.push(args(&[b"PTTL", key]));
        commands.push(args(&[b"DUMP", key]));
    }
    let replies = s.transaction(&commands)?;
    if replies.len() != commands.len() {
        return Err(shape(profile, "MULTI/EXEC"));
    }
    let mut records = Vec::new();
    for (key, reply) in keys.into_iter().zip(replies.chunks(3)) {
        let [kind, ttl, dump] = reply else {
            return Err(shape(profile, "MULTI/EXEC"));
        };
        let KvReply::Bytes(payload) = dump else {
            // `DUMP` of a key that is gone: nil.
            continue;
        };
        let kind = kind.as_text().ok_or_else(|| shape(profile, "TYPE"))?;
        let ttl = match ttl {
            KvReply::Int(ms) if *ms >= 0 => Some(u64::try_from(*ms).unwrap_or(0).max(1)),
            KvReply::Int(_) => None,
            KvReply::Nil
            | KvReply::Float(_)
            | KvReply::Bool(_)
            | KvReply::Bytes(_)
            | KvReply::Status(_)
            | KvReply::Array(_)
            | KvReply::Map(_) => return Err(shape(profile, "PTTL")),
        };
        records.push(Record {
            kind: kind.to_owned(),
            key,
            ttl,
            payload: payload.clone(),
        });
    }
    Ok(records)
}

/// How many keys to read next, after a batch of `batch` keys came to
/// `bytes`: a `MULTI`/`EXEC` reply is held whole in memory, so a database
/// of large values is read a few keys at a time (one, when each is over
/// [`BATCH_BYTES`]), and one of small values [`BATCH_KEYS`] at a time.
fn next_batch(batch: usize, bytes: u64) -> usize {
    let per_key = (bytes / batch.max(1) as u64).max(1);
    let fits = usize::try_from(BATCH_BYTES as u64 / per_key).unwrap_or(BATCH_KEYS);
    fits.clamp(1, BATCH_KEYS)
}

pub(super) fn dump(
    profile: &Profile,
    password: Option<&Password>,
    into: &mut std::fs::File,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Dumped, BackupError> {
    let mut s = session(profile, password)?;
    let server_version = server_version(&mut *s, profile)?;
    let mut out = std::io::BufWriter::new(into);
    let write = |source| BackupError::Io {
        what: "writing the dump".to_owned(),
        source,
    };
    out.write_all(HEADER.as_bytes()).map_err(&write)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    // SCAN may return a key twice while the keyspace is rehashed; the
    // names (not the values) are kept to skip the second.
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut written = HEADER.len() as u64;
    let mut cursor = b"0".to_vec();
    let mut batch = BATCH_KEYS;
    loop {
        let (next, keys) = scan_step(&mut *s, profile, &cursor)?;
        let fresh: Vec<Vec<u8>> = keys
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect();
        let mut fresh = fresh.as_slice();
        while !fresh.is_empty() {
            let (chunk, rest) = fresh.split_at(batch.min(fresh.len()));
            fresh = rest;
            let before = written;
            for record in read_keys(&mut *s, profile, chunk.to_vec())? {
                written += write_record(&mut out, &record).map_err(&write)?;
                *counts.entry(record.kind).or_default() += 1;
            }
            batch = next_batch(batch, written - before);
            progress(Step::Bytes {
                done: written,
                total: None,
            });
        }
        if next == b"0" {
            break;
        }
        cursor = next;
    }
    out.flush().map_err(&write)?;
    Ok(Dumped {
        tool: format!("lord (Redis {server_version} DUMP)"),
        server_version,
        tables: counts
            .into_iter()
            .map(|(name, rows)| TableRows {
                name,
                schema: None,
                rows,
            })
            .collect(),
        left_out: Vec::new(),
    })
}

/// Reads the records of a dump, one at a time.
struct Records<R>(archive::Framed<R>);

impl<R: Read> Records<R> {
    fn new(input: R, total: u64) -> Result<Self, String> {
        archive::Framed::new(input, total, HEADER, "Redis").map(Self)
    }

    fn exact(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.0.left {
            return Err("its dump ends inside a key".to_owned());
        }
        let mut buf = vec![0; usize::try_from(n).map_err(|e| e.to_string())?];
        self.0.exact(&mut buf, "a key")?;
        Ok(buf)
    }

    fn word(&mut self) -> Result<[u8; 8], String> {
        let bytes = self.exact(8)?;
        let mut word = [0; 8];
        word.copy_from_slice(&bytes);
        Ok(word)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = u64::from_be_bytes(self.word()?);
        self.exact(n)
    }

    /// The next record, or `None` at the end of the dump.
    fn next_record(&mut self) -> Result<Option<Record>, String> {
        if self.0.left == 0 {
            return Ok(None);
        }
        let kind = String::from_utf8(self.bytes()?)
            .map_err(|_| "a key's type in its dump is not text".to_owned())?;
        let key = self.bytes()?;
        let ttl = i64::from_be_bytes(self.word()?);
        let payload = self.bytes()?;
        let record = Record {
            kind,
            key,
            ttl: u64::try_from(ttl).ok(),
            payload,
        };
        if record.rdb_version().is_none() {
            return Err("a key's value in its dump is too short to be a Redis DUMP".to_owned());
        }
        Ok(Some(record))
    }
}

/// The dump's records, read through its checksum: a file changed since
/// it was opened fails its last read rather than handing over records its
/// manifest does not cover.
fn records(opened: &mut archive::Opened) -> Result<Records<archive::Verified<'_>>, BackupError> {
    let total = opened.manifest.payload_bytes;
    let path = opened.path.clone();
    let payload = opened.verified_payload()?;
    Records::new(payload, total).map_err(|message| BackupError::Corrupt { path, message })
}

/// What the dump holds: each type's key count, and the first few keys of
/// each RDB format, to try the server with.
struct Summary {
    counts: Vec<TableRows>,
    samples: BTreeMap<u16, Vec<Record>>,
}

fn summarize(opened: &mut archive::Opened) -> Result<Summary, BackupError> {
    let path = opened.path.clone();
    let corrupt = |message: String| BackupError::Corrupt {
        path: path.clone(),
        message,
    };
    let mut records = records(opened)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut samples: BTreeMap<u16, Vec<Record>> = BTreeMap::new();
    while let Some(record) = records.next_record().map_err(&corrupt)? {
        *counts.entry(record.kind.clone()).or_default() += 1;
        let version = record.rdb_version().unwrap_or_default();
        let these = samples.entry(version).or_default();
        if these.len() < SAMPLES {
            these.push(record);
        }
    }
    Ok(Summary {
        counts: counts
            .into_iter()
            .map(|(name, rows)| TableRows {
                name,
                schema: None,
                rows,
            })
            .collect(),
        samples,
    })
}

/// The dump reads to its end and holds the key counts its manifest lists.
pub(super) fn check(opened: &mut archive::Opened) -> Result<(), BackupError> {
    let summary = summarize(opened)?;
    if summary.counts != opened.manifest.tables {
        return Err(BackupError::Corrupt {
            path: opened.path.clone(),
            message: "its dump holds other key types or counts than its manifest lists".into(),
        });
    }
    Ok(())
}

/// The profile's database, when it holds keys.
fn held(s: &mut dyn KvSession, profile: &Profile) -> Result<Option<String>, BackupError> {
    let KvReply::Int(n) = s.command(&args(&[b"DBSIZE"]))? else {
        return Err(shape(profile, "DBSIZE"));
    };
    Ok((n > 0).then(|| format!("it holds {n} key(s)")))
}

/// The refusal for keys in an RDB format the target's server cannot read.
fn incompatible(profile: &Profile, target: &str, opened: &archive::Opened, version: u16) -> String {
    format!(
        "the server of the profile `{}` is Redis {target}, which cannot read `{}`: its keys \
         were dumped by Redis {} in RDB format {version}; restore it into a server of Redis {} \
         or newer",
        profile.name,
        opened.path.display(),
        opened.manifest.server_version,
        opened.manifest.server_version
    )
}

/// Each RDB format of the file, tried on the server with nothing stored:
/// a few keys of each are restored under their own names (which the
/// profile may write, whatever its ACL) with an expiry in the past, which
/// makes the server check the payload and its format, then store
/// nothing. A format it cannot read is refused naming both versions. A
/// key that exists (under `--replace`) cannot be tried that way, nor can
/// any on a server before Redis 5 (no `ABSTTL`): those are left to the
/// restore itself.
fn try_formats(
    s: &mut dyn KvSession,
    profile: &Profile,
    opened: &archive::Opened,
    samples: &BTreeMap<u16, Vec<Record>>,
) -> Result<(), BackupError> {
    let target = server_version(s, profile)?;
    for (version, records) in samples {
        for record in records {
            let outcome = s.command(&args(&[
                b"RESTORE",
                &record.key,
                b"1",
                &record.payload,
                b"ABSTTL",
            ]));
            let message = match outcome {
                Ok(_) => break,
                Err(e) => e.to_string(),
            };
            if message.contains("payload version") {
                return Err(BackupError::Incompatible(format!(
                    "{} (nothing was restored)",
                    incompatible(profile, &target, opened, *version)
                )));
            }
            if message.contains("syntax error") {
                return Ok(());
            }
            if !message.contains("BUSYKEY") {
                return Err(BackupError::Db(DbError::Engine {
                    profile: profile.name.to_string(),
                    engine: "redis",
                    message,
                }));
            }
        }
    }
    Ok(())
}

/// Sends one batch of `RESTORE`s.
fn restore_batch(
    s: &mut dyn KvSession,
    batch: &mut Vec<Vec<Vec<u8>>>,
    partial: &dyn Fn(String) -> BackupError,
) -> Result<(), BackupError> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcome = s.transaction(batch);
    batch.clear();
    outcome.map(|_| ()).map_err(|e| partial(e.to_string()))
}

fn load(
    s: &mut dyn KvSession,
    profile: &Profile,
    opened: &mut archive::Opened,
    replace: bool,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let total = opened.manifest.payload_bytes;
    let file = opened.path.display().to_string();
    let target = server_version(s, profile)?;
    let source = opened.manifest.server_version.clone();
    let partial = |message: String| {
        // Keys the tries before loading could not reach (`try_formats`).
        let message = if message.contains("payload version") {
            format!(
                "{message} (the server is Redis {target}, and the keys were dumped by Redis \
                 {source}: a server reads no RDB format newer than its own)"
            )
        } else {
            message
        };
        BackupError::Tool {
            tool: "RESTORE".to_owned(),
            message: format!(
                "{message}; the database of `{name}` may now hold part of the backup: fix the \
                 cause, then run `lord db restore {name} {file} --replace` again",
                name = profile.name,
            ),
        }
    };
    // The dump was checked whole before loading, so a record that does
    // not read now means the file changed since; the batches before it
    // are in the database already.
    let mut records = records(opened)?;
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(record) = records
        .next_record()
        .map_err(|message| partial(archive::stopped_by_change(&file, &message)))?
    {
        let ttl = record.ttl.unwrap_or(0).to_string();
        bytes += record.payload.len();
        let mut command = args(&[b"RESTORE", &record.key, ttl.as_bytes(), &record.payload]);
        if replace {
            command.push(b"REPLACE".to_vec());
        }
        batch.push(command);
        if batch.len() >= BATCH_KEYS || bytes >= BATCH_BYTES {
            restore_batch(s, &mut batch, &partial)?;
            bytes = 0;
            progress(Step::Bytes {
                done: total - records.0.left,
                total: Some(total),
            });
        }
    }
    restore_batch(s, &mut batch, &partial)?;
    progress(Step::Bytes {
        done: total,
        total: Some(total),
    });
    Ok(())
}

/// Each type's count among the backup's keys as the database holds them
/// now; a key whose time ran out since `started` is not expected.
fn compare(
    s: &mut dyn KvSession,
    profile: &Profile,
    opened: &mut archive::Opened,
    started: Instant,
) -> Result<(), BackupError> {
    let path = opened.path.clone();
    let mut expected: BTreeMap<String, u64> = opened
        .manifest
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows))
        .collect();
    let mut records = records(opened)?;
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    let mut pending: Vec<Record> = Vec::new();
    let mut done = false;
    while !done {
        match records
            .next_record()
            .map_err(|message| BackupError::Corrupt {
                path: path.clone(),
                message,
            })? {
            Some(mut record) => {
                record.payload = Vec::new();
                pending.push(record);
            }
            None => done = true,
        }
        if pending.len() < BATCH_KEYS && !done {
            continue;
        }
        let commands: Vec<_> = pending.iter().map(|r| args(&[b"TYPE", &r.key])).collect();
        let replies = if commands.is_empty() {
            Vec::new()
        } else {
            s.transaction(&commands)?
        };
        let elapsed = started.elapsed();
        for (record, reply) in pending.drain(..).zip(replies) {
            let kind = reply.as_text().ok_or_else(|| shape(profile, "TYPE"))?;
            let expired = record
                .ttl
                .is_some_and(|t| Duration::from_millis(t) <= elapsed);
            if kind == "none" && expired {
                if let Some(n) = expected.get_mut(&record.kind) {
                    *n = n.saturating_sub(1);
                }
            } else {
                *found.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }
    let mut differences = Vec::new();
    for (kind, rows) in &expected {
        let n = found.remove(kind).unwrap_or(0);
        if n != *rows {
            differences.push(format!("{n} {kind} key(s), the backup {rows}"));
        }
    }
    for (kind, n) in found {
        differences.push(format!("{n} {kind} key(s) the backup holds as other types"));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(BackupError::Counts {
        profile: profile.name.to_string(),
        differences: differences.join("; "),
    })
}

/// Restores a checked dump into the profile's database: refused when it
/// holds keys (unless `replace`), tried on the server before anything is
/// written, then loaded and counted.
pub(super) fn restore(
    profile: &Profile,
    password: Option<&Password>,
    opened: &mut archive::Opened,
    options: RestoreOptions,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let summary = summarize(opened)?;
    let mut s = session(profile, password)?;
    if !options.replace
        && let Some(what) = held(&mut *s, profile)?
    {
        return Err(BackupError::NotEmpty {
            profile: profile.name.to_string(),
            what,
        });
    }
    try_formats(&mut *s, profile, opened, &summary.samples)?;
    progress(Step::Phase("restoring"));
    let started = Instant::now();
    load(&mut *s, profile, opened, options.replace, progress)?;
    progress(Step::Phase("counting keys"));
    let file = opened.path.display().to_string();
    // The load read the dump through its checksum to its end, so what it
    // loaded is the backup; a dump that no longer reads now is only not
    // counted.
    compare(&mut *s, profile, opened, started).map_err(|e| match archive::failed_read(e) {
        Ok(message) => BackupError::Tool {
            tool: "the count after RESTORE".to_owned(),
            message: format!(
                "the backup `{file}` no longer reads as it did when it was loaded: {message}; \
                 the whole backup is in the database of `{name}` (its checksum held while it \
                 was loaded), but its keys were not counted",
                name = profile.name
            ),
        },
        Err(e) => e,
    })
}

#[cfg(test)]
mod tests {
    use super::{BATCH_BYTES, BATCH_KEYS, next_batch};

    #[test]
    fn batches_shrink_for_large_values_and_grow_back_for_small_ones() {
        // Small values: as many keys as a batch takes.
        assert_eq!(next_batch(BATCH_KEYS, 100 * BATCH_KEYS as u64), BATCH_KEYS);
        // 1 MiB per key: eight to a batch.
        assert_eq!(next_batch(10, 10 << 20), 8);
        // Each key over the bound: one at a time, never none.
        assert_eq!(next_batch(4, 4 * (BATCH_BYTES as u64 + 1)), 1);
        assert_eq!(next_batch(1, 0), BATCH_KEYS);
        // Back from one key at a time once values are small again.
        assert_eq!(next_batch(1, 10), BATCH_KEYS);
    }
}
