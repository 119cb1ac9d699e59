//! The web dashboard (`lord monitor serve`, the `http` feature): a page of
//! live CPU, memory and network charts, the busiest processes and what
//! lord's plugins' calls cost, fed by
//! server-sent events at each sampling interval. The page, its script and
//! its style are compiled in and served from here (no CDN), under a strict
//! Content-Security-Policy: no inline script or style, nothing fetched
//! from anywhere but this server. With a token, every route wants it: as a
//! bearer header, or once as `?token=` on the page, which then keeps it in
//! an HttpOnly cookie for the script and the event stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::sync::watch;

use crate::collector::Collector;
use crate::http::{bears, same_token};
use crate::snapshot::Snapshot;

/// Only this server's own script, style and event stream; no frames, no
/// forms, no plugins, no inline anything.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";
const COOKIE: &str = "lord-monitor-token";
const PAGE: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/dashboard.js");
const STYLE: &str = include_str!("web/dashboard.css");
/// Processes each sample carries to the page: the busiest by CPU.
const TOP_PROCESSES: usize = 10;

/// One sample as the page draws it: the figures its charts plot and the
/// busiest processes, not the whole snapshot.
#[derive(Debug, Serialize)]
struct Sample {
    taken_at_ms: u64,
    host: Option<String>,
    cores: usize,
    cpu_percent: f32,
    memory_used: u64,
    memory_total: u64,
    received_per_second: f64,
    transmitted_per_second: f64,
    processes: Vec<ProcessFigure>,
    /// lord's plugins with calls recorded, the most called first.
    plugins: Vec<PluginFigure>,
}

#[derive(Debug, Serialize)]
struct PluginFigure {
    id: String,
    calls: u64,
    failures: u64,
    p95_ms: f64,
    peak_memory_bytes: u64,
}

#[derive(Debug, Serialize)]
struct ProcessFigure {
    pid: u32,
    name: String,
    cpu_percent: f32,
    memory: u64,
}

impl Sample {
    fn of(s: &Snapshot) -> Self {
        let mut processes: Vec<_> = s.processes.iter().collect();
        processes.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
        let mut plugins: Vec<_> = s.plugins.iter().collect();
        plugins.sort_by_key(|p| std::cmp::Reverse(p.calls));
        Self {
            taken_at_ms: s.taken_at_ms,
            host: s.host.name.clone(),
            cores: s.cpu.cores.len(),
            cpu_percent: s.cpu.percent,
            memory_used: s.memory.used,
            memory_total: s.memory.total,
            received_per_second: s.networks.iter().map(|i| i.received_per_second).sum(),
            transmitted_per_second: s.networks.iter().map(|i| i.transmitted_per_second).sum(),
            processes: processes
                .into_iter()
                .take(TOP_PROCESSES)
                .map(|p| ProcessFigure {
                    pid: p.pid,
                    name: p.name.clone(),
                    cpu_percent: p.cpu_percent,
                    memory: p.memory,
                })
                .collect(),
            plugins: plugins
                .into_iter()
                .map(|p| PluginFigure {
                    id: p.id.clone(),
                    calls: p.calls,
                    failures: p.failures,
                    p95_ms: p.p95_ms,
                    peak_memory_bytes: p.peak_memory_bytes,
                })
                .collect(),
        }
    }
}

#[derive(Clone)]
struct Dashboard {
    token: Option<Arc<str>>,
    /// The latest sample as JSON, `None` before the first.
    latest: watch::Receiver<Option<Arc<str>>>,
}

/// Serves the dashboard on `listener` until `shutdown` completes, sampling
/// every `interval` on a blocking thread while it runs.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    mut collector: Collector,
    interval: Duration,
    token: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (send, latest) = watch::channel(None);
    let sampler = tokio::spawn(async move {
        loop {
            let sampled = tokio::task::spawn_blocking(move || {
                let snapshot = collector.sample();
                (snapshot, collector)
            })
            .await;
            let Ok((snapshot, back)) = sampled else {
                return;
            };
            collector = back;
            // A failed sample skips a point; the next interval tries again.
            if let Ok(snapshot) = snapshot
                && let Ok(json) = serde_json::to_string(&Sample::of(&snapshot))
                && send.send(Some(json.into())).is_err()
            {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    });
    let result = axum::serve(listener, router(latest, token))
        .with_graceful_shutdown(shutdown)
        .await;
    sampler.abort();
    result
}

fn router(latest: watch::Receiver<Option<Arc<str>>>, token: Option<String>) -> Router {
    let state = Dashboard {
        token: token.map(Into::into),
        latest,
    };
    Router::new()
        .route("/", get(page))
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript", SCRIPT) }),
        )
        .route("/dashboard.css", get(|| async { asset("text/css", STYLE) }))
        .route("/events", get(events))
        // Browsers ask for an icon unprompted; none, rather than a 404.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Lets a request through when no token is set or it presents the token
/// (bearer header, cookie, or `?token=`); answers 401 otherwise. Every
/// answer carries the security headers.
async fn guard(State(dashboard): State<Dashboard>, request: Request, next: Next) -> Response {
    let refused = dashboard
        .token
        .as_deref()
        .is_some_and(|token| !presents(request.headers(), request.uri().query(), token));
    let mut response = if refused {
        (
            StatusCode::UNAUTHORIZED,
            "a token is required: open the dashboard as /?token=TOKEN with the token \
             from the file given to --token-file\n",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn presents(headers: &HeaderMap, query: Option<&str>, token: &str) -> bool {
    let in_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("token="))
        .any(|given| same_token(given, token));
    let in_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|given| same_token(given, token));
    in_query || in_cookie || bears(headers, token)
}

async fn page(State(dashboard): State<Dashboard>) -> Response {
    let mut response = asset("text/html; charset=utf-8", PAGE);
    // The script's EventSource cannot send a header; the cookie carries
    // the token for it, out of the script's reach (HttpOnly).
    if let Some(token) = &dashboard.token
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        ))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// One `sample` event per new sample, starting with the latest if there
/// is one; comments keep idle connections open through proxies.
async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let mut latest = dashboard.latest;
    latest.mark_changed();
    let stream = futures::stream::unfold(latest, |mut latest| async move {
        loop {
            latest.changed().await.ok()?;
            let json = latest.borrow_and_update().clone();
            if let Some(json) = json {
                return Some((Ok(Event::default().event("sample").data(&*json)), latest));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
