//! The registry's web pages over the 10,000-plugin registry
//! `registry.rs` fills: a plugin page (README rendered and sanitised,
//! permissions, versions, chart) and a search page with filters, each
//! request timed alone over a fresh HTTP/1.1 connection on loopback, as a
//! browser's first visit would be; and, in the same run, the JSON API
//! answer each page is built from, as the baseline.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};

use crate::synth::Mix;
use crate::timing::Latencies;

/// Timed requests of each kind, after `WARM` untimed ones.
pub(crate) const PAGES: usize = 200;
const WARM: usize = 20;

/// Page and API timings.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebResults {
    pub(crate) plugin_page: Latencies,
    pub(crate) plugin_api: Latencies,
    pub(crate) search_page: Latencies,
    pub(crate) search_api: Latencies,
    /// The largest plugin page seen, in bytes.
    pub(crate) largest_plugin_page: usize,
}

/// One GET on a fresh connection: the status and the body's length.
fn get(at: SocketAddr, path: &str) -> Result<(u16, usize)> {
    let mut stream = TcpStream::connect(at).with_context(|| format!("connecting to {at}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    Ok((status, body))
}

fn timed(at: SocketAddr, path: &str, into: Option<&mut Latencies>) -> Result<usize> {
    let start = Instant::now();
    let (status, bytes) = get(at, path)?;
    let elapsed = start.elapsed();
    ensure!(status == 200, "GET {path} answered {status}");
    if let Some(latencies) = into {
        latencies.push(elapsed);
    }
    Ok(bytes)
}

/// Times plugin pages of `ids` (drawn at random) and search pages of
/// `words` with filters, against the server at `at`.
pub(crate) fn measure(at: SocketAddr, ids: &[String], words: &[&str]) -> Result<WebResults> {
    ensure!(!ids.is_empty(), "no plugins to show");
    let mut mix = Mix::new(0x5EED_0005);
    let mut results = WebResults::default();
    let risks = ["low", "medium", "high", "critical"];
    for n in 0..WARM + PAGES {
        let keep = n >= WARM;
        let id = mix.pick(ids).clone();
        let bytes = timed(
            at,
            &format!("/plugins/{id}"),
            keep.then_some(&mut results.plugin_page),
        )?;
        results.largest_plugin_page = results.largest_plugin_page.max(bytes);
        timed(
            at,
            &format!("/api/v1/plugins/{id}"),
            keep.then_some(&mut results.plugin_api),
        )?;
        let word = mix.pick(words);
        let filter = if mix.chance(30) {
            format!("&max_risk={}", mix.pick(&risks))
        } else {
            String::new()
        };
        timed(
            at,
            &format!("/?q={word}{filter}&host_api=0.2.1"),
            keep.then_some(&mut results.search_page),
        )?;
        timed(
            at,
            &format!("/api/v1/search?q={word}{filter}&host_api=0.2.1"),
            keep.then_some(&mut results.search_api),
        )?;
    }
    Ok(results)
}
