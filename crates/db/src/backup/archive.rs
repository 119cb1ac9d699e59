//! lord's backup file: one header line, the manifest as one line of JSON,
//! then the engine's own dump, byte for byte.
//!
//! ```text
//! lord-db-backup 1 sha256=<hash of the manifest line>\n
//! {"engine":"postgres","server_version":"15.10",…,"payload_sha256":"…"}\n
//! <the dump: a pg_dump custom archive, a mariadb-dump script, a SQLite file>
//! ```
//!
//! The header's hash covers the manifest and the manifest's hash covers
//! the dump, so a flipped byte anywhere is found before anything is
//! restored. A small header rather than a tar: the dump is one stream, and
//! `head -2` shows what a file holds.
//!
//! Invariant: a backup reaches its destination by rename only, after it
//! was written to a temporary file in the same folder, synced, and read
//! back and checked; a kill at any moment leaves the old file or the new
//! (and a locked-no-more `.partial` file, which the next run deletes).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{BackupError, Manifest};

const MAGIC: &str = "lord-db-backup";
pub(super) const FORMAT: u32 = 1;
/// Longer header lines are not lord's (a manifest lists tables, not rows).
const MAX_MANIFEST: u64 = 16 << 20;

/// A backup file opened and its hashes checked.
pub(super) struct Opened {
    pub(super) path: PathBuf,
    pub(super) manifest: Manifest,
    file: File,
    offset: u64,
}

impl Opened {
    /// The engine's dump, from its first byte.
    pub(super) fn payload(&mut self) -> Result<std::io::Take<&mut File>, BackupError> {
        self.file
            .seek(SeekFrom::Start(self.offset))
            .map_err(|source| BackupError::Io {
                what: format!("reading `{}`", self.path.display()),
                source,
            })?;
        Ok((&mut self.file).take(self.manifest.payload_bytes))
    }

    /// The dump, read from the start and hashed as it is read: the read
    /// that would hand over its last bytes fails instead when the whole
    /// no longer matches the manifest's checksum (the file was changed
    /// after [`open`] checked it), so a program fed from it never sees a
    /// changed dump end.
    pub(super) fn verified_payload(&mut self) -> Result<Verified<'_>, BackupError> {
        let total = self.manifest.payload_bytes;
        let expected = self.manifest.payload_sha256.clone();
        Ok(Verified {
            inner: self.payload()?,
            hasher: Sha256::new(),
            done: 0,
            total,
            expected,
            failed: false,
        })
    }

    /// Copies the dump into `out` through [`Opened::verified_payload`]:
    /// what lands in `out` is what the manifest's checksum covers, even if
    /// the file was changed after [`open`] checked it.
    pub(super) fn copy_payload(&mut self, out: &mut impl Write) -> Result<(), BackupError> {
        let path = self.path.clone();
        let what = format!("copying the dump out of `{}`", path.display());
        let mut verified = self.verified_payload()?;
        std::io::copy(&mut verified, out)
            .map(drop)
            .map_err(|e| changed(&path, e, &what))
    }
}

/// What a dump changed since [`open`] checked it reports, from
/// [`Verified`]'s reads.
const CHANGED: &str = "its dump changed while it was read (it no longer matches the manifest's \
                       checksum); leave the file alone while lord reads it, and try again";

/// A read of the dump through [`Verified`] that failed: the file changed
/// under it (the backup is corrupt now), or an I/O error while `what`.
pub(super) fn changed(path: &Path, e: std::io::Error, what: &str) -> BackupError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        corrupt(path, e)
    } else {
        BackupError::Io {
            what: what.to_owned(),
            source: e,
        }
    }
}

/// The dump as [`Opened::verified_payload`] reads it.
pub(super) struct Verified<'a> {
    inner: std::io::Take<&'a mut File>,
    hasher: Sha256,
    done: u64,
    total: u64,
    expected: String,
    /// Once a read failed, every later one fails too: a caller that tried
    /// again must not see the end of a changed dump as a clean one.
    failed: bool,
}

impl Read for Verified<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed {
            return Err(self.fail());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            if self.done < self.total {
                return Err(self.fail());
            }
            return Ok(0);
        };
        self.hasher.update(chunk);
        self.done += n as u64;
        if self.done == self.total && hex::encode(self.hasher.clone().finalize()) != self.expected {
            return Err(self.fail());
        }
        Ok(n)
    }
}

impl Verified<'_> {
    /// The dump changed: this read and every later one fail.
    fn fail(&mut self) -> std::io::Error {
        self.failed = true;
        std::io::Error::new(std::io::ErrorKind::InvalidData, CHANGED)
    }
}

/// Why a load that writes as it goes (MySQL/MariaDB, Redis, MongoDB) was
/// stopped part way by a read of the dump that failed: the file was
/// checked whole before, so it changed since (or can no longer be read),
/// and the error says so rather than calling the backup corrupt, whose
/// words say nothing was restored. A change is found for sure only at the
/// dump's end, so what was loaded before may be the changed file's.
pub(super) fn stopped_by_change(file: &str, message: &str) -> String {
    format!(
        "it was stopped, since the backup `{file}` no longer reads as it did when it was \
         checked: {message}; what was loaded before that may hold records of the changed file \
         that the backup does not"
    )
}

