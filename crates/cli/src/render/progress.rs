//! A spinner on standard error naming the current step of a long operation
//! (compiling, downloading, building), and a counter of items done with
//! their rate (rows copied). Only on a terminal: piped output stays free
//! of redraws.

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

/// A running count with its rate, or nothing when standard error is not a
/// terminal. The total is not known in advance (rows stream).
pub(crate) struct Counter(Option<indicatif::ProgressBar>);

impl Counter {
    /// `what` is already escaped and names the items (`rows copied`).
    pub(super) fn new(on: bool, what: &str) -> Self {
        Self(on.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            let template = format!("{{spinner}} {{human_pos}} {what} ({{per_sec}}, {{elapsed}})");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        }))
    }

    pub(crate) fn set(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
        }
    }

    /// Clears the counter, before the summary is shown.
    pub(crate) fn done(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
