//! Outgoing HTTP (`wasi:http`) against the hostile `httpget` plugin, which
//! holds `net(127.0.0.1:PORT)` for one real loopback server started here
//! and sends its requests with `lord_pdk::http`. Each test's servers record
//! every connection they accept, so "refused before connecting" is what a
//! real listener saw, not what lord says.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::support::{Lord, variant};

/// A loopback server that answers each connection with `answer(request
/// head, body bytes read with it, stream)` and reports the head it read.
pub(crate) struct Server {
    pub(crate) port: u16,
    heads: mpsc::Receiver<String>,
}

impl Server {
    pub(crate) fn start(answer: impl Fn(&str, &mut TcpStream) + Send + 'static) -> Self {
        Self::start_with_body(move |head, _, stream| answer(head, stream))
    }

    pub(crate) fn start_with_body(
        answer: impl Fn(&str, &[u8], &mut TcpStream) + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let (tx, heads) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (head, early) = read_head(&stream);
                let _ = tx.send(head.clone());
                answer(&head, &early, &mut stream);
            }
        });
        Self { port, heads }
    }

    /// The request heads it received so far.
    pub(crate) fn received(&self) -> Vec<String> {
        // Give a connection lord made just before exiting time to land.
        thread::sleep(Duration::from_millis(100));
        self.heads.try_iter().collect()
    }
}

/// The request head, and whatever of the body was read with it.
fn read_head(stream: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    (head, reader.buffer().to_vec())
}

pub(crate) fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

/// A lord with `httpget` installed, granted `net(127.0.0.1:port)`.
fn granted(port: u16) -> (Lord, tempfile::TempDir) {
    let plugin = variant("hostile/httpget", |m| {
        m.replace("net(127.0.0.1:9)", &format!("net(127.0.0.1:{port})"))
    });
    let lord = Lord::new();
    lord.run(&[
        "plugin",
        "install",
        plugin.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_ok();
    (lord, plugin)
}

#[test]
fn a_granted_get_and_post_work_end_to_end_with_the_host_setting_host() {
    let server = Server::start_with_body(|head, early, stream| {
        let body = if head.starts_with("POST") {
            let mut got = early.to_vec();
            let mut rest = vec![0; 5usize.saturating_sub(got.len())];
            let _ = stream.read_exact(&mut rest);
            got.extend(rest);
            got
        } else {
            b"hello from the server".to_vec()
        };
        respond(stream, "200 OK", "x-answer: yes\r\n", &body);
    });
    let (lord, _plugin) = granted(server.port);
    let url = format!("http://127.0.0.1:{}/status?q=1", server.port);
    let run = lord.run(&["httpget", &url]);
    run.assert_ok();
    assert!(run.stdout().contains("STATUS 200"), "{}", run.stdout());
    assert!(
        run.stdout().contains("hello from the server"),
        "{}",
        run.stdout()
    );
    let post = lord.run(&["httppost", &url, "ping!"]);
    post.assert_ok();
    assert!(post.stdout().contains("ping!"), "{}", post.stdout());
    let heads = server.received();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /status?q=1 HTTP/1.1"),
        "{heads:?}"
    );
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{}\r\n", server.port)),
        "{heads:?}"
    );
    assert!(heads[1].starts_with("POST /status?q=1"), "{heads:?}");
}

#[test]
fn a_host_not_granted_is_refused_before_any_connection() {
    let granted_server = Server::start(|_, stream| respond(stream, "200 OK", "", b"ok"));
    let other = Server::start(|_, stream| respond(stream, "200 OK", "", b"stolen"));
    let (lord, _plugin) = granted(granted_server.port);
    let run = lord.run(&[
        "httpget",
        &format!("http://127.0.0.1:{}/secret?token=hunter2", other.port),
    ]);
    run.assert_code(3).assert_stderr_contains(&format!(
        "net(127.0.0.1:{port}) (an HTTP request to http://127.0.0.1:{port})",
        port = other.port
    ));
    // The refusal names the authority and the grant, never the query.
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    assert!(other.received().is_empty(), "the other server was reached");
    // A name is refused as a name, unresolved.
    let run = lord.run(&["httpget", "http://example.invalid/"]);
    run.assert_code(3)
        .assert_stderr_contains("net(example.invalid:80)");
}

