//! What an operator runs the registry with: Prometheus metrics for
//! requests, latencies and errors (`GET /metrics`), and rate limits per
//! client address and per token, and the probes (`/healthz`, `/readyz`).
//! Graceful shutdown is in `server.rs`, beside the routes.
//!
//! Both are kept by hand, in a few maps behind mutexes: the exposition
//! format is a page of text, a fixed window per key is all a limit needs,
//! and neither is worth a metrics or rate-limiting framework in the build.
//!
//! Invariant: metric labels are route templates (`/api/v1/plugins/{id}`),
//! methods and status codes, never what a client sent, so no client can
//! grow the exposition without bound; rate-limit keys are addresses and
//! token hashes, pruned once their window has passed.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lord_registry_api::ErrorBody;

use crate::error::RegistryError;
use crate::server::{Registry, Shared, blocking};

/// Latency buckets, in seconds: from a cached search to a large publish.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts per bucket, as Prometheus wants them.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latencies by route.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<MetricsInner>,
}

#[derive(Debug, Default)]
struct MetricsInner {
    /// (route, method, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (route, method) → latency.
    latency: BTreeMap<(String, String), Histogram>,
    /// Requests refused by a rate limit, by what was limited.
    limited: BTreeMap<&'static str, u64>,
}

impl Metrics {
    pub(crate) fn record(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let seconds = took.as_secs_f64();
        let histogram = inner
            .latency
            .entry((route.to_owned(), method.to_owned()))
            .or_default();
        for (bound, count) in BUCKETS.iter().zip(histogram.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    pub(crate) fn limited(&self, what: &'static str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.limited.entry(what).or_default() += 1;
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub(crate) fn render(&self) -> String {
        use std::fmt::Write as _;
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP lord_registry_requests_total HTTP requests answered, by route, method and \
             status.\n# TYPE lord_registry_requests_total counter\n",
        );
        for ((route, method, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "lord_registry_requests_total{{route=\"{route}\",method=\"{method}\",\
                 status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP lord_registry_request_errors_total HTTP requests answered with a 5xx \
             status, by route.\n# TYPE lord_registry_request_errors_total counter\n",
        );
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for ((route, _, status), n) in &inner.requests {
            if *status >= 500 {
                *errors.entry(route).or_default() += n;
            }
        }
        for (route, n) in errors {
            let _ = writeln!(
                out,
                "lord_registry_request_errors_total{{route=\"{route}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP lord_registry_request_duration_seconds Time to answer, by route and \
             method.\n# TYPE lord_registry_request_duration_seconds histogram\n",
        );
        for ((route, method), h) in &inner.latency {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (bound, count) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "lord_registry_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} \
                     {count}"
                );
            }
            let _ = writeln!(
                out,
                "lord_registry_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 lord_registry_request_duration_seconds_sum{{{labels}}} {}\n\
                 lord_registry_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
        out.push_str(
            "# HELP lord_registry_rate_limited_total Requests refused by a rate limit.\n\
             # TYPE lord_registry_rate_limited_total counter\n",
        );
        for (what, n) in &inner.limited {
            let _ = writeln!(out, "lord_registry_rate_limited_total{{by=\"{what}\"}} {n}");
        }
        out
    }
}

/// How many requests a minute one client may make: all requests per
/// address, and writes (publish, yank, rate) per token. `None` is no
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip_per_minute: Option<u32>,
    pub writes_per_token_per_minute: Option<u32>,
}

impl Default for RateLimits {
    /// Generous enough for a CI fleet behind one address, tight enough
    /// that one client cannot take the server for itself.
    fn default() -> Self {
        Self {
            per_ip_per_minute: Some(6000),
            writes_per_token_per_minute: Some(120),
        }
    }
}

impl RateLimits {
    pub const NONE: Self = Self {
        per_ip_per_minute: None,
        writes_per_token_per_minute: None,
    };
}

const WINDOW: Duration = Duration::from_secs(60);

/// Keys a limiter holds before it sweeps out the ones whose window ended.
const SWEEP_AT: usize = 100_000;
/// Keys it holds at most: past this, a key it does not know yet waits for
/// the next sweep, so a flood of fresh keys (random tokens, rotating
/// addresses) can neither grow the map nor make every request scan it.
const MAX_KEYS: usize = 2 * SWEEP_AT;

/// Fixed one-minute windows per key.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    by_ip: Mutex<Windows<IpAddr>>,
    by_token: Mutex<Windows<String>>,
}

/// One limiter's windows, and when it last swept them.
#[derive(Debug)]
pub(crate) struct Windows<K> {
    entries: HashMap<K, (Instant, u32)>,
    swept: Option<Instant>,
}

impl<K> Default for Windows<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            swept: None,
        }
    }
}

/// The key an address is limited under: an IPv6 client usually holds a
/// whole /64, so that is one key (and an IPv4 address mapped into IPv6 is
/// the IPv4 address).
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Counts one request for `key`; the seconds to wait when over `limit`.
fn take<K: std::hash::Hash + Eq>(
    windows: &Mutex<Windows<K>>,
    key: K,
    limit: u32,
    now: Instant,
) -> Result<(), u64> {
    let mut windows = windows.lock().unwrap_or_else(|p| p.into_inner());
    let Windows {
        entries: map,
        swept,
    } = &mut *windows;
    // At most one sweep a second, however many keys: each is a full scan.
    if map.len() > SWEEP_AT
        && swept.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
    {
        map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        *swept = Some(now);
    }
    if map.len() >= MAX_KEYS && !map.contains_key(&key) {
        return Err(1);
    }
    let (start, count) = map.entry(key).or_insert((now, 0));
    if now.duration_since(*start) >= WINDOW {
        *start = now;
        *count = 0;
    }
    if *count >= limit {
        let left = WINDOW.saturating_sub(now.duration_since(*start));
        return Err(left.as_secs().max(1));
    }
    *count += 1;
    Ok(())
}

