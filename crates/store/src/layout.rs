//! Paths inside the store's home.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) home: PathBuf,
}

impl Layout {
    pub(crate) fn db(&self) -> PathBuf {
        self.home.join("lord.db")
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.home.join("lock")
    }
    pub(crate) fn staging(&self) -> PathBuf {
        self.home.join("staging")
    }
    pub(crate) fn plugins(&self) -> PathBuf {
        self.home.join("plugins")
    }
    pub(crate) fn data(&self) -> PathBuf {
        self.home.join("data")
    }
    pub(crate) fn cache(&self) -> PathBuf {
        self.home.join("cache")
    }
    /// Where a version's files live, relative to the home (stored that way
    /// so a moved `$LORD_HOME` keeps working).
    pub(crate) fn version_dir_rel(id: &str, version: &str, sha256: &str) -> PathBuf {
        Path::new("plugins")
            .join(id)
            .join(format!("{version}-{}", &sha256[..12.min(sha256.len())]))
    }
}
