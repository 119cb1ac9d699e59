//! Alert rules and their evaluation, sample by sample. A rule watches one
//! [`Metric`] for one condition: a threshold (above or below, with a
//! separate clearing level for hysteresis), a rate of change, an anomaly
//! against its own recent history (robust z-score: distance from the
//! median in units of the median absolute deviation, so one spike does
//! not move the baseline), or the absence of data. It must hold for the
//! rule's duration before the alert fires; a firing alert fires once and
//! stays firing, without repeating, until the condition clears (past the
//! clearing level), when it resolves.
//!
//! Pure: time comes in with each sample, so tests drive it with made-up
//! sequences.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metric::Metric;
use crate::snapshot::Snapshot;

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Above `level`; clears below `clear` (default `level`).
    Above { level: f64, clear: f64 },
    /// Below `level`; clears above `clear` (default `level`).
    Below { level: f64, clear: f64 },
    /// Rising faster than `per_second`; clears below `clear`.
    Rate { per_second: f64, clear: f64 },
    /// More than `deviations` robust deviations from the median of the
    /// last [`ANOMALY_WINDOW`] values; clears below `clear`.
    Anomaly { deviations: f64, clear: f64 },
    /// No value at all (the object is gone).
    Absent,
}

/// Values an anomaly rule keeps as its baseline, and how many it needs
/// before judging.
pub const ANOMALY_WINDOW: usize = 60;
pub const ANOMALY_MIN: usize = 10;

/// One alert rule, as `[[monitor.alerts]]` spells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    pub condition: Condition,
    /// How long the condition must hold before it fires.
    pub hold: Duration,
}

/// A rule as configuration writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    metric: String,
    above: Option<f64>,
    below: Option<f64>,
    rate: Option<f64>,
    anomaly: Option<f64>,
    #[serde(default)]
    absent: bool,
    clear: Option<f64>,
    #[serde(rename = "for")]
    hold: Option<String>,
}

/// Reads rules from the `monitor.alerts` array; `parse_duration` reads
/// the `for` field (the caller's, so this crate needs no time parser).
pub fn rules_from(
    value: &serde_json::Value,
    parse_duration: impl Fn(&str) -> Result<Duration, String>,
) -> Result<Vec<Rule>, String> {
    let specs: Vec<Spec> = serde_json::from_value(value.clone()).map_err(|e| {
        format!(
            "monitor.alerts must be a list of rules like {{ name = \"mem\", metric = \
             \"memory.used_percent\", above = 90, clear = 85, for = \"1m\" }}: {e}"
        )
    })?;
    let mut seen = BTreeMap::new();
    specs
        .into_iter()
        .map(|spec| {
            if seen.insert(spec.name.clone(), ()).is_some() {
                return Err(format!("two alert rules are named `{}`", spec.name));
            }
            let metric: Metric = spec.metric.parse()?;
            let conditions = [
                spec.above.map(|level| Condition::Above {
                    level,
                    clear: spec.clear.unwrap_or(level),
                }),
                spec.below.map(|level| Condition::Below {
                    level,
                    clear: spec.clear.unwrap_or(level),
                }),
                spec.rate.map(|per_second| Condition::Rate {
                    per_second,
                    clear: spec.clear.unwrap_or(per_second),
                }),
                spec.anomaly.map(|deviations| Condition::Anomaly {
                    deviations,
                    clear: spec.clear.unwrap_or(deviations),
                }),
                spec.absent.then_some(Condition::Absent),
            ];
            let mut given = conditions.into_iter().flatten();
            let (Some(condition), None) = (given.next(), given.next()) else {
                return Err(format!(
                    "alert `{}` needs exactly one of above, below, rate, anomaly or absent",
                    spec.name
                ));
            };
            let hysteresis_backwards = match condition {
                Condition::Above { level, clear } => clear > level,
                Condition::Below { level, clear } => clear < level,
                Condition::Rate { per_second, clear } => clear > per_second,
                Condition::Anomaly { deviations, clear } => clear > deviations,
                Condition::Absent => false,
            };
            if hysteresis_backwards {
                return Err(format!(
                    "alert `{}`: `clear` must lie on the quiet side of the firing level",
                    spec.name
                ));
            }
            let hold = match &spec.hold {
                Some(text) => {
                    parse_duration(text).map_err(|e| format!("alert `{}`: for: {e}", spec.name))?
                }
                None => Duration::ZERO,
            };
            Ok(Rule {
                name: spec.name,
                metric,
                condition,
                hold,
            })
        })
        .collect()
}

/// Whether an alert is firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// An alert changing state: what notifications and the history carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub rule: String,
    pub metric: String,
    pub state: AlertState,
    pub value: Option<f64>,
    pub at_ms: u64,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Quiet,
    Pending { since_ms: u64 },
    Firing,
}

#[derive(Debug)]
struct Tracked {
    rule: Rule,
    phase: Phase,
    last: Option<(u64, f64)>,
    history: VecDeque<f64>,
}

