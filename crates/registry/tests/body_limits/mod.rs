//! What a client may make the server read: a JSON route takes a small
//! body and refuses a larger one from its declared length, and an upload
//! is refused for its token before any of its body is read. Raw HTTP over
//! a socket: each request declares a huge body, sends a few bytes of it
//! and waits, so an answer that comes at all came without the body.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use lord_registry::Scope;

use crate::{Backend, Running};

/// Within the package limit (256 MiB) and far over a JSON route's.
const WITHIN: u64 = 200 << 20;
/// Over the package limit.
const OVER: u64 = 300 << 20;

/// Sends `POST path` declaring a body of `declared` bytes and only its
/// first few, then reads the answer: its status and text.
fn declared_but_not_sent(
    address: SocketAddr,
    path: &str,
    headers: &str,
    declared: u64,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Content-Type: application/json\r\n\
         Content-Length: {declared}\r\n\r\n{{\"installation\":"
    )
    .expect("send");
    stream.flush().expect("flush");
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    // Until the head and the JSON error that follows it are in; a server
    // waiting for the rest of the body times this out.
    while !String::from_utf8_lossy(&answer).contains("\"error\"") {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) => panic!("no answer without the body ({e}): {answer:?}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn address(r: &Running) -> SocketAddr {
    r.client
        .base()
        .trim_start_matches("http://")
        .parse()
        .expect("address")
}

#[test]
fn an_oversized_json_body_is_refused_before_it_is_read() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let at = address(&r);
    // No token is needed to report use: only the size stops it.
    let (status, answer) = declared_but_not_sent(at, "/api/v1/usage", "", WITHIN);
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("256 KiB"), "{answer}");
    // A route that needs a token is held to the same size first.
    let bearer = format!("Authorization: Bearer {}\r\n", r.token);
    let (status, answer) = declared_but_not_sent(at, "/api/v1/approvals", &bearer, WITHIN);
    assert_eq!(status, 413, "{answer}");
}

#[test]
fn an_upload_is_refused_for_its_token_before_its_body_is_read() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let at = address(&r);
    for path in ["/api/v1/publish", "/api/v1/releases"] {
        let (status, answer) = declared_but_not_sent(at, path, "", WITHIN);
        assert_eq!(status, 401, "{path}: {answer}");
        let (status, answer) =
            declared_but_not_sent(at, path, "Authorization: Bearer lrt_wrong\r\n", WITHIN);
        assert_eq!(status, 401, "{path}: {answer}");
    }
    // A valid token without the scope for releases.
    let bearer = format!("Authorization: Bearer {}\r\n", r.token);
    let (status, answer) = declared_but_not_sent(at, "/api/v1/releases", &bearer, WITHIN);
    assert_eq!(status, 403, "{answer}");
    // A valid token and a body over the package limit: refused by its
    // declared length, unread.
    let releases = r
        .registry
        .db
        .create_token(&Scope::parse("publish:lord").expect("scope"))
        .expect("token");
    let huge = format!(
        "Authorization: Bearer {releases}\r\nlord-signature: x\r\nlord-public-key: x\r\n\
         lord-release-version: 1.0.0\r\nlord-release-platform: x86_64-linux\r\n"
    );
    let (status, answer) = declared_but_not_sent(at, "/api/v1/releases", &huge, OVER);
    assert_eq!(status, 413, "{answer}");
    // Uploads within the limit still go through.
    r.publish(&crate::Spec::default()).expect("publish");
}
