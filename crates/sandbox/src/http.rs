//! Outgoing HTTP for plugins: `wasi:http/outgoing-handler` (and its
//! `types`), served by `wasmtime-wasi-http` with lord's own sender behind
//! `net(HOST[:PORT])` grants. The contract check lets only a component
//! whose manifest requests `net` import it (the permission table's `net`
//! row names `wasi:http/`).
//!
//! The host, not the guest, makes every request, so it decides where each
//! one goes:
//! - the URL's authority (scheme, host, port) is checked against the grants
//!   before anything is resolved or connected; the name is then resolved by
//!   the host and only the addresses the grants cover are tried;
//! - redirects are never followed here: the guest sees the `3xx`, and going
//!   to its `Location` is a new request, checked again like any other;
//! - the connection goes to the URL's authority, and `Host` is set by the
//!   host from that same authority. A guest cannot set `Host` itself (it
//!   stays on `wasmtime-wasi-http`'s forbidden list, and trying is recorded
//!   as a refusal): refusing rather than overwriting means a plugin that
//!   tries learns it at once, instead of quietly talking to another virtual
//!   host than it asked for;
//! - credentials in the URL (`user:pass@`) are refused: they would travel in
//!   the `Host` header, and no error may print them;
//! - the response body counts against the call's output budget as it
//!   arrives (past it, the body ends in an error and the call fails as over
//!   its output limit, so a 1 GiB answer costs the host no more than the
//!   budget), and the call's deadline bounds the whole exchange (at the
//!   deadline the connection is dropped, whether or not the guest still
//!   waits on it).
//!
//! Each request counts against the plugin's `http-requests-per-minute`
//! quota first; past it the request is refused with the quota's words.
//!
//! HTTPS goes through rustls (the aws-lc-rs provider the workspace already
//! builds) with the platform's root certificates. Refusals name the
//! authority and the grant that would allow it, never the path, query or
//! headers, which may carry secrets.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderName;
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use lord_manifest::NetTarget;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error, RequestOptions, WasiBody, WasiHttpHooks,
};

use crate::capability::{Denials, authority_allowed};
use crate::deadline::Deadline;
use crate::output::OutputBudget;

/// The prefix of the `wasi:http` interfaces' import names.
pub(crate) const PACKAGE: &str = "wasi:http/";

