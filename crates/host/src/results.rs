//! The result cache: answers of commands and micro handlers their manifest
//! declares `pure`, kept in memory (LRU, bounded by bytes) and on disk under
//! `$LORD_HOME/cache/results/<plugin>/<key>` (bounded by bytes, oldest use
//! evicted first), so a later call with the same input runs no plugin
//! code at all.
//!
//! The key is a BLAKE3 hash of everything an answer may depend on: the
//! plugin, its version and component digest, the entry point, the input,
//! the permissions granted, what they resolve to in this process (the
//! project folder, granted variables' values, the file each granted
//! program is) and its configuration table. A change to any of
//! them misses; an update, a rollback or a removal also forgets the
//! plugin's entries outright (`forget`), and `lord cache clear` forgets all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use lord_manifest::PluginId;
use lord_store::InstalledPlugin;

/// What the cache keeps in memory, in bytes of answers.
const MEMORY_BYTES: usize = 8 * 1024 * 1024;
/// What it keeps on disk, in bytes; past it the least recently used go.
const DISK_BYTES: u64 = 64 * 1024 * 1024;
/// An answer larger than this is not worth keeping.
const MAX_ENTRY: usize = 1024 * 1024;

/// One cache lookup's key, and the plugin it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ResultKey {
    plugin: PluginId,
    hash: String,
}

impl ResultKey {
    pub(crate) fn plugin(&self) -> &PluginId {
        &self.plugin
    }
}

/// Length-prefixed, so no two different lists of parts hash the same bytes.
fn part(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// What every key of one plugin (as installed, granted and configured
/// now) starts from, hashed once: a micro handler's call hashes only its
/// entry point and input on top.
#[derive(Debug, Clone)]
pub(crate) struct ResultBase {
    plugin: PluginId,
    hasher: blake3::Hasher,
}

impl ResultBase {
    /// `context`: what the grants resolve to in this process
    /// ([`crate::grants::resolved_context`]).
    pub(crate) fn new(
        plugin: &InstalledPlugin,
        config: &serde_json::Value,
        context: &[u8],
    ) -> Self {
        let mut hasher = blake3::Hasher::new();
        part(&mut hasher, b"lord result cache 2");
        part(&mut hasher, plugin.id().as_str().as_bytes());
        part(
            &mut hasher,
            plugin.manifest.plugin.version.to_string().as_bytes(),
        );
        part(&mut hasher, plugin.wasm_sha256.as_bytes());
        let mut granted: Vec<String> = plugin.granted.iter().map(ToString::to_string).collect();
        granted.sort();
        part(&mut hasher, granted.join("\n").as_bytes());
        part(&mut hasher, config.to_string().as_bytes());
        part(&mut hasher, context);
        Self {
            plugin: plugin.id().clone(),
            hasher,
        }
    }

    /// The key of `entry`'s answer to `input`.
    pub(crate) fn key(&self, entry: &str, input: &[u8]) -> ResultKey {
        let mut hasher = self.hasher.clone();
        part(&mut hasher, entry.as_bytes());
        part(&mut hasher, input);
        ResultKey {
            plugin: self.plugin.clone(),
            hash: hasher.finalize().to_hex().to_string(),
        }
    }
}

struct Memory {
    entries: lru::LruCache<String, Arc<Vec<u8>>>,
    bytes: usize,
}

/// The result cache of one lord home.
pub(crate) struct ResultCache {
    dir: PathBuf,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("dir", &self.dir)
            .finish()
    }
}

fn memory_key(key: &ResultKey) -> String {
    format!("{}/{}", key.plugin, key.hash)
}

