//! The services' wire formats. Each module turns a [`Request`] into its
//! service's HTTP request and reads its replies, whole or streamed, into
//! the shared words of [`crate::types`]; the client does the HTTP, the
//! retries and the timing. Dispatch is a `match` on [`Kind`], so adding a
//! service is one module and one arm in each function here.

mod anthropic;
mod gemini;
mod huggingface;
mod ollama;
mod openai;

use serde_json::Value;

use crate::types::{Endpoint, Finish, Kind, Request, Usage};

/// An HTTP request ready to send. Header values may hold the key, so its
/// `Debug` names the headers and hides their values.
pub(crate) struct Built {
    pub(crate) url: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Value,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Built")
            .field("url", &self.url)
            .field("headers", &names)
            .field("body", &self.body)
            .finish()
    }
}

/// Refuses a model name that could move a request elsewhere on the
/// service: the model goes into the URL path for Gemini and Hugging
/// Face, and a plugin chooses it.
fn check_model(kind: Kind, model: &str) -> Result<(), String> {
    let slash_ok = kind == Kind::HuggingFace;
    let bad = model.is_empty()
        || model.len() > 256
        || model.split('/').any(|part| part == ".." || part == ".")
        || model.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '?' | '#' | '%' | '\\')
                || (c == '/' && !slash_ok)
        });
    if bad && matches!(kind, Kind::Gemini | Kind::HuggingFace) {
        return Err(format!(
            "`{}` is not a model name this service takes (no `..`, `?`, `#`, `%` or spaces)",
            model
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        ));
    }
    if model.is_empty() || model.chars().any(char::is_control) {
        return Err("the model's name is empty or holds control characters".to_owned());
    }
    Ok(())
}

/// How a streamed body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-sent events: `data:` lines, events split by a blank line.
    Sse,
    /// One JSON object per line (Ollama).
    JsonLines,
}

/// One thing a streamed event said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Delta {
    Text(String),
    Model(String),
    /// Usage so far; a later one replaces an earlier field by field
    /// (zero fields do not replace).
    Usage(Usage),
    Finish(Finish),
    /// The service reported an error inside the stream.
    Error {
        kind: ErrorKind,
        detail: String,
    },
    /// The stream's own end marker.
    Done,
}

/// A whole reply's parts, before timing is added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) text: String,
    pub(crate) model: String,
    pub(crate) usage: Usage,
    pub(crate) finish: Finish,
}

/// What an error status or error body means, as far as the body tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Auth,
    RateLimited,
    ContextOverflow,
    Refused,
    Other,
}

pub(crate) fn build(endpoint: &Endpoint, request: &Request, stream: bool) -> Result<Built, String> {
    let model = request
        .model
        .clone()
        .or_else(|| endpoint.model.clone())
        .ok_or_else(|| {
            format!(
                "no model given and the profile `{}` names none; pass --model or set \
                 `ai.profiles.{}.model`",
                endpoint.name, endpoint.name
            )
        })?;
    check_model(endpoint.kind, &model)?;
    let built = match endpoint.kind {
        Kind::OpenAi => openai::build(endpoint, &model, request, stream),
        Kind::Anthropic => anthropic::build(endpoint, &model, request, stream),
        Kind::Ollama => ollama::build(endpoint, &model, request, stream),
        Kind::HuggingFace => huggingface::build(endpoint, &model, request, stream),
        Kind::Gemini => gemini::build(endpoint, &model, request, stream),
    };
    Ok(built)
}

pub(crate) fn framing(kind: Kind) -> Framing {
    match kind {
        Kind::Ollama => Framing::JsonLines,
        Kind::OpenAi | Kind::Anthropic | Kind::HuggingFace | Kind::Gemini => Framing::Sse,
    }
}

/// Reads a whole (unstreamed) reply.
pub(crate) fn reply(kind: Kind, body: &Value, model: &str) -> Result<Parsed, (ErrorKind, String)> {
    match kind {
        Kind::OpenAi => openai::reply(body),
        Kind::Anthropic => anthropic::reply(body),
        Kind::Ollama => ollama::reply(body),
        Kind::HuggingFace => huggingface::reply(body, model),
        Kind::Gemini => gemini::reply(body, model),
    }
}

