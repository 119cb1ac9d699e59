//! The harness's results: which suite, how each case ended, the
//! performance table, and the report as text for people.

use std::time::Duration;

use lord_manifest::PluginId;
use serde::Serialize;

use crate::report::foreign;

/// Which suite a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Unit,
    Integration,
    Security,
    Performance,
    Property,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Unit => "unit",
            Suite::Integration => "integration",
            Suite::Security => "security",
            Suite::Performance => "performance",
            Suite::Property => "property",
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed(String),
    /// Not run, and why (e.g. nothing to withhold).
    Skipped(String),
}

/// A performance case's measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Perf {
    pub iterations: u32,
    pub p50_ms: f64,
    pub max_ms: f64,
    pub peak_mib: f64,
    pub budget_ms: Option<u64>,
    pub budget_mib: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub suite: Suite,
    pub name: String,
    pub outcome: Outcome,
    #[serde(serialize_with = "millis")]
    pub took: Duration,
    pub perf: Option<Perf>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Everything one run found.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub plugin: PluginId,
    pub results: Vec<CaseResult>,
    #[serde(serialize_with = "millis")]
    pub took: Duration,
}

impl TestReport {
    pub fn failed(&self) -> impl Iterator<Item = &CaseResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
    }

    pub fn passed(&self) -> bool {
        self.failed().next().is_none()
    }

    /// A readable report: each case, the performance table, a summary.
    /// Case names and reasons come from the plugin (its cases file, its
    /// own errors), so they are shown escaped, never obeyed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let ms = r.took.as_secs_f64() * 1000.0;
            let name = foreign(&r.name);
            match &r.outcome {
                Outcome::Passed => {
                    out.push_str(&format!(
                        "ok    {:<11} {name} ({ms:.1} ms)\n",
                        r.suite.as_str(),
                    ));
                }
                Outcome::Failed(reason) => {
                    out.push_str(&format!(
                        "FAIL  {:<11} {name}\n      {}\n",
                        r.suite.as_str(),
                        foreign(reason)
                    ));
                }
                Outcome::Skipped(why) => {
                    out.push_str(&format!(
                        "skip  {:<11} {name} ({})\n",
                        r.suite.as_str(),
                        foreign(why)
                    ));
                }
            }
        }
        let perf: Vec<&CaseResult> = self.results.iter().filter(|r| r.perf.is_some()).collect();
        if !perf.is_empty() {
            out.push_str(
                "\nperformance        calls   p50 ms   max ms  budget ms  peak MiB  budget MiB\n",
            );
            for r in perf {
                if let Some(p) = &r.perf {
                    let budget =
                        |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| b.to_string());
                    out.push_str(&format!(
                        "{:<18} {:>5} {:>8.2} {:>8.2} {:>10} {:>9.2} {:>11}\n",
                        truncate(&foreign(&r.name), 18),
                        p.iterations,
                        p.p50_ms,
                        p.max_ms,
                        budget(p.budget_ms),
                        p.peak_mib,
                        budget(p.budget_mib)
                    ));
                }
            }
        }
        let count =
            |want: fn(&Outcome) -> bool| self.results.iter().filter(|r| want(&r.outcome)).count();
        let failed = count(|o| matches!(o, Outcome::Failed(_)));
        out.push_str(&format!(
            "\n{}: {} passed, {failed} failed, {} skipped in {:.1} s\n",
            self.plugin,
            count(|o| matches!(o, Outcome::Passed)),
            count(|o| matches!(o, Outcome::Skipped(_))),
            self.took.as_secs_f64()
        ));
        if failed > 0 {
            let names: Vec<String> = self
                .failed()
                .map(|r| format!("{}: {}", r.suite.as_str(), foreign(&r.name)))
                .collect();
            out.push_str(&format!("failed: {}\n", names.join("; ")));
        }
        out
    }
}

pub(super) fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width - 1).collect();
    short.push('…');
    short
}
