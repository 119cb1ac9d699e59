//! What an operator relies on: the probes, the Prometheus exposition, the
//! rate limits and a shutdown that answers the requests in flight. Raw
//! HTTP over a socket, so what is tested is exactly what a load balancer
//! or Prometheus would see.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use lord_registry::{RateLimits, Registry};

use crate::{Backend, Running};

/// One request on a fresh connection: the status and the whole answer.
fn http(address: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Content-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
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
fn probes_and_metrics_report_what_happened() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let at = address(&r);
    assert_eq!(http(at, "GET", "/healthz", "").0, 200);
    assert_eq!(http(at, "GET", "/readyz", "").0, 200);
    assert_eq!(http(at, "GET", "/api/v1/search?q=x", "").0, 200);
    assert_eq!(http(at, "GET", "/api/v1/plugins/nothing-here", "").0, 404);
    let (status, text) = http(at, "GET", "/metrics", "");
    assert_eq!(status, 200);
    for line in [
        "lord_registry_requests_total{route=\"/api/v1/search\",method=\"GET\",status=\"200\"} 1",
        "lord_registry_requests_total{route=\"/api/v1/plugins/{id}\",method=\"GET\",status=\"404\"} 1",
        "lord_registry_request_duration_seconds_count{route=\"/api/v1/search\",method=\"GET\"} 1",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    // What a client sent never becomes a label.
    assert!(!text.contains("nothing-here"));
}

#[test]
fn readiness_fails_when_the_database_is_gone_and_liveness_does_not() {
    let Some(mut r) = Running::start(Backend::Postgres) else {
        return;
    };
    let at = address(&r);
    assert_eq!(http(at, "GET", "/readyz", "").0, 200);
    drop(r._postgres.take());
    let (status, answer) = http(at, "GET", "/readyz", "");
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("not ready"), "{answer}");
    assert_eq!(http(at, "GET", "/healthz", "").0, 200);
}

#[test]
fn rate_limits_refuse_an_address_and_a_token_over_their_share() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let at = address(&r);
    r.registry.set_rate_limits(RateLimits {
        per_ip_per_minute: Some(5),
        writes_per_token_per_minute: None,
    });
    let statuses: Vec<u16> = (0..6)
        .map(|_| http(at, "GET", "/api/v1/search", "").0)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let (_, answer) = http(at, "GET", "/healthz", "");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: "),
        "{answer}"
    );

    r.registry.set_rate_limits(RateLimits {
        per_ip_per_minute: None,
        writes_per_token_per_minute: Some(2),
    });
    let bearer = format!("Authorization: Bearer {}\r\n", r.token);
    let writes: Vec<u16> = (0..3)
        .map(|_| http(at, "POST", "/api/v1/publish", &bearer).0)
        .collect();
    // Two refused for what they are (an empty package), the third for
    // the rate; reads with the same token are not writes.
    assert_eq!(writes, [422, 422, 429]);
    assert_eq!(http(at, "GET", "/api/v1/search", &bearer).0, 200);
    let (_, text) = http(at, "GET", "/metrics", "");
    assert!(text.contains("lord_registry_rate_limited_total{by=\"this token\"} 1"));
}

#[test]
fn shutdown_answers_the_request_in_flight_and_takes_no_new_one() {
    let data = tempfile::tempdir().expect("data");
    let registry = Arc::new(Registry::open(data.path()).expect("open"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let at = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(lord_registry::serve_until(listener, registry, async {
        let _ = stopped.await;
    }));
    assert_eq!(http(at, "GET", "/readyz", "").0, 200);
    // A request whose body is still on its way when the shutdown starts.
    let mut in_flight = TcpStream::connect(at).expect("connect");
    write!(
        in_flight,
        "PUT /api/v1/plugins/hello/rating HTTP/1.1\r\nHost: {at}\r\n\
         Content-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{{\"stars\""
    )
    .expect("first half");
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.send(()).expect("shutdown");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        TcpStream::connect(at).is_err(),
        "no new connection once shutting down"
    );
    in_flight.write_all(b": 5}").expect("second half");
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).expect("answer");
    // Answered (401: no token), not cut off.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    runtime
        .block_on(server)
        .expect("server task")
        .expect("served until shutdown");
}

/// The access log: one JSON line per answered request, with the route
/// template and never what the client put in the path or its token.
#[test]
fn the_access_log_has_a_json_line_per_request_and_nothing_a_client_sent() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let at = address(&r);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("access.log");
    let file = std::fs::File::create(&path).expect("log file");
    r.registry
        .set_access_log(lord_registry::AccessLog::to(file).expect("writer"))
        .expect("the first log is taken");
    assert_eq!(http(at, "GET", "/healthz", "").0, 200);
    let secret = "Authorization: Bearer secret-token-abc\r\n";
    assert_eq!(
        http(at, "GET", "/api/v1/plugins/nothing-here", secret).0,
        404
    );
    // The writer is a thread of its own: wait for both lines.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&path).expect("read log");
        if text.lines().count() >= 2 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["route"], "/healthz");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[1]["route"], "/api/v1/plugins/{id}");
    assert_eq!(lines[1]["method"], "GET");
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["peer"], "127.0.0.1");
    assert!(lines[1]["ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(lines[1]["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
    assert!(
        !text.contains("nothing-here") && !text.contains("secret-token"),
        "{text}"
    );
    let (_, metrics) = http(at, "GET", "/metrics", "");
    assert!(
        metrics.contains("lord_registry_log_lines_dropped_total 0"),
        "{metrics}"
    );
}
