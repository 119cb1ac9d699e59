//! Typed errors of the performance store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error("performance database `{path}`: {source}; delete it to start afresh")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("performance database `{path}` holds an unreadable histogram for {entry}: {reason}")]
    Corrupt {
        path: PathBuf,
        entry: String,
        reason: String,
    },
}
