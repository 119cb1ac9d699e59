//! What can go wrong between lord and a database. Every message names the
//! profile it is about and never holds a password: the engine's own
//! message is kept, since it says what the server refused.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    /// A profile that is missing, malformed, or whose URL carries a
    /// password; the message says what to do.
    #[error("{0}")]
    Profile(String),
    /// Reaching the server failed (refused, timed out, authentication).
    #[error("cannot connect to the database profile `{profile}` ({engine}): {message}")]
    Connect {
        profile: String,
        engine: &'static str,
        message: String,
    },
    /// The engine refused or failed a statement.
    #[error("the database profile `{profile}` ({engine}) answered: {message}")]
    Engine {
        profile: String,
        engine: &'static str,
        message: String,
    },
    /// A result over the caller's bounds (a plugin's): nothing of it is
    /// returned.
    #[error("{0}")]
    TooLarge(String),
    /// A value that cannot be bound to, or read from, a column.
    #[error("the database profile `{profile}`: {message}")]
    Value { profile: String, message: String },
    /// A migration folder, file or history that does not add up.
    #[error("{0}")]
    Migration(String),
    /// Reading or writing a migration file.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}
