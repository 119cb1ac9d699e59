//! Structured request logs: one JSON object per answered request, on a
//! line of its own, for an operator's log shipper (`--access-log`).
//!
//! A line holds the time, the method, the route template (never the path
//! a client sent, so no package name or query lands in the log), the
//! status, the time taken and the peer's address; nothing from a request's
//! headers or body, so no token is ever written. Lines are handed to a
//! thread of their own through a bounded queue: a slow log never holds up
//! an answer, and when the queue is full the line is dropped and counted
//! (`lord_registry_log_lines_dropped_total` in the metrics).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use serde_json::json;

/// Lines waiting for the writer; past this they are dropped.
const QUEUED: usize = 4096;

/// Where request lines go.
#[derive(Clone)]
pub struct AccessLog {
    lines: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

/// One answered request, as logged.
pub(crate) struct Answered<'a> {
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    pub(crate) status: u16,
    pub(crate) took: Duration,
    pub(crate) peer: Option<SocketAddr>,
}

impl AccessLog {
    /// Writes lines to `out` (standard error, a file) from a thread of
    /// its own, each flushed as it is written; fails only when no thread
    /// can be spawned.
    pub fn to(out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let (lines, queue) = std::sync::mpsc::sync_channel::<String>(QUEUED);
        let mut out = out;
        std::thread::Builder::new()
            .name("lord-registry-log".to_owned())
            .spawn(move || {
                for line in queue {
                    // A log that cannot be written must not stop the
                    // server; the lines are lost, as a full queue loses them.
                    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
                }
            })?;
        Ok(Self {
            lines,
            dropped: Arc::default(),
        })
    }

    /// [`AccessLog::to`] standard error. The lines are JSON, so nothing a
    /// client sent can reach the terminal as a control sequence.
    pub fn to_stderr() -> std::io::Result<Self> {
        Self::to(std::io::stderr())
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn answered(&self, a: &Answered<'_>) {
        let line = json!({
            "ts": jiff::Timestamp::now().to_string(),
            "event": "request",
            "method": a.method,
            "route": a.route,
            "status": a.status,
            "ms": (a.took.as_secs_f64() * 1e6).round() / 1e3,
            "peer": a.peer.map(|p| p.ip().to_string()),
        })
        .to_string();
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
