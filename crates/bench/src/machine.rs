//! How busy the machine is with other work, said before and after a run.
//!
//! Ratios against bare wasmtime are taken within one run, but not every
//! path suffers equally from a neighbour's load: on the project's 2-CPU
//! machine the same binary measured `run_command_ratio` 1.76 when idle
//! and 2.2-2.3 with other work keeping one CPU busy. A reader comparing
//! two runs needs to know which kind each was, so the harness samples the
//! CPUs for a moment while it is itself idle and says so when others were
//! busy.

use std::time::Duration;

use lord_monitor::{Collector, Options};

/// How long the CPUs are sampled.
const WINDOW: Duration = Duration::from_millis(500);

/// Past this share of the CPUs busy with other work, figures are flagged.
const BUSY: f64 = 0.15;

/// The share of the CPUs that other work kept busy over [`WINDOW`], while
/// this process slept, as `lord monitor`'s collector measures it (no
/// process table: only the machine-wide figure is wanted).
pub(crate) fn others_busy() -> Option<f64> {
    let mut collector = Collector::new(Options {
        processes: false,
        ..Options::default()
    })
    .ok()?;
    // The first sample sets the baseline; the second covers the window.
    collector.sample().ok()?;
    std::thread::sleep(WINDOW);
    let percent = collector.sample().ok()?.cpu.percent;
    Some((f64::from(percent) / 100.0).clamp(0.0, 1.0))
}

/// Tells the reader, on stderr, how busy the machine was `when` ("before
/// the run", "after the run"), with a warning past [`BUSY`].
pub(crate) fn report(when: &str) {
    let Some(share) = others_busy() else {
        return;
    };
    let percent = share * 100.0;
    if share > BUSY {
        eprintln!(
            "lord-bench: warning: other work kept {percent:.0}% of the CPUs busy {when}; figures \
             from a busy machine read high and are not comparable with a quiet run's"
        );
    } else {
        eprintln!("lord-bench: other work kept {percent:.0}% of the CPUs busy {when}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_between_none_and_all_of_the_cpus() {
        let share = others_busy().expect("the collector reads the CPUs here");
        assert!((0.0..=1.0).contains(&share), "{share}");
    }
}
