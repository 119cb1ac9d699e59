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
//! # Ok::<(), String>(())
//! ```

use crate::bindings::lord::plugin::ai as host;

// The reply is the contract's own record (plain data with public fields):
// re-exported rather than copied, so it cannot drift from the WIT.
pub use host::Answer;

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
pub fn complete(ask: &Ask) -> Result<Answer, String> {
    host::complete(&ask.0)
}

/// Sends `ask`; the reply is read piece by piece from the stream.
pub fn stream(ask: &Ask) -> Result<ReplyStream, String> {
    host::stream(&ask.0).map(|inner| ReplyStream { inner, done: false })
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
    pub fn answer(&mut self) -> Result<Answer, String> {
        for piece in self.by_ref() {
            piece?;
        }
        self.inner.answer()
    }
}

impl Iterator for ReplyStream {
    type Item = Result<String, String>;

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
            Err(message) => {
                self.done = true;
                Some(Err(message))
            }
        }
    }
}