/// Reads one streamed event (an SSE `data` payload or a JSON line).
pub(crate) fn event(kind: Kind, data: &str) -> Result<Vec<Delta>, String> {
    if data.trim() == "[DONE]" {
        return Ok(vec![Delta::Done]);
    }
    let value: Value =
        serde_json::from_str(data).map_err(|e| format!("a streamed event is not JSON: {e}"))?;
    Ok(match kind {
        Kind::OpenAi => openai::event(&value),
        Kind::Anthropic => anthropic::event(&value),
        Kind::Ollama => ollama::event(&value),
        Kind::HuggingFace => huggingface::event(&value),
        Kind::Gemini => gemini::event(&value),
    })
}

/// What an error answer means: the status first, then the words of the
/// body where services use one status for several things.
pub(crate) fn classify(status: u16, body: &str) -> ErrorKind {
    let lower = body.to_ascii_lowercase();
    let overflow = [
        "context_length_exceeded",
        "exceed_context_size",
        "context length",
        "context window",
        "maximum context",
        "prompt is too long",
        "too many tokens",
        "input is too long",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    match status {
        401 | 403 => ErrorKind::Auth,
        429 => ErrorKind::RateLimited,
        // Gemini answers a bad key with 400 API_KEY_INVALID.
        400 if lower.contains("api_key_invalid") || lower.contains("api key not valid") => {
            ErrorKind::Auth
        }
        _ if overflow => ErrorKind::ContextOverflow,
        _ if lower.contains("content_filter") || lower.contains("content_policy") => {
            ErrorKind::Refused
        }
        _ => ErrorKind::Other,
    }
}

/// The most readable part of an error body: `error.message`, `error` as
/// text, `message`, or the body itself (cut short).
pub(crate) fn error_detail(body: &str) -> String {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let found = value.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = found.unwrap_or_else(|| body.trim().to_owned());
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    if cut.is_empty() {
        "no detail given".to_owned()
    } else {
        cut
    }
}

/// A JSON number as a token count (absent or negative: zero).
fn count(value: Option<&Value>) -> u64 {
    value.and_then(Value::as_u64).unwrap_or(0)
}

/// The system messages joined, for services that take them apart from
/// the conversation; `None` when there are none.
fn system_text(request: &Request) -> Option<String> {
    let parts: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == crate::types::Role::System)
        .map(|m| m.content.as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_are_classified_by_what_they_mean() {
        assert_eq!(classify(401, ""), ErrorKind::Auth);
        assert_eq!(classify(429, ""), ErrorKind::RateLimited);
        assert_eq!(
            classify(400, r#"{"error":{"code":"context_length_exceeded"}}"#),
            ErrorKind::ContextOverflow
        );
        assert_eq!(
            classify(400, r#"{"error":{"type":"exceed_context_size_error"}}"#),
            ErrorKind::ContextOverflow
        );
        assert_eq!(
            classify(
                400,
                r#"{"error":{"status":"INVALID_ARGUMENT","message":"API key not valid."}}"#
            ),
            ErrorKind::Auth
        );
        assert_eq!(classify(500, "boom"), ErrorKind::Other);
    }

    #[test]
    fn a_model_name_cannot_steer_a_request_to_another_path() {
        assert!(check_model(Kind::Gemini, "gemini-2.0-flash").is_ok());
        assert!(check_model(Kind::HuggingFace, "HuggingFaceH4/zephyr-7b-beta").is_ok());
        for bad in ["../x", "m?key=1", "m#f", "a/b", "m%2f", "m x"] {
            assert!(check_model(Kind::Gemini, bad).is_err(), "{bad}");
        }
        assert!(check_model(Kind::HuggingFace, "org/../admin").is_err());
        // OpenAI-style services take the model in the body: anything
        // printable goes.
        assert!(check_model(Kind::OpenAi, "my/model:latest").is_ok());
    }

    #[test]
    fn the_error_detail_is_the_message_cut_short() {
        assert_eq!(
            error_detail(r#"{"error":{"message":"bad model"}}"#),
            "bad model"
        );
        assert_eq!(
            error_detail(r#"{"error":"no such model"}"#),
            "no such model"
        );
        assert_eq!(error_detail(""), "no detail given");
        assert_eq!(error_detail(&"x".repeat(400)).chars().count(), 301);
    }
}
