//! The package archive: a gzip-compressed tar of a plugin's manifest, its
//! component, and its README, licence, changelog, `docs/`, `schemas/`,
//! `tests/` and `examples/`, nothing else.
//!
//! Packing is deterministic: entries sorted by path, every time 0, every
//! mode 0644, owner 0 with no names, and a gzip header with no time or
//! file name, so the same folder gives the same bytes on every machine.
//!
//! Unpacking trusts nothing the archive says. Only regular files and
//! folders are accepted (no links, devices or sparse files); every path
//! must be relative with no `.` or `..` segment; and the entry count, each
//! entry's size, the total size and the compression ratio are capped while
//! reading, whatever the headers claim. Files are created new, inside a
//! folder the caller made empty, so nothing outside it is touched.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{PackageError, io};

/// The file extension of packages.
pub const EXTENSION: &str = "lordpkg";

/// The manifest's path inside a package.
const MANIFEST: &str = lord_manifest::MANIFEST_FILE;

/// Top-level files a package carries besides the manifest and component,
/// by name prefix.
const EXTRA_FILES: &[&str] = &["README", "LICENSE", "LICENCE", "CHANGELOG", "NOTICE"];

/// Top-level folders a package carries whole.
const EXTRA_DIRS: &[&str] = &["docs", "schemas", "tests", "examples"];

/// A package's SHA-256 content digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl std::str::FromStr for Digest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(text).map_err(|e| format!("not hexadecimal: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "not 32 bytes (64 hexadecimal digits)".to_owned())?;
        Ok(Self(bytes))
    }
}

/// Caps enforced on unpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// Decompressed bytes per compressed byte, beyond the first MiB.
    pub max_ratio: u64,
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 2048,
            max_entry_bytes: 64 << 20,
            max_total_bytes: 256 << 20,
            max_ratio: 100,
            max_manifest_bytes: 64 << 10,
        }
    }
}

/// A packed plugin.
#[derive(Debug, Clone)]
pub struct Packed {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub id: lord_manifest::PluginId,
    pub version: lord_manifest::Version,
    /// Each file's path in the package and its size.
    pub files: Vec<(String, u64)>,
}

impl Packed {
    /// The conventional file name: `ID-VERSION.lordpkg`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.{EXTENSION}", self.id, self.version)
    }
}

/// Collects the files `dir` would pack: package path to file path.
fn collect(dir: &Path, component: &str) -> Result<BTreeMap<String, PathBuf>, PackageError> {
    let unpackable = |problem: String| PackageError::Unpackable {
        path: dir.to_path_buf(),
        problem,
    };
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_owned(), dir.join(MANIFEST));
    files.insert(component.to_owned(), dir.join(component));
    for entry in fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let kind = entry.file_type().map_err(io("inspect", &entry.path()))?;
        if kind.is_file() && EXTRA_FILES.iter().any(|p| name.starts_with(p)) {
            files.insert(name, entry.path());
        } else if kind.is_dir() && EXTRA_DIRS.contains(&name.as_str()) {
            walk(&entry.path(), &name, &mut files)?;
        } else if kind.is_symlink()
            && (EXTRA_FILES.iter().any(|p| name.starts_with(p))
                || EXTRA_DIRS.contains(&name.as_str()))
        {
            return Err(unpackable(format!(
                "`{name}` is a symbolic link; packages hold no links, so copy the file in"
            )));
        }
    }
    for (name, path) in &files {
        let meta = fs::symlink_metadata(path).map_err(io("read", path))?;
        if !meta.is_file() {
            return Err(unpackable(format!(
                "`{name}` is not a regular file; packages hold no links or special files"
            )));
        }
    }
    Ok(files)
}

fn walk(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, PathBuf>,
) -> Result<(), PackageError> {
    for entry in fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(PackageError::Unpackable {
                path: entry.path(),
                problem: "the file name is not UTF-8".to_owned(),
            });
        };
        let inner = format!("{prefix}/{name}");
        let kind = entry.file_type().map_err(io("inspect", &entry.path()))?;
        if kind.is_dir() {
            walk(&entry.path(), &inner, files)?;
        } else if kind.is_file() {
            files.insert(inner, entry.path());
        } else {
            return Err(PackageError::Unpackable {
                path: entry.path(),
                problem: format!(
                    "`{inner}` is a link or special file; packages hold regular files only"
                ),
            });
        }
    }
    Ok(())
}

/// Packs the plugin in `dir`. The manifest must parse and name a component
/// that exists; the result is the same bytes for the same files.
pub fn pack(dir: &Path) -> Result<Packed, PackageError> {
    let manifest_path = dir.join(MANIFEST);
    let text = fs::read_to_string(&manifest_path).map_err(io("read", &manifest_path))?;
    let manifest = lord_manifest::parse(&manifest_path.display().to_string(), &text)?;
    let files = collect(dir, &manifest.plugin.component)?;

    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut listed = Vec::with_capacity(files.len());
    for (name, path) in &files {
        let data = fs::read(path).map_err(io("read", path))?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, name, data.as_slice())
            .map_err(io("pack", path))?;
        listed.push((name.clone(), data.len() as u64));
    }
    let gz = tar.into_inner().map_err(io("finish", dir))?;
    let bytes = gz.finish().map_err(io("compress", dir))?;
    Ok(Packed {
        digest: Digest::of(&bytes),
        bytes,
        id: manifest.plugin.id,
        version: manifest.plugin.version,
        files: listed,
    })
}

/// Counts decompressed bytes and stops at a cap, so a compression bomb is
/// refused after reading at most the cap.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(BombMarker));
        }
        Ok(n)
    }
}