impl ResultCache {
    /// The cache under `cache_dir` (`$LORD_HOME/cache`).
    pub(crate) fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("results"),
            memory: Mutex::new(Memory {
                entries: lru::LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn file(&self, key: &ResultKey) -> PathBuf {
        self.dir.join(key.plugin.as_str()).join(&key.hash)
    }

    /// The answer kept for `key`, from memory or disk.
    pub(crate) fn get(&self, key: &ResultKey) -> Option<Arc<Vec<u8>>> {
        if let Some(bytes) = self.memory().entries.get(&memory_key(key)) {
            return Some(Arc::clone(bytes));
        }
        let file = self.file(key);
        let Some(bytes) = std::fs::read(&file).ok().and_then(unsealed) else {
            // Missing, or cut short by a crash (entries are written without
            // fsync): a miss, and a damaged file goes.
            let _ = std::fs::remove_file(&file);
            return None;
        };
        // Mark it used, for the disk's least-recently-used order.
        if let Ok(handle) = std::fs::File::options().append(true).open(&file) {
            let _ = handle.set_modified(SystemTime::now());
        }
        let bytes = Arc::new(bytes);
        self.remember(key, Arc::clone(&bytes));
        Some(bytes)
    }

    fn remember(&self, key: &ResultKey, bytes: Arc<Vec<u8>>) {
        let mut memory = self.memory();
        memory.bytes += bytes.len();
        if let Some(old) = memory.entries.put(memory_key(key), bytes) {
            memory.bytes -= old.len();
        }
        while memory.bytes > MEMORY_BYTES {
            match memory.entries.pop_lru() {
                Some((_, old)) => memory.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// Keeps `bytes` as the answer for `key`. A cache that cannot be
    /// written (a full disk) keeps it in memory only.
    pub(crate) fn put(&self, key: &ResultKey, bytes: Vec<u8>) {
        if bytes.len() > MAX_ENTRY {
            return;
        }
        let file = self.file(key);
        let written = file
            .parent()
            .is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
            && write_sealed(&file, &bytes).is_ok();
        self.remember(key, Arc::new(bytes));
        if written {
            self.trim_disk();
        }
    }

    /// Deletes the least recently used files until the cache fits its
    /// bound again (to three quarters, so this runs rarely).
    fn trim_disk(&self) {
        let mut files = Vec::new();
        let mut total = 0u64;
        for plugin in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            for entry in std::fs::read_dir(plugin.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(meta) = entry.metadata() {
                    total += meta.len();
                    let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    files.push((used, meta.len(), entry.path()));
                }
            }
        }
        if total <= DISK_BYTES {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= DISK_BYTES / 4 * 3 {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }

    /// Forgets every answer of `plugin` (an update, a rollback, a removal).
    pub(crate) fn forget(&self, plugin: &PluginId) {
        let prefix = format!("{plugin}/");
        {
            let mut memory = self.memory();
            let doomed: Vec<String> = memory
                .entries
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for key in doomed {
                if let Some(old) = memory.entries.pop(&key) {
                    memory.bytes -= old.len();
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.join(plugin.as_str()));
    }

    /// Forgets every answer of every plugin; returns how many were on disk.
    pub(crate) fn clear(&self) -> std::io::Result<usize> {
        {
            let mut memory = self.memory();
            memory.entries.clear();
            memory.bytes = 0;
        }
        let mut count = 0;
        for plugin in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            count += std::fs::read_dir(plugin.path())
                .map(|d| d.count())
                .unwrap_or(0);
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(count),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Writes `bytes` after their BLAKE3 hash, by temporary file and rename
/// but without fsync: a cache entry is not worth a disk flush on a command
/// that otherwise only reads, and one a crash cut short fails its hash and
/// is a miss (`unsealed`), never a wrong answer.
fn write_sealed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, blake3::hash(bytes).as_bytes())?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The bytes `write_sealed` wrote, if they are whole.
fn unsealed(file: Vec<u8>) -> Option<Vec<u8>> {
    let (hash, bytes) = file.split_at_checked(blake3::OUT_LEN)?;
    (blake3::hash(bytes).as_bytes() == hash).then(|| bytes.to_vec())
}

impl crate::framework::Framework {
    /// Forgets every answer in the result cache of `pure` commands and micro
    /// handlers (memory and disk); returns how many were on disk.
    pub fn clear_results(&self) -> Result<usize, crate::error::HostError> {
        self.loader()
            .results()
            .clear()
            .map_err(|source| crate::error::HostError::Io {
                action: "clear the result cache in",
                path: self.store().cache_dir().join("results"),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_cut_short_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let key = ResultKey {
            plugin: PluginId::new("p").expect("id"),
            hash: "k".to_owned(),
        };
        let cache = ResultCache::new(dir.path());
        cache.put(&key, b"answer".to_vec());
        let file = cache.file(&key);
        // A fresh process (no memory half) reads it back whole.
        assert_eq!(
            ResultCache::new(dir.path()).get(&key).as_deref(),
            Some(&b"answer".to_vec())
        );
        // Cut short, as a crash before the data reached the disk leaves it.
        let bytes = std::fs::read(&file).expect("entry");
        std::fs::write(&file, &bytes[..bytes.len() - 2]).expect("truncate");
        assert_eq!(ResultCache::new(dir.path()).get(&key), None);
        assert!(!file.exists(), "a damaged entry was kept");
    }
}
