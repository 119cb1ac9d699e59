//! Colour, kept minimal: the `error:` and `warning:` labels, log levels
//! and risk levels. Plain ANSI SGR codes, applied only when the `Output` says the
//! stream may carry them, so piped output is byte for byte the same as
//! without colour.

use lord_manifest::RiskLevel;

/// What a piece of text is, for its colour.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paint {
    Error,
    Warning,
    /// A log record's `info:` label.
    Info,
    /// A log record's `debug:` or `trace:` label.
    Debug,
    Risk(RiskLevel),
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Self::Error => "1;31",
            Self::Warning => "1;33",
            Self::Info => "36",
            Self::Debug => "2",
            Self::Risk(RiskLevel::Low) => "32",
            Self::Risk(RiskLevel::Medium) => "33",
            Self::Risk(RiskLevel::High) => "31",
            Self::Risk(RiskLevel::Critical) => "1;31",
        }
    }

    /// `text` in this colour when `on`, else unchanged.
    pub(crate) fn apply(self, on: bool, text: &str) -> String {
        if on {
            format!("\x1b[{}m{text}\x1b[0m", self.code())
        } else {
            text.to_owned()
        }
    }
}
