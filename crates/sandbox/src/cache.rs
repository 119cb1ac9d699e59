//! The compiled-code cache: Cranelift output kept on disk so that loading an
//! installed plugin costs a deserialise, not a compile.
//!
//! Invariant: entries are keyed by the component's SHA-256 and live in a
//! directory named after the engine's compatibility hash, so code compiled by
//! another wasmtime or another configuration is never loaded. Entries are
//! written to a temporary file and renamed into place, in directories only the
//! user can read, so a reader sees a whole entry or none.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::SandboxError;

#[derive(Debug)]
pub(crate) struct CompiledCache {
    dir: PathBuf,
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
        Ok(Self { dir })
    }

    fn entry(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
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
        let entry = self.entry(sha256);
        if entry.exists() {
            // SAFETY: `deserialize_file` trusts that the file was produced by
            // `Component::serialize` of a compatible engine. Only this cache
            // writes into its 0700 directory, always via an atomic rename, and
            // the directory name pins the engine's compatibility hash; wasmtime
            // still checks the header and rejects truncated or foreign files.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => return Ok(component),
                Err(_) => self.quarantine(&entry)?,
            }
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
        self.write_atomically(&self.entry(sha256), &serialized)?;
        Ok(component)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
        let io = |source| SandboxError::Cache {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn quarantine(&self, entry: &Path) -> Result<(), SandboxError> {
        let aside = entry.with_extension("cwasm.corrupt");
        fs::rename(entry, &aside).map_err(|source| SandboxError::Cache {
            path: entry.to_path_buf(),
            source,
        })
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
