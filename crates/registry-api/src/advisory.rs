//! Security advisories in the Open Source Vulnerability format (OSV,
//! <https://ossf.github.io/osv-schema/>), as the registry stores and serves
//! them and as `lord scan` reads them: one [`Advisory`] per vulnerability,
//! with the plugins and versions it affects.
//!
//! Only the fields lord reads are typed; the registry keeps and serves each
//! advisory's text as it was added, so fields outside this subset (credits,
//! `ecosystem_specific`) reach every client unchanged.

use serde::{Deserialize, Serialize};

/// The OSV ecosystem name of lord's plugins: an advisory's `affected`
/// entries name a plugin as `{"ecosystem": "lord", "name": "ID"}`.
pub const ECOSYSTEM: &str = "lord";

/// One OSV advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// Its id (`LORD-2026-0001`, `GHSA-...`, `CVE-...`).
    pub id: String,
    /// When it last changed (RFC 3339).
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when it was withdrawn: it then affects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Where GitHub's advisories (and lord's) say `{"severity": "HIGH"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// A scored severity (`CVSS_V3` and its vector, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// One affected package and the versions of it affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Affected versions listed one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A range of affected versions, as events in version order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// `SEMVER` (the only kind lord's versions use), `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<Event>,
}

/// One event of a range: exactly one of its fields is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// What `GET /api/v1/advisories?package=ID` answers: the shape of OSV's
/// own query API (`{"vulns": [...]}`), so OSV tools read it as is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdvisoryList {
    #[serde(default)]
    pub vulns: Vec<Advisory>,
}

impl Advisory {
    /// The lord plugins it names.
    pub fn plugins(&self) -> impl Iterator<Item = &str> {
        self.affected
            .iter()
            .filter_map(|a| a.package.as_ref())
            .filter(|p| p.ecosystem == ECOSYSTEM)
            .map(|p| p.name.as_str())
    }

    /// Whether it affects `version` of plugin `id`: listed in `versions`,
    /// or inside a `SEMVER` or `ECOSYSTEM` range, evaluated as the OSV schema says (events
    /// in version order; `introduced` opens, `fixed` closes at that
    /// version, `last_affected` closes after it). A withdrawn advisory
    /// affects nothing.
    pub fn affects(&self, id: &str, version: &semver::Version) -> bool {
        if self.withdrawn.is_some() {
            return false;
        }
        self.affected.iter().any(|affected| {
            let named = affected
                .package
                .as_ref()
                .is_some_and(|p| p.ecosystem == ECOSYSTEM && p.name == id);
            named
                && (affected
                    .versions
                    .iter()
                    .any(|v| semver::Version::parse(v).is_ok_and(|v| &v == version))
                    || affected
                        .ranges
                        .iter()
                        .filter(|r| r.is_versioned())
                        .any(|r| in_range(&r.events, version)))
        })
    }

    /// The severity the advisory gives itself, in words GitHub's and lord's
    /// advisories use (`database_specific.severity`: `LOW`, `MODERATE`,
    /// `HIGH`, `CRITICAL`), if any.
    pub fn stated_severity(&self) -> Option<&str> {
        self.database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(serde_json::Value::as_str)
    }

    /// Checks what the registry needs before storing it: an id of safe
    /// characters, a modification time, and at least one lord plugin named
    /// with valid versions and ranges.
    pub fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 128
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !id_ok {
            return Err(format!(
                "`{}` is not an advisory id: use letters, digits, `-`, `_`, `.` and `:`, up to 128",
                self.id
            ));
        }
        if self.modified.is_empty() {
            return Err("the advisory has no `modified` time".to_owned());
        }
        if self.plugins().next().is_none() {
            return Err(format!(
                "the advisory names no plugin: add an `affected` entry with \
                 {{\"package\": {{\"ecosystem\": \"{ECOSYSTEM}\", \"name\": \"ID\"}}}}"
            ));
        }
        for affected in &self.affected {
            for v in &affected.versions {
                semver::Version::parse(v)
                    .map_err(|e| format!("`{v}` in `versions` is not a version: {e}"))?;
            }
            for range in affected.ranges.iter().filter(|r| r.is_versioned()) {
                for event in &range.events {
                    for v in [&event.introduced, &event.fixed, &event.last_affected]
                        .into_iter()
                        .flatten()
                        .filter(|v| v.as_str() != "0")
                    {
                        semver::Version::parse(v).map_err(|e| {
                            format!("`{v}` in a SEMVER range is not a version: {e}")
                        })?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Range {
    /// Whether its events are versions of the plugin: `SEMVER`, and
    /// `ECOSYSTEM` (lord's ecosystem orders versions by semver too); a
    /// `GIT` range names commits, which a published version does not have.
    fn is_versioned(&self) -> bool {
        self.kind == "SEMVER" || self.kind == "ECOSYSTEM"
    }
}

/// OSV's range evaluation over one range's events.
fn in_range(events: &[Event], version: &semver::Version) -> bool {
    let at = |v: &str| {
        if v == "0" {
            Some(semver::Version::new(0, 0, 0))
        } else {
            semver::Version::parse(v).ok()
        }
    };
    let mut sorted: Vec<(semver::Version, &Event)> = events
        .iter()
        .filter_map(|e| {
            let v = e
                .introduced
                .as_deref()
                .or(e.fixed.as_deref())
                .or(e.last_affected.as_deref())?;
            Some((at(v)?, e))
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut affected = false;
    for (at, event) in sorted {
        if event.introduced.is_some() && *version >= at {
            affected = true;
        } else if (event.fixed.is_some() && *version >= at)
            || (event.last_affected.is_some() && *version > at)
        {
            affected = false;
        }
    }
    affected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(json: serde_json::Value) -> Advisory {
        serde_json::from_value(json).expect("an advisory")
    }

    #[test]
    fn ranges_open_at_introduced_and_close_at_fixed_or_after_last_affected() {
        let a = advisory(serde_json::json!({
            "id": "LORD-1", "modified": "2026-01-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "lord", "name": "notes"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0.0"}, {"last_affected": "2.1.0"}]},
                    {"type": "GIT", "repo": "https://example.org/notes", "events": [{"introduced": "4.0.0"}]}
                ],
                "versions": ["3.0.0"]
            }]
        }));
        let affects = |v: &str| a.affects("notes", &semver::Version::parse(v).expect("v"));
        assert!(affects("0.1.0"));
        assert!(affects("1.1.9"));
        assert!(!affects("1.2.0"));
        assert!(affects("2.0.0"));
        assert!(affects("2.1.0"));
        assert!(!affects("2.1.1"));
        assert!(affects("3.0.0"));
        assert!(!affects("4.0.0"), "a GIT range names commits, not versions");
        assert!(!a.affects("other", &semver::Version::new(0, 1, 0)));
        assert!(a.check().is_ok());
    }

    #[test]
    fn a_withdrawn_advisory_affects_nothing_and_a_bad_one_is_refused() {
        let mut a = advisory(serde_json::json!({
            "id": "LORD-2", "modified": "2026-01-01T00:00:00Z", "withdrawn": "2026-02-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "lord", "name": "notes"}, "versions": ["1.0.0"]}]
        }));
        assert!(!a.affects("notes", &semver::Version::new(1, 0, 0)));
        a.id = "../etc".to_owned();
        assert!(a.check().is_err());
        a.id = "LORD-2".to_owned();
        a.affected[0].versions = vec!["one".to_owned()];
        assert!(a.check().is_err());
        a.affected.clear();
        assert!(a.check().unwrap_err().contains("names no plugin"));
    }
}
