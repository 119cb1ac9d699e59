//! Errors by what the caller should do: a key echoed back by a service
//! never reaches an error's text, a conversation too long for the model
//! is a context overflow (not a retry), and a filtered reply is a
//! refusal, whole or streamed.

use lord_ai::{AiError, Kind};
use serde_json::json;

use crate::loopback::{Response, Seen, Server, bytes};
use crate::{KEY, client, endpoint, question, quick_retries};

/// Whether `text` holds the key or any eight characters of it in a row
/// (a key cut short by an error's length limit still leaks).
fn leaks(text: &str) -> bool {
    let key: Vec<char> = KEY.chars().collect();
    key.windows(8)
        .map(|w| w.iter().collect::<String>())
        .any(|part| text.contains(&part))
}

fn assert_no_key(error: &AiError) {
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(!leaks(&shown), "the key reached Display: {shown}");
    assert!(!leaks(&debug), "the key reached Debug: {debug}");
}

/// Every header the client sent that holds the key, echoed back.
fn echoed(seen: &Seen) -> String {
    ["authorization", "x-api-key", "x-goog-api-key"]
        .iter()
        .filter_map(|h| seen.header(h).map(|v| format!("{h}: {v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn a_key_echoed_back_in_an_error_body_never_reaches_the_error() {
    // Per service, its status for a bad key (Gemini: 400), then a plain
    // 400 that is not about the key; and the key placed so the error's
    // 300-character cut falls inside it.
    let cases = [
        (Kind::OpenAi, 401, 0),
        (Kind::Anthropic, 401, 0),
        (Kind::Gemini, 400, 0),
        (Kind::Ollama, 401, 0),
        (Kind::HuggingFace, 401, 0),
        (Kind::OpenAi, 400, 245),
        (Kind::Anthropic, 400, 255),
        (Kind::HuggingFace, 400, 245),
    ];
    for (kind, status, padding) in cases {
        let server = Server::start(move |_, seen| {
            let message = if padding == 0 {
                format!(
                    "API key not valid. Please pass a valid API key. (received {})",
                    echoed(seen)
                )
            } else {
                format!(
                    "{}unexpected header ({})",
                    "x".repeat(padding),
                    echoed(seen)
                )
            };
            Response::json(
                status,
                &json!({"error": {"message": message, "code": status}}),
            )
        })
        .await;
        let at = endpoint(kind, server.url("/v1"), Some(KEY), "m");
        let error = client(quick_retries())
            .complete(&at, &question())
            .await
            .expect_err("the server refuses");
        assert!(
            echoed(&server.seen()[0]).contains(KEY),
            "{kind}: the key was not sent"
        );
        assert_no_key(&error);
        let typed = if padding == 0 {
            matches!(error, AiError::Auth { .. })
        } else {
            matches!(error, AiError::Status { status: 400, .. })
        };
        assert!(typed, "{kind} {status}: {error:?}");
    }
}

#[tokio::test]
async fn a_key_echoed_back_inside_a_stream_never_reaches_the_error() {
    let server = Server::start(|_, seen| {
        let message = format!("{}invalid x-api-key: {}", "y".repeat(250), echoed(seen));
        let event =
            json!({"type": "error", "error": {"type": "authentication_error", "message": message}});
        Response::stream(
            "text/event-stream",
            vec![bytes(format!("event: error\ndata: {event}\n\n"))],
        )
    })
    .await;
    let at = endpoint(Kind::Anthropic, server.url("/v1"), Some(KEY), "claude");
    let error = client(quick_retries())
        .stream(&at, &question(), &mut |_| {})
        .await
        .expect_err("the stream reports an error");
    assert!(matches!(error, AiError::Auth { .. }), "{error:?}");
    assert_no_key(&error);
}

/// llama-server's answer to a prompt longer than its context, as it sends it.
const LLAMA_OVERFLOW: &str = r#"{"error":{"code":400,"message":"request (3031 tokens) exceeds the available context size (2048 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":3031,"n_ctx":2048}}"#;

#[tokio::test]
async fn llama_servers_context_error_is_a_context_overflow_and_not_retried() {
    let server =
        Server::start(|_, _| Response::whole(400, "application/json", LLAMA_OVERFLOW)).await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), None, "smollm2");
    let error = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect_err("too long");
    let AiError::ContextOverflow { detail, .. } = &error else {
        panic!("expected ContextOverflow, got {error:?}");
    };
    assert!(detail.contains("3031 tokens"), "{detail}");
    assert!(!error.is_transient());
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_content_filter_finish_is_a_refusal_whole_or_streamed() {
    let server = Server::start(|_, seen| {
        if seen.json()["stream"] == true {
            Response::stream(
                "text/event-stream",
                vec![
                    bytes(
                        "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":\
                         {\"content\":\"I\"},\"finish_reason\":null}]}\n\n",
                    ),
                    bytes(
                        "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\
                         \"finish_reason\":\"content_filter\"}]}\n\n",
                    ),
                    bytes("data: [DONE]\n\n"),
                ],
            )
        } else {
            Response::json(
                200,
                &json!({
                    "model": "gpt-4o",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}
                }),
            )
        }
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o");
    let client = client(quick_retries());
    let whole = client
        .complete(&at, &question())
        .await
        .expect_err("filtered");
    assert!(matches!(whole, AiError::Refused { .. }), "{whole:?}");
    let streamed = client
        .stream(&at, &question(), &mut |_| {})
        .await
        .expect_err("filtered");
    assert!(matches!(streamed, AiError::Refused { .. }), "{streamed:?}");
    assert_eq!(server.seen().len(), 2, "a refusal is not retried");
}

/// A redirect is not followed: some services' keys travel in a header of
/// their own (`x-api-key`, `x-goog-api-key`), which a redirect to another
/// host would carry there, with the prompt.
#[tokio::test]
async fn a_redirect_is_not_followed_with_the_key() {
    let elsewhere = Server::start(|_, _| Response::json(200, &json!({}))).await;
    let target = elsewhere.url("/collect");
    let server = Server::start(move |_, _| {
        Response::whole(302, "text/plain", "moved").with_header("location", &target)
    })
    .await;
    for kind in [Kind::Anthropic, Kind::Gemini, Kind::OpenAi] {
        let at = endpoint(kind, server.url("/v1"), Some(KEY), "m");
        let error = client(quick_retries())
            .complete(&at, &question())
            .await
            .expect_err("a redirect is an error");
        assert!(
            matches!(error, AiError::Status { status: 302, .. }),
            "{kind}: {error:?}"
        );
        assert_no_key(&error);
    }
    assert!(
        elsewhere.seen().is_empty(),
        "a request followed the redirect"
    );
}