/// For an error met after the whole file was checked: `Ok` with what went
/// wrong when it is a read of the dump that failed (a corrupt backup, which
/// that check rules out otherwise), the error itself when not.
pub(super) fn failed_read(e: BackupError) -> Result<String, BackupError> {
    match e {
        BackupError::Corrupt { message, .. } => Ok(message),
        other @ (BackupError::Db(_)
        | BackupError::Io { .. }
        | BackupError::WrongEngine { .. }
        | BackupError::NotEmpty { .. }
        | BackupError::NoTool(_)
        | BackupError::Refused(_)
        | BackupError::Incompatible(_)
        | BackupError::Tool { .. }
        | BackupError::Unverified { .. }
        | BackupError::Counts { .. }) => Err(other),
    }
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> BackupError {
    BackupError::Corrupt {
        path: path.to_owned(),
        message: why.to_string(),
    }
}

/// Writes the header and manifest for a dump, then the dump itself from
/// `payload`, to `out`.
pub(super) fn write(
    out: &mut impl Write,
    manifest: &Manifest,
    payload: &mut impl Read,
) -> std::io::Result<()> {
    let line = serde_json::to_string(manifest).map_err(std::io::Error::other)?;
    let hash = hex::encode(Sha256::digest(line.as_bytes()));
    writeln!(out, "{MAGIC} {FORMAT} sha256={hash}")?;
    writeln!(out, "{line}")?;
    std::io::copy(payload, out)?;
    out.flush()
}

/// Opens `path` and checks it: lord's header, the manifest's hash, and the
/// dump's length and hash against the manifest.
pub(super) fn open(path: &Path) -> Result<Opened, BackupError> {
    let io = |source| BackupError::Io {
        what: format!("reading `{}`", path.display()),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::new(file);
    let mut header = String::new();
    (&mut reader)
        .take(256)
        .read_line(&mut header)
        .map_err(|_| corrupt(path, "it does not start with lord's backup header"))?;
    let mut words = header.trim_end().split(' ');
    let (Some(MAGIC), Some(format), Some(hash), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(corrupt(path, "it does not start with lord's backup header"));
    };
    if format != FORMAT.to_string() {
        return Err(corrupt(
            path,
            format!(
                "it is in backup format {format}, and this lord reads format {FORMAT}; use a newer lord"
            ),
        ));
    }
    let hash = hash.strip_prefix("sha256=").unwrap_or_default();
    let mut line = String::new();
    (&mut reader)
        .take(MAX_MANIFEST)
        .read_line(&mut line)
        .map_err(|_| corrupt(path, "its manifest is not text"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    if hex::encode(Sha256::digest(line.as_bytes())) != hash {
        return Err(corrupt(
            path,
            "its manifest does not match the header's checksum",
        ));
    }
    let manifest: Manifest = serde_json::from_str(line)
        .map_err(|e| corrupt(path, format!("its manifest does not read: {e}")))?;
    let offset = (header.len() + line.len() + 1) as u64;
    let mut file = reader.into_inner();
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut hasher = Sha256::new();
    let read = std::io::copy(&mut (&mut file).take(u64::MAX), &mut hasher).map_err(io)?;
    if read != manifest.payload_bytes {
        return Err(corrupt(
            path,
            format!(
                "it holds {read} bytes of dump and its manifest says {}; it was cut short or added to",
                manifest.payload_bytes
            ),
        ));
    }
    if hex::encode(hasher.finalize()) != manifest.payload_sha256 {
        return Err(corrupt(
            path,
            "its dump does not match the manifest's checksum",
        ));
    }
    Ok(Opened {
        path: path.to_owned(),
        manifest,
        file,
        offset,
    })
}

/// A file being written beside `destination`, renamed onto it by
/// [`Pending::commit`] and deleted if dropped before.
pub(super) struct Pending {
    temp: tempfile::NamedTempFile,
    destination: PathBuf,
}

/// The folder a destination lives in (`.` for a bare file name).
pub(super) fn folder(destination: &Path) -> &Path {
    match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary file in `folder`, named `PREFIX….partial` and locked
/// (`flock`) for as long as this process holds it, so that [`sweep`] can
/// tell what a killed run left from what a live one is writing.
pub(super) fn locked_temp(folder: &Path, prefix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    sweep(folder);
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".partial")
        .tempfile_in(folder)?;
    temp.as_file().try_lock().map_err(std::io::Error::other)?;
    Ok(temp)
}

/// Deletes the temporary files killed backups and restores left in
/// `folder`: those no live process holds locked.
fn sweep(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with(".lord-backup-") || name.starts_with(".lord-restore-");
        if !ours || !name.ends_with(".partial") {
            continue;
        }
        if let Ok(file) = File::open(entry.path())
            && file.try_lock().is_ok()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Pending {
    pub(super) fn new(destination: &Path) -> Result<Self, BackupError> {
        let place = folder(destination);
        let temp = locked_temp(place, ".lord-backup-").map_err(|source| {
            let what = if source.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "the folder `{}` does not exist (create it, or write the backup elsewhere)",
                    place.display()
                )
            } else {
                format!("making a temporary file beside `{}`", destination.display())
            };
            BackupError::Io { what, source }
        })?;
        Ok(Self {
            temp,
            destination: destination.to_owned(),
        })
    }

    pub(super) fn path(&self) -> &Path {
        self.temp.path()
    }

    pub(super) fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Syncs the file, renames it onto the destination, and syncs the
    /// folder so the rename itself survives a power cut.
    pub(super) fn commit(self) -> Result<(), BackupError> {
        let destination = self.destination.clone();
        let io = |source| BackupError::Io {
            what: format!("writing `{}`", destination.display()),
            source,
        };
        self.temp.as_file().sync_all().map_err(io)?;
        self.temp.persist(&destination).map_err(|e| io(e.error))?;
        File::open(folder(&destination))
            .and_then(|dir| dir.sync_all())
            .map_err(io)
    }
}

/// A dump in lord's own framing (Redis, MongoDB) read back: its header
/// line checked, then exact reads that no length in it may carry past the
/// payload's end.
pub(crate) struct Framed<R> {
    input: BufReader<R>,
    /// Bytes of the payload not read yet.
    pub(crate) left: u64,
}

impl<R: Read> Framed<R> {
    /// `input` holds `total` bytes, starting with `header` (`engine`'s).
    pub(crate) fn new(input: R, total: u64, header: &str, engine: &str) -> Result<Self, String> {
        let mut input = BufReader::new(input);
        let mut line = String::new();
        (&mut input)
            .take(header.len() as u64)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line != header {
            return Err(format!(
                "its dump does not start with lord's {engine} header"
            ));
        }
        Ok(Self {
            input,
            left: total.saturating_sub(header.len() as u64),
        })
    }

    /// Fills `buf`, or says the dump ends inside `what`.
    pub(crate) fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), String> {
        if buf.len() as u64 > self.left {
            return Err(format!("its dump ends inside {what}"));
        }
        self.input.read_exact(buf).map_err(|e| e.to_string())?;
        self.left -= buf.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek as _, SeekFrom, Write as _};

    use sha2::{Digest as _, Sha256};

    use super::{Manifest, open, write};
    use crate::backup::BackupError;

    fn manifest(payload: &[u8]) -> Manifest {
        Manifest {
            format: super::FORMAT,
            engine: "sqlite".to_owned(),
            server_version: "3".to_owned(),
            tool: "test".to_owned(),
            profile: "p".to_owned(),
            created: 0,
            tables: Vec::new(),
            payload_bytes: payload.len() as u64,
            left_out: Vec::new(),
            payload_sha256: hex::encode(Sha256::digest(payload)),
        }
    }

    /// Writes `bytes` over the file at `path`, `from_end` bytes before its
    /// end, in place (an open handle sees the change).
    fn overwrite(path: &std::path::Path, from_end: i64, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("reopen");
        file.seek(SeekFrom::End(-from_end)).expect("seek");
        file.write_all(bytes).expect("overwrite");
    }

    #[test]
    fn the_dump_copied_out_is_the_one_the_checksum_covers() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("b.lordbackup");
        let payload = b"the dump, byte for byte".to_vec();
        let mut file = std::fs::File::create(&path).expect("create");
        write(&mut file, &manifest(&payload), &mut payload.as_slice()).expect("write");
        drop(file);

        let mut opened = open(&path).expect("open");
        let mut out = Vec::new();
        opened.copy_payload(&mut out).expect("copy");
        assert_eq!(out, payload);

        // Changed after `open` checked it: the copy out refuses what it read.
        overwrite(&path, 4, b"BYTE");
        let mut out = Vec::new();
        match opened.copy_payload(&mut out) {
            Err(BackupError::Corrupt { message, .. }) => {
                assert!(message.contains("changed while it was read"), "{message}");
            }
            other => panic!("expected the change to be found, got {other:?}"),
        }
    }

    #[test]
    fn a_changed_dump_never_hands_over_its_last_bytes() {
        use std::io::Read as _;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("b.lordbackup");
        let payload = vec![b'x'; 100];
        let mut file = std::fs::File::create(&path).expect("create");
        write(&mut file, &manifest(&payload), &mut payload.as_slice()).expect("write");
        drop(file);
        let mut opened = open(&path).expect("open");
        // The first bytes change after the checksums were checked.
        overwrite(&path, 100, b"y");

        let mut verified = opened.verified_payload().expect("payload");
        let mut handed = 0;
        let mut chunk = [0u8; 10];
        let failed = loop {
            match verified.read(&mut chunk) {
                Ok(0) => break None,
                Ok(n) => handed += n,
                Err(e) => break Some(e),
            }
        };
        let failed = failed.expect("the change is found");
        assert_eq!(failed.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(handed, 90, "the last read is withheld");
        // Reading on gets no clean end.
        assert!(verified.read(&mut chunk).is_err());
    }
}
