//! What the client tries again and when: a 429 after the wait its
//! `Retry-After` asks for, a 5xx after a backoff, a 401 never, and a
//! `Retry-After` longer than the policy allows not at all.

use std::time::{Duration, Instant};

use lord_ai::{AiError, Kind, RetryPolicy};
use serde_json::json;

use crate::loopback::{Response, Server};
use crate::{client, endpoint, question, quick_retries};

fn completion(text: &str) -> Response {
    Response::json(
        200,
        &json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}
        }),
    )
}

fn rate_limited(retry_after: &str) -> Response {
    Response::json(
        429,
        &json!({"error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests", "code": "rate_limit_exceeded"}}),
    )
    .header("retry-after", retry_after)
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_and_then_succeeds() {
    let server = Server::start(|n, _| {
        if n == 0 {
            rate_limited("1")
        } else {
            completion("Rayleigh scattering.")
        }
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let reply = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect("the second attempt succeeds");
    assert_eq!(reply.text, "Rayleigh scattering.");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    // The backoff is at most 40 ms here, so only the header explains a
    // wait of a second.
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test]
async fn a_401_is_not_retried_and_is_an_auth_error() {
    let server = Server::start(|_, _| {
        Response::json(
            401,
            &json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        )
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let error = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect_err("a refused key fails");
    assert!(
        matches!(&error, AiError::Auth { status: 401, detail, .. } if detail.contains("Incorrect API key")),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(server.seen().len(), 1, "a refused key is never retried");
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_until_it_passes() {
    let server = Server::start(|n, _| {
        if n < 2 {
            Response::whole(503, "text/plain", "upstream overloaded")
        } else {
            completion("ok")
        }
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let reply = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(reply.text, "ok");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_503_that_lasts_gives_up_after_the_policys_attempts() {
    let server =
        Server::start(|_, _| Response::whole(503, "text/plain", "upstream overloaded")).await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let policy = RetryPolicy {
        attempts: 4,
        ..quick_retries()
    };
    let error = client(policy)
        .complete(&at, &question())
        .await
        .expect_err("every attempt fails");
    assert!(
        matches!(&error, AiError::Status { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_gives_up_at_once_naming_the_wait() {
    let server = Server::start(|_, _| rate_limited("120")).await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let started = Instant::now();
    let error = client(quick_retries())
        .complete(&at, &question())
        .await
        .expect_err("a two-minute wait is not waited for");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.seen().len(), 1);
    let AiError::RateLimited {
        attempts,
        retry_after,
        ..
    } = &error
    else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(*attempts, 1);
    assert_eq!(*retry_after, Some(Duration::from_secs(120)));
    assert!(error.to_string().contains("120s"), "{error}");
}
