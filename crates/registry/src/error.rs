//! The registry's typed errors. Each maps to one HTTP status, and its
//! message says what went wrong and what to do; none echoes a token.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry database failed: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the registry database (PostgreSQL) failed: {}", chain(.0))]
    Postgres(#[from] postgres::Error),
    /// The database could not be used at all (its connection thread is
    /// gone); not the request's fault.
    #[error("the registry database failed: {0}")]
    Database(String),
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad input from a client (400).
    #[error("{0}")]
    BadRequest(String),
    /// A package, signature or manifest that fails a check (422).
    #[error("{0}")]
    Rejected(String),
    /// No or an unknown token (401).
    #[error(
        "a valid API token is required: send `Authorization: Bearer TOKEN` (make one with `lord registry token create`)"
    )]
    Unauthorized,
    /// A token whose scope does not cover the plugin (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The version exists already (409).
    #[error(
        "{id} {version} is already published; versions are immutable, so publish a new version"
    )]
    Duplicate { id: String, version: String },
    /// The request clashes with the state of what it names (409), like a
    /// second rollout of a plugin while one is in progress.
    #[error("{0}")]
    Conflict(String),
    /// Signed index metadata could not be made, or failed verification.
    #[error("{0}")]
    Tuf(String),
    /// The blob store failed.
    #[error("{0}")]
    Blob(String),
    /// A body larger than its endpoint takes (413).
    #[error("{0}")]
    TooLarge(String),
    /// A rate limit was reached (429); the client may retry after that
    /// many seconds.
    #[error("too many requests from {by}; retry in {retry_after} s")]
    TooManyRequests { by: &'static str, retry_after: u64 },
    /// A worker of the server itself failed (a blocking task panicked).
    #[error("{0}")]
    Internal(String),
}

impl RegistryError {
    /// What a client is told of this error. A fault of the server (a 5xx:
    /// a file, the database, the blob store) may name paths, URLs and
    /// the database's own words, which are the operator's to read, not a
    /// client's: the client gets a reference, and the server's standard
    /// error gets the reference and the detail.
    pub fn told(&self) -> String {
        if self.status() < 500 {
            return self.to_string();
        }
        let mut bytes = [0u8; 6];
        let reference = match getrandom::fill(&mut bytes) {
            Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            Err(_) => "unknown".to_owned(),
        };
        // One line, escaped: a database's words or a client's text in them
        // cannot forge lines of the log.
        eprintln!(
            "lord-registry: error {reference}: {}",
            self.to_string().escape_debug()
        );
        format!(
            "the registry failed to answer (error {reference}); its operator finds the detail \
             in the server's log under that reference"
        )
    }

    /// True when the request was at fault (a 4xx), not the machine or the
    /// network.
    pub fn is_user_error(&self) -> bool {
        (400..500).contains(&self.status())
    }

    pub fn status(&self) -> u16 {
        match self {
            RegistryError::Db(_)
            | RegistryError::Postgres(_)
            | RegistryError::Database(_)
            | RegistryError::Io { .. }
            | RegistryError::Blob(_)
            | RegistryError::Tuf(_)
            | RegistryError::Internal(_) => 500,
            RegistryError::BadRequest(_) => 400,
            RegistryError::Rejected(_) => 422,
            RegistryError::Unauthorized => 401,
            RegistryError::Forbidden(_) => 403,
            RegistryError::NotFound(_) => 404,
            RegistryError::Duplicate { .. } | RegistryError::Conflict(_) => 409,
            RegistryError::TooLarge(_) => 413,
            RegistryError::TooManyRequests { .. } => 429,
        }
    }
}

/// An error with its causes: `postgres` says only "db error" or "error
/// connecting to server" itself and keeps what the server or the TLS
/// handshake said in its source.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

pub(crate) fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.to_path_buf();
    move |source| RegistryError::Io {
        action,
        path,
        source,
    }
}
