//! `lord-file`: replacing a file so that a crash or `kill -9` at any point
//! leaves the old contents or the new ones, never a mix.
//!
//! [`write_atomic`] writes a temporary file in the target's own folder (so
//! the rename cannot cross file systems), fsyncs it, renames it over the
//! target, and fsyncs the folder, so the rename itself survives a power
//! cut. The temporary file is created 0600, so the result is
//! readable by the user only, which is what keys, secrets and locks need.
//!
//! [`replace_keeping`] and [`swap_back`] do the same for a program that
//! replaces itself (`lord self update` / `lord self rollback`): its mode
//! is kept, and its previous contents are kept beside it.
//!
//! [`rename_durably`] (with [`sync_tree`] and [`sync_folder`] for callers
//! that rename themselves) moves work made in a scratch place beside its
//! destination, a new project or a built component, into place once
//! everything in it is synced.
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
    write_with_mode(path, bytes, None)
}

/// Writes `bytes` to `path` whole, durably and user-only (0600), only if
/// nothing is there: `Ok(false)` when something is (another process got
/// there first), which is left as it was. For a file that two processes
/// may make at once and must agree on, such as a key.
pub fn create_atomic(path: &Path, bytes: &[u8]) -> Result<bool, WriteError> {
    let file = staged(path, bytes, None)?;
    match file.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(fail("create", path)(e.error)),
    }
    sync_folder(folder_of(path))?;
    Ok(true)
}

/// Creates the folder `path` and any missing parents user-only (0700 on
/// unix), for lord's home: its databases (events, prompts and replies,
/// plugin data) must not be readable by other accounts whatever the
/// umask. A folder that exists is left as it is: a home the user made is
/// theirs to set.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Replaces the program at `path` with `bytes`, keeping its mode, after
/// keeping its current contents at `previous` (replaced atomically too).
/// Whenever it stops, `path` holds a whole program, old or new, and once
/// `path` is new, `previous` holds the old one.
pub fn replace_keeping(path: &Path, bytes: &[u8], previous: &Path) -> Result<(), WriteError> {
    let mode = mode_of(path)?;
    let current = std::fs::read(path).map_err(|source| WriteError {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    write_with_mode(previous, &current, mode)?;
    write_with_mode(path, bytes, mode)
}

/// Puts the program kept at `previous` back at `path`, and keeps what was
/// at `path` at `previous`, so a second swap undoes the first. On Linux the
/// two names are exchanged in one step (`renameat2` with
/// `RENAME_EXCHANGE`), so a crash leaves both builds, swapped or not.
/// Where the file system cannot exchange, each file is replaced
/// atomically, `path` first, so it is whole whenever this stops.
pub fn swap_back(path: &Path, previous: &Path) -> Result<(), WriteError> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, path, CWD, previous, RenameFlags::EXCHANGE) {
            Ok(()) => return sync_folder(folder_of(path)),
            // A file system without the exchange (or an old kernel): the
            // copies below.
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP => {}
            Err(e) => {
                return Err(WriteError {
                    action: "swap",
                    path: path.to_path_buf(),
                    source: e.into(),
                });
            }
        }
    }
    let read = |at: &Path| {
        std::fs::read(at).map_err(|source| WriteError {
            action: "read",
            path: at.to_path_buf(),
            source,
        })
    };
    let mode = mode_of(path)?;
    let (current, kept) = (read(path)?, read(previous)?);
    write_with_mode(path, &kept, mode)?;
    write_with_mode(previous, &current, mode)
}

/// Moves the file or folder `from` to `to` in one rename, durably: what
/// `from` holds (every file and folder under it, for a folder) is synced
/// first, and the folder `to` is in after. For work made in a scratch
/// place beside its destination (a new project, a built component): a
/// power cut then leaves the old state or the whole new one, never names
/// pointing at empty files.
pub fn rename_durably(from: &Path, to: &Path) -> Result<(), WriteError> {
    sync_tree(from)?;
    std::fs::rename(from, to).map_err(fail("move into place", to))?;
    sync_folder(folder_of(to))
}

