//! What can go wrong while monitoring.

/// A monitoring failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The platform gives no figures of this kind.
    #[error(
        "could not read the system's {what} figures ({reason}); lord monitor reads Linux's \
         /proc and /sys, so check they are mounted and readable"
    )]
    Unreadable { what: &'static str, reason: String },
    /// A Pushgateway refused or could not be reached.
    #[error(
        "could not push metrics to the Pushgateway at {url}: {reason}; check the URL and that \
         it is running"
    )]
    Push { url: String, reason: String },
    /// The alert log could not be read or written.
    #[error("the alert log (monitor.db) failed: {0}")]
    Log(String),
    /// A notification did not go out.
    #[error("the {channel} notification was not delivered: {reason}")]
    Notify {
        channel: &'static str,
        reason: String,
    },
}
