//! One wall-clock deadline per call, over guest code and host waits alike.
//!
//! Guest code is stopped by the epoch callback, which reads the clock once
//! per tick and sets the call's deadline at its first tick (never early, at
//! most one tick late). A guest waiting inside a host call (a sleep, a
//! socket, another plugin's reply) runs no guest code, so a timer stops it
//! there. The timer is made only when the call first waits: a call that
//! finishes in one go (most calls) makes no timer and, if it is shorter
//! than a tick, never reads the clock. Both sides share one deadline, set
//! by whichever needs it first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The current call's deadline, shared by the epoch callback (inside the
/// store) and the call's wait guard (outside it). Zero means not set yet.
#[derive(Debug)]
pub(crate) struct Deadline {
    /// What the nanoseconds count from.
    base: Instant,
    nanos: AtomicU64,
    /// Each call's budget.
    limit: Duration,
}

impl Deadline {
    pub(crate) fn new(limit: Duration) -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            nanos: AtomicU64::new(0),
            limit,
        })
    }

    /// A new call begins: its deadline is set when first needed.
    pub(crate) fn arm(&self) {
        self.nanos.store(0, Ordering::Relaxed);
    }

    /// The deadline, if the current call has one yet.
    pub(crate) fn get(&self) -> Option<Instant> {
        match self.nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(self.base + Duration::from_nanos(nanos)),
        }
    }

    /// The deadline, set to `now` plus the budget if the call had none.
    pub(crate) fn get_or_start(&self, now: Instant) -> Instant {
        let wanted = now.saturating_duration_since(self.base) + self.limit;
        let wanted = u64::try_from(wanted.as_nanos()).unwrap_or(u64::MAX).max(1);
        match self
            .nanos
            .compare_exchange(0, wanted, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => self.base + Duration::from_nanos(wanted),
            Err(set) => self.base + Duration::from_nanos(set),
        }
    }
}

/// Runs `call`; `None` when the deadline passed while it waited in a host
/// call.
pub(crate) async fn bounded<T>(call: impl Future<Output = T>, deadline: &Deadline) -> Option<T> {
    let mut call = std::pin::pin!(call);
    let mut timer = None;
    std::future::poll_fn(|cx| poll_bounded(call.as_mut(), &mut timer, deadline, cx)).await
}

/// The timer of a call that waited.
pub(crate) type Timer = Option<Pin<Box<tokio::time::Sleep>>>;

/// One poll of a bounded call, for a caller that keeps the call's future
/// where it was made (the hot path does, so the future is never moved).
pub(crate) fn poll_bounded<F: Future>(
    call: Pin<&mut F>,
    timer: &mut Timer,
    deadline: &Deadline,
    cx: &mut Context<'_>,
) -> Poll<Option<F::Output>> {
    if let Poll::Ready(out) = call.poll(cx) {
        return Poll::Ready(Some(out));
    }
    // The call waits in a host call: from here the clock stops it.
    let timer = timer.get_or_insert_with(|| {
        let at = deadline.get_or_start(Instant::now());
        Box::pin(tokio::time::sleep_until(at.into()))
    });
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_to_need_the_deadline_sets_it_for_both() {
        let deadline = Deadline::new(Duration::from_millis(100));
        assert_eq!(deadline.get(), None);
        let now = Instant::now();
        let set = deadline.get_or_start(now);
        assert_eq!(set, deadline.get().expect("set"));
        assert!(set >= now + Duration::from_millis(100));
        // A later start changes nothing: one deadline per call.
        assert_eq!(deadline.get_or_start(now + Duration::from_secs(5)), set);
        deadline.arm();
        assert_eq!(deadline.get(), None);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_call_that_never_waits_needs_no_timer_and_one_that_waits_is_stopped() {
        let deadline = Deadline::new(Duration::from_millis(50));
        assert_eq!(bounded(async { 7 }, &deadline).await, Some(7));
        assert_eq!(
            deadline.get(),
            None,
            "a call that never waited set no deadline"
        );
        let slept = bounded(tokio::time::sleep(Duration::from_secs(10)), &deadline).await;
        assert_eq!(slept, None);
    }
}
