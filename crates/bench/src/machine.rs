//! How busy the machine is with other work, said before and after a run.
//!
//! Ratios against bare wasmtime are taken within one run, but not every
//! path suffers equally from a neighbour's load: on the project's 2-CPU
//! machine the same binary measured `run_command_ratio` 1.76 when idle
//! and 2.2-2.3 with other work keeping one CPU busy. A reader comparing
//! two runs needs to know which kind each was, so the harness samples the
//! CPUs for a moment while it is itself idle and says so when others were
//! busy. The figure is what `/proc/stat` counts, so only Linux reports it.

use std::time::Duration;

/// How long the CPUs are sampled.
const WINDOW: Duration = Duration::from_millis(500);

/// Past this share of the CPUs busy with other work, figures are flagged.
const BUSY: f64 = 0.15;

/// Time the CPUs spent, all together: (busy, total), in clock ticks.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: idle and iowait
    // are the CPUs doing nothing; guest time is already inside user.
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// The share of the CPUs that other work kept busy over [`WINDOW`], while
/// this process slept.
pub(crate) fn others_busy() -> Option<f64> {
    let (busy_before, total_before) = cpu_ticks()?;
    std::thread::sleep(WINDOW);
    let (busy_after, total_after) = cpu_ticks()?;
    let total = total_after.checked_sub(total_before).filter(|&t| t > 0)?;
    // The kernel's iowait count may go backwards, so the busy difference
    // can overshoot the total by a tick or two.
    let busy = busy_after.saturating_sub(busy_before).min(total);
    Some(busy as f64 / total as f64)
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
        // Linux only: elsewhere there is nothing to read, and nothing said.
        if let Some(share) = others_busy() {
            assert!((0.0..=1.0).contains(&share), "{share}");
        } else {
            assert!(std::fs::read_to_string("/proc/stat").is_err());
        }
    }
}
