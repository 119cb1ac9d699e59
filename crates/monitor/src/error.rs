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
}
