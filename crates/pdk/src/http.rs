//! A small blocking HTTP client over `wasi:http/outgoing-handler`. Put
//! `net(HOST[:PORT])` in the manifest's permissions, then call [`get`],
//! [`post`] or build a [`Request`].
//!
//! The host makes the request: it checks the URL's host and port against
//! the plugin's grants before connecting (again for every redirect this
//! client follows, each being a new request), sets the `Host` header from
//! the URL (a plugin cannot set it), speaks TLS for `https://` with the
//! platform's certificates, charges the response body to the call's output
//! budget and abandons the request at the call's deadline.
//!
//! ```no_run
//! let page = lord_pdk::http::get("http://127.0.0.1:8080/status")?;
//! if page.status == 200 {
//!     println!("{}", page.text());
//! }
//! let sent = lord_pdk::http::Request::post("http://127.0.0.1:8080/notes")
//!     .header("content-type", "application/json")
//!     .body(r#"{"text":"hi"}"#)
//!     .max_body(64 * 1024)
//!     .send()?;
//! # Ok::<(), String>(())
//! ```

use crate::http_bindings::wasi::http::outgoing_handler;
use crate::http_bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::http_bindings::wasi::io::streams::StreamError;

/// The body size a [`Request`] accepts unless told otherwise.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

/// An answer, its body read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The URL that answered (after the redirects followed).
    pub url: String,
}

