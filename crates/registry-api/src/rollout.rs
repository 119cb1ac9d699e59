//! Staged rollouts of a plugin version across machines: what a publisher
//! starts (`POST /api/v1/rollouts`), what every client reads before it
//! installs or updates (`GET /api/v1/rollouts?plugin=ID`), the ring a
//! machine falls in, and the gate that promotes a rollout ring by ring or
//! rolls it back.
//!
//! A machine's place is a stable hash of its machine id and the rollout's
//! id ([`ring_bucket`]): the same machine lands in the same place every
//! time it asks, and in a different place in another rollout, so the
//! same few machines are not always the canaries. The client works its
//! place out itself; the registry never learns which machine is where.
//!
//! Invariant: rollout state only ever narrows what a client takes. It is
//! served outside the TUF-signed index, so a client uses it to leave
//! signed versions out (or to return to one it had), never to take a
//! version the signed index does not list.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A ring is a share of this many buckets (so a ring's percentage has two
/// decimals of resolution).
pub const RING_BUCKETS: u32 = 10_000;

/// Where `machine` falls in `rollout`: a bucket in `0..RING_BUCKETS`, the
/// same on every machine and in every process.
pub fn ring_bucket(machine: &str, rollout: &str) -> u32 {
    // The rollout first, then a separator no id holds, so "ab"+"c" and
    // "a"+"bc" cannot collide.
    let digest = Sha256::digest(format!("{rollout}\n{machine}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u32::try_from(u64::from_le_bytes(first) % u64::from(RING_BUCKETS)).unwrap_or(0)
}

/// Whether `machine` falls in the first `percent` of `rollout`'s machines.
pub fn in_ring(machine: &str, rollout: &str, percent: u32) -> bool {
    ring_bucket(machine, rollout) < percent.min(100) * (RING_BUCKETS / 100)
}

/// Checks a rollout's rings: one to ten percentages, each 1 to 100,
/// rising, the last 100 (a rollout that never reaches every machine
/// never completes).
pub fn check_rings(rings: &[u32]) -> Result<(), String> {
    if rings.is_empty() || rings.len() > 10 {
        return Err("a rollout has one to ten rings, like `5,25,100`".to_owned());
    }
    if rings.iter().any(|r| !(1..=100).contains(r)) || rings.windows(2).any(|w| w[0] >= w[1]) {
        return Err(
            "rings are rising percentages of machines from 1 to 100, like `5,25,100`".to_owned(),
        );
    }
    if rings.last() != Some(&100) {
        return Err("the last ring must be 100, every machine".to_owned());
    }
    Ok(())
}

/// When a ring's version is good enough to go further, or bad enough to
/// take back. Each threshold is optional; a rollout judges by those set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Runs of the new version, reported since its ring began, before the
    /// gate decides anything (in either direction).
    pub min_runs: u64,
    /// Roll back if the new version's error rate is above this (0.05 is
    /// five percent), whatever the previous version's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// Roll back if its error rate exceeds the previous version's by more
    /// than this (0.02 is two percentage points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_increase: Option<f64>,
    /// Roll back if its p95 latency is above this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<f64>,
    /// Roll back if its p95 latency is above the previous version's times
    /// this (1.5 is half again as slow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_ratio: Option<f64>,
}

impl Default for Gate {
    /// Twenty runs; no more than five points more errors and half again
    /// the latency of the previous version.
    fn default() -> Self {
        Self {
            min_runs: 20,
            max_error_rate: None,
            max_error_increase: Some(0.05),
            max_p95_ms: None,
            max_p95_ratio: Some(1.5),
        }
    }
}

/// What machines reported of one version: runs and failures of its
/// commands, and its p95 latency (runs-weighted over the machines that
/// sent one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub machines: u64,
    pub runs: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_us: Option<u64>,
}

impl Health {
    pub fn error_rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.errors as f64 / self.runs as f64
        }
    }
}

/// What a gate says of a ring.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Too few runs yet: this many more are needed.
    Wait(u64),
    /// The ring held: promote.
    Pass,
    /// The new version regressed, and why: roll back.
    Fail(String),
}

impl Gate {
    /// Checks the thresholds: at least one run, and each threshold given a
    /// number of zero or more.
    pub fn check(&self) -> Result<(), String> {
        if self.min_runs == 0 {
            return Err("a gate needs at least one run to judge (min_runs)".to_owned());
        }
        let thresholds = [
            self.max_error_rate,
            self.max_error_increase,
            self.max_p95_ms,
            self.max_p95_ratio,
        ];
        if thresholds
            .iter()
            .flatten()
            .any(|t| !t.is_finite() || *t < 0.0)
        {
            return Err("a gate's thresholds are numbers of zero or more".to_owned());
        }
        Ok(())
    }

