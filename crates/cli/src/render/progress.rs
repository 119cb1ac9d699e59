//! A spinner on standard error naming the current step of a long operation
//! (compiling, downloading, building). Only on a terminal: piped output
//! stays free of redraws.

use std::time::Duration;

/// A spinner, or nothing when standard error is not a terminal.
pub(crate) struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// `what` is already escaped (`Output::spinner` sees to it).
    pub(super) fn new(on: bool, what: &str) -> Self {
        Self(on.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(80));
            bar
        }))
    }

    /// Names the step now under way.
    pub(crate) fn say(&self, step: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(super::foreign::one_line(step));
        }
    }

    /// Clears the spinner, before the result is shown.
    pub(crate) fn done(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
