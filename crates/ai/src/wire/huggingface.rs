//! Hugging Face text-generation inference: the hosted API
//! (`POST .../models/{model}`) and a TGI server of one's own
//! (`/generate`, `/generate_stream`) take the conversation as one prompt
//! (`inputs`) with `parameters`; a stream answers with server-sent events, one token each, the last carrying
//! `generated_text` and `details`. The conversation is written out in the
//! plain `Role: text` form every instruct model reads; a chat template of
//! the model's own is the server's to apply when it offers one.

use serde_json::{Value, json};

use super::{Built, Delta, ErrorKind, Parsed, count};
use crate::types::{Endpoint, Finish, Request, Role, Usage};

/// The conversation as one prompt, ending where the model is to speak.
fn prompt(request: &Request) -> String {
    let mut out = String::new();
    for message in &request.messages {
        let who = match message.role {
            Role::System => "System",
            Role::User => "User",
            Role::Assistant => "Assistant",
        };
        out.push_str(who);
        out.push_str(": ");
        out.push_str(&message.content);
        out.push('\n');
    }
    out.push_str("Assistant:");
    out
}

/// Where to send: the hosted API (`.../models`) takes the model in the
/// path; a TGI server of one's own serves one model at `/generate` and
/// `/generate_stream`.
fn url(base: &str, model: &str, stream: bool) -> String {
    if base.ends_with("/models") {
        format!("{base}/{model}")
    } else if stream {
        format!("{base}/generate_stream")
    } else {
        format!("{base}/generate")
    }
}

pub(super) fn build(endpoint: &Endpoint, model: &str, request: &Request, stream: bool) -> Built {
    let mut parameters = json!({"details": true, "return_full_text": false});
    if let Some(max) = request.max_tokens {
        parameters["max_new_tokens"] = json!(max);
    }
    if let Some(t) = request.temperature {
        // TGI refuses a temperature of exactly 0; greedy decoding is the
        // same thing said its way.
        if t > 0.0 {
            parameters["temperature"] = json!(t);
        } else {
            parameters["do_sample"] = json!(false);
        }
    }
    if let Some(seed) = request.seed {
        parameters["seed"] = json!(seed);
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &endpoint.key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    Built {
        url: url(&endpoint.url, model, stream),
        headers,
        body: json!({"inputs": prompt(request), "parameters": parameters, "stream": stream}),
    }
}

fn finish(details: Option<&Value>) -> Finish {
    match details
        .and_then(|d| d.get("finish_reason"))
        .and_then(Value::as_str)
        .unwrap_or("eos_token")
    {
        "eos_token" | "stop_sequence" => Finish::Stop,
        "length" => Finish::Length,
        other => Finish::Other(other.to_owned()),
    }
}

fn usage(details: Option<&Value>) -> Usage {
    Usage {
        // A stream's details say `input_length` (TGI 2 and later); a
        // whole reply gives the prompt's tokens only as the `prefill`
        // list, and only with `decoder_input_details`.
        input_tokens: details
            .and_then(|d| d.get("input_length"))
            .and_then(Value::as_u64)
            .or_else(|| {
                details
                    .and_then(|d| d.get("prefill"))
                    .and_then(Value::as_array)
                    .map(|p| p.len() as u64)
            })
            .unwrap_or(0),
        output_tokens: count(details.and_then(|d| d.get("generated_tokens"))),
    }
}

pub(super) fn reply(body: &Value, model: &str) -> Result<Parsed, (ErrorKind, String)> {
    // The serverless API answers a list of one; TGI itself an object.
    let item = body.get(0).unwrap_or(body);
    if let Some(error) = item.get("error").and_then(Value::as_str) {
        return Err((super::classify(0, error), error.to_owned()));
    }
    let details = item.get("details");
    Ok(Parsed {
        text: item
            .get("generated_text")
            .and_then(Value::as_str)
            .ok_or((
                ErrorKind::Other,
                "the reply has no generated_text".to_owned(),
            ))?
            .to_owned(),
        model: model.to_owned(),
        usage: usage(details),
        finish: finish(details),
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
    if let Some(token) = value.get("token")
        && token.get("special").and_then(Value::as_bool) != Some(true)
        && let Some(text) = token.get("text").and_then(Value::as_str)
        && !text.is_empty()
    {
        out.push(Delta::Text(text.to_owned()));
    }
    if let Some(details) = value.get("details").filter(|d| d.is_object()) {
        out.push(Delta::Usage(usage(Some(details))));
        out.push(Delta::Finish(finish(Some(details))));
        out.push(Delta::Done);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn the_hosted_api_takes_the_model_in_the_path_and_a_tgi_server_its_own_routes() {
        let hosted = "https://api-inference.huggingface.co/models";
        assert_eq!(url(hosted, "org/m", true), format!("{hosted}/org/m"));
        assert_eq!(
            url("http://10.0.0.2:8080", "org/m", true),
            "http://10.0.0.2:8080/generate_stream"
        );
        assert_eq!(
            url("http://10.0.0.2:8080", "org/m", false),
            "http://10.0.0.2:8080/generate"
        );
    }
}
