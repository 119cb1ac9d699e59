//! The audit trail beyond the store: signed checkpoints, verification,
//! reports and export (extends the façade).
//!
//! The store keeps the trail as a hash chain (`lord_store::chain`). A
//! chain alone cannot show that its newest records were cut off, or that
//! the whole database was swapped for another history; so after a command
//! that wrote to the store, the newest record's sequence number and hash
//! are signed with this machine's audit key and appended to
//! `$LORD_HOME/audit/checkpoints.jsonl`, outside the database.
//! [`Framework::audit_verify`] checks the chain and every checkpoint (its
//! signature, and that the record it vouches for is still there and
//! unchanged). Exports (JSON lines for a SIEM, or syslog) carry each
//! record's hashes, so the receiver can check the chain too.
//!
//! Invariant: checkpoints are only appended; a line that does not verify
//! is reported, never dropped.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use lord_store::chain::{ChainRecord, Checkpoint, Tamper};
use serde::{Deserialize, Serialize};

use crate::error::HostError;

/// The checkpoints, one JSON object a line, under `$LORD_HOME`.
pub const CHECKPOINTS: &str = "audit/checkpoints.jsonl";
/// This machine's audit signing key (an ed25519 seed, hexadecimal, 0600).
const KEY: &str = "audit/checkpoint.key";
/// What a checkpoint signature covers, before `seq` and `hash`.
const DOMAIN: &[u8] = b"lord-audit-checkpoint-v1\0";

/// One line of the checkpoints file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signed {
    seq: i64,
    hash: String,
    /// Unix seconds when it was signed.
    at: i64,
    /// The public key, hexadecimal.
    key: String,
    signature: String,
}

fn message(seq: i64, hash: &str, at: i64) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    out.extend_from_slice(format!("{seq}\0{hash}\0{at}").as_bytes());
    out
}

/// A problem `lord audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AuditProblem {
    /// Something done to the records.
    Tampered(Tamper),
    /// A checkpoint line that does not verify.
    BadCheckpoint { line: usize, reason: String },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tampered(tamper) => tamper.fmt(f),
            Self::BadCheckpoint { line, reason } => {
                write!(f, "checkpoint line {line} does not verify: {reason}")
            }
        }
    }
}

