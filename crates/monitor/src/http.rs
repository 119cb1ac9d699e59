//! Prometheus over HTTP (the `http` feature): a `/metrics` endpoint that
//! samples on each scrape, and pushes to a Pushgateway. Each scrape's
//! CPU shares and rates cover the time since the previous scrape, which is
//! what a gauge sampled at the scrape interval should mean.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::collector::Collector;
use crate::error::MonitorError;
use crate::exposition::{self, Format};
use crate::snapshot::Snapshot;

struct Exporter {
    collector: Mutex<Collector>,
    /// The bearer token a scrape must present, if one is required.
    token: Option<String>,
}

type Shared = Arc<Exporter>;

/// The exporter's routes: `GET /metrics`, and `/` saying where they are.
/// With a `token`, `/metrics` answers only requests bearing it
/// (`Authorization: Bearer TOKEN`, what Prometheus's `authorization`
/// scrape setting sends).
pub fn router(collector: Collector, token: Option<String>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(|| async { "lord monitor: metrics at /metrics\n" }))
        .with_state(Arc::new(Exporter {
            collector: Mutex::new(collector),
            token,
        }))
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    collector: Collector,
    token: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(collector, token))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether the request bears the token, compared in time independent of
/// where the first difference is.
pub(crate) fn bears(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_token(given, token))
}

/// Compares a presented token with the expected one in time independent
/// of where the first difference is.
pub(crate) fn same_token(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn metrics(State(exporter): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = &exporter.token
        && !bears(&headers, token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required: set `authorization` in the scrape configuration\n",
        )
            .into_response();
    }
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // Sampling reads many small files: off the async threads.
    let sampled = tokio::task::spawn_blocking(move || {
        let mut collector = exporter
            .collector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        collector.sample()
    })
    .await;
    match sampled {
        Ok(Ok(snapshot)) => (
            [(header::CONTENT_TYPE, format.content_type())],
            exposition::render(&snapshot, format),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("sampling stopped: {e}\n"),
        )
            .into_response(),
    }
}

/// Where and as whom to push.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The Pushgateway's base URL (`http://HOST:9091`).
    pub url: String,
    /// The `job` grouping label.
    pub job: String,
    /// The `instance` grouping label.
    pub instance: String,
}

impl Gateway {
    /// The group's URL: `/metrics/job/JOB/instance/INSTANCE`, each value
    /// percent-encoded as a path segment.
    pub fn group_url(&self) -> String {
        format!(
            "{}/metrics/job/{}/instance/{}",
            self.url.trim_end_matches('/'),
            segment(&self.job),
            segment(&self.instance)
        )
    }
}

/// Percent-encodes everything but unreserved characters.
fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A URL as messages and the alert log show it: scheme, host and port,
/// with `/…` for whatever followed. A chat service's webhook URL is itself
/// the credential (its path is the token), and a gateway's may carry
/// `user:password@`; neither may reach a terminal or `monitor.db`.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let mut shown = format!("{}://", parsed.scheme());
            if let Some(host) = parsed.host_str() {
                shown.push_str(host);
            }
            if let Some(port) = parsed.port() {
                shown.push_str(&format!(":{port}"));
            }
            if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
                shown.push_str("/…");
            }
            shown
        }
        Err(_) => "(an unreadable URL)".to_owned(),
    }
}

/// Pushes snapshots to one gateway group over one HTTP client.
#[derive(Debug, Clone)]
pub struct Pusher {
    client: reqwest::Client,
    gateway: Gateway,
}

impl Pusher {
    pub fn new(gateway: Gateway) -> Self {
        Self {
            client: reqwest::Client::new(),
            gateway,
        }
    }

    /// Replaces the group's metrics on the gateway with `snapshot`'s (a
    /// `PUT`, so series that vanished, such as a stopped container's, go
    /// too).
    pub async fn push(&self, snapshot: &Snapshot) -> Result<(), MonitorError> {
        let failed = |reason: String| MonitorError::Push {
            url: shown_url(&self.gateway.url),
            reason,
        };
        let response = self
            .client
            .put(self.gateway.group_url())
            .header(header::CONTENT_TYPE, Format::Text.content_type())
            .body(exposition::render(snapshot, Format::Text))
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(failed(format!("it answered {status}: {}", body.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_path_user_or_query() {
        let token = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX";
        let shown = shown_url(&format!("https://hooks.slack.com/services/{token}"));
        assert_eq!(shown, "https://hooks.slack.com/…");
        assert_eq!(
            shown_url("http://ada:hunter2@127.0.0.1:9091/"),
            "http://127.0.0.1:9091"
        );
        assert_eq!(shown_url("http://gw:9091?k=v"), "http://gw:9091/…");
        assert_eq!(shown_url("not a url"), "(an unreadable URL)");
    }

    #[test]
    fn grouping_labels_are_path_segments() {
        let gateway = Gateway {
            url: "http://127.0.0.1:9091/".into(),
            job: "lord".into(),
            instance: "a b:c".into(),
        };
        assert_eq!(
            gateway.group_url(),
            "http://127.0.0.1:9091/metrics/job/lord/instance/a%20b%3Ac"
        );
    }
}
