//! Google Gemini (`POST {url}/models/{model}:generateContent`, streamed
//! as `:streamGenerateContent?alt=sse`). The assistant is the `model`
//! role, system messages go in `systemInstruction`, the key in
//! `x-goog-api-key` (never in the query, where proxies log it). Each
//! streamed event is a whole response holding the new text; the last
//! holds the finish reason and `usageMetadata`.

use serde_json::{Value, json};

use super::{Built, Delta, ErrorKind, Parsed, count, system_text};
use crate::types::{Endpoint, Finish, Request, Role, Usage};

pub(super) fn build(endpoint: &Endpoint, model: &str, request: &Request, stream: bool) -> Built {
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": [{"text": m.content}]})
        })
        .collect();
    let mut config = serde_json::Map::new();
    if let Some(max) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(t) = request.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(seed) = request.seed {
        config.insert("seed".into(), json!(seed));
    }
    let mut body = json!({"contents": contents, "generationConfig": config});
    if let Some(system) = system_text(request) {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &endpoint.key {
        headers.push(("x-goog-api-key", key.expose().to_owned()));
    }
    let method = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    Built {
        url: format!("{}/models/{model}:{method}", endpoint.url),
        headers,
        body,
    }
}

fn finish(reason: &str) -> Result<Finish, (ErrorKind, String)> {
    match reason {
        "STOP" => Ok(Finish::Stop),
        "MAX_TOKENS" => Ok(Finish::Length),
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => Err((
            ErrorKind::Refused,
            format!("the reply was stopped ({reason})"),
        )),
        other => Ok(Finish::Other(other.to_owned())),
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: count(value.get("promptTokenCount")),
        output_tokens: count(value.get("candidatesTokenCount")),
    }
}

fn text(value: &Value) -> String {
    value
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

fn blocked(value: &Value) -> Option<String> {
    value
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
        .map(|reason| format!("the prompt was blocked ({reason})"))
}

pub(super) fn reply(body: &Value, model: &str) -> Result<Parsed, (ErrorKind, String)> {
    if let Some(reason) = blocked(body) {
        return Err((ErrorKind::Refused, reason));
    }
    let reason = body
        .pointer("/candidates/0/finishReason")
        .and_then(Value::as_str)
        .unwrap_or("STOP");
    Ok(Parsed {
        text: text(body),
        model: body
            .get("modelVersion")
            .and_then(Value::as_str)
            .unwrap_or(model)
            .to_owned(),
        usage: body.get("usageMetadata").map(usage).unwrap_or_default(),
        finish: finish(reason)?,
    })
}

pub(super) fn event(value: &Value) -> Vec<Delta> {
    if let Some(reason) = blocked(value) {
        return vec![Delta::Error {
            kind: ErrorKind::Refused,
            detail: reason,
        }];
    }
    let mut out = Vec::new();
    if let Some(model) = value.get("modelVersion").and_then(Value::as_str) {
        out.push(Delta::Model(model.to_owned()));
    }
    let piece = text(value);
    if !piece.is_empty() {
        out.push(Delta::Text(piece));
    }
    if let Some(u) = value.get("usageMetadata") {
        out.push(Delta::Usage(usage(u)));
    }
    if let Some(reason) = value
        .pointer("/candidates/0/finishReason")
        .and_then(Value::as_str)
    {
        match finish(reason) {
            Ok(finish) => out.push(Delta::Finish(finish)),
            Err((kind, detail)) => out.push(Delta::Error { kind, detail }),
        }
    }
    out
}
