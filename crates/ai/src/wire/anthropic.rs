//! Anthropic's Messages API (`POST {url}/messages`, version
//! `2023-06-01`). System messages travel apart from the conversation, a
//! `max_tokens` is required, and a streamed reply is a sequence of typed
//! events: `message_start` (model, input tokens), `content_block_delta`
//! (text), `message_delta` (stop reason, output tokens), `message_stop`.

use serde_json::{Value, json};

use super::{Built, Delta, ErrorKind, Parsed, count, system_text};
use crate::types::{Endpoint, Finish, Request, Role, Usage};

/// Anthropic requires `max_tokens`; this is sent when nothing else says.
const DEFAULT_MAX_TOKENS: u32 = 1024;

pub(super) fn build(endpoint: &Endpoint, model: &str, request: &Request, stream: bool) -> Built {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "stream": stream,
    });
    if let Some(system) = system_text(request) {
        body["system"] = json!(system);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("anthropic-version", "2023-06-01".to_owned()),
    ];
    if let Some(key) = &endpoint.key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    Built {
        url: format!("{}/messages", endpoint.url),
        headers,
        body,
    }
}

fn finish(reason: &str) -> Result<Finish, (ErrorKind, String)> {
    match reason {
        "end_turn" | "stop_sequence" => Ok(Finish::Stop),
        "max_tokens" => Ok(Finish::Length),
        "refusal" => Err((
            ErrorKind::Refused,
            "the model declined to answer".to_owned(),
        )),
        other => Ok(Finish::Other(other.to_owned())),
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        // `input_tokens` leaves out what the prompt cache served or
        // stored; the prompt is all three, which is what a session's
        // budget must count (llama-server caches without being asked, so
        // its `input_tokens` is often 1).
        input_tokens: count(value.get("input_tokens"))
            + count(value.get("cache_read_input_tokens"))
            + count(value.get("cache_creation_input_tokens")),
        output_tokens: count(value.get("output_tokens")),
    }
}

pub(super) fn reply(body: &Value) -> Result<Parsed, (ErrorKind, String)> {
    let text: String = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or((ErrorKind::Other, "the reply has no content".to_owned()))?
        .iter()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    let reason = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    Ok(Parsed {
        text,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        usage: body.get("usage").map(usage).unwrap_or_default(),
        finish: finish(reason)?,
    })
}

pub(super) fn event(value: &Value) -> Vec<Delta> {
    let mut out = Vec::new();
    match value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "message_start" => {
            if let Some(model) = value.pointer("/message/model").and_then(Value::as_str) {
                out.push(Delta::Model(model.to_owned()));
            }
            if let Some(u) = value.pointer("/message/usage") {
                out.push(Delta::Usage(usage(u)));
            }
        }
        "content_block_delta" => {
            if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push(Delta::Text(text.to_owned()));
            }
        }
        "message_delta" => {
            if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                match finish(reason) {
                    Ok(finish) => out.push(Delta::Finish(finish)),
                    Err((kind, detail)) => out.push(Delta::Error { kind, detail }),
                }
            }
            if let Some(u) = value.get("usage") {
                out.push(Delta::Usage(usage(u)));
            }
        }
        "message_stop" => out.push(Delta::Done),
        "error" => {
            let text = value.get("error").map(Value::to_string).unwrap_or_default();
            let kind = match value.pointer("/error/type").and_then(Value::as_str) {
                Some("rate_limit_error" | "overloaded_error") => ErrorKind::RateLimited,
                Some("authentication_error" | "permission_error") => ErrorKind::Auth,
                _ => super::classify(0, &text),
            };
            out.push(Delta::Error {
                kind,
                detail: super::error_detail(&value.to_string()),
            });
        }
        // `ping`, `content_block_start`, `content_block_stop` and any
        // event type added later carry nothing this client uses.
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Kind, Message};

    #[test]
    fn system_messages_travel_apart_and_max_tokens_is_always_sent() {
        let endpoint = Endpoint {
            name: "a".into(),
            kind: Kind::Anthropic,
            url: "http://x".into(),
            key: None,
            key_secret: None,
            model: None,
        };
        let request = Request {
            messages: vec![
                Message::new(Role::System, "be brief"),
                Message::new(Role::User, "hi"),
            ],
            ..Request::default()
        };
        let built = build(&endpoint, "claude", &request, true);
        assert_eq!(built.body["system"], "be brief");
        assert_eq!(built.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(built.body["max_tokens"], 1024);
    }

    #[test]
    fn a_stream_gives_model_text_usage_and_stop() {
        let start = json!({"type": "message_start", "message": {"model": "claude", "usage": {"input_tokens": 9, "output_tokens": 1}}});
        let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}});
        let end = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}});
        assert_eq!(event(&start)[0], Delta::Model("claude".into()));
        let cached = json!({"type": "message_start", "message": {"usage": {"input_tokens": 1, "cache_read_input_tokens": 32, "output_tokens": 0}}});
        assert_eq!(
            event(&cached),
            vec![Delta::Usage(Usage {
                input_tokens: 33,
                output_tokens: 0
            })]
        );
        assert_eq!(event(&delta), vec![Delta::Text("Hel".into())]);
        assert_eq!(
            event(&end),
            vec![
                Delta::Finish(Finish::Stop),
                Delta::Usage(Usage {
                    input_tokens: 0,
                    output_tokens: 4
                })
            ]
        );
    }
}
