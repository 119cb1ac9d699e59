//! Typed errors of the store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the plugin store database failed: {0}; if it persists, check `$LORD_HOME/lord.db`")]
    Db(#[from] rusqlite::Error),
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin `{0}` is already installed; remove it first with `lord plugin remove {0}`")]
    AlreadyInstalled(String),
    #[error("plugin `{0}` is not installed; see `lord plugin list`")]
    NotInstalled(String),
    #[error(
        "command `{command}` is already provided by plugin `{owner}`; two plugins cannot \
         declare the same command, so remove `{owner}` or pick another plugin"
    )]
    CommandTaken { command: String, owner: String },
    #[error(
        "micro-plugin `{micro}` is already provided by plugin `{owner}`; two plugins cannot \
         declare the same micro-plugin id"
    )]
    MicroTaken { micro: String, owner: String },
    #[error(
        "plugin `{0}` has no earlier build to return to; old builds are kept when an update \
         or reinstall replaces one"
    )]
    NoPrevious(String),
    #[error("the store holds a record it cannot read ({0}); the database may be from a newer lord")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}

/// Whether `err`, or anything that caused it, is a write refused because
/// the device is full: SQLite's "database or disk is full", its shared
/// memory index that could not grow (which it reports as a disk I/O
/// error), or an OS write that failed with `ENOSPC`. A caller names the
/// cause with it instead of the generic failure.
pub fn is_no_space(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        let sqlite_full = e.downcast_ref::<rusqlite::Error>().is_some_and(|sql| {
            matches!(sql, rusqlite::Error::SqliteFailure(failure, _)
                if failure.code == rusqlite::ErrorCode::DiskFull
                    || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE)
        });
        let os_full = e.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(ENOSPC)
        });
        if sqlite_full || os_full {
            return true;
        }
        next = e.source();
    }
    false
}

/// Linux's "no space left on device".
const ENOSPC: i32 = 28;