    /// Judges the new version (`canary`, of which `ring_start_runs` runs
    /// came before the current ring) against `previous`. With no runs of
    /// the previous version to compare, its error rate counts as zero and
    /// its latency as unknown.
    pub fn judge(&self, canary: &Health, previous: &Health, ring_start_runs: u64) -> Verdict {
        let fresh = canary.runs.saturating_sub(ring_start_runs);
        if fresh < self.min_runs {
            return Verdict::Wait(self.min_runs - fresh);
        }
        let rate = canary.error_rate();
        let points = |r: f64| r * 100.0;
        if let Some(max) = self.max_error_rate
            && rate > max
        {
            return Verdict::Fail(format!(
                "error rate {:.1}% is above the gate's {:.1}%",
                points(rate),
                points(max)
            ));
        }
        let before = previous.error_rate();
        if let Some(max) = self.max_error_increase
            && rate > before + max
        {
            return Verdict::Fail(format!(
                "error rate {:.1}% exceeds the previous version's {:.1}% by more than {:.1} points",
                points(rate),
                points(before),
                points(max)
            ));
        }
        if let (Some(max), Some(p95)) = (self.max_p95_ms, canary.p95_us)
            && p95 as f64 > max * 1000.0
        {
            return Verdict::Fail(format!(
                "p95 latency {:.1} ms is above the gate's {max} ms",
                p95 as f64 / 1000.0
            ));
        }
        if let (Some(ratio), Some(p95), Some(old)) =
            (self.max_p95_ratio, canary.p95_us, previous.p95_us)
            && p95 as f64 > old as f64 * ratio
        {
            return Verdict::Fail(format!(
                "p95 latency {:.1} ms is more than {ratio} times the previous version's {:.1} ms",
                p95 as f64 / 1000.0,
                old as f64 / 1000.0
            ));
        }
        Verdict::Pass
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutState {
    /// Machines in the current ring take the version; others do not.
    InProgress,
    /// Every machine takes the version.
    Complete,
    /// The gate failed: no machine takes the version, and those that took
    /// it return to the previous one.
    RolledBack,
    /// Stopped by the publisher: as rolled back.
    Aborted,
}

impl RolloutState {
    /// Whether the version is withdrawn from every machine.
    pub fn withdrawn(self) -> bool {
        match self {
            Self::RolledBack | Self::Aborted => true,
            Self::InProgress | Self::Complete => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in-progress",
            Self::Complete => "complete",
            Self::RolledBack => "rolled-back",
            Self::Aborted => "aborted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Complete,
            Self::RolledBack,
            Self::Aborted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One rollout as the registry keeps and serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutInfo {
    /// `PLUGIN-VERSION-N`: the Nth rollout of that version.
    pub id: String,
    pub plugin: String,
    pub version: String,
    /// The version machines outside the ring keep, and those that took
    /// this one return to if it is rolled back.
    pub previous: Option<String>,
    /// Percentages of machines, rising to 100.
    pub rings: Vec<u32>,
    /// The current ring's index in `rings`.
    pub ring: usize,
    pub gate: Gate,
    pub state: RolloutState,
    /// Why it was rolled back or aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Runs of the new version reported before the current ring began.
    pub ring_start_runs: u64,
    pub started_ms: i64,
    pub updated_ms: i64,
    /// What machines reported of the new version and of the previous one.
    pub canary: Health,
    pub baseline: Health,
}

impl RolloutInfo {
    /// The share of machines that take the version now.
    pub fn share(&self) -> u32 {
        match self.state {
            RolloutState::InProgress => self.rings.get(self.ring).copied().unwrap_or(100),
            RolloutState::Complete => 100,
            RolloutState::RolledBack | RolloutState::Aborted => 0,
        }
    }

    /// Whether `machine` may take this rollout's version now.
    pub fn admits(&self, machine: &str) -> bool {
        match self.state {
            RolloutState::Complete => true,
            RolloutState::InProgress => in_ring(machine, &self.id, self.share()),
            RolloutState::RolledBack | RolloutState::Aborted => false,
        }
    }
}

/// The body of `POST /api/v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStart {
    pub plugin: String,
    pub version: String,
    pub rings: Vec<u32>,
    #[serde(default)]
    pub gate: Gate,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked out apart from this code (Python's hashlib).
    const PINNED: u32 = 3295;

    #[test]
    fn a_machines_bucket_is_stable_and_differs_per_rollout() {
        let a = ring_bucket("3f2a9c0d11e04b7a", "hello-1.1.0-1");
        assert_eq!(a, ring_bucket("3f2a9c0d11e04b7a", "hello-1.1.0-1"));
        // Pinned: a change of hash would move every machine between rings.
        assert_eq!(a, PINNED);
        let moved = (0..200)
            .filter(|n| {
                let machine = format!("machine-{n:04}");
                ring_bucket(&machine, "hello-1.1.0-1") != ring_bucket(&machine, "hello-1.2.0-1")
            })
            .count();
        assert!(moved > 190, "{moved} of 200 moved");
    }

    /// Ten thousand machine ids fill each ring within a few percent of
    /// its share, and each decile of buckets about evenly.
    #[test]
    fn rings_are_roughly_uniform() {
        let machines: Vec<String> = (0..10_000).map(|n| format!("{n:032x}")).collect();
        for percent in [1, 5, 25, 50, 100] {
            let inside = machines
                .iter()
                .filter(|m| in_ring(m, "tally-2.0.0-1", percent))
                .count() as f64;
            let expected = f64::from(percent) * 100.0;
            // Four standard deviations of a binomial, at least 40.
            let slack = (4.0 * (expected * (1.0 - f64::from(percent) / 100.0)).sqrt()).max(40.0);
            assert!(
                (inside - expected).abs() <= slack,
                "{percent}%: {inside} machines, expected {expected} ± {slack:.0}"
            );
        }
        let mut deciles = [0u32; 10];
        for m in &machines {
            deciles[(ring_bucket(m, "x-1.0.0-1") / 1000) as usize] += 1;
        }
        assert!(
            deciles.iter().all(|d| (880..=1120).contains(d)),
            "{deciles:?}"
        );
        // Rings nest: a machine in 5% is in 25%.
        assert!(
            machines
                .iter()
                .all(|m| !in_ring(m, "r", 5) || in_ring(m, "r", 25))
        );
    }

    #[test]
    fn rings_rise_to_every_machine() {
        assert!(check_rings(&[5, 25, 100]).is_ok());
        assert!(check_rings(&[100]).is_ok());
        assert!(check_rings(&[]).is_err());
        assert!(check_rings(&[25, 5, 100]).is_err());
        assert!(check_rings(&[5, 5, 100]).is_err());
        assert!(check_rings(&[5, 50]).is_err());
        assert!(check_rings(&[0, 100]).is_err());
    }

    fn health(runs: u64, errors: u64, p95_us: Option<u64>) -> Health {
        Health {
            machines: 1,
            runs,
            errors,
            p95_us,
        }
    }

    #[test]
    fn the_gate_waits_for_its_sample_then_passes_or_fails() {
        let gate = Gate {
            min_runs: 10,
            ..Gate::default()
        };
        let old = health(100, 1, Some(1_000));
        assert_eq!(gate.judge(&health(4, 4, None), &old, 0), Verdict::Wait(6));
        // Runs from before the ring do not count towards this one.
        assert_eq!(gate.judge(&health(14, 0, None), &old, 10), Verdict::Wait(6));
        assert_eq!(
            gate.judge(&health(10, 0, Some(1_200)), &old, 0),
            Verdict::Pass
        );
        match gate.judge(&health(10, 3, Some(1_000)), &old, 0) {
            Verdict::Fail(reason) => assert!(reason.contains("error rate 30.0%"), "{reason}"),
            other @ (Verdict::Wait(_) | Verdict::Pass) => panic!("{other:?}"),
        }
        match gate.judge(&health(10, 0, Some(2_000)), &old, 0) {
            Verdict::Fail(reason) => assert!(reason.contains("p95 latency"), "{reason}"),
            other @ (Verdict::Wait(_) | Verdict::Pass) => panic!("{other:?}"),
        }
        // Absolute thresholds need no previous version.
        let absolute = Gate {
            min_runs: 5,
            max_error_rate: Some(0.1),
            max_error_increase: None,
            max_p95_ms: Some(50.0),
            max_p95_ratio: None,
        };
        let none = Health::default();
        assert_eq!(
            absolute.judge(&health(5, 0, Some(40_000)), &none, 0),
            Verdict::Pass
        );
        assert!(matches!(
            absolute.judge(&health(5, 0, Some(60_000)), &none, 0),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            absolute.judge(&health(5, 1, None), &none, 0),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn a_gate_needs_runs_and_thresholds_of_zero_or_more() {
        assert!(Gate::default().check().is_ok());
        let no_runs = Gate {
            min_runs: 0,
            ..Gate::default()
        };
        assert!(no_runs.check().is_err());
        let negative = Gate {
            max_p95_ms: Some(-1.0),
            ..Gate::default()
        };
        assert!(negative.check().is_err());
    }

    #[test]
    fn a_rollout_admits_by_state_and_ring() {
        let mut rollout = RolloutInfo {
            id: "hello-1.1.0-1".to_owned(),
            plugin: "hello".to_owned(),
            version: "1.1.0".to_owned(),
            previous: Some("1.0.0".to_owned()),
            rings: vec![5, 25, 100],
            ring: 0,
            gate: Gate::default(),
            state: RolloutState::InProgress,
            reason: None,
            ring_start_runs: 0,
            started_ms: 0,
            updated_ms: 0,
            canary: Health::default(),
            baseline: Health::default(),
        };
        let machines: Vec<String> = (0..1000).map(|n| format!("m{n}")).collect();
        let admitted = |r: &RolloutInfo| machines.iter().filter(|m| r.admits(m)).count();
        let first = admitted(&rollout);
        assert!((20..=80).contains(&first), "{first}");
        rollout.ring = 2;
        assert_eq!(admitted(&rollout), 1000);
        rollout.state = RolloutState::RolledBack;
        assert_eq!(admitted(&rollout), 0);
        rollout.state = RolloutState::Complete;
        assert_eq!(admitted(&rollout), 1000);
        assert_eq!(
            RolloutState::parse("rolled-back"),
            Some(RolloutState::RolledBack)
        );
    }
}
