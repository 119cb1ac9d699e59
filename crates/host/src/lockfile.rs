//! `lord.lock`: the exact plugins a project installs. Written by `lord
//! install` beside `lord.toml`, read back to reproduce the same install on
//! any machine: one package digest per plugin (a WASM component is
//! architecture-neutral), the signing key, and the permissions granted.
//!
//! Invariant: the file is replaced atomically (temporary file and rename),
//! so a killed `lord install` leaves the old lock or the new one.

use std::path::Path;

use lord_manifest::{PluginId, Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::error::HostError;
use crate::remote::Pinned;

/// The lock file's name, in the project folder.
pub const LOCK_FILE: &str = "lord.lock";

/// One locked plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub id: PluginId,
    pub version: Version,
    /// SHA-256 of the package.
    pub digest: String,
    /// The id of the key that signed it.
    pub key: String,
    /// Its ed25519 signature over the digest, hexadecimal.
    pub signature: String,
    /// The permissions granted to it.
    pub granted: Vec<String>,
}

/// The whole lock, in install order (dependencies first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockEntry>,
}

impl Lockfile {
    /// Reads `dir/lord.lock`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>, HostError> {
        let path = dir.join(LOCK_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(HostError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        let lock: Self = toml::from_str(&text).map_err(|e| {
            HostError::Resolve(format!(
                "`{}` is not a lock file lord can read ({}); delete it and run `lord install` \
                 to make a new one",
                path.display(),
                e.message()
            ))
        })?;
        if lock.version != 1 {
            return Err(HostError::Resolve(format!(
                "`{}` is lock format {}, which this lord does not read",
                path.display(),
                lock.version
            )));
        }
        Ok(Some(lock))
    }

    /// Writes `dir/lord.lock` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), HostError> {
        let path = dir.join(LOCK_FILE);
        let body = toml::to_string_pretty(self)
            .map_err(|e| HostError::Resolve(format!("the lock cannot be written: {e}")))?;
        let text = format!(
            "# Written by `lord install`: the exact plugins this project uses.\n\
             # Commit it; `lord install --locked` reproduces it anywhere.\n{body}"
        );
        lord_file::write_atomic(&path, text.as_bytes()).map_err(|e| HostError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        })
    }

    /// Whether the lock meets `requires`: every required plugin locked at
    /// a version in its range. (Entries no longer required are allowed;
    /// they are dependencies.)
    pub fn satisfies(&self, requires: &[(PluginId, VersionReq)]) -> bool {
        requires.iter().all(|(id, range)| {
            self.plugins
                .iter()
                .any(|e| e.id == *id && range.matches(&e.version))
        })
    }

    /// The entries as pins for [`crate::Framework::plan_pinned`].
    pub fn pins(&self) -> Vec<Pinned> {
        self.plugins
            .iter()
            .map(|e| Pinned {
                id: e.id.clone(),
                version: e.version.clone(),
                digest: e.digest.clone(),
                key: e.key.clone(),
                signature: e.signature.clone(),
            })
            .collect()
    }
}
