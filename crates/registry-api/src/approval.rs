//! Approval workflows: the steps a version passes before a registry calls
//! it approved (`security`, then `legal`, ...), each with who may review
//! it, how many approvals it needs, and what the server checks before it
//! lets the step pass; and a request for one version going through them.
//!
//! The operator sets a [`Workflow`] per plugin (or `*` for every plugin
//! without one of its own); a publisher submits a version
//! ([`ApprovalSubmit`]); reviewers approve or reject ([`ApprovalReview`]);
//! anyone reads the state ([`ApprovalInfo`]) — an install that policy
//! says must be approved reads it too.
//!
//! Invariant: approval state is served outside the TUF-signed index, so a
//! client uses it only to refuse a version, never to take one the signed
//! index does not list.

use serde::{Deserialize, Serialize};

/// The scan severities a criterion may name, mildest first (as `lord
/// scan` ranks them).
pub const SEVERITIES: [&str; 4] = ["note", "warning", "error", "critical"];

/// The most steps a workflow may have.
pub const MAX_STEPS: usize = 10;

/// An approval workflow: the steps, in order, and how long a request may
/// stay undecided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// The plugin this workflow governs, or `*` for every plugin without
    /// a workflow of its own.
    pub plugin: String,
    /// Seconds from submission after which an undecided request expires.
    pub timeout_secs: u64,
    pub steps: Vec<Step>,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its name, like `security`; a token with scope `review:NAME` may
    /// review it.
    pub name: String,
    /// Accounts (token names) that may review this step, beside tokens
    /// with scope `review:NAME` or `review:*`.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// How many distinct reviewers must approve.
    pub quorum: u32,
    #[serde(default)]
    pub criteria: Criteria,
}

/// What the server checks before a step may pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    /// The publish-time scan must have no finding at or above this
    /// severity (one of [`SEVERITIES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_below: Option<String>,
    /// The package must be signed by its publisher.
    #[serde(default)]
    pub signed: bool,
    /// No advisory the registry holds may affect the version.
    #[serde(default)]
    pub no_advisories: bool,
}

impl Workflow {
    /// Checks what the server cannot take: no steps, a zero quorum or
    /// timeout, a step name twice, an unknown severity.
    pub fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(format!(
                "a workflow needs from 1 to {MAX_STEPS} steps; this one has {}",
                self.steps.len()
            ));
        }
        if self.timeout_secs == 0 {
            return Err("timeout_secs must be at least 1".to_owned());
        }
        for (i, step) in self.steps.iter().enumerate() {
            let fine = !step.name.is_empty()
                && step.name.len() <= 64
                && step
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !fine {
                return Err(format!(
                    "step name `{}` must be 1 to 64 lowercase letters, digits or `-`",
                    step.name
                ));
            }
            if self.steps[..i].iter().any(|s| s.name == step.name) {
                return Err(format!("step `{}` appears twice", step.name));
            }
            if step.quorum == 0 {
                return Err(format!("step `{}` needs a quorum of at least 1", step.name));
            }
            if let Some(severity) = &step.criteria.scan_below
                && !SEVERITIES.contains(&severity.as_str())
            {
                return Err(format!(
                    "step `{}`: scan_below `{severity}` is not one of {}",
                    step.name,
                    SEVERITIES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// `POST /api/v1/approvals`: submit a published version for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSubmit {
    pub plugin: String,
    pub version: String,
}

/// `POST /api/v1/approvals/{id}/review`: one reviewer's verdict on the
/// request's current step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalReview {
    pub approve: bool,
    #[serde(default)]
    pub comment: String,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Rejected, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One reviewer's verdict, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub step: String,
    pub reviewer: String,
    pub approve: bool,
    pub comment: String,
    pub at_ms: i64,
}

/// A request for one version's approval, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalInfo {
    /// Like `hello-1.0.0-1`.
    pub id: String,
    pub plugin: String,
    pub version: String,
    pub state: ApprovalState,
    /// The step under review (the number of steps passed).
    pub step: usize,
    /// The workflow as it was when the request was submitted.
    pub workflow: Workflow,
    pub submitted_by: String,
    pub submitted_ms: i64,
    /// When an undecided request expires.
    pub deadline_ms: i64,
    /// When it was approved, rejected or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_ms: Option<i64>,
    /// Why it was rejected or expired, or why a step could not pass yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every verdict, oldest first.
    pub decisions: Vec<Decision>,
}

impl ApprovalInfo {
    /// Whether `version` of `plugin` is approved, from the requests a
    /// registry holds: true only when its newest request is approved.
    pub fn approved(all: &[ApprovalInfo], plugin: &str, version: &str) -> bool {
        all.iter()
            .filter(|a| a.plugin == plugin && a.version == version)
            .max_by_key(|a| (a.submitted_ms, a.id.clone()))
            .is_some_and(|a| a.state == ApprovalState::Approved)
    }
}
