//! A call's latency predicted from its input size, per plugin and entry
//! point: ordinary least squares of wall time on input bytes, fitted on
//! four calls in five and judged on the fifth, so the error a report shows
//! beside a prediction was measured on calls the model never saw.

use std::collections::BTreeMap;

use lord_perf::{CallRow, Outcome};
use serde::Serialize;

use crate::usage::ms;

/// Fewer completed calls than this and an entry point gets no model: its
/// held-out error would rest on one or two calls.
pub(crate) const MIN_CALLS: usize = 10;
/// The newest calls per entry point a model is fitted on.
const WINDOW: usize = 10_000;

/// One entry point's fitted model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub plugin: String,
    /// `command:NAME`, `micro:ID`, `event`, ...
    pub entry: String,
    /// Predicted wall time of a call with no input, in ms.
    pub intercept_ms: f64,
    /// Added per KiB of input, in ms.
    pub ms_per_kib: f64,
    /// Calls the model was fitted on, and calls it was judged on.
    pub fitted_on: usize,
    pub held_out: usize,
    /// Mean absolute error on the held-out calls, in ms.
    pub mae_ms: f64,
    /// Mean absolute error relative to each held-out call's time, in %.
    pub mape_percent: f64,
    /// The median input size seen, and the prediction for it: what a
    /// typical call of this entry point is expected to take.
    pub typical_input_bytes: u64,
    pub typical_prediction_ms: f64,
}

impl Model {
    /// The predicted wall time of a call given `input_bytes`, in ms
    /// (never below zero).
    pub fn predict_ms(&self, input_bytes: u64) -> f64 {
        (self.intercept_ms + self.ms_per_kib * input_bytes as f64 / 1024.0).max(0.0)
    }
}

/// Least squares of `y` on `x`: (intercept, slope). Inputs all the same
/// size give a flat line at their mean.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx == 0.0 {
        return (mean_y, 0.0);
    }
    let slope = sxy / sxx;
    (mean_y - slope * mean_x, slope)
}

/// A model for each entry point with at least [`MIN_CALLS`] completed
/// calls. `rows` are oldest first.
pub(crate) fn models(rows: &[CallRow]) -> Vec<Model> {
    let mut by_entry: BTreeMap<(&str, String), Vec<&CallRow>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.outcome == Outcome::Ok) {
        by_entry
            .entry((row.plugin.as_str(), row.entry()))
            .or_default()
            .push(row);
    }
    by_entry
        .into_iter()
        .filter(|(_, calls)| calls.len() >= MIN_CALLS)
        .map(|((plugin, entry), calls)| {
            let calls = &calls[calls.len().saturating_sub(WINDOW)..];
            model(plugin, entry, calls)
        })
        .collect()
}

fn model(plugin: &str, entry: String, calls: &[&CallRow]) -> Model {
    // x in KiB, y in ms: the units the model is read in.
    let point = |c: &&CallRow| (c.input_bytes as f64 / 1024.0, ms(c.wall_ns));
    // Every fifth call is held out: spread over the whole window, so a
    // drift in time is in both halves alike, and the same calls are held
    // out every time the report is drawn.
    let (held, fitted): (Vec<_>, Vec<_>) = calls.iter().enumerate().partition(|(i, _)| i % 5 == 4);
    let fitted: Vec<(f64, f64)> = fitted.into_iter().map(|(_, c)| point(c)).collect();
    let held: Vec<(f64, f64)> = held.into_iter().map(|(_, c)| point(c)).collect();
    let (intercept, slope) = fit(&fitted);
    let predict = |x: f64| (intercept + slope * x).max(0.0);
    let errors: Vec<(f64, f64)> = held
        .iter()
        .map(|(x, y)| {
            let off = (predict(*x) - y).abs();
            (off, if *y > 0.0 { off / y } else { 0.0 })
        })
        .collect();
    let n = errors.len().max(1) as f64;
    let mut sizes: Vec<u64> = calls.iter().map(|c| c.input_bytes).collect();
    sizes.sort_unstable();
    let typical = sizes[sizes.len() / 2];
    Model {
        plugin: plugin.to_owned(),
        entry,
        intercept_ms: intercept,
        ms_per_kib: slope,
        fitted_on: fitted.len(),
        held_out: held.len(),
        mae_ms: errors.iter().map(|e| e.0).sum::<f64>() / n,
        mape_percent: 100.0 * errors.iter().map(|e| e.1).sum::<f64>() / n,
        typical_input_bytes: typical,
        typical_prediction_ms: predict(typical as f64 / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use lord_manifest::PluginId;
    use lord_perf::EntryKind;

    use super::*;

    #[test]
    fn a_linear_cost_is_recovered_and_judged_on_calls_it_never_saw() {
        // 1 ms plus 0.5 ms per KiB, with a deterministic wobble of ±2 %.
        let rows: Vec<CallRow> = (0..200u64)
            .map(|i| {
                let bytes = (i % 37) * 1024;
                let wobble = if i % 2 == 0 { 1.02 } else { 0.98 };
                let wall_ms = (1.0 + 0.5 * (bytes / 1024) as f64) * wobble;
                CallRow {
                    at_ms: 1_000 + i,
                    session: 1,
                    plugin: PluginId::new("csv").expect("id"),
                    kind: EntryKind::Micro,
                    name: "parse".to_owned(),
                    outcome: Outcome::Ok,
                    wall_ns: (wall_ms * 1e6) as u64,
                    input_bytes: bytes,
                }
            })
            .collect();
        let models = models(&rows);
        assert_eq!(models.len(), 1);
        let m = &models[0];
        assert_eq!(m.entry, "micro:parse");
        assert_eq!((m.fitted_on, m.held_out), (160, 40));
        assert!((m.ms_per_kib - 0.5).abs() < 0.02, "{m:?}");
        assert!((m.intercept_ms - 1.0).abs() < 0.2, "{m:?}");
        assert!(m.mape_percent < 3.0, "{m:?}");
        assert!((m.predict_ms(10 * 1024) - 6.0).abs() < 0.3);
        // Too few calls: no model.
        assert!(super::models(&rows[..MIN_CALLS - 1]).is_empty());
    }
}