/// Adds `wasi:http/outgoing-handler` and `wasi:http/types` to the linker.
pub(crate) fn link(
    linker: &mut wasmtime::component::Linker<crate::session::StoreState>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// One instance's HTTP policy: its grants, where refusals are recorded,
/// the budget responses are charged to and the deadline that bounds them.
pub(crate) struct HttpHooks {
    net: Arc<[NetTarget]>,
    denials: Denials,
    budget: OutputBudget,
    deadline: Arc<Deadline>,
    /// The plugin's per-minute quotas, when the host keeps them.
    quota: Option<lord_state::PluginQuota>,
}

impl HttpHooks {
    pub(crate) fn new(
        net: &[NetTarget],
        denials: Denials,
        budget: OutputBudget,
        deadline: Arc<Deadline>,
        quota: Option<lord_state::PluginQuota>,
    ) -> Self {
        Self {
            net: net.into(),
            denials,
            budget,
            deadline,
            quota,
        }
    }
}

/// What `send_request` hands back: the response head (with its body), and
/// the connection's own future, which `wasmtime-wasi-http` drives.
type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

impl WasiHttpHooks for HttpHooks {
    /// The default list, with a refusal recorded when the name is `Host`:
    /// a guest setting it learns why its request cannot be made. (A
    /// response's headers pass here too; a server sending `Host` back has
    /// it dropped and recorded the same way, which no real server does.)
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        if name == http::header::HOST {
            self.denials.push(
                "a `Host` header set by the plugin (lord sets it from the request's URL)"
                    .to_owned(),
                None,
            );
        }
        DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<Sent, Error>> + Send> {
        // Counted before anything else, refused or not: a plugin hammering
        // an ungranted host is as busy as one hammering a granted one.
        if let Some(quota) = &self.quota
            && let Err(throttle) = quota.take(lord_state::QuotaKind::HttpRequests, 1)
        {
            let refused = throttle.to_string();
            return Box::new(async move { Err(Error::InternalError(Some(refused))) });
        }
        let net = Arc::clone(&self.net);
        let denials = self.denials.clone();
        let budget = self.budget.clone();
        // The request is made inside a guest call, so this is that call's
        // deadline (set now if the call had not needed it yet).
        let deadline = self.deadline.get_or_start(Instant::now());
        Box::new(async move {
            let target = Target::of(&request)?;
            if !authority_allowed(&net, &target.host, target.port) {
                denials.push(target.refusal(), Some(target.grant()));
                return Err(Error::HttpRequestDenied);
            }
            let exchange = async {
                let addrs = allowed_addresses(&net, &target).await?;
                if addrs.is_empty() {
                    denials.push(target.refusal(), Some(target.grant()));
                    return Err(Error::HttpRequestDenied);
                }
                send(request, &target, &addrs, budget, deadline).await
            };
            tokio::time::timeout_at(deadline.into(), exchange)
                .await
                .unwrap_or(Err(Error::ConnectionTimeout))
        })
    }
}

/// Where a request goes.
struct Target {
    /// Lower case, without IPv6 brackets.
    host: String,
    port: u16,
    tls: bool,
}

impl Target {
    fn of(request: &http::Request<WasiBody>) -> Result<Self, Error> {
        let uri = request.uri();
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        if authority.as_str().contains('@') {
            return Err(Error::HttpRequestUriInvalid);
        }
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(Error::HttpRequestUriInvalid);
        }
        Ok(Self {
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            host,
            tls,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The grant that would allow this request.
    fn grant(&self) -> String {
        format!("net({})", self.authority())
    }

    /// The refused access in words: the authority only, never the path,
    /// query or headers.
    fn refusal(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!(
            "{} (an HTTP request to {scheme}://{})",
            self.grant(),
            self.authority()
        )
    }
}

/// The addresses of `target` the grants cover. Called only once the name
/// itself passed the grants, so an ungranted name never reaches the
/// resolver; the addresses are checked again, so a granted IP never lets a
/// name that resolves elsewhere through.
async fn allowed_addresses(net: &[NetTarget], target: &Target) -> Result<Vec<SocketAddr>, Error> {
    let resolved = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?;
    let names = [target.host.as_str()];
    Ok(resolved
        .filter(|addr| {
            net.iter()
                .any(|grant| grant.allows(addr.ip(), addr.port(), &names))
        })
        .collect())
}

/// One request on a fresh connection to one of `addrs`.
async fn send(
    mut request: http::Request<WasiBody>,
    target: &Target,
    addrs: &[SocketAddr],
    budget: OutputBudget,
    deadline: Instant,
) -> Result<Sent, Error> {
    let stream = tokio::net::TcpStream::connect(addrs)
        .await
        .map_err(Error::Connect)?;
    // On the wire the request line carries the path only; the authority
    // travels in `Host`, which `wasmtime-wasi-http` set from the same URL.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let (response, connection) = if target.tls {
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, stream)
            .await
            .map_err(Error::Tls)?;
        exchange(TokioIo::new(tls), request).await?
    } else {
        exchange(TokioIo::new(stream), request).await?
    };
    let response = response.map(|incoming| {
        Budgeted {
            inner: incoming,
            budget,
            timer: Box::pin(tokio::time::sleep_until(deadline.into())),
        }
        .boxed_unsync()
    });
    let connection: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async move {
        tokio::time::timeout_at(deadline.into(), connection)
            .await
            .unwrap_or(Err(Error::HttpResponseTimeout))
    });
    Ok((response, connection))
}

/// The response head, and the connection's future (which carries the body).
type Exchanged = (
    http::Response<hyper::body::Incoming>,
    Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>,
);

/// HTTP/1.1 over `io`.
async fn exchange<T>(io: T, request: http::Request<WasiBody>) -> Result<Exchanged, Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let mut connection: Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> =
        Box::pin(async move { connection.await.map_err(Error::from) });
    let sending = sender.send_request(request);
    let mut sending = std::pin::pin!(sending);
    // The connection must be driven while the response head is awaited; if
    // it ends first (the server closed it), the answer is whatever the
    // request's own future says.
    let mut ended = false;
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = sending.as_mut().poll(cx) {
            return Poll::Ready(done.map_err(Error::from));
        }
        if !ended && let Poll::Ready(result) = connection.as_mut().poll(cx) {
            ended = true;
            if let Err(e) = result {
                return Poll::Ready(Err(e));
            }
            return sending.as_mut().poll(cx).map_err(Error::from);
        }
        Poll::Pending
    })
    .await?;
    if ended {
        connection = Box::pin(async { Ok(()) });
    }
    Ok((response, connection))
}

/// rustls with the platform's root certificates, made once per process.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            // Unreadable system certificates are skipped: the roots that
            // load are still the ones to trust.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::InternalError(Some(format!("TLS could not be set up: {e}"))))
}

/// A response body whose every byte is charged to the call's output budget
/// as it arrives, and which ends at the call's deadline.
struct Budgeted {
    inner: hyper::body::Incoming,
    budget: OutputBudget,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Body for Budgeted {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && self.budget.charge(data.len()).is_err()
                {
                    let limit = self.budget.limit();
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(limit)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::HttpResponseTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
