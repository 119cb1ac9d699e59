//! OpenAI chat completions (`POST {url}/chat/completions`), which
//! llama.cpp's `llama-server`, vLLM and most gateways also speak. Streamed
//! replies are server-sent events ending with `data: [DONE]`; usage comes
//! in a last chunk when asked for with `stream_options.include_usage`.

use serde_json::{Value, json};

use super::{Built, Delta, ErrorKind, Parsed, count};
use crate::types::{Endpoint, Finish, Request, Usage};

pub(super) fn build(endpoint: &Endpoint, model: &str, request: &Request, stream: bool) -> Built {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut body = json!({"model": model, "messages": messages, "stream": stream});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = json!(max);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(seed) = request.seed {
        body["seed"] = json!(seed);
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &endpoint.key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    Built {
        url: format!("{}/chat/completions", endpoint.url),
        headers,
        body,
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: count(value.get("prompt_tokens")),
        output_tokens: count(value.get("completion_tokens")),
    }
}

pub(super) fn reply(body: &Value) -> Result<Parsed, (ErrorKind, String)> {
    let choice = body
        .pointer("/choices/0")
        .ok_or((ErrorKind::Other, "the reply has no choices".to_owned()))?;
    if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
        return Err((ErrorKind::Refused, refusal.to_owned()));
    }
    let reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    if reason == "content_filter" {
        return Err((
            ErrorKind::Refused,
            "the content filter stopped the reply".to_owned(),
        ));
    }
    Ok(Parsed {
        text: choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        usage: body.get("usage").map(usage).unwrap_or_default(),
        finish: Finish::from_reason(reason),
    })
}

pub(super) fn event(value: &Value) -> Vec<Delta> {
    let mut out = Vec::new();
    if let Some(error) = value.get("error") {
        let detail = super::error_detail(&error.to_string());
        out.push(Delta::Error {
            kind: super::classify(0, &error.to_string()),
            detail,
        });
        return out;
    }
    if let Some(model) = value.get("model").and_then(Value::as_str) {
        out.push(Delta::Model(model.to_owned()));
    }
    if let Some(choice) = value.pointer("/choices/0") {
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(Delta::Text(text.to_owned()));
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            if reason == "content_filter" {
                out.push(Delta::Error {
                    kind: ErrorKind::Refused,
                    detail: "the content filter stopped the reply".to_owned(),
                });
            } else {
                out.push(Delta::Finish(Finish::from_reason(reason)));
            }
        }
    }
    if let Some(u) = value.get("usage").filter(|u| u.is_object()) {
        out.push(Delta::Usage(usage(u)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_chunk_gives_its_text_and_the_last_its_usage() {
        let chunk =
            json!({"model": "m", "choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]});
        assert_eq!(
            event(&chunk),
            vec![Delta::Model("m".into()), Delta::Text("Hi".into())]
        );
        let last = json!({"model": "m", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}});
        assert_eq!(
            event(&last),
            vec![
                Delta::Model("m".into()),
                Delta::Usage(Usage {
                    input_tokens: 7,
                    output_tokens: 3
                })
            ]
        );
    }

    #[test]
    fn a_refusal_is_an_error_of_its_own_kind() {
        let body = json!({"choices": [{"message": {"content": null, "refusal": "I can't help"}, "finish_reason": "stop"}]});
        assert_eq!(reply(&body).unwrap_err().0, ErrorKind::Refused);
    }
}
