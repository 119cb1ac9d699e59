//! Timing: batches of many iterations, medians over batches, and two sides
//! measured in alternation so that drift (CPU clock, another process on the
//! machine, a warming page cache) hits both sides alike.

use std::time::{Duration, Instant};

use anyhow::Result;

/// How a measurement is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Batches per side; the reported figure is the median over them.
    pub(crate) batches: usize,
    /// Roughly how long one batch of one side lasts. The iteration count per
    /// batch is chosen from a warm-up to match it.
    pub(crate) batch_time: Duration,
}

/// Per-iteration times of one side, one figure per batch.
#[derive(Debug, Clone)]
pub(crate) struct Samples {
    per_iteration_ns: Vec<f64>,
    /// Iterations in each batch.
    pub(crate) iterations: u64,
}

impl Samples {
    /// The median over batches of the mean time of one iteration.
    pub(crate) fn median_ns(&self) -> f64 {
        let mut sorted = self.per_iteration_ns.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    /// The fastest and slowest batch, to show how noisy the run was.
    pub(crate) fn range_ns(&self) -> (f64, f64) {
        let min = self
            .per_iteration_ns
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self
            .per_iteration_ns
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

/// Single timings, one per event (a search, an install), for figures that
/// are a distribution over events rather than a mean over a batch: a
/// request's latency is what a user waits for, and its tail matters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies {
    ns: Vec<f64>,
}

impl Latencies {
    pub(crate) fn push(&mut self, elapsed: Duration) {
        // Far below 2^53 ns, so the conversion is exact enough.
        self.ns.push(elapsed.as_nanos() as f64);
    }

    pub(crate) fn len(&self) -> usize {
        self.ns.len()
    }

    pub(crate) fn median_ns(&self) -> f64 {
        Samples {
            per_iteration_ns: self.ns.clone(),
            iterations: 1,
        }
        .median_ns()
    }

    /// The nearest-rank percentile: the smallest timing that at least
    /// `percent`% of the timings do not exceed.
    pub(crate) fn percentile_ns(&self, percent: f64) -> f64 {
        let mut sorted = self.ns.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// The two sides of a comparison: the path under test (lord's, or 50
/// plugins installed) and its baseline (bare wasmtime, or none installed).
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub(crate) subject: Samples,
    pub(crate) baseline: Samples,
}

impl Pair {
    pub(crate) fn ratio(&self) -> f64 {
        self.subject.median_ns() / self.baseline.median_ns()
    }

    pub(crate) fn difference_ns(&self) -> f64 {
        self.subject.median_ns() - self.baseline.median_ns()
    }
}

/// Runs `iterations` iterations back to back and returns the elapsed time.
async fn time_batch(
    step: &mut impl AsyncFnMut() -> Result<()>,
    iterations: u64,
) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..iterations {
        step().await?;
    }
    Ok(start.elapsed())
}

/// Warms a side up for about half a batch and returns the iteration count
/// that makes one batch last about `plan.batch_time`.
async fn warm_up(step: &mut impl AsyncFnMut() -> Result<()>, plan: Plan) -> Result<u64> {
    let start = Instant::now();
    let mut done: u64 = 0;
    while done < 3 || start.elapsed() < plan.batch_time / 2 {
        step().await?;
        done += 1;
    }
    let per_iteration = start.elapsed().as_nanos() / u128::from(done);
    let iterations = plan.batch_time.as_nanos() / per_iteration.max(1);
    Ok(u64::try_from(iterations).unwrap_or(u64::MAX).max(1))
}

fn per_iteration_ns(elapsed: Duration, iterations: u64) -> f64 {
    // Batch times are far below 2^53 ns, so the conversion is exact enough.
    elapsed.as_nanos() as f64 / iterations as f64
}

/// Measures one side alone.
pub(crate) async fn single(
    plan: Plan,
    mut step: impl AsyncFnMut() -> Result<()>,
) -> Result<Samples> {
    let iterations = warm_up(&mut step, plan).await?;
    let mut per_iteration = Vec::with_capacity(plan.batches);
    for _ in 0..plan.batches {
        let elapsed = time_batch(&mut step, iterations).await?;
        per_iteration.push(per_iteration_ns(elapsed, iterations));
    }
    Ok(Samples {
        per_iteration_ns: per_iteration,
        iterations,
    })
}

/// Measures two sides in alternating batches (subject, baseline, subject,
/// baseline, ...), each warmed up first.
pub(crate) async fn interleaved(
    plan: Plan,
    mut subject: impl AsyncFnMut() -> Result<()>,
    mut baseline: impl AsyncFnMut() -> Result<()>,
) -> Result<Pair> {
    let subject_iterations = warm_up(&mut subject, plan).await?;
    let baseline_iterations = warm_up(&mut baseline, plan).await?;
    let mut subject_times = Vec::with_capacity(plan.batches);
    let mut baseline_times = Vec::with_capacity(plan.batches);
    for _ in 0..plan.batches {
        let elapsed = time_batch(&mut subject, subject_iterations).await?;
        subject_times.push(per_iteration_ns(elapsed, subject_iterations));
        let elapsed = time_batch(&mut baseline, baseline_iterations).await?;
        baseline_times.push(per_iteration_ns(elapsed, baseline_iterations));
    }
    Ok(Pair {
        subject: Samples {
            per_iteration_ns: subject_times,
            iterations: subject_iterations,
        },
        baseline: Samples {
            per_iteration_ns: baseline_times,
            iterations: baseline_iterations,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[f64]) -> Samples {
        Samples {
            per_iteration_ns: values.to_vec(),
            iterations: 1,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(samples(&[5.0, 1.0, 3.0]).median_ns(), 3.0);
        assert_eq!(samples(&[4.0, 1.0, 3.0, 2.0]).median_ns(), 2.5);
        assert_eq!(samples(&[4.0, 1.0, 3.0, 2.0]).range_ns(), (1.0, 4.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut latencies = Latencies::default();
        for n in (1..=100).rev() {
            latencies.push(Duration::from_nanos(n));
        }
        assert_eq!(latencies.len(), 100);
        assert_eq!(latencies.percentile_ns(95.0), 95.0);
        assert_eq!(latencies.percentile_ns(100.0), 100.0);
        assert_eq!(latencies.percentile_ns(0.0), 1.0);
        assert_eq!(latencies.median_ns(), 50.5);
        assert!(Latencies::default().percentile_ns(95.0).is_nan());
    }
}