/// What `lord audit verify` says.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerdict {
    pub records: usize,
    /// The newest record's sequence number (0 for an empty trail).
    pub last: i64,
    pub checkpoints: usize,
    /// The newest checkpoint that verified.
    pub newest_checkpoint: Option<i64>,
    pub problems: Vec<AuditProblem>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HostError + use<> {
    let path = path.to_path_buf();
    move |source| HostError::Io {
        action,
        path,
        source,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Cuts off a last line without its newline (a write a crash cut short,
/// which [`read_checkpoints`] skips), so the next line appended does not
/// join it and turn both into one line that is not a checkpoint.
fn cut_torn_tail(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Back from the end, a block at a time, to the last newline.
    let mut end = len;
    let mut block = vec![0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let chunk = &mut block[..usize::try_from(end - start).unwrap_or(0)];
        file.read_exact_at(chunk, start)?;
        if let Some(at) = chunk.iter().rposition(|b| *b == b'\n') {
            return file.set_len(start + at as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

/// The audit key in `text`, read from `path`.
fn parse_key(path: &Path, text: &str) -> Result<SigningKey, HostError> {
    let seed = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| HostError::Io {
            action: "read the audit key",
            path: path.to_owned(),
            source: std::io::Error::other("it is not 64 hexadecimal digits"),
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The audit key under `home`, made on first use.
fn signing_key(home: &Path) -> Result<SigningKey, HostError> {
    let path = home.join(KEY);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| {
                io("draw randomness for", &path)(std::io::Error::other(e.to_string()))
            })?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io("create", dir))?;
            }
            // Made only if still missing (user-only): two commands making
            // their first checkpoint at once must sign with one key, or the
            // loser's checkpoints would read as signed by another machine.
            let made = lord_file::create_atomic(&path, hex::encode(seed).as_bytes())
                .map_err(|e| io("write", &path)(std::io::Error::other(e.to_string())))?;
            if made {
                Ok(SigningKey::from_bytes(&seed))
            } else {
                // Another command made it first: read that one, once (a
                // path that exists but does not read is an error, not a
                // loop).
                let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
                parse_key(&path, &text)
            }
        }
        Err(e) => Err(io("read", &path)(e)),
    }
}

/// The checkpoint lines, each parsed and checked against `key`.
fn read_checkpoints(
    home: &Path,
    key: &VerifyingKey,
) -> Result<(Vec<Checkpoint>, Vec<AuditProblem>), HostError> {
    let path = home.join(CHECKPOINTS);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        // A last line without its newline is a write a crash cut short.
        if index + 1 == lines.len() && !complete {
            break;
        }
        let reason = match serde_json::from_str::<Signed>(line) {
            Err(e) => Some(format!("not a checkpoint ({e})")),
            Ok(signed) if signed.key != hex::encode(key.as_bytes()) => {
                Some("it is signed by another key than this machine's".to_owned())
            }
            Ok(signed) => {
                let signature = hex::decode(&signed.signature)
                    .ok()
                    .and_then(|b| <[u8; 64]>::try_from(b).ok())
                    .map(|b| ed25519_dalek::Signature::from_bytes(&b));
                match signature {
                    Some(sig)
                        if key
                            .verify(&message(signed.seq, &signed.hash, signed.at), &sig)
                            .is_ok() =>
                    {
                        good.push(Checkpoint {
                            seq: signed.seq,
                            hash: signed.hash,
                        });
                        None
                    }
                    Some(_) | None => Some("its signature is wrong".to_owned()),
                }
            }
        };
        if let Some(reason) = reason {
            bad.push(AuditProblem::BadCheckpoint {
                line: index + 1,
                reason,
            });
        }
    }
    Ok((good, bad))
}

/// The record the newest checkpoint line vouches for (lines are only
/// appended, each newer than the last); a torn last line is skipped.
fn last_checkpoint_seq(home: &Path) -> Result<Option<i64>, HostError> {
    let path = home.join(CHECKPOINTS);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
    };
    Ok(text
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Signed>(line).ok())
        .map(|signed| signed.seq))
}

impl crate::Framework {
    pub fn audit_log(
        &self,
        id: &lord_manifest::PluginId,
    ) -> Result<Vec<lord_store::AuditEntry>, HostError> {
        Ok(self.store().audit_log(id)?)
    }

    /// Records that what plugin `id` wrote was changed on its way to the
    /// user (`what`: which sequences were shown escaped), as an audit entry
    /// named [`OUTPUT_NEUTRALISED`](crate::OUTPUT_NEUTRALISED), so `plugin info` can say so later. The
    /// host knows nothing of terminals: whoever shows the output decides
    /// what to neutralise and tells it here.
    pub fn record_output_neutralised(
        &mut self,
        id: &lord_manifest::PluginId,
        what: &str,
    ) -> Result<(), HostError> {
        Ok(self
            .store_mut()
            .audit(id, crate::OUTPUT_NEUTRALISED, what)?)
    }

    /// Signs the newest audit record into the checkpoints, when it is
    /// newer than the newest checkpoint. Returns the record it vouched
    /// for, if it wrote one.
    pub fn audit_checkpoint(&self) -> Result<Option<i64>, HostError> {
        let home = self.home();
        // The newest record and the newest checkpoint only: this runs at
        // the end of every command that wrote, so it reads neither the
        // whole trail nor every checkpoint (`audit_verify` does).
        let Some(newest) = self.store().audit_newest()? else {
            return Ok(None);
        };
        if last_checkpoint_seq(home)?.is_some_and(|seq| seq >= newest.seq) {
            return Ok(None);
        }
        let key = signing_key(home)?;
        let at = now();
        let signed = Signed {
            seq: newest.seq,
            signature: hex::encode(key.sign(&message(newest.seq, &newest.hash, at)).to_bytes()),
            hash: newest.hash,
            at,
            key: hex::encode(key.verifying_key().as_bytes()),
        };
        let path = home.join(CHECKPOINTS);
        let mut line = serde_json::to_string(&signed)
            .map_err(|e| io("write", &path)(std::io::Error::other(e.to_string())))?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        // One process at a time looks at the end and appends: a tail cut
        // off below must be a crash's, not another process's line.
        file.lock().map_err(io("lock", &path))?;
        cut_torn_tail(&file).map_err(io("repair", &path))?;
        file.write_all(line.as_bytes())
            .map_err(io("append to", &path))?;
        file.sync_data().map_err(io("sync", &path))?;
        Ok(Some(newest.seq))
    }

    /// Checks the whole trail: the chain, and every checkpoint.
    pub fn audit_verify(&self) -> Result<AuditVerdict, HostError> {
        let records = self.store().audit_chain()?;
        let key = signing_key(self.home())?;
        let (checkpoints, mut problems) = read_checkpoints(self.home(), &key.verifying_key())?;
        let tampered = lord_store::chain::verify(&records, &checkpoints);
        let newest_checkpoint = checkpoints
            .iter()
            .filter(|c| records.iter().any(|r| r.seq == c.seq && r.hash == c.hash))
            .map(|c| c.seq)
            .max();
        problems.splice(0..0, tampered.into_iter().map(AuditProblem::Tampered));
        Ok(AuditVerdict {
            records: records.len(),
            last: records.last().map_or(0, |r| r.seq),
            checkpoints: checkpoints.len(),
            newest_checkpoint,
            problems,
        })
    }

    /// Every record written at or after `since` (Unix seconds), with its
    /// hashes, oldest first.
    pub fn audit_records(&self, since: i64) -> Result<Vec<ChainRecord>, HostError> {
        Ok(self
            .store()
            .audit_chain()?
            .into_iter()
            .filter(|r| r.at >= since)
            .collect())
    }

    /// Where the checkpoints live.
    pub fn audit_checkpoints_path(&self) -> PathBuf {
        self.home().join(CHECKPOINTS)
    }
}

/// A record as one RFC 5424 syslog message (facility `auth`, severity
/// `notice`), its fields and hashes as structured JSON in the message.
pub fn syslog_line(record: &ChainRecord, host: &str) -> String {
    let at = rfc3339(record.at);
    let body = serde_json::to_string(record).unwrap_or_default();
    format!("<37>1 {at} {host} lord - audit - {body}")
}

/// Unix seconds as an RFC 3339 UTC time (`2024-12-05T12:00:00Z`).
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line a crash cut short is cut off before the next is appended,
    /// however long it is; whole lines stay.
    #[test]
    fn a_torn_last_line_is_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints");
        let long = "x".repeat(10_000);
        for (before, after) in [
            ("a\nb\npartial".to_owned(), "a\nb\n".to_owned()),
            (format!("a\n{long}"), "a\n".to_owned()),
            (format!("{long}\n{long}"), format!("{long}\n")),
            ("partial".to_owned(), String::new()),
            ("a\nb\n".to_owned(), "a\nb\n".to_owned()),
            (String::new(), String::new()),
        ] {
            std::fs::write(&path, &before).unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .unwrap();
            cut_torn_tail(&file).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
        }
    }

    /// The audit key is made once: a second maker finds it and signs with
    /// it.
    #[test]
    fn the_audit_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = signing_key(dir.path()).unwrap();
        let again = signing_key(dir.path()).unwrap();
        assert_eq!(first.to_bytes(), again.to_bytes());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_733_400_000), "2024-12-05T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
