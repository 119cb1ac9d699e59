//! What can go wrong talking to a model, by what the caller should do
//! about it. Messages name the profile and the way out; none holds a key
//! (the client strips it from anything the service echoes back).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// The key is missing, wrong or not allowed this model. Not retried.
    #[error(
        "`{profile}` refused the key{}: {detail}; store the right one with \
         `lord secret set {secret}`",
        // A refusal inside a stream that had begun well has no status.
        if *status >= 400 { format!(" ({status})") } else { String::new() }
    )]
    Auth {
        profile: String,
        status: u16,
        detail: String,
        secret: String,
    },
    /// Too many requests, still refused after the retries.
    #[error(
        "`{profile}` is rate limiting requests ({detail}); gave up after {attempts} attempts{}",
        retry_after.map(|d| format!(", it asked to wait {}s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        profile: String,
        detail: String,
        attempts: u32,
        retry_after: Option<Duration>,
    },
    /// The conversation does not fit the model's context.
    #[error(
        "the conversation does not fit `{profile}`'s context window: {detail}; start a new \
         session, lower the session's budget or pick a model with a longer context"
    )]
    ContextOverflow { profile: String, detail: String },
    /// The model or the service declined to answer.
    #[error("`{profile}` declined to answer: {detail}")]
    Refused { profile: String, detail: String },
    /// The service answered with an error status not covered above.
    #[error("`{profile}` answered {status}: {detail}")]
    Status {
        profile: String,
        status: u16,
        detail: String,
    },
    /// The service could not be reached (after the retries).
    #[error("could not reach `{profile}` at {url}: {detail}")]
    Unreachable {
        profile: String,
        url: String,
        detail: String,
    },
    /// The service answered something this client cannot read.
    #[error("`{profile}` sent a reply lord cannot read: {detail}")]
    Protocol { profile: String, detail: String },
    /// The profile is missing or unusable.
    #[error("{0}")]
    Profile(String),
    /// The request itself is wrong (no messages, a bad template).
    #[error("{0}")]
    Invalid(String),
    /// The caller stopped waiting for the reply (a plugin dropped its
    /// stream, or its call's deadline passed).
    #[error("cancelled: {0}")]
    Cancelled(String),
    #[error("the AI log ({path}): {source}")]
    Db {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
}

impl AiError {
    /// Whether another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            Self::Auth { .. }
            | Self::ContextOverflow { .. }
            | Self::Refused { .. }
            | Self::Protocol { .. }
            | Self::Profile(_)
            | Self::Invalid(_)
            | Self::Cancelled(_)
            | Self::Db { .. }
            | Self::File { .. } => false,
        }
    }
}
