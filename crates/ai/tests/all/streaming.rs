//! A streamed reply reaches the caller as it is written: the server holds
//! back the end of an OpenAI-style event stream until the caller has
//! seen its first piece, which only a client that hands text on as it
//! arrives (rather than buffering the body) can satisfy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lord_ai::{AiError, Finish, Kind};
use tokio::sync::Notify;

use crate::loopback::{Part, Response, Server, bytes};
use crate::{client, endpoint, question, quick_retries};

fn chunk(content: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1736500000,\
         \"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\
         \"{content}\"}},\"finish_reason\":null}}]}}\n\n"
    )
}

#[tokio::test]
async fn an_openai_stream_arrives_piece_by_piece_with_usage_from_the_last_chunk() {
    let first_seen = Arc::new(Notify::new());
    let server = Server::start({
        let first_seen = first_seen.clone();
        move |_, _| {
            Response::stream(
                "text/event-stream",
                vec![
                    bytes(
                        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\
                         \"created\":1736500000,\"model\":\"gpt-4o-mini-2024-07-18\",\
                         \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\
                         \"content\":\"\"},\"finish_reason\":null}]}\n\n",
                    ),
                    bytes(chunk("Light")),
                    Part::Sleep(Duration::from_millis(20)),
                    // One event split across two writes.
                    bytes(&chunk(" scatters")[..40]),
                    Part::Sleep(Duration::from_millis(20)),
                    bytes(&chunk(" scatters")[40..]),
                    Part::Wait(first_seen.clone()),
                    bytes(chunk(".")),
                    bytes(
                        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\
                         \"created\":1736500000,\"model\":\"gpt-4o-mini-2024-07-18\",\
                         \"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
                    ),
                    bytes(
                        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\
                         \"created\":1736500000,\"model\":\"gpt-4o-mini-2024-07-18\",\
                         \"choices\":[],\"usage\":{\"prompt_tokens\":24,\
                         \"completion_tokens\":4,\"total_tokens\":28}}\n\n",
                    ),
                    bytes("data: [DONE]\n\n"),
                ],
            )
        }
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let mut pieces: Vec<(String, Instant)> = Vec::new();
    let reply = client(quick_retries())
        .stream(&at, &question(), &mut |piece| {
            pieces.push((piece.to_owned(), Instant::now()));
            first_seen.notify_one();
        })
        .await
        .expect("the stream completes");

    assert_eq!(server.missed_waits(), 0, "the first piece never arrived");
    assert!(pieces.len() > 1, "{pieces:?}");
    let last_write = *server.writes().last().expect("writes");
    assert!(
        pieces[0].1 < last_write,
        "the first piece came only after the server's last write"
    );
    let joined: String = pieces.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(joined, "Light scatters.");
    assert_eq!(reply.text, joined);
    assert_eq!(reply.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (24, 4)
    );
    assert_eq!(reply.finish, Finish::Stop);
    assert!(reply.timing.first_token_ms <= reply.timing.total_ms);

    let body = server.seen()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_stream_cut_before_its_end_is_a_protocol_error() {
    let server = Server::start(|_, _| {
        Response::stream(
            "text/event-stream",
            vec![bytes(chunk("Half an ans")), bytes("data: {\"choi")],
        )
    })
    .await;
    let at = endpoint(Kind::OpenAi, server.url("/v1"), Some("sk-x"), "gpt-4o-mini");
    let error = client(quick_retries())
        .stream(&at, &question(), &mut |_| {})
        .await
        .expect_err("a cut stream is not a reply");
    assert!(matches!(error, AiError::Protocol { .. }), "{error:?}");
}