/// The error a [`Capped`] reader raises, told apart from damage.
#[derive(Debug)]
struct BombMarker;

impl std::fmt::Display for BombMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompression cap reached")
    }
}

impl std::error::Error for BombMarker {}

fn is_bomb(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<BombMarker>())
}

/// Checks an entry's path: relative, `/`-separated, no empty, `.` or `..`
/// segment, no backslash or NUL, at most 255 bytes.
fn checked_path(raw: &[u8]) -> Result<String, PackageError> {
    let shown = String::from_utf8_lossy(raw)
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect::<String>();
    let refuse = |why: &str| Err(PackageError::Refused(format!("entry `{shown}` {why}")));
    let Ok(text) = std::str::from_utf8(raw) else {
        return refuse("has a name that is not UTF-8");
    };
    let text = text.strip_suffix('/').unwrap_or(text);
    if text.is_empty() {
        return refuse("has an empty name");
    }
    if text.len() > 255 {
        return refuse("has a name longer than 255 bytes");
    }
    if text.starts_with('/') || text.get(1..2) == Some(":") {
        return refuse("has an absolute path");
    }
    if text.contains('\\') || text.contains('\0') {
        return refuse("has a backslash or NUL in its name");
    }
    for segment in text.split('/') {
        match segment {
            ".." => return refuse("has a `..` segment, which would leave the package"),
            "" | "." => return refuse("has an empty or `.` segment"),
            _ => {}
        }
    }
    Ok(text.to_owned())
}

/// What an unpack produced.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// Each file's path in the package and its size.
    pub files: Vec<(String, u64)>,
}

/// Unpacks `bytes` into `dest`, which must be an empty folder. On error,
/// `dest` may hold part of the package: callers unpack into a temporary
/// folder and drop it.
pub fn unpack(bytes: &[u8], dest: &Path, limits: &Limits) -> Result<Unpacked, PackageError> {
    // Past the first MiB, no more than `max_ratio` times the compressed
    // size, and never more than the total cap plus the tar headers.
    let headers = (limits.max_entries as u64 + 2) * 1536;
    let cap = (bytes.len() as u64)
        .saturating_mul(limits.max_ratio)
        .max(1 << 20)
        .min(limits.max_total_bytes + headers);
    let mut reader = Capped {
        inner: flate2::read::GzDecoder::new(bytes),
        read: 0,
        cap,
    };
    let damaged = |e: io::Error| {
        if is_bomb(&e) {
            PackageError::Refused(format!(
                "it decompresses to more than {cap} bytes ({}x its {} compressed bytes): a \
                 compression bomb",
                limits.max_ratio,
                bytes.len()
            ))
        } else {
            PackageError::Malformed(e.to_string())
        }
    };
    let mut files = Vec::new();
    let mut total = 0u64;
    {
        let mut archive = tar::Archive::new(&mut reader);
        for (count, entry) in archive.entries().map_err(damaged)?.enumerate() {
            let mut entry = entry.map_err(damaged)?;
            if count >= limits.max_entries {
                return Err(PackageError::Refused(format!(
                    "it has more than {} entries",
                    limits.max_entries
                )));
            }
            let name = checked_path(&entry.path_bytes())?;
            let kind = entry.header().entry_type();
            let target = dest.join(&name);
            if kind.is_dir() {
                fs::create_dir_all(&target).map_err(io("create", &target))?;
                continue;
            }
            if !kind.is_file() {
                return Err(PackageError::Refused(format!(
                    "entry `{name}` is a {}; packages hold regular files only",
                    describe_kind(kind)
                )));
            }
            let claimed = entry.header().size().map_err(damaged)?;
            let max = if name == MANIFEST {
                limits.max_manifest_bytes
            } else {
                limits.max_entry_bytes
            };
            if claimed > max {
                return Err(PackageError::Refused(format!(
                    "entry `{name}` is {claimed} bytes, over the {max}-byte limit"
                )));
            }
            total += claimed;
            if total > limits.max_total_bytes {
                return Err(PackageError::Refused(format!(
                    "its files add up to more than {} bytes",
                    limits.max_total_bytes
                )));
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(io("create", parent))?;
            }
            let mut file = match File::options().write(true).create_new(true).open(&target) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(PackageError::Refused(format!(
                        "entry `{name}` appears twice"
                    )));
                }
                Err(e) => return Err(io("create", &target)(e)),
            };
            let copied = io::copy(&mut (&mut entry).take(max), &mut file).map_err(damaged)?;
            if copied != claimed {
                return Err(PackageError::Malformed(format!(
                    "entry `{name}` holds {copied} of its {claimed} bytes"
                )));
            }
            file.flush().map_err(io("write", &target))?;
            files.push((name, copied));
        }
    }
    // Read to the end so the gzip checksum is checked too.
    io::copy(&mut reader, &mut io::sink()).map_err(damaged)?;
    match files.iter().find(|(name, _)| name == MANIFEST) {
        Some(_) => Ok(Unpacked { files }),
        None => Err(PackageError::Refused(format!("it holds no `{MANIFEST}`"))),
    }
}

fn describe_kind(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char | tar::EntryType::Block => "device",
        tar::EntryType::Fifo => "named pipe",
        tar::EntryType::GNUSparse => "sparse file",
        tar::EntryType::Regular
        | tar::EntryType::Continuous
        | tar::EntryType::Directory
        | tar::EntryType::GNULongName
        | tar::EntryType::GNULongLink
        | tar::EntryType::XGlobalHeader
        | tar::EntryType::XHeader => "special entry",
        // `tar::EntryType` is non-exhaustive.
        _ => "special entry",
    }
}
