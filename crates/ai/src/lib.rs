//! AI providers for lord (the seed's `AIProviderManager`).
//!
//! - [`Client`] talks to every kind of service ([`Kind`]): OpenAI chat
//!   completions and every server that speaks them (llama.cpp, vLLM),
//!   Anthropic Messages, Ollama, Hugging Face text-generation inference
//!   and Gemini; whole or streamed replies, typed errors ([`AiError`]),
//!   retries that honour `Retry-After`.
//! - [`Log`] keeps conversations ([`Session`], the seed's
//!   `ConversationContext`) and every exchange in `ai.db`, searchable; a
//!   session's token budget is kept by its [`Retention`] policy.
//! - [`Prices`] turns usage into cost from a table the user edits.
//! - [`Library`] holds prompt templates and roles (minijinja), and
//!   [`ab`] compares two templates over a set of inputs.
//!
//! Invariant: a key is an [`ApiKey`], which no formatting prints; it
//! leaves only in a request's headers and is scrubbed from anything a
//! service echoes back. Nothing here stores a key.

pub mod ab;
mod client;
mod error;
mod log;
mod price;
mod session;
mod template;
mod types;
mod wire;

pub use client::{Client, RetryPolicy, parse_retry_after};
pub use error::AiError;
pub use log::{Exchange, ExchangeFilter, LOG_FILE, Log, SessionInfo};
pub use price::{PRICES_FILE, Price, Prices};
pub use session::{Retention, Session, Trim, estimate_tokens};
pub use template::{Library, Rendered, Template};
pub use types::{ApiKey, Endpoint, Finish, Kind, Message, Reply, Request, Role, Timing, Usage};
