//! Asking a language model: `ai(PROFILE)` in the manifest, then
//! [`complete`] or [`stream`]. A profile is a provider, model and key the
//! user configured under a name (`local`, say); the host sends the request
//! and keeps the key, so the plugin only ever sees the reply. Each request
//! waits under the call's deadline, and its messages may hold at most
//! 1 MiB.
//!
//! ```no_run
//! use lord_pdk::ai::{self, Ask};
//!
//! let ask = Ask::new("local").system("Answer in one word.").user("Capital of France?");
//! let answer = ai::complete(&ask)?;
//! println!("{} ({} tokens in, {} out)", answer.text, answer.input_tokens, answer.output_tokens);
//!
//! // The same, piece by piece as the model writes it.
//! let mut reply = ai::stream(&ask.max_tokens(16))?;
//! for piece in reply.by_ref() {
//!     print!("{}", piece?);
//! }
//! let answer = reply.answer()?;
//! # Ok::<(), lord_pdk::ai::AiError>(())
//! ```

use crate::bindings::lord::plugin::ai as host;

// The reply is the contract's own record (plain data with public fields):
// re-exported rather than copied, so it cannot drift from the WIT.
pub use host::Answer;

/// Why a request failed, by what the plugin can do about it. Each case
/// carries a message for a person; `?` turns it into a `String` error.
#[derive(Debug, Clone, PartialEq)]
pub enum AiError {
    /// The host did not send it: an ungranted or unusable profile, a bad
    /// request, too many open streams, no AI service here.
    Refused(String),
    /// The service refused the profile's key.
    Auth(String),
    /// Still rate limited after the host's retries.
    RateLimited {
        message: String,
        /// How long the service asked to wait, when it said.
        retry_after_seconds: Option<u32>,
    },
    /// The conversation does not fit the model's context: send less.
    ContextOverflow(String),
    /// The model or the service declined to answer.
    ContentRefused(String),
    /// The service could not be reached, or failed on its side.
    Unavailable(String),
    Other(String),
}

impl AiError {
    pub fn message(&self) -> &str {
        match self {
            Self::Refused(m)
            | Self::Auth(m)
            | Self::ContextOverflow(m)
            | Self::ContentRefused(m)
            | Self::Unavailable(m)
            | Self::Other(m)
            | Self::RateLimited { message: m, .. } => m,
        }
    }
}

impl std::fmt::Display for AiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AiError {}

impl From<AiError> for String {
    fn from(error: AiError) -> Self {
        error.message().to_owned()
    }
}

impl From<host::AiError> for AiError {
    fn from(error: host::AiError) -> Self {
        match error {
            host::AiError::Refused(m) => Self::Refused(m),
            host::AiError::Auth(m) => Self::Auth(m),
            host::AiError::RateLimited(limit) => Self::RateLimited {
                message: limit.message,
                retry_after_seconds: limit.retry_after_seconds,
            },
            host::AiError::ContextOverflow(m) => Self::ContextOverflow(m),
            host::AiError::ContentRefused(m) => Self::ContentRefused(m),
            host::AiError::Unavailable(m) => Self::Unavailable(m),
            host::AiError::Other(m) => Self::Other(m),
        }
    }
}

/// A request, built up and then sent with [`complete`] or [`stream`].
#[derive(Debug, Clone)]
pub struct Ask(host::Ask);

impl Ask {
    /// A request to the profile granted as `ai(PROFILE)`, with its own
    /// model and limits until told otherwise.
    pub fn new(profile: impl Into<String>) -> Self {
        Self(host::Ask {
            profile: profile.into(),
            model: None,
            messages: Vec::new(),
            max_tokens: None,
            temperature: None,
        })
    }

    /// Another model than the profile's own, as the provider names it.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.0.model = Some(model.into());
        self
    }

    /// Adds a `system` message: how the model should behave.
    pub fn system(self, content: impl Into<String>) -> Self {
        self.message("system", content)
    }

    /// Adds a `user` message.
    pub fn user(self, content: impl Into<String>) -> Self {
        self.message("user", content)
    }

    /// Adds an `assistant` message: an earlier reply, to continue from.
    pub fn assistant(self, content: impl Into<String>) -> Self {
        self.message("assistant", content)
    }

    /// Adds a message with any role; the host accepts `system`, `user`
    /// and `assistant`.
    pub fn message(mut self, role: impl Into<String>, content: impl Into<String>) -> Self {
        self.0.messages.push(host::Message {
            role: role.into(),
            content: content.into(),
        });
        self
    }

    /// The most tokens the reply may have.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.0.max_tokens = Some(tokens);
        self
    }

    /// How freely the model chooses its words: 0 for the most likely.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.0.temperature = Some(temperature);
        self
    }
}

/// Sends `ask` and waits for the whole reply.
pub fn complete(ask: &Ask) -> Result<Answer, AiError> {
    host::complete(&ask.0).map_err(AiError::from)
}

/// Sends `ask`; the reply is read piece by piece from the stream.
pub fn stream(ask: &Ask) -> Result<ReplyStream, AiError> {
    host::stream(&ask.0)
        .map(|inner| ReplyStream { inner, done: false })
        .map_err(AiError::from)
}

/// A reply arriving piece by piece: an iterator of text pieces, which
/// ends when the reply does (or after the one error that ended it early).
/// A plugin holds at most four at once; dropping one stops its request.
#[derive(Debug)]
pub struct ReplyStream {
    inner: host::ReplyStream,
    done: bool,
}

impl ReplyStream {
    /// The whole reply and its token counts. Pieces not yet read are read
    /// (and dropped) first, so this may wait for the model to finish.
    pub fn answer(&mut self) -> Result<Answer, AiError> {
        for piece in self.by_ref() {
            piece?;
        }
        self.inner.answer().map_err(AiError::from)
    }
}

impl Iterator for ReplyStream {
    type Item = Result<String, AiError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next() {
            Ok(Some(piece)) => Some(Ok(piece)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(AiError::from(error)))
            }
        }
    }
}
