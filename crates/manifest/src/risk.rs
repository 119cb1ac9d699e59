//! Risk levels: how much harm a plugin could do with what it asks for.
//!
//! A plugin's risk is always derived from its permissions, never declared,
//! so a manifest cannot understate it.

use std::fmt;
use std::str::FromStr;

use crate::permission::Permission;

/// How dangerous a permission (or a whole plugin) is; ordered from least to
/// most dangerous so that `max` gives the overall level.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Touches only the plugin's own things or harmless host facts.
    #[default]
    Low,
    /// Reads the user's data or configuration.
    Medium,
    /// Changes the user's data or reaches the outside world.
    High,
    /// Can do anything the user can (run programs, talk to any host).
    Critical,
}

impl RiskLevel {
    /// Every level, from lowest to highest.
    pub const ALL: [RiskLevel; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lowercase name: `low`, `medium`, `high` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no risk level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown risk level `{0}`; expected one of: low, medium, high, critical")]
pub struct RiskLevelError(pub String);

impl FromStr for RiskLevel {
    type Err = RiskLevelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == text)
            .ok_or_else(|| RiskLevelError(text.to_owned()))
    }
}

/// The overall risk of a set of permissions: the highest single risk, or
/// [`RiskLevel::Low`] when nothing is requested.
pub fn derive_risk(perms: &[Permission]) -> RiskLevel {
    perms
        .iter()
        .map(Permission::risk)
        .max()
        .unwrap_or(RiskLevel::Low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(perms: &[&str], expected: RiskLevel) {
        let perms: Vec<Permission> = perms.iter().map(|p| p.parse().unwrap()).collect();
        assert_eq!(derive_risk(&perms), expected, "permissions {perms:?}");
    }

    #[test]
    fn derived_risk_is_the_maximum() {
        let cases: &[(&[&str], RiskLevel)] = &[
            (&[], RiskLevel::Low),
            (&["tty", "sys-metrics"], RiskLevel::Low),
            (&["tty", "fs-read($PROJECT)"], RiskLevel::Medium),
            (&["env(HOME)", "fs-write($PROJECT/out)"], RiskLevel::High),
            (
                &["net(example.com)", "exec(git)", "tty"],
                RiskLevel::Critical,
            ),
            (&["net(*:443)"], RiskLevel::Critical),
        ];
        for (perms, expected) in cases {
            check(perms, *expected);
        }
    }

    #[test]
    fn ordering_display_and_parse() {
        assert!(RiskLevel::Low < RiskLevel::Medium);
        assert!(RiskLevel::High < RiskLevel::Critical);
        for level in RiskLevel::ALL {
            assert_eq!(level.to_string().parse::<RiskLevel>(), Ok(level));
        }
        assert_eq!(
            "severe".parse::<RiskLevel>().unwrap_err().to_string(),
            "unknown risk level `severe`; expected one of: low, medium, high, critical"
        );
        assert_eq!(
            serde_json::to_string(&RiskLevel::Critical).unwrap(),
            "\"critical\""
        );
    }
}