/// Syncs the regular file `path`, or every file and folder under the
/// folder `path` (each folder after what it holds). Links are not
/// followed: what they point at is not this tree's.
pub fn sync_tree(path: &Path) -> Result<(), WriteError> {
    let meta = std::fs::symlink_metadata(path).map_err(fail("read the metadata of", path))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(fail("read", path))?;
        for entry in entries {
            sync_tree(&entry.map_err(fail("read", path))?.path())?;
        }
        return sync_folder(path);
    }
    if meta.is_file() {
        // Windows refuses to flush a file opened for reading only.
        std::fs::OpenOptions::new()
            .read(true)
            .write(cfg!(windows))
            .open(path)
            .and_then(|file| file.sync_all())
            .map_err(fail("sync", path))?;
    }
    Ok(())
}

/// The permission bits of `path` (unix), to give its replacement.
fn mode_of(path: &Path) -> Result<Option<u32>, WriteError> {
    let meta = std::fs::metadata(path).map_err(|source| WriteError {
        action: "read the metadata of",
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        Ok(Some(meta.permissions().mode() & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(None)
    }
}

/// [`write_atomic`] giving the result `mode` (unix) instead of 0600.
fn write_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), WriteError> {
    staged(path, bytes, mode)?
        .persist(path)
        .map_err(|e| fail("replace", path)(e.error))?;
    sync_folder(folder_of(path))
}

/// `bytes` in a temporary file beside `path` (so a rename cannot cross
/// file systems), given `mode` (unix; else 0600) and synced: ready to be
/// renamed into place whole.
fn staged(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> Result<tempfile::NamedTempFile, WriteError> {
    let dir = folder_of(path);
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail("create a file in", dir))?;
    file.write_all(bytes).map_err(fail("write", path))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(fail("set the mode of", path))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.as_file().sync_all().map_err(fail("sync", path))?;
    Ok(file)
}

/// The folder `path` is in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Syncs the folder `dir`: a rename is an entry in the folder, and until
/// the folder itself is synced a power cut may bring the old contents back
/// after success was reported. (Unix only: a folder cannot be opened this
/// way elsewhere, and NTFS journals the rename.)
pub fn sync_folder(dir: &Path) -> Result<(), WriteError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(fail("sync the folder", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A maker of the error `action` failing on `at`.
fn fail(action: &'static str, at: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = at.to_path_buf();
    move |source| WriteError {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_private_folder_is_made_user_only_and_an_existing_one_is_left() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let home = dir.path().join("a/home");
        create_private_dir(&home).expect("create");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&home), 0o700);
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        create_private_dir(&home).expect("again");
        assert_eq!(mode(&home), 0o750);
    }

    #[test]
    fn create_writes_only_where_nothing_is() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key");
        assert!(create_atomic(&path, b"first").expect("create"));
        assert!(!create_atomic(&path, b"second").expect("create"));
        assert_eq!(std::fs::read(&path).expect("read"), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

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
    fn a_program_is_replaced_keeping_its_mode_and_the_old_one_then_swapped_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tool");
        let previous = dir.path().join("tool.previous");
        std::fs::write(&path, b"v1").expect("v1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        replace_keeping(&path, b"v2", &previous).expect("replace");
        assert_eq!(std::fs::read(&path).expect("new"), b"v2");
        assert_eq!(std::fs::read(&previous).expect("kept"), b"v1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        swap_back(&path, &previous).expect("swap");
        assert_eq!(std::fs::read(&path).expect("back"), b"v1");
        assert_eq!(std::fs::read(&previous).expect("kept"), b"v2");
        swap_back(&path, &previous).expect("swap again");
        assert_eq!(std::fs::read(&path).expect("forth"), b"v2");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2);
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
