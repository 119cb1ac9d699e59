//! A real model (SmolLM2-135M behind llama.cpp's `llama-server`), spoken
//! to as OpenAI and as Anthropic. A streamed reply must come in several
//! pieces, and the token counts lord reports must be the server's own:
//! the same request sent whole by plain reqwest must show the same usage.

use std::time::Duration;

use lord_ai::{AiError, Client, Kind, Message, Request, RetryPolicy, Role};
use serde_json::{Value, json};

use crate::endpoint;
use crate::llama_server::LlamaServer;

const PROMPT: &str = "Say hello.";

/// Deterministic: greedy decoding, a seed, 16 tokens at most.
fn greeting() -> Request {
    Request {
        model: None,
        messages: vec![Message::new(Role::User, PROMPT)],
        max_tokens: Some(16),
        temperature: Some(0.0),
        seed: Some(42),
    }
}

/// A model's first request pages it in, which on a busy two-core machine
/// can take seconds.
fn patient() -> Client {
    Client::new(RetryPolicy::default(), Duration::from_secs(120)).expect("client")
}

/// The same request, sent whole by reqwest alone.
async fn direct(url: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("llama-server answers");
    assert!(response.status().is_success(), "{response:?}");
    response.json().await.expect("JSON")
}

fn direct_body() -> Value {
    json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
        "temperature": 0,
        "seed": 42,
    })
}

fn count(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

#[tokio::test]
async fn llama_server_streams_openai_pieces_with_the_servers_own_counts() {
    let Some(server) = LlamaServer::start() else {
        return;
    };
    let at = endpoint(Kind::OpenAi, server.url("/v1"), None, "smollm2");
    let mut pieces = Vec::new();
    let reply = patient()
        .stream(&at, &greeting(), &mut |p| pieces.push(p.to_owned()))
        .await
        .expect("a streamed reply");
    assert!(pieces.len() > 1, "one piece only: {pieces:?}");
    assert_eq!(pieces.concat(), reply.text);
    assert!(!reply.text.trim().is_empty());

    let whole = direct(&server.url("/v1/chat/completions"), direct_body()).await;
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (
            count(&whole, "/usage/prompt_tokens"),
            count(&whole, "/usage/completion_tokens")
        ),
        "the server counted {}",
        whole["usage"]
    );
    assert!(reply.usage.input_tokens > 0 && reply.usage.output_tokens > 0);
}

#[tokio::test]
async fn llama_server_streams_anthropic_messages_with_the_servers_own_counts() {
    let Some(server) = LlamaServer::start() else {
        return;
    };
    // Sent first, so that lord's request finds the prompt in
    // llama-server's cache, as a conversation's later turns do: Anthropic's
    // `input_tokens` then leaves out what the cache served, and the
    // prompt is all three counts together.
    let whole = direct(&server.url("/v1/messages"), direct_body()).await;
    let at = endpoint(Kind::Anthropic, server.url("/v1"), None, "smollm2");
    let mut pieces = Vec::new();
    let reply = patient()
        .stream(&at, &greeting(), &mut |p| pieces.push(p.to_owned()))
        .await
        .expect("a streamed reply");
    assert!(pieces.len() > 1, "one piece only: {pieces:?}");
    assert_eq!(pieces.concat(), reply.text);

    let prompt = count(&whole, "/usage/input_tokens")
        + count(&whole, "/usage/cache_read_input_tokens")
        + count(&whole, "/usage/cache_creation_input_tokens");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (prompt, count(&whole, "/usage/output_tokens")),
        "the server counted {}",
        whole["usage"]
    );
    // The same conversation through the OpenAI door is the same prompt.
    let openai = direct(&server.url("/v1/chat/completions"), direct_body()).await;
    assert_eq!(
        reply.usage.input_tokens,
        count(&openai, "/usage/prompt_tokens")
    );
}

#[tokio::test]
async fn llama_server_lists_its_model_and_refuses_an_overlong_prompt_as_overflow() {
    let Some(server) = LlamaServer::start() else {
        return;
    };
    let at = endpoint(Kind::OpenAi, server.url("/v1"), None, "smollm2");
    let client = patient();
    let models = client.models(&at).await.expect("models");
    assert!(models.iter().any(|m| m.ends_with(".gguf")), "{models:?}");
    let long = Request {
        messages: vec![Message::new(Role::User, "word ".repeat(3000))],
        ..greeting()
    };
    let error = client.complete(&at, &long).await.expect_err("too long");
    assert!(
        matches!(error, AiError::ContextOverflow { .. }),
        "{error:?}"
    );
}