#[test]
fn a_redirect_to_another_port_is_a_new_request_and_refused() {
    let other = Server::start(|_, stream| respond(stream, "200 OK", "", b"stolen"));
    let location = format!("location: http://127.0.0.1:{}/\r\n", other.port);
    let redirecting = Server::start(move |_, stream| {
        respond(stream, "302 Found", &location, b"");
    });
    let (lord, _plugin) = granted(redirecting.port);
    let run = lord.run(&[
        "httpget",
        &format!("http://127.0.0.1:{}/", redirecting.port),
    ]);
    run.assert_code(3)
        .assert_stderr_contains(&format!("net(127.0.0.1:{})", other.port));
    assert_eq!(redirecting.received().len(), 1);
    assert!(other.received().is_empty(), "the redirect was followed");
}

/// Requests count against the plugin's `http-requests-per-minute` quota:
/// with one a minute, the redirect the guest follows is its second request
/// and is refused with the quota's words, never reaching the server.
#[test]
fn requests_past_the_per_minute_quota_are_refused_before_connecting() {
    let port = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let own = std::sync::Arc::clone(&port);
    let server = Server::start(move |_, stream| {
        let location = format!(
            "location: http://127.0.0.1:{}/again\r\n",
            own.get().copied().unwrap_or(9)
        );
        respond(stream, "302 Found", &location, b"");
    });
    let _ = port.set(server.port);
    let (lord, _plugin) = granted(server.port);
    let run = lord.run(&[
        "--set",
        "quota.plugins.httpget.http-requests-per-minute=1",
        "httpget",
        &format!("http://127.0.0.1:{}/", server.port),
    ]);
    run.assert_code(3)
        .assert_stderr_contains("over its http-requests-per-minute quota (1/min)");
    assert_eq!(server.received().len(), 1, "the second request was sent");
    let info = lord.run(&["plugin", "info", "httpget"]);
    info.assert_ok();
    assert!(
        info.stdout()
            .contains("throttled (http-requests-per-minute)"),
        "{}",
        info.stdout()
    );
}

#[test]
fn a_host_header_naming_another_port_is_refused() {
    let other = Server::start(|_, stream| respond(stream, "200 OK", "", b"stolen"));
    let server = Server::start(|_, stream| respond(stream, "200 OK", "", b"ok"));
    let (lord, _plugin) = granted(server.port);
    let run = lord.run(&[
        "httpget",
        &format!("http://127.0.0.1:{}/", server.port),
        &format!("127.0.0.1:{}", other.port),
    ]);
    run.assert_code(3)
        .assert_stderr_contains("a `Host` header set by the plugin");
    assert!(other.received().is_empty());
    assert!(
        server.received().is_empty(),
        "a request with a forged Host header was sent"
    );
}

#[test]
fn a_1_gib_response_is_cut_at_the_output_budget_without_being_read_whole() {
    const GIB: u64 = 1 << 30;
    let (sent_tx, sent) = mpsc::channel();
    let server = Server::start(move |_, stream| {
        // Generated as it goes, never stored: 1 GiB of `x`, announced.
        let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {GIB}\r\n\r\n");
        let chunk = [b'x'; 64 * 1024];
        let mut written = 0u64;
        while written < GIB {
            if stream.write_all(&chunk).is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        let _ = sent_tx.send(written);
    });
    let (lord, _plugin) = granted(server.port);
    let run = lord.run(&["httpget", &format!("http://127.0.0.1:{}/", server.port)]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its output limit of 1024 KiB");
    let written = sent
        .recv_timeout(Duration::from_secs(60))
        .expect("the server stopped writing");
    // The host stopped reading at its 1 MiB budget; what the server got
    // out is that plus socket and parser buffers, far from 1 GiB.
    assert!(
        written < 64 * 1024 * 1024,
        "the server wrote {written} bytes"
    );
}

#[test]
fn a_server_that_never_answers_is_abandoned_at_the_call_deadline() {
    let (held_tx, held) = mpsc::channel();
    let server = Server::start(move |_, stream| {
        // Keeps the connection open, answering nothing.
        let _ = held_tx.send(stream.try_clone().expect("clone"));
    });
    let (lord, _plugin) = granted(server.port);
    let run = lord.run(&["httpget", &format!("http://127.0.0.1:{}/", server.port)]);
    run.assert_code(3)
        .assert_stderr_contains("exceeded its time limit of 5000 ms");
    let stream = held.recv().expect("the request arrived");
    // lord let go of the connection: the server reads its end.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut rest = Vec::new();
    assert!(
        (&stream).read_to_end(&mut rest).is_ok(),
        "the connection was left open"
    );
}
