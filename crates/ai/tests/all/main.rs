//! `lord-ai`'s client over real HTTP: one test binary (the house's
//! `tests/all` shape) with
//! - `retries`, `streaming` and `errors`: a hand-written HTTP/1.1 server on
//!   loopback (`loopback`) answering as the services do, to prove what is
//!   retried and when, that a streamed reply reaches the caller piece by
//!   piece, and that errors are typed and never carry the key;
//! - `recorded`: exchanges recorded in the formats Anthropic, Gemini,
//!   Ollama and Hugging Face TGI document, served back, because none of
//!   those services can run here;
//! - `llama`: a real model behind llama.cpp's `llama-server`
//!   (`llama_server`), spoken to as OpenAI and as Anthropic.

mod errors;
mod llama;
mod llama_server;
mod loopback;
mod recorded;
mod retries;
mod streaming;

use std::time::Duration;

use lord_ai::{ApiKey, Client, Endpoint, Kind, Message, Request, RetryPolicy, Role};

/// A key that must never be seen outside a request header.
pub(crate) const KEY: &str = "sk-planted-7f3a9c41d2e84b6f";

/// Retries quick enough for a test: backoff of at most tens of
/// milliseconds, so only a `Retry-After` can explain a longer wait.
pub(crate) fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

pub(crate) fn client(policy: RetryPolicy) -> Client {
    Client::new(policy, Duration::from_secs(10)).expect("client")
}

pub(crate) fn endpoint(kind: Kind, url: String, key: Option<&str>, model: &str) -> Endpoint {
    Endpoint {
        name: "test".to_owned(),
        kind,
        url,
        key: key.map(|k| ApiKey::new(k.to_owned())),
        key_secret: None,
        model: Some(model.to_owned()),
    }
}

/// A system instruction and one question, with every setting given, so
/// each wire's mapping of them can be checked.
pub(crate) fn question() -> Request {
    Request {
        model: None,
        messages: vec![
            Message::new(Role::System, "Answer in one sentence."),
            Message::new(Role::User, "Why is the sky blue?"),
        ],
        max_tokens: Some(64),
        temperature: Some(0.5),
        seed: Some(7),
    }
}
