//! A spinner on standard error naming the current step of a long operation
//! (compiling, downloading, building), a bar for a long copy (backups),
//! and a counter of items done with their rate (rows copied). Only on a
//! terminal: piped output stays free of redraws.

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

/// A bar for a long copy (a backup or a restore) on standard error: bytes
/// against a total when one is known, a spinner counting bytes when not,
/// and the phase under way as its message. Nothing when standard error is
/// not a terminal. Cloned into the thread doing the work.
#[derive(Clone)]
pub(crate) struct Transfer(Option<indicatif::ProgressBar>);

impl Transfer {
    pub(super) fn new(on: bool) -> Self {
        Self(on.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }))
    }

    /// Names the phase now under way; its bytes start again from zero.
    pub(crate) fn phase(&self, what: &str) {
        if let Some(bar) = &self.0 {
            bar.set_style(spinner_style());
            bar.set_length(0);
            bar.set_position(0);
            bar.set_message(super::foreign::one_line(what));
        }
    }

    /// Bytes done so far, of `total` when known.
    pub(crate) fn bytes(&self, done: u64, total: Option<u64>) {
        let Some(bar) = &self.0 else { return };
        match total {
            Some(total) if total > 0 => {
                if bar.length() != Some(total) {
                    bar.set_style(bar_style());
                    bar.set_length(total);
                }
            }
            Some(_) | None => {}
        }
        bar.set_position(done);
    }

    pub(crate) fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn spinner_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
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
