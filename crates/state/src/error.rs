//! Typed errors of the state channels. Messages name the plugin, the
//! channel and what to change; they never include a stored value.

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state database failed: {0}; if it persists, check `$LORD_HOME/state.db`")]
    Db(rusqlite::Error),
    /// Another process held the state database's write lock for longer
    /// than [`crate::BUSY_WAIT`]: a stopped or hung `lord`, since no write
    /// lasts long. Never a plain "database is locked".
    #[error(
        "another lord process has held `$LORD_HOME/state.db` for over {} s; \
         let it finish (or end it) and try again",
        crate::BUSY_WAIT.as_secs()
    )]
    Busy,
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "plugin `{plugin}` is over its data quota: storing this would use {needed} bytes of \
         {quota}; delete keys it no longer needs or raise `max-data-kib` in its manifest"
    )]
    QuotaExceeded {
        plugin: String,
        needed: u64,
        quota: u64,
    },
    #[error(
        "plugin `{plugin}` was not granted {access}; add `{permission}` to its manifest and grant it"
    )]
    NotGranted {
        plugin: String,
        access: String,
        permission: String,
    },
    /// The OS keyring failed or cannot be reached; the message names the
    /// secret and what to do, never a value.
    #[error("{0}")]
    Keyring(String),
    #[error("secret `{0}` is not set; set it with `lord secret set {0}`")]
    SecretMissing(String),
    #[error("invalid {what} `{value}`: {problem}")]
    Invalid {
        what: &'static str,
        value: String,
        problem: String,
    },
    #[error(
        "the {what} is {size} bytes, over the limit of {limit} bytes; send less, or raise \
         `{setting}` in lord's configuration"
    )]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
        setting: &'static str,
    },
    /// Opening the database failed earlier in this process; the first
    /// failure, kept whole so its cause (a full disk) can be named.
    #[error(transparent)]
    Unavailable(std::sync::Arc<StateError>),
    #[error("the state database holds a record it cannot read ({0})")]
    Corrupt(String),
}

impl StateError {
    /// A quota refusal the database made against persisted bytes alone,
    /// restated against the whole `quota`: `extra` adds what the plugin
    /// holds outside the database (its session values). Other errors pass
    /// through unchanged.
    pub(crate) fn against_whole_quota(self, quota: u64, extra: impl FnOnce(&str) -> u64) -> Self {
        match self {
            StateError::QuotaExceeded { plugin, needed, .. } => StateError::QuotaExceeded {
                needed: needed + extra(&plugin),
                plugin,
                quota,
            },
            other @ (StateError::Db(_)
            | StateError::Io { .. }
            | StateError::NotGranted { .. }
            | StateError::Invalid { .. }
            | StateError::Unavailable(_)
            | StateError::SecretMissing(_)
            | StateError::Keyring(_)
            | StateError::TooLarge { .. }
            | StateError::Busy
            | StateError::Corrupt(_)) => other,
        }
    }
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        if crate::db::is_busy(&e) {
            StateError::Busy
        } else {
            StateError::Db(e)
        }
    }
}