impl Response {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url`, following up to 5 redirects.
pub fn get(url: &str) -> Result<Response, String> {
    Request::get(url).send()
}

/// `POST url` with `body`.
pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Result<Response, String> {
    Request::post(url).body(body).send()
}

/// A request to build up and [`send`](Request::send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    redirects: u8,
    max_body: usize,
}

impl Request {
    /// A request with any method (`GET`, `PUT`, `PROPFIND`...).
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            redirects: 5,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header. `Host` is refused by the host (it sets it from the URL).
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// How many redirects to follow for `GET` and `HEAD` (5 by default; 0
    /// returns the `3xx` itself).
    pub fn max_redirects(mut self, n: u8) -> Self {
        self.redirects = n;
        self
    }

    /// The largest body to accept, in bytes ([`DEFAULT_MAX_BODY`] by
    /// default): past it, [`send`](Request::send) fails. The host's output
    /// budget for the call caps it too.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sends the request, following redirects for `GET` and `HEAD`. A
    /// redirect to another origin (scheme, host or port) is sent without
    /// the request's credentials (`Authorization`, `Proxy-Authorization`,
    /// `Cookie`), as browsers and curl do: a token meant for one host must
    /// not reach the host it sends us to, nor cross to plain `http`.
    pub fn send(self) -> Result<Response, String> {
        let mut url = self.url.clone();
        let origin = Parts::of(&url)?.origin();
        let mut left = self.redirects;
        loop {
            let same_origin = Parts::of(&url)?.origin() == origin;
            let response = self.once(&url, same_origin)?;
            let follows = matches!(response.status, 301 | 302 | 303 | 307 | 308)
                && matches!(self.method.as_str(), "GET" | "HEAD")
                && left > 0;
            let location = response
                .header("location")
                .map(|l| String::from_utf8_lossy(l).into_owned());
            match location {
                Some(next) if follows => {
                    left -= 1;
                    url = join(&url, &next)?;
                }
                Some(_) | None => return Ok(response),
            }
        }
    }

    /// The headers a request carries: all of them to the request's own
    /// origin, all but the credentials to another.
    fn headers_sent(&self, with_credentials: bool) -> impl Iterator<Item = &(String, Vec<u8>)> {
        self.headers
            .iter()
            .filter(move |(name, _)| with_credentials || !is_credential(name))
    }

    fn once(&self, url: &str, with_credentials: bool) -> Result<Response, String> {
        let parts = Parts::of(url)?;
        let headers = Fields::new();
        for (name, value) in self.headers_sent(with_credentials) {
            headers
                .append(name, value)
                .map_err(|e| format!("the header `{name}` was refused: {e:?}"))?;
        }
        let request = OutgoingRequest::new(headers);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let bad = |what: &str| format!("the request's {what} is not valid");
        request.set_method(&method).map_err(|()| bad("method"))?;
        request
            .set_scheme(Some(&parts.scheme))
            .map_err(|()| bad("scheme"))?;
        request
            .set_authority(Some(&parts.authority))
            .map_err(|()| bad("host"))?;
        request
            .set_path_with_query(Some(&parts.path))
            .map_err(|()| bad("path"))?;
        let body = request.body().map_err(|()| bad("body"))?;
        // Sent first, then the body written: the host reads the body only
        // once the request is on its way, so a body written before would
        // wait for a reader that never comes.
        let pending = outgoing_handler::handle(request, None).map_err(|e| describe(&e, &parts))?;
        write_body(&body, &self.body)?;
        OutgoingBody::finish(body, None).map_err(|e| describe(&e, &parts))?;
        let response = loop {
            match pending.get() {
                Some(done) => break done,
                None => pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| "the response was already taken".to_owned())?
            .map_err(|e| describe(&e, &parts))?;
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| "the response body was already taken".to_owned())?;
        let body = read_body(&incoming, self.max_body)?;
        Ok(Response {
            status,
            headers,
            body,
            url: url.to_owned(),
        })
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body
        .write()
        .map_err(|()| "the request body was already taken".to_owned())?;
    // A blocking write takes at most 4096 bytes.
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| format!("sending the request body failed: {e:?}"))?;
    }
    Ok(())
}

fn read_body(incoming: &IncomingBody, max: usize) -> Result<Vec<u8>, String> {
    let stream = incoming
        .stream()
        .map_err(|()| "the response body was already taken".to_owned())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(bytes) => {
                if body.len() + bytes.len() > max {
                    return Err(format!(
                        "the response body is larger than {max} bytes (`max_body`)"
                    ));
                }
                body.extend_from_slice(&bytes);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!(
                    "reading the response failed: {}",
                    e.to_debug_string()
                ));
            }
        }
    }
}

/// The host's error code in words, naming the host and port only (a path
/// or query may hold a secret).
fn describe(error: &ErrorCode, parts: &Parts) -> String {
    let to = &parts.authority;
    // `if`s, not a `match`: the codes are wasi:http's, and any code this
    // client has no words for is shown as it is.
    if matches!(error, ErrorCode::HttpRequestDenied) {
        format!("the host refused the request to {to}: no `net` grant covers it")
    } else if matches!(error, ErrorCode::HttpResponseBodySize(_)) {
        format!("the response from {to} is larger than the call's output budget")
    } else if matches!(
        error,
        ErrorCode::ConnectionTimeout | ErrorCode::HttpResponseTimeout
    ) {
        format!("the request to {to} ran out of the call's time")
    } else {
        format!("the request to {to} failed: {error:?}")
    }
}

/// A URL split as `wasi:http` wants it.
struct Parts {
    scheme: Scheme,
    authority: String,
    path: String,
}

impl Parts {
    /// What makes two URLs one origin: scheme, host and port (as written;
    /// `host` and `host:443` differ, which errs on the side of dropping).
    fn origin(&self) -> (bool, String) {
        (
            matches!(self.scheme, Scheme::Https),
            self.authority.to_ascii_lowercase(),
        )
    }

    fn of(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "the URL is not an absolute http or https URL".to_owned())?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("only http and https URLs, not `{other}`")),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(
                "the URL needs a plain host (credentials go in a header, not the URL)".to_owned(),
            );
        }
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path,
        })
    }
}

/// A header that carries credentials, which a redirect to another origin
/// does not pass on.
fn is_credential(name: &str) -> bool {
    ["authorization", "proxy-authorization", "cookie"]
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c))
}

/// `location` read against `base`: absolute, scheme-relative or a path on
/// the same host.
fn join(base: &str, location: &str) -> Result<String, String> {
    if location.contains("://") {
        return Ok(location.to_owned());
    }
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| "the URL is not absolute".to_owned())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    Err("a redirect to a relative path, which this client does not follow".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_wasi_http_wants() {
        let parts = Parts::of("http://127.0.0.1:8080/a/b?c=d#frag").expect("parts");
        assert_eq!(parts.authority, "127.0.0.1:8080");
        assert_eq!(parts.path, "/a/b?c=d");
        assert!(matches!(parts.scheme, Scheme::Http));
        assert_eq!(Parts::of("https://example.org").expect("p").path, "/");
        assert!(Parts::of("ftp://example.org/").is_err());
        assert!(Parts::of("http://user:pw@example.org/").is_err());
    }

    #[test]
    fn credentials_go_to_the_requests_own_origin_only() {
        let request = Request::get("https://api.example/a")
            .header("Authorization", "Bearer t")
            .header("COOKIE", "s=1")
            .header("proxy-authorization", "Basic p")
            .header("accept", "text/plain");
        let names = |with: bool| -> Vec<&str> {
            request
                .headers_sent(with)
                .map(|(name, _)| name.as_str())
                .collect()
        };
        assert_eq!(names(true).len(), 4);
        assert_eq!(names(false), ["accept"]);
        let origin = |url: &str| Parts::of(url).expect("parts").origin();
        let own = origin("https://api.example/a");
        assert_eq!(origin("https://API.example/b?c"), own);
        for other in [
            "http://api.example/a",
            "https://api.example:8443/a",
            "https://evil.example/a",
        ] {
            assert_ne!(origin(other), own, "{other}");
        }
    }

    #[test]
    fn redirects_resolve_against_the_url_that_answered() {
        let base = "http://127.0.0.1:1/x";
        assert_eq!(join(base, "/y").expect("j"), "http://127.0.0.1:1/y");
        assert_eq!(join(base, "//h:2/z").expect("j"), "http://h:2/z");
        assert_eq!(join(base, "https://other/").expect("j"), "https://other/");
        assert!(join(base, "rel").is_err());
    }
}