/// The rules' states across samples.
#[derive(Debug)]
pub struct Evaluator {
    tracked: Vec<Tracked>,
}

/// The median of `values` (not empty); sorts them. Public with
/// [`robust_z`] so plugin analytics judges latency by the same rule.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// How many robust deviations `value` lies from `history`'s median. The
/// MAD is scaled by 1.4826 so it estimates a standard deviation; a flat
/// history (MAD 0) makes any departure infinitely far.
pub fn robust_z(history: &[f64], value: f64) -> f64 {
    let mut values = history.to_vec();
    let centre = median(&mut values);
    let mut deviations: Vec<f64> = history.iter().map(|v| (v - centre).abs()).collect();
    let mad = median(&mut deviations) * 1.4826;
    let distance = (value - centre).abs();
    if mad == 0.0 {
        if distance == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        distance / mad
    }
}

impl Evaluator {
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            tracked: rules
                .into_iter()
                .map(|rule| Tracked {
                    rule,
                    phase: Phase::Quiet,
                    last: None,
                    history: VecDeque::new(),
                })
                .collect(),
        }
    }

    /// Starts `rule` as firing (it was when the last watcher stopped, as
    /// the alert log says), so a restart does not notify it again.
    pub fn resume_firing(&mut self, rule: &str) {
        for t in self.tracked.iter_mut().filter(|t| t.rule.name == rule) {
            t.phase = Phase::Firing;
        }
    }

    /// The rules and whether each is firing now.
    pub fn states(&self) -> Vec<(&Rule, bool)> {
        self.tracked
            .iter()
            .map(|t| (&t.rule, t.phase == Phase::Firing))
            .collect()
    }

    /// Judges one sample; returns the alerts that fired or resolved.
    pub fn observe(&mut self, snapshot: &Snapshot) -> Vec<Transition> {
        let now = snapshot.taken_at_ms;
        self.tracked
            .iter_mut()
            .filter_map(|t| t.observe(now, t.rule.metric.read(snapshot)))
            .collect()
    }
}

impl Tracked {
    fn breached(&mut self, now: u64, value: Option<f64>) -> bool {
        let firing = self.phase == Phase::Firing;
        let pick = |level: f64, clear: f64| if firing { clear } else { level };
        match (&self.rule.condition, value) {
            (Condition::Absent, v) => v.is_none(),
            (Condition::Above { level, clear }, Some(v)) => v > pick(*level, *clear),
            (Condition::Below { level, clear }, Some(v)) => v < pick(*level, *clear),
            (Condition::Rate { per_second, clear }, Some(v)) => {
                let previous = self.last.replace((now, v));
                previous.is_some_and(|(t, before)| {
                    let dt = now.saturating_sub(t) as f64 / 1e3;
                    dt > 0.0 && (v - before) / dt > pick(*per_second, *clear)
                })
            }
            (Condition::Anomaly { deviations, clear }, Some(v)) => {
                let judged = self.history.len() >= ANOMALY_MIN && {
                    let history: Vec<f64> = self.history.iter().copied().collect();
                    robust_z(&history, v) > pick(*deviations, *clear)
                };
                // An anomaly does not become its own baseline while it
                // lasts.
                if !judged {
                    self.history.push_back(v);
                    if self.history.len() > ANOMALY_WINDOW {
                        self.history.pop_front();
                    }
                }
                judged
            }
            (
                Condition::Above { .. }
                | Condition::Below { .. }
                | Condition::Rate { .. }
                | Condition::Anomaly { .. },
                None,
            ) => false,
        }
    }

