//! A scripted HTTP/1.1 server on loopback, written by hand rather than
//! taken from a mock crate so the tests control every byte a service
//! sends: the status, the headers, and a streamed body cut into separate
//! TCP writes with pauses between them. Each request is recorded (when it
//! arrived, its method, target, headers and body) so a test can check
//! what the client sent as well as what it made of the answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) method: String,
    /// The request target: path and query.
    pub(crate) target: String,
    /// Header names in lower case, in the order sent.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub(crate) fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// A piece of a streamed answer.
pub(crate) enum Part {
    /// One TCP write (one HTTP chunk), flushed at once.
    Bytes(Vec<u8>),
    Sleep(Duration),
    /// Holds the rest of the answer until the test signals; gives up
    /// after five seconds and counts the miss, so a client that buffers
    /// the whole body fails the test instead of hanging it.
    Wait(Arc<Notify>),
}

pub(crate) fn bytes(text: impl Into<Vec<u8>>) -> Part {
    Part::Bytes(text.into())
}

enum Body {
    Whole(Vec<u8>),
    Chunked(Vec<Part>),
}

/// An answer: whole (with a length) or streamed (chunked).
pub(crate) struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Response {
    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Self::whole(status, "application/json", value.to_string())
    }

    pub(crate) fn whole(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: Body::Whole(body.into()),
        }
    }

    /// The response with one more header (`location` for a redirect).
    pub(crate) fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn stream(content_type: &str, parts: Vec<Part>) -> Self {
        Self {
            status: 200,
            headers: vec![
                ("content-type".to_owned(), content_type.to_owned()),
                ("cache-control".to_owned(), "no-cache".to_owned()),
            ],
            body: Body::Chunked(parts),
        }
    }

    /// A recorded body served as a stream in writes of `piece` bytes, so
    /// events and lines are split across reads as a network splits them.
    pub(crate) fn recorded(content_type: &str, body: &[u8], piece: usize) -> Self {
        Self::stream(
            content_type,
            body.chunks(piece)
                .map(|c| Part::Bytes(c.to_vec()))
                .collect(),
        )
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

type Script = dyn Fn(usize, &Seen) -> Response + Send + Sync;

/// What the server task shares with the test.
#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    /// When each streamed write went out.
    writes: Mutex<Vec<Instant>>,
    missed_waits: AtomicUsize,
}

/// A running server; stops on drop.
pub(crate) struct Server {
    port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves on a free loopback port; `script` answers the `n`th request
    /// (from 0).
    pub(crate) async fn start(
        script: impl Fn(usize, &Seen) -> Response + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared::default());
        let script: Arc<Script> = Arc::new(script);
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(answer(stream, shared.clone(), script.clone()));
                }
            }
        });
        Self { port, shared, task }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    pub(crate) fn writes(&self) -> Vec<Instant> {
        self.shared.writes.lock().expect("lock").clone()
    }

    pub(crate) fn missed_waits(&self) -> usize {
        self.shared.missed_waits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, records it, answers it and closes the connection
/// (`connection: close`, so every retry is a request of its own).
async fn answer(mut stream: TcpStream, shared: Arc<Shared>, script: Arc<Script>) {
    let _ = stream.set_nodelay(true);
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    let n = {
        let mut all = shared.seen.lock().expect("lock");
        all.push(seen.clone());
        all.len() - 1
    };
    let response = script(n, &seen);
    let _ = write_response(&mut stream, response, &shared).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        at,
        method,
        target,
        headers,
        body,
    })
}

async fn write_response(
    stream: &mut TcpStream,
    response: Response,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("connection: close\r\n");
    match response.body {
        Body::Whole(body) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Body::Chunked(parts) => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.flush().await?;
            for part in parts {
                match part {
                    Part::Bytes(bytes) => {
                        let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
                        chunk.extend_from_slice(&bytes);
                        chunk.extend_from_slice(b"\r\n");
                        stream.write_all(&chunk).await?;
                        stream.flush().await?;
                        shared.writes.lock().expect("lock").push(Instant::now());
                    }
                    Part::Sleep(wait) => tokio::time::sleep(wait).await,
                    Part::Wait(signal) => {
                        let waited =
                            tokio::time::timeout(Duration::from_secs(5), signal.notified()).await;
                        if waited.is_err() {
                            shared.missed_waits.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
    }
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