impl Limiter {
    pub(crate) fn ip(&self, ip: IpAddr, limits: &RateLimits) -> Result<(), u64> {
        match limits.per_ip_per_minute {
            Some(limit) => take(&self.by_ip, ip_key(ip), limit, Instant::now()),
            None => Ok(()),
        }
    }

    /// `token_hash`, not the token: the map must not hold secrets.
    pub(crate) fn token(&self, token_hash: String, limits: &RateLimits) -> Result<(), u64> {
        match limits.writes_per_token_per_minute {
            Some(limit) => take(&self.by_token, token_hash, limit, Instant::now()),
            None => Ok(()),
        }
    }
}

/// Every request: refused when its address or (for writes) its token is
/// over its rate limit, then answered and counted in the metrics under
/// its route template.
pub(crate) async fn measured(
    axum::extract::State(registry): axum::extract::State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let response = match admit(&registry, &request) {
        Ok(()) => next.run(request).await,
        Err(refused) => axum::response::IntoResponse::into_response(refused),
    };
    let (status, took) = (response.status().as_u16(), started.elapsed());
    registry.metrics.record(&route, &method, status, took);
    if let Some(log) = registry.access_log.get() {
        log.answered(&crate::access_log::Answered {
            method: &method,
            route: &route,
            status,
            took,
            peer,
        });
    }
    response
}

fn admit(registry: &Registry, request: &axum::extract::Request) -> Result<(), RegistryError> {
    let limits = registry.rate_limits();
    let refuse = |by: &'static str, retry_after: u64| {
        registry.metrics.limited(by);
        RegistryError::TooManyRequests { by, retry_after }
    };
    if let Some(axum::extract::ConnectInfo(peer)) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        registry
            .limiter
            .ip(peer.ip(), &limits)
            .map_err(|wait| refuse("this address", wait))?;
    }
    let writes = request.method() != axum::http::Method::GET;
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let (true, Some(token)) = (writes, token) {
        registry
            .limiter
            .token(crate::db::token_hash(token.trim()), &limits)
            .map_err(|wait| refuse("this token", wait))?;
    }
    Ok(())
}

/// Liveness: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers and the signed index is in place (so
/// a load balancer sends nothing to a server that would fail it).
pub(crate) async fn readyz(State(registry): State<Shared>) -> Result<&'static str, Response> {
    let unready = |e: RegistryError| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ErrorBody {
                error: format!("not ready: {}", e.told()),
            }),
        )
            .into_response()
    };
    blocking(&registry, |r| r.db.ping())
        .await
        .map_err(unready)?;
    registry.tuf.ready().await.map_err(unready)?;
    Ok("ready\n")
}

/// The Prometheus exposition: request metrics, and the access log's
/// dropped lines when there is one.
pub(crate) async fn metrics(State(registry): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        registry.metrics.render()
            + &registry.access_log.get().map_or_else(String::new, |log| {
                format!(
                    "# TYPE lord_registry_log_lines_dropped_total counter\n\
                     lord_registry_log_lines_dropped_total {}\n",
                    log.dropped()
                )
            }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use super::{MAX_KEYS, Metrics, Windows, ip_key, take};

    #[test]
    fn a_window_admits_its_limit_then_refuses_until_it_passes() {
        let map = Mutex::new(Windows::default());
        let start = Instant::now();
        assert_eq!(take(&map, "k", 2, start), Ok(()));
        assert_eq!(take(&map, "k", 2, start), Ok(()));
        assert_eq!(take(&map, "k", 2, start + Duration::from_secs(20)), Err(40));
        assert_eq!(take(&map, "other", 2, start), Ok(()));
        assert_eq!(take(&map, "k", 2, start + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn a_flood_of_fresh_keys_is_bounded_and_known_keys_go_on() {
        let map = Mutex::new(Windows::default());
        let start = Instant::now();
        for key in 0..MAX_KEYS {
            assert_eq!(take(&map, key, 5, start), Ok(()));
        }
        // Full, within the window: a new key waits, a known one goes on.
        assert_eq!(take(&map, MAX_KEYS, 5, start), Err(1));
        assert_eq!(take(&map, 7, 5, start), Ok(()));
        // Once the windows end, a sweep makes room.
        let later = start + Duration::from_secs(61);
        assert_eq!(take(&map, MAX_KEYS, 5, later), Ok(()));
        assert!(map.lock().expect("lock").entries.len() <= 2);
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_slash_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            ip_key(mapped),
            "192.0.2.7".parse::<std::net::IpAddr>().expect("ip")
        );
    }

    #[test]
    fn the_exposition_counts_requests_errors_and_latency_buckets() {
        let metrics = Metrics::default();
        metrics.record("/api/v1/search", "GET", 200, Duration::from_millis(3));
        metrics.record("/api/v1/search", "GET", 500, Duration::from_millis(30));
        metrics.limited("ip");
        let text = metrics.render();
        for line in [
            "lord_registry_requests_total{route=\"/api/v1/search\",method=\"GET\",status=\"200\"} 1",
            "lord_registry_request_errors_total{route=\"/api/v1/search\"} 1",
            "lord_registry_request_duration_seconds_bucket{route=\"/api/v1/search\",method=\"GET\",le=\"0.005\"} 1",
            "lord_registry_request_duration_seconds_bucket{route=\"/api/v1/search\",method=\"GET\",le=\"0.05\"} 2",
            "lord_registry_request_duration_seconds_count{route=\"/api/v1/search\",method=\"GET\"} 2",
            "lord_registry_rate_limited_total{by=\"ip\"} 1",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
    }
}
