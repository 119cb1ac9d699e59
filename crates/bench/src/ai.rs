//! What lord's AI client adds before a user sees the first token: a
//! streamed chat completion from an OpenAI-compatible server on loopback
//! (started here, on a thread and runtime of its own, as a model server
//! would be its own process), which sends its first event at once and the
//! rest a moment later. Timed to the first piece of text through
//! `lord_ai::Client::stream` (building the request, the HTTP exchange,
//! reading and parsing the event) against plain reqwest reading the same
//! stream's first chunk, alternated request by request, each side on its
//! own pooled client. `ai_stream_overhead_ms` is the median of the
//! pairwise differences.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use lord_ai::{ApiKey, Endpoint, Kind, Message, Request, RetryPolicy, Role};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::timing::Latencies;

/// Pairs measured, after `WARM_UP` pairs not kept.
pub(crate) const ITERATIONS: usize = 1000;
const WARM_UP: usize = 50;

/// The model's pause after its first token, so that the first event is
/// alone on the wire, as it is from a real model.
const AFTER_FIRST: Duration = Duration::from_millis(2);

const MODEL: &str = "bench-model";

/// Both sides' times to the first token, and their pairwise differences.
#[derive(Debug, Clone)]
pub(crate) struct AiResults {
    pub(crate) ours: Latencies,
    pub(crate) direct: Latencies,
    /// Ours minus direct, per pair, in ns (may be negative).
    differences_ns: Vec<f64>,
}

impl AiResults {
    /// The median of the pairwise differences, in milliseconds.
    pub(crate) fn overhead_ms(&self) -> f64 {
        let mut sorted = self.differences_ns.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        median / 1e6
    }

    pub(crate) fn ratio(&self) -> f64 {
        self.ours.median_ns() / self.direct.median_ns()
    }
}

pub(crate) async fn measure() -> Result<AiResults> {
    let port = serve()?;
    let client = lord_ai::Client::new(RetryPolicy::default(), Duration::from_secs(10))?;
    let endpoint = Endpoint {
        name: "bench".to_owned(),
        kind: Kind::OpenAi,
        url: format!("http://127.0.0.1:{port}/v1"),
        key: Some(ApiKey::new("sk-bench-not-a-key".to_owned())),
        key_secret: None,
        model: Some(MODEL.to_owned()),
    };
    let request = Request {
        messages: vec![Message::new(Role::User, "Say hello.")],
        max_tokens: Some(16),
        ..Request::default()
    };
    let http = reqwest::Client::builder()
        .build()
        .context("building the reqwest client")?;
    // What lord-ai sends for `request`, sent as it is.
    let body = serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": 16,
    });
    let url = format!("{}/chat/completions", endpoint.url);
    let ours = async || -> Result<Duration> {
        let start = Instant::now();
        let mut first = None;
        let reply = client
            .stream(&endpoint, &request, &mut |_| {
                first.get_or_insert_with(Instant::now);
            })
            .await?;
        ensure!(reply.text == REPLY, "lord-ai read {:?}", reply.text);
        Ok(first.context("no text came")? - start)
    };
    let direct = async || -> Result<Duration> {
        let start = Instant::now();
        let mut response = http
            .post(&url)
            .header("authorization", "Bearer sk-bench-not-a-key")
            .json(&body)
            .send()
            .await?;
        ensure!(response.status().is_success(), "{}", response.status());
        let first = response.chunk().await?.context("an empty stream")?;
        let elapsed = start.elapsed();
        ensure!(first.starts_with(b"data: "), "the first chunk: {first:?}");
        // Read to the end, so the connection goes back to the pool as
        // lord-ai's does.
        while response.chunk().await?.is_some() {}
        Ok(elapsed)
    };
    eprintln!("lord-bench: ai: time to first streamed token ...");
    for _ in 0..WARM_UP {
        ours().await?;
        direct().await?;
    }
    let mut results = AiResults {
        ours: Latencies::default(),
        direct: Latencies::default(),
        differences_ns: Vec::with_capacity(ITERATIONS),
    };
    for i in 0..ITERATIONS {
        // Alternate which side goes first, so neither always follows the
        // other's connection reuse or the server's idle moment.
        let (a, b) = if i % 2 == 0 {
            let a = ours().await?;
            (a, direct().await?)
        } else {
            let b = direct().await?;
            (ours().await?, b)
        };
        results.ours.push(a);
        results.direct.push(b);
        results
            .differences_ns
            .push(a.as_nanos() as f64 - b.as_nanos() as f64);
    }
    Ok(results)
}

/// The text the stream carries, in `EVENTS` order.
const REPLY: &str = "Hello! How can I help?";

/// The events after the first, as an OpenAI-compatible server sends them.
const REST: [&str; 5] = [
    r#"{"id":"c","object":"chat.completion.chunk","model":"bench-model","choices":[{"index":0,"delta":{"content":" How can"},"finish_reason":null}]}"#,
    r#"{"id":"c","object":"chat.completion.chunk","model":"bench-model","choices":[{"index":0,"delta":{"content":" I help?"},"finish_reason":null}]}"#,
    r#"{"id":"c","object":"chat.completion.chunk","model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    r#"{"id":"c","object":"chat.completion.chunk","model":"bench-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}"#,
    "[DONE]",
];

const FIRST: &str = r#"{"id":"c","object":"chat.completion.chunk","model":"bench-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello!"},"finish_reason":null}]}"#;

fn chunk(events: &[&str]) -> Vec<u8> {
    let data: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Starts the server on a thread of its own; returns its port.
fn serve() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the model server's runtime")?;
    // The thread lives as long as the bench: the process ends it.
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream));
            }
        });
    });
    Ok(port)
}

/// Answers each request on one kept-alive connection until it closes.
async fn answer(mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    let mut read = [0u8; 8192];
    loop {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut read).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&read[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            match stream.read(&mut read).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&read[..n]),
            }
        }
        buffer.drain(..end + 4 + length);
        // The head and the first event in one write: the first token
        // leaves as soon as the request is read.
        let mut first = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                          cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
        first.extend_from_slice(&chunk(&[FIRST]));
        if stream.write_all(&first).await.is_err() {
            return;
        }
        tokio::time::sleep(AFTER_FIRST).await;
        let mut rest = chunk(&REST);
        rest.extend_from_slice(b"0\r\n\r\n");
        if stream.write_all(&rest).await.is_err() {
            return;
        }
    }
}
