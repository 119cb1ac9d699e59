//! The output budget: everything a plugin says (stdout, stderr, log records)
//! lands in host memory, counted against one per-call cap, and reaches the
//! user only through the host.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::instance::{Captured, LogLevel, LogRecord};

/// Raised inside the guest's call when the budget is spent; found again in the
/// trap's cause chain to report an output-limit failure.
#[derive(Debug, thiserror::Error)]
#[error("output budget exceeded")]
pub(crate) struct OutputExceeded;

#[derive(Debug, Default)]
struct Sink {
    limit: u64,
    used: u64,
    exceeded: bool,
    captured: Captured,
}

/// One budget shared by the guest's stdout and stderr and its log calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputBudget(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    sink: Mutex<Sink>,
    /// Whether anything was written since the last `take`: a call that
    /// wrote nothing (most) hands over its empty capture without a lock.
    touched: AtomicBool,
}

impl OutputBudget {
    pub(crate) fn new(limit: u64) -> Self {
        let budget = Self::default();
        budget.lock().limit = limit;
        budget
    }

    fn lock(&self) -> MutexGuard<'_, Sink> {
        // A poisoned lock only means a writer panicked mid-push; the byte
        // counts are still meaningful, so keep going.
        self.0
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn push_log(&self, level: LogLevel, message: String) -> Result<(), OutputExceeded> {
        self.0.touched.store(true, Ordering::Release);
        let mut sink = self.lock();
        charge(&mut sink, message.len())?;
        sink.captured.logs.push(LogRecord { level, message });
        Ok(())
    }

    /// Counts `n` bytes a program the plugin ran wrote and the call keeps
    /// (they are returned to the guest, not shown).
    pub(crate) fn charge(&self, n: usize) -> Result<(), OutputExceeded> {
        self.0.touched.store(true, Ordering::Release);
        charge(&mut self.lock(), n)
    }

    pub(crate) fn push_stream(&self, stream: Stream, bytes: &[u8]) -> Result<(), OutputExceeded> {
        self.0.touched.store(true, Ordering::Release);
        let mut sink = self.lock();
        charge(&mut sink, bytes.len())?;
        match stream {
            Stream::Stdout => sink.captured.stdout.extend_from_slice(bytes),
            Stream::Stderr => sink.captured.stderr.extend_from_slice(bytes),
        }
        Ok(())
    }

    pub(crate) fn exceeded(&self) -> bool {
        // Nothing charged since the last `take`: nothing exceeded, and no
        // lock taken (most calls write nothing).
        if !self.0.touched.load(Ordering::Acquire) {
            return false;
        }
        self.lock().exceeded
    }

    pub(crate) fn limit(&self) -> u64 {
        self.lock().limit
    }

    /// Hands over what was captured and starts the next call's budget afresh.
    pub(crate) fn take(&self) -> Captured {
        if !self.0.touched.swap(false, Ordering::AcqRel) {
            return Captured::default();
        }
        let mut sink = self.lock();
        sink.used = 0;
        sink.exceeded = false;
        std::mem::take(&mut sink.captured)
    }

    pub(crate) fn pipe(&self, stream: Stream) -> BudgetPipe {
        BudgetPipe {
            budget: self.clone(),
            stream,
        }
    }
}

fn charge(sink: &mut Sink, n: usize) -> Result<(), OutputExceeded> {
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    if sink.exceeded || sink.used.saturating_add(n) > sink.limit {
        sink.exceeded = true;
        return Err(OutputExceeded);
    }
    sink.used += n;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// A guest standard stream that writes into the budget.
#[derive(Debug, Clone)]
pub(crate) struct BudgetPipe {
    budget: OutputBudget,
    stream: Stream,
}

impl IsTerminal for BudgetPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BudgetPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for BudgetPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.budget
            .push_stream(self.stream, &bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always offer room: the budget is enforced on the write itself, so a
        // flood ends in a trap that names the limit instead of a guest that
        // spins on a closed stream.
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for BudgetPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for BudgetPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.budget
                .push_stream(self.stream, buf)
                .map(|()| buf.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
