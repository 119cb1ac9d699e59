//! Recorded wire exchanges for the services that cannot run here
//! (Anthropic, Gemini and Hugging Face are hosted; Ollama is not
//! installable offline): bodies written to each service's documented
//! format, kept under `tests/recorded/`, served back in writes of a few
//! dozen bytes so events straddle reads. Each test checks what the client
//! made of the reply (text, usage, finish) and what it sent (path, the
//! header that carries the key, the body's shape).

use lord_ai::{Finish, Kind, Request};
use serde_json::json;

use crate::loopback::{Response, Seen, Server};
use crate::{KEY, client, endpoint, question, quick_retries};

fn recorded(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/recorded/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves `name` as the answer to every request.
async fn serve(name: &'static str, content_type: &'static str) -> Server {
    Server::start(move |_, _| Response::recorded(content_type, &recorded(name), 37)).await
}

/// Streams `request` and returns the reply with the pieces handed on.
async fn stream(at: &lord_ai::Endpoint, request: &Request) -> (lord_ai::Reply, Vec<String>) {
    let mut pieces = Vec::new();
    let reply = client(quick_retries())
        .stream(at, request, &mut |p| pieces.push(p.to_owned()))
        .await
        .expect("the recorded stream is read");
    assert_eq!(pieces.concat(), reply.text);
    (reply, pieces)
}

fn only_request(server: &Server) -> Seen {
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    seen.into_iter().next().expect("one request")
}

/// Anthropic Messages, streamed: a recorded exchange, since Anthropic's
/// service cannot run here. The event sequence is the documented one
/// (`message_start`, `content_block_start`, `ping`, deltas,
/// `content_block_stop`, `message_delta`, `message_stop`).
#[tokio::test]
async fn anthropic_messages_stream_recorded() {
    let server = serve("anthropic_messages_stream.sse", "text/event-stream").await;
    let at = endpoint(
        Kind::Anthropic,
        server.url("/v1"),
        Some(KEY),
        "claude-sonnet-4-5",
    );
    let (reply, pieces) = stream(&at, &question()).await;
    assert_eq!(
        reply.text,
        "Sunlight scatters off air molecules, and blue light scatters the most."
    );
    assert_eq!(pieces.len(), 3);
    assert_eq!(reply.model, "claude-sonnet-4-5-20250929");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (21, 15)
    );
    assert_eq!(reply.finish, Finish::Stop);

    let sent = only_request(&server);
    assert_eq!(
        (sent.method.as_str(), sent.path()),
        ("POST", "/v1/messages")
    );
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    let body = sent.json();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(body["system"], "Answer in one sentence.");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Why is the sky blue?"}])
    );
    assert_eq!(
        (body["max_tokens"].clone(), body["stream"].clone()),
        (json!(64), json!(true))
    );
    assert_eq!(body["temperature"], 0.5);
}