    fn observe(&mut self, now: u64, value: Option<f64>) -> Option<Transition> {
        let breached = self.breached(now, value);
        let hold_ms = self.rule.hold.as_millis() as u64;
        let (next, change) = match (self.phase, breached) {
            (Phase::Quiet, true) if hold_ms == 0 => (Phase::Firing, Some(AlertState::Firing)),
            (Phase::Quiet, true) => (Phase::Pending { since_ms: now }, None),
            (Phase::Pending { since_ms }, true) if now.saturating_sub(since_ms) >= hold_ms => {
                (Phase::Firing, Some(AlertState::Firing))
            }
            (phase @ (Phase::Pending { .. } | Phase::Firing), true) => (phase, None),
            (Phase::Quiet | Phase::Pending { .. }, false) => (Phase::Quiet, None),
            (Phase::Firing, false) => (Phase::Quiet, Some(AlertState::Resolved)),
        };
        self.phase = next;
        let state = change?;
        let shown = value.map_or_else(|| "no data".to_owned(), |v| format!("{v:.2}"));
        let verb = match state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        Some(Transition {
            rule: self.rule.name.clone(),
            metric: self.rule.metric.to_string(),
            state,
            value,
            at_ms: now,
            summary: format!(
                "{} is {verb}: {} = {shown}",
                self.rule.name, self.rule.metric
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: Condition, hold_ms: u64) -> Tracked {
        Tracked {
            rule: Rule {
                name: "r".into(),
                metric: Metric::CpuPercent,
                condition,
                hold: Duration::from_millis(hold_ms),
            },
            phase: Phase::Quiet,
            last: None,
            history: VecDeque::new(),
        }
    }

    /// Feeds values one second apart; returns the transitions' states by
    /// index.
    fn run(t: &mut Tracked, values: &[Option<f64>]) -> Vec<(usize, AlertState)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| t.observe(i as u64 * 1000, *v).map(|x| (i, x.state)))
            .collect()
    }

    #[test]
    fn a_threshold_fires_once_and_respects_hysteresis() {
        let mut t = rule(
            Condition::Above {
                level: 90.0,
                clear: 80.0,
            },
            0,
        );
        // Crosses 90, wobbles between 80 and 90 (no new alert, no
        // resolution), drops below 80 (resolved), crosses again.
        let v = [50.0, 95.0, 97.0, 85.0, 91.0, 82.0, 79.0, 85.0, 92.0];
        let got = run(&mut t, &v.map(Some));
        assert_eq!(
            got,
            [
                (1, AlertState::Firing),
                (6, AlertState::Resolved),
                (8, AlertState::Firing)
            ]
        );
    }

    #[test]
    fn a_duration_must_pass_before_firing() {
        let mut t = rule(
            Condition::Above {
                level: 90.0,
                clear: 90.0,
            },
            2000,
        );
        let v = [95.0, 95.0, 50.0, 95.0, 95.0, 95.0, 95.0];
        assert_eq!(run(&mut t, &v.map(Some)), [(5, AlertState::Firing)]);
    }

    #[test]
    fn below_rate_and_absence() {
        let mut t = rule(
            Condition::Below {
                level: 10.0,
                clear: 20.0,
            },
            0,
        );
        assert_eq!(
            run(&mut t, &[15.0, 5.0, 15.0, 25.0].map(Some)),
            [(1, AlertState::Firing), (3, AlertState::Resolved)]
        );
        let mut t = rule(
            Condition::Rate {
                per_second: 10.0,
                clear: 10.0,
            },
            0,
        );
        assert_eq!(
            run(&mut t, &[0.0, 5.0, 30.0, 35.0].map(Some)),
            [(2, AlertState::Firing), (3, AlertState::Resolved)]
        );
        let mut t = rule(Condition::Absent, 1000);
        assert_eq!(
            run(&mut t, &[Some(1.0), None, None, Some(1.0)]),
            [(2, AlertState::Firing), (3, AlertState::Resolved)]
        );
    }

    #[test]
    fn an_anomaly_stands_out_from_a_noisy_baseline_and_does_not_shift_it() {
        let mut t = rule(
            Condition::Anomaly {
                deviations: 5.0,
                clear: 3.0,
            },
            0,
        );
        let mut values: Vec<Option<f64>> = (0..30)
            .map(|i| Some(50.0 + f64::from(i % 5) - 2.0))
            .collect();
        values.extend([Some(90.0), Some(91.0), Some(51.0)]);
        assert_eq!(
            run(&mut t, &values),
            [(30, AlertState::Firing), (32, AlertState::Resolved)]
        );
        assert!(t.history.iter().all(|v| *v < 60.0));
        assert!(robust_z(&[1.0, 2.0, 3.0, 4.0, 100.0], 2.5) < 1.0);
    }

    #[test]
    fn rules_are_read_from_configuration_and_mistakes_named() {
        let parse = |t: &str| {
            t.strip_suffix('s')
                .and_then(|n| n.parse().ok())
                .map(Duration::from_secs)
                .ok_or_else(|| "bad".to_owned())
        };
        let value = serde_json::json!([
            {"name": "mem", "metric": "memory.used_percent", "above": 90, "clear": 85, "for": "60s"},
            {"name": "gone", "metric": "filesystem:/data.available", "absent": true}
        ]);
        let rules = rules_from(&value, parse).expect("rules");
        assert_eq!(rules[0].hold, Duration::from_secs(60));
        assert_eq!(
            rules[0].condition,
            Condition::Above {
                level: 90.0,
                clear: 85.0
            }
        );
        for (bad, says) in [
            (
                serde_json::json!([{"name": "x", "metric": "cpu.percent"}]),
                "exactly one",
            ),
            (
                serde_json::json!([{"name": "x", "metric": "cpu.percent", "above": 1, "below": 2}]),
                "exactly one",
            ),
            (
                serde_json::json!([{"name": "x", "metric": "cpu.percent", "above": 90, "clear": 95}]),
                "quiet side",
            ),
            (
                serde_json::json!([{"name": "x", "metric": "cpu.pct", "above": 1}]),
                "not a metric",
            ),
            (
                serde_json::json!([{"name": "x", "metric": "cpu.percent", "above": 1, "colour": 1}]),
                "colour",
            ),
        ] {
            let err = rules_from(&bad, parse).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
