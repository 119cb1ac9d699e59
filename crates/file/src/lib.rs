//! `lord-file`: replacing a file so that a crash or `kill -9` at any point
//! leaves the old contents or the new ones, never a mix.
//!
//! [`write_atomic`] writes a temporary file in the target's own folder (so
//! the rename cannot cross file systems), fsyncs it, and renames it over
//! the target. The temporary file is created 0600, so the result is
//! readable by the user only, which is what keys, secrets and locks need.
//!
//! Invariant: the target is never open for writing; readers see a whole
//! file or the previous one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What failed, on which path: each caller folds it into its own typed
/// I/O error.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} `{}`: {source}", path.display())]
pub struct WriteError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Replaces `path` with `bytes`, atomically and durably, user-only (0600).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let fail = |action: &'static str, at: &Path| {
        let path = at.to_path_buf();
        move |source| WriteError {
            action,
            path,
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail("create a file in", dir))?;
    file.write_all(bytes).map_err(fail("write", path))?;
    file.as_file().sync_all().map_err(fail("sync", path))?;
    file.persist(path)
        .map_err(|e| fail("replace", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").expect("first");
        write_atomic(&path, b"new contents").expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("absent/state.json");
        let error = write_atomic(&path, b"x").expect_err("wrote into a missing folder");
        assert_eq!(error.action, "create a file in");
        assert!(error.to_string().contains("absent"), "{error}");
    }
}