/// Gemini `streamGenerateContent?alt=sse`: a recorded exchange, since
/// Google's service cannot run here. Events end with CRLF pairs, as
/// Google sends them; usage grows chunk by chunk and is whole in the last.
#[tokio::test]
async fn gemini_stream_generate_content_recorded() {
    let server = serve("gemini_stream_generate_content.sse", "text/event-stream").await;
    let at = endpoint(
        Kind::Gemini,
        server.url("/v1beta"),
        Some(KEY),
        "gemini-2.0-flash",
    );
    let (reply, pieces) = stream(&at, &question()).await;
    assert_eq!(
        reply.text,
        "Sunlight scatters off air molecules, and blue light scatters the most.\n"
    );
    assert_eq!(pieces.len(), 3);
    assert_eq!(reply.model, "gemini-2.0-flash");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (11, 14)
    );
    assert_eq!(reply.finish, Finish::Stop);

    let sent = only_request(&server);
    assert_eq!(
        sent.path(),
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(
        sent.query(),
        Some("alt=sse"),
        "the key never goes in the query"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    assert_eq!(sent.header("authorization"), None);
    assert_gemini_body(&sent);
}

/// Gemini `generateContent`, whole: a recorded exchange, since Google's
/// service cannot run here.
#[tokio::test]
async fn gemini_generate_content_recorded() {
    let server = Server::start(|_, _| {
        Response::whole(
            200,
            "application/json",
            recorded("gemini_generate_content.json"),
        )
    })
    .await;
    let at = endpoint(
        Kind::Gemini,
        server.url("/v1beta"),
        Some(KEY),
        "gemini-2.0-flash",
    );
    let reply = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect("the recorded reply is read");
    assert!(
        reply.text.starts_with("Sunlight scatters"),
        "{}",
        reply.text
    );
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (11, 14)
    );
    assert_eq!(reply.finish, Finish::Stop);
    let sent = only_request(&server);
    assert_eq!(
        sent.target,
        "/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    assert_gemini_body(&sent);
}

fn assert_gemini_body(sent: &Seen) {
    let body = sent.json();
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}])
    );
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "Answer in one sentence."}]})
    );
    assert_eq!(
        body["generationConfig"],
        json!({"maxOutputTokens": 64, "temperature": 0.5, "seed": 7})
    );
}

/// Ollama `/api/chat`, streamed as JSON lines: a recorded exchange, since
/// no Ollama server can be installed here. The last line carries the
/// counts; Ollama takes no key, so none is sent.
#[tokio::test]
async fn ollama_chat_stream_recorded() {
    let server = serve("ollama_chat_stream.ndjson", "application/x-ndjson").await;
    let at = endpoint(Kind::Ollama, server.url(""), None, "llama3.2");
    let (reply, pieces) = stream(&at, &question()).await;
    assert_eq!(
        reply.text,
        "Sunlight scatters off air molecules, and blue light scatters the most."
    );
    assert_eq!(pieces.len(), 4);
    assert_eq!(reply.model, "llama3.2");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (32, 14)
    );
    assert_eq!(reply.finish, Finish::Stop);

    let sent = only_request(&server);
    assert_eq!(sent.path(), "/api/chat");
    assert_eq!(sent.header("authorization"), None);
    let body = sent.json();
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Why is the sky blue?"}
        ])
    );
    assert_eq!(
        body["options"],
        json!({"num_predict": 64, "temperature": 0.5, "seed": 7})
    );
}

/// Hugging Face text-generation inference, `generate_stream`'s events
/// (one token each, the end-of-sequence token marked special, the last
/// event with `details`): a recorded exchange, since the hosted API
/// cannot be reached here, served at the serverless API's
/// `/models/{model}` path.
#[tokio::test]
async fn huggingface_tgi_generate_stream_recorded() {
    let server = serve("tgi_generate_stream.sse", "text/event-stream").await;
    let model = "HuggingFaceH4/zephyr-7b-beta";
    let at = endpoint(Kind::HuggingFace, server.url("/models"), Some(KEY), model);
    let request = Request {
        temperature: Some(0.0),
        ..question()
    };
    let (reply, pieces) = stream(&at, &request).await;
    assert_eq!(reply.text, " Sunlight scatters blue light most.");
    assert_eq!(pieces.len(), 8, "the special </s> token is not text");
    assert_eq!(reply.model, model);
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (27, 9)
    );
    assert_eq!(reply.finish, Finish::Stop);

    let sent = only_request(&server);
    assert_eq!(sent.path(), "/models/HuggingFaceH4/zephyr-7b-beta");
    assert_eq!(
        sent.header("authorization").map(str::to_owned),
        Some(format!("Bearer {KEY}"))
    );
    let body = sent.json();
    assert_eq!(
        body["inputs"],
        "System: Answer in one sentence.\nUser: Why is the sky blue?\nAssistant:"
    );
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["parameters"],
        json!({"details": true, "return_full_text": false, "max_new_tokens": 64,
               "do_sample": false, "seed": 7}),
        "TGI refuses a temperature of 0: greedy decoding is asked for instead"
    );
}
