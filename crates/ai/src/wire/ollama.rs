//! Ollama's own chat API (`POST {url}/api/chat`). A streamed reply is one
//! JSON object per line; the last has `done: true` and the counts
//! (`prompt_eval_count`, `eval_count`). Sampling settings go under
//! `options`.

use serde_json::{Value, json};

use super::{Built, Delta, ErrorKind, Parsed, count};
use crate::types::{Endpoint, Finish, Request, Usage};

pub(super) fn build(endpoint: &Endpoint, model: &str, request: &Request, stream: bool) -> Built {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut options = serde_json::Map::new();
    if let Some(max) = request.max_tokens {
        options.insert("num_predict".into(), json!(max));
    }
    if let Some(t) = request.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(seed) = request.seed {
        options.insert("seed".into(), json!(seed));
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    // Ollama itself takes no key; a proxy in front of it may.
    if let Some(key) = &endpoint.key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    Built {
        url: format!("{}/api/chat", endpoint.url),
        headers,
        body: json!({"model": model, "messages": messages, "stream": stream, "options": options}),
    }
}

fn finish(value: &Value) -> Finish {
    Finish::from_reason(
        value
            .get("done_reason")
            .and_then(Value::as_str)
            .unwrap_or("stop"),
    )
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: count(value.get("prompt_eval_count")),
        output_tokens: count(value.get("eval_count")),
    }
}

pub(super) fn reply(body: &Value) -> Result<Parsed, (ErrorKind, String)> {
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return Err((super::classify(0, error), error.to_owned()));
    }
    Ok(Parsed {
        text: body
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or((ErrorKind::Other, "the reply has no message".to_owned()))?
            .to_owned(),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        usage: usage(body),
        finish: finish(body),
    })
}

pub(super) fn event(value: &Value) -> Vec<Delta> {
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return vec![Delta::Error {
            kind: super::classify(0, error),
            detail: error.to_owned(),
        }];
    }
    let mut out = Vec::new();
    if let Some(model) = value.get("model").and_then(Value::as_str) {
        out.push(Delta::Model(model.to_owned()));
    }
    if let Some(text) = value.pointer("/message/content").and_then(Value::as_str)
        && !text.is_empty()
    {
        out.push(Delta::Text(text.to_owned()));
    }
    if value.get("done").and_then(Value::as_bool) == Some(true) {
        out.push(Delta::Usage(usage(value)));
        out.push(Delta::Finish(finish(value)));
        out.push(Delta::Done);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_carries_the_counts() {
        let last = json!({"model": "llama3", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length", "prompt_eval_count": 26, "eval_count": 12});
        assert_eq!(
            event(&last),
            vec![
                Delta::Model("llama3".into()),
                Delta::Usage(Usage {
                    input_tokens: 26,
                    output_tokens: 12
                }),
                Delta::Finish(Finish::Length),
                Delta::Done
            ]
        );
    }
}
