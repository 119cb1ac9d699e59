//! The compiled-code cache: Cranelift output kept on disk so that loading an
//! installed plugin costs a deserialise, not a compile.
//!
//! Invariant: entries are keyed by the component's SHA-256 and live in a
//! directory named after the engine's compatibility hash, so code compiled by
//! another wasmtime or another configuration is never loaded. Entries are
//! written to a temporary file and renamed into place, in directories only the
//! user can read, so a reader sees a whole entry or none.
//! Invariant: compiled code is verified before it is deserialised.
//! Deserialising is `unsafe` (the bytes are native code run as they are),
//! so each entry `<sha256>.cwasm` has a tag `<sha256>.tag` written with it:
//! a keyed BLAKE3 hash, under this cache's own key (`key`, 0600), of the
//! component hash the entry was compiled from and the entry's bytes. An
//! entry swapped for another component's, changed by a failing disk, or
//! written by anything but this cache fails its tag; it is moved aside
//! (`.corrupt`) and rebuilt from the component, never loaded.
//! Hashing a whole entry costs about as much as loading it, so a load that
//! verified an entry whose file has not changed for a while also seals it:
//! the tag file gains the file's identity (device, inode, size, modified
//! and changed times) under a keyed hash. While the file still shows that
//! identity (the kernel moves the changed time on every write, rename or
//! link, and no process can set it back), its bytes are the verified ones
//! and a load maps it without rehashing. A file changed within the clock
//! tick of its own sealing cannot be told apart, so only files unchanged
//! for `SEAL_AFTER` are sealed.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::SandboxError;

pub(crate) struct CompiledCache {
    dir: PathBuf,
    /// The key every tag is made with: without it no tag can be forged.
    key: [u8; 32],
}

impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompiledCache {
    pub(crate) fn open(root: &Path, engine: &Engine) -> Result<Self, SandboxError> {
        // `DefaultHasher::new()` uses fixed keys, so the name is stable for a
        // given build of the host; a toolchain change at worst misses the
        // cache once.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join(format!("wasmtime-{:016x}", hasher.finish()));
        create_private_dir(root)?;
        create_private_dir(&dir)?;
        let key = load_or_make_key(&root.join("key"))?;
        Ok(Self { dir, key })
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    fn tag_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.tag"))
    }

    /// The tag of an entry compiled from the component `sha256`.
    fn tag(&self, sha256: &str, bytes: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(sha256.as_bytes());
        hasher.update(&u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_le_bytes());
        hasher.update(bytes);
        hasher.finalize()
    }

    /// The keyed hash binding an entry's file identity to its tag.
    fn seal(&self, tag: &str, identity: &str) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(b"seal\0");
        hasher.update(tag.as_bytes());
        hasher.update(b"\0");
        hasher.update(identity.as_bytes());
        hasher.finalize()
    }

    /// Whether the entry for `sha256` may be loaded, and how.
    fn verified(&self, sha256: &str) -> Trust {
        let entry = self.entry(sha256);
        let meta = match fs::metadata(&entry) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Trust::Absent,
            Err(_) => return Trust::Refused,
        };
        let Ok(tag_file) = fs::read_to_string(self.tag_path(sha256)) else {
            return Trust::Refused;
        };
        let mut lines = tag_file.lines();
        let Some(recorded) = lines.next().map(str::trim) else {
            return Trust::Refused;
        };
        if let (Some(identity), Some(seal)) = (lines.next(), lines.next())
            && identity == identity_of(&meta)
            && blake3::Hash::from_hex(seal.trim()).is_ok_and(|s| s == self.seal(recorded, identity))
        {
            return Trust::Sealed;
        }
        let Ok(bytes) = fs::read(&entry) else {
            return Trust::Refused;
        };
        let Ok(recorded_hash) = blake3::Hash::from_hex(recorded) else {
            return Trust::Refused;
        };
        // `blake3::Hash` compares in constant time.
        if recorded_hash != self.tag(sha256, &bytes) {
            return Trust::Refused;
        }
        if settled(&meta) {
            // A hint for later loads: losing it costs a rehash, so no sync.
            let identity = identity_of(&meta);
            let sealed = format!(
                "{recorded}\n{identity}\n{}\n",
                self.seal(recorded, &identity).to_hex()
            );
            let _ = self.write_atomically(&self.tag_path(sha256), sealed.as_bytes(), false);
        }
        Trust::Verified(bytes)
    }

    /// Whether the cached entry for `sha256` passes its tag when hashed in
    /// full, and how long that took: what a load pays before the entry is
    /// sealed (a sealed one costs a `stat` and the tag file's read).
    pub(crate) fn check(&self, sha256: &str) -> (bool, std::time::Duration) {
        let started = std::time::Instant::now();
        let ok = fs::read(self.entry(sha256)).is_ok_and(|bytes| {
            fs::read_to_string(self.tag_path(sha256)).is_ok_and(|tag| {
                tag.lines()
                    .next()
                    .and_then(|line| blake3::Hash::from_hex(line.trim()).ok())
                    .is_some_and(|recorded| recorded == self.tag(sha256, &bytes))
            })
        });
        (ok, started.elapsed())
    }

    /// Loads the compiled form of a component, compiling and storing it when
    /// the cache has no usable entry. A corrupt entry is moved aside (so it
    /// can be inspected) and rebuilt.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &Path,
        sha256: &str,
    ) -> Result<Component, SandboxError> {
        let loaded = match self.verified(sha256) {
            // SAFETY: `deserialize` trusts that the bytes were produced by
            // `Component::serialize` of a compatible engine. These bytes
            // passed their tag: this cache wrote them, for this very
            // component, under a key only it holds, in a 0700 directory
            // named after the engine's compatibility hash; wasmtime still
            // checks the header and rejects truncated or foreign files.
            Trust::Verified(bytes) => Some(unsafe { Component::deserialize(engine, &bytes) }),
            // SAFETY: as above; the file is the one whose bytes passed their
            // tag, unchanged since (its sealed identity still holds).
            Trust::Sealed => {
                Some(unsafe { Component::deserialize_file(engine, self.entry(sha256)) })
            }
            Trust::Absent => None,
            Trust::Refused => {
                self.quarantine(sha256)?;
                None
            }
        };
        match loaded {
            Some(Ok(component)) => return Ok(component),
            Some(Err(_)) => self.quarantine(sha256)?,
            None => {}
        }
        self.compile_and_store(engine, wasm, sha256)
    }

    /// Compiles a component from its file and stores the result. The file's
    /// hash is checked against the one recorded at install, so a component
    /// swapped on disk after install is refused rather than compiled.
    pub(crate) fn compile_and_store(
        &self,
        engine: &Engine,
        wasm: &Path,
        sha256: &str,
    ) -> Result<Component, SandboxError> {
        let bytes = fs::read(wasm).map_err(|source| SandboxError::Read {
            path: wasm.to_path_buf(),
            source,
        })?;
        let actual = crate::engine::sha256_hex(&bytes);
        if actual != sha256 {
            return Err(SandboxError::Compile {
                path: wasm.to_path_buf(),
                reason: format!(
                    "its SHA-256 is {actual} but {sha256} was recorded at install; \
                     the file changed on disk, reinstall the plugin"
                ),
            });
        }
        let component = Component::new(engine, &bytes).map_err(|e| SandboxError::Compile {
            path: wasm.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        let serialized = component
            .serialize()
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        // A cache that cannot be written (a full disk, a read-only home)
        // costs a compile in each process, never the run itself.
        let _ = self.store(sha256, &serialized);
        Ok(component)
    }

    /// Writes an entry and its tag. The entry first, then its tag: a crash
    /// between leaves an entry without a tag, which is rebuilt, never
    /// trusted.
    fn store(&self, sha256: &str, serialized: &[u8]) -> Result<(), SandboxError> {
        self.write_atomically(&self.entry(sha256), serialized, true)?;
        let tag = format!("{}\n", self.tag(sha256, serialized).to_hex());
        self.write_atomically(&self.tag_path(sha256), tag.as_bytes(), true)
    }

    /// Writes `path` by rename; `durable`: synced first.
    fn write_atomically(
        &self,
        path: &Path,
        bytes: &[u8],
        durable: bool,
    ) -> Result<(), SandboxError> {
        let io = |source| SandboxError::Cache {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        if durable {
            tmp.as_file().sync_all().map_err(io)?;
        }
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Moves an entry that failed its checks aside (kept for inspection;
    /// the next one replaces it), with its tag.
    fn quarantine(&self, sha256: &str) -> Result<(), SandboxError> {
        let entry = self.entry(sha256);
        let aside = entry.with_extension("cwasm.corrupt");
        match fs::rename(&entry, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SandboxError::Cache {
                    path: entry,
                    source,
                });
            }
        }
        let _ = fs::remove_file(self.tag_path(sha256));
        Ok(())
    }
}

/// How far a cache entry may be trusted.
enum Trust {
    /// No entry.
    Absent,
    /// An entry that must not be loaded.
    Refused,
    /// Its bytes, read and checked against the tag.
    Verified(Vec<u8>),
    /// The file whose bytes were checked, unchanged since.
    Sealed,
}

/// How long a file must have been left alone before it is sealed: longer
/// than any file system's timestamp tick.
const SEAL_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// A file's identity: which file it is and every stamp a change moves.
fn identity_of(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {}.{:09} {}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// Whether the file was last changed more than `SEAL_AFTER` ago.
fn settled(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let changed = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            u64::try_from(meta.ctime()).unwrap_or(0),
            u32::try_from(meta.ctime_nsec()).unwrap_or(0),
        );
    std::time::SystemTime::now()
        .duration_since(changed)
        .is_ok_and(|age| age > SEAL_AFTER)
}

/// The cache's key: read, or made from the OS's randomness on first use and
/// written 0600 by rename.
fn load_or_make_key(path: &Path) -> Result<[u8; 32], SandboxError> {
    let io = |source| SandboxError::Cache {
        path: path.to_path_buf(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        // A key of the wrong length is replaced: every entry then fails its
        // tag and is rebuilt, which is safe.
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(&key).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    // Another process may have made one meanwhile: keep the first.
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(key),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = fs::read(path).map_err(io)?;
            let mut theirs = [0u8; 32];
            if bytes.len() == 32 {
                theirs.copy_from_slice(&bytes);
                Ok(theirs)
            } else {
                Err(io(std::io::Error::other(
                    "the cache key has the wrong length",
                )))
            }
        }
        Err(e) => Err(io(e.error)),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), SandboxError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(source) => Err(SandboxError::Cache {
            path: dir.to_path_buf(),
            source,
        }),
    }
}
