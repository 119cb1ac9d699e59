//! Approval workflows and the requests going through them, written once
//! for both backends through [`Sql`].
//!
//! A workflow is kept as its JSON by the plugin it governs (`*` for the
//! rest). A request copies the workflow it was submitted under, so an
//! operator's later change does not move the goalposts of a request in
//! flight; its verdicts sit in `approval_decisions`, one per reviewer and
//! step. An undecided request past its deadline is expired: that is
//! derived from its deadline whenever it is read (so no sweep is needed),
//! and a review of it is refused.
//!
//! Invariant: a review reads its request under a lock and records the
//! verdict and the move it causes in one transaction, so two reviewers
//! approving together cannot both pass the step with one approval short.

use super::portable::{Sql, Val};
use super::{Db, now_ms};
use crate::error::RegistryError;
use lord_registry_api::{ApprovalInfo, ApprovalReview, ApprovalState, Decision, Workflow};

/// Step of both schemas that adds these tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE approval_workflows (
    plugin TEXT PRIMARY KEY,       -- a plugin id, or '*'
    workflow TEXT NOT NULL,        -- JSON, lord_registry_api::Workflow
    updated_ms BIGINT NOT NULL
);
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    plugin_id TEXT NOT NULL,
    version TEXT NOT NULL,
    workflow TEXT NOT NULL,        -- JSON, the workflow as submitted under
    step BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    decided_ms BIGINT NOT NULL     -- 0 while undecided
);
CREATE INDEX approvals_by_plugin ON approvals(plugin_id, version);
CREATE TABLE approval_decisions (
    approval_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    reviewer TEXT NOT NULL,
    approve BIGINT NOT NULL,
    comment TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (approval_id, step, reviewer)
);
";

const COLUMNS: &str = "id, plugin_id, version, workflow, step, state, reason, submitted_by, \
                       submitted_ms, deadline_ms, decided_ms";

/// What the server found of a version, for the criteria of a step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    /// Whether the package carries its publisher's signature.
    pub(crate) signed: bool,
    /// The severities of the publish-time scan's findings; `None` when
    /// the version has no recorded scan.
    pub(crate) scan: Option<Vec<String>>,
    /// The advisories that affect the version.
    pub(crate) advisories: Vec<String>,
}

impl Evidence {
    /// Why `step`'s criteria do not hold, if they do not.
    fn fails(&self, step: &lord_registry_api::Step) -> Option<String> {
        let criteria = &step.criteria;
        if criteria.signed && !self.signed {
            return Some("the package is not signed".to_owned());
        }
        if criteria.no_advisories && !self.advisories.is_empty() {
            return Some(format!(
                "advisories affect this version: {}",
                self.advisories.join(", ")
            ));
        }
        if let Some(limit) = &criteria.scan_below {
            let rank = |s: &str| lord_registry_api::SEVERITIES.iter().position(|x| *x == s);
            let Some(scan) = &self.scan else {
                return Some("the version has no publish-time scan to check".to_owned());
            };
            let bad = scan.iter().filter(|s| rank(s) >= rank(limit)).count();
            if bad > 0 {
                return Some(format!(
                    "its publish-time scan has {bad} finding(s) at or above `{limit}`"
                ));
            }
        }
        None
    }
}

fn read(sql: &mut dyn Sql, row: &[Val]) -> Result<ApprovalInfo, RegistryError> {
    let id = row[0].text();
    let workflow: Workflow = serde_json::from_str(&row[3].text()).map_err(|e| {
        RegistryError::Internal(format!("approval {id} has an unreadable workflow: {e}"))
    })?;
    let state = ApprovalState::parse(&row[5].text()).ok_or_else(|| {
        RegistryError::Internal(format!(
            "approval {id} has an unknown state `{}`",
            row[5].text()
        ))
    })?;
    let decisions = sql
        .rows(
            "SELECT step, reviewer, approve, comment, at_ms FROM approval_decisions
             WHERE approval_id = $1 ORDER BY at_ms, step, reviewer",
            &[id.as_str().into()],
        )?
        .into_iter()
        .map(|d| Decision {
            step: usize::try_from(d[0].int())
                .ok()
                .and_then(|i| workflow.steps.get(i))
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            reviewer: d[1].text(),
            approve: d[2].int() != 0,
            comment: d[3].text(),
            at_ms: d[4].int(),
        })
        .collect();
    let mut info = ApprovalInfo {
        plugin: row[1].text(),
        version: row[2].text(),
        workflow,
        step: usize::try_from(row[4].int()).unwrap_or(0),
        state,
        reason: Some(row[6].text()).filter(|r| !r.is_empty()),
        submitted_by: row[7].text(),
        submitted_ms: row[8].int(),
        deadline_ms: row[9].int(),
        decided_ms: Some(row[10].int()).filter(|d| *d != 0),
        decisions,
        id,
    };
    expire(&mut info, now_ms());
    Ok(info)
}

/// Marks `info` expired when it is undecided past its deadline.
fn expire(info: &mut ApprovalInfo, now: i64) {
    if info.state == ApprovalState::Pending && now >= info.deadline_ms {
        info.state = ApprovalState::Expired;
        info.decided_ms = Some(info.deadline_ms);
        info.reason = Some(format!(
            "not decided within {} s of its submission",
            info.workflow.timeout_secs
        ));
    }
}

fn write(sql: &mut dyn Sql, info: &ApprovalInfo) -> Result<(), RegistryError> {
    sql.exec(
        "UPDATE approvals SET step = $2, state = $3, reason = $4, decided_ms = $5 WHERE id = $1",
        &[
            info.id.as_str().into(),
            i64::try_from(info.step).unwrap_or(0).into(),
            info.state.as_str().into(),
            info.reason.clone().unwrap_or_default().into(),
            info.decided_ms.unwrap_or(0).into(),
        ],
    )?;
    Ok(())
}

fn lock_clause(sql: &dyn Sql) -> &'static str {
    if sql.is_postgres() { " FOR UPDATE" } else { "" }
}

impl Db {
    /// Sets the workflow of `workflow.plugin` (`*` for every plugin
    /// without one); whether it replaced one.
    pub fn set_workflow(&self, workflow: &Workflow) -> Result<bool, RegistryError> {
        workflow.check().map_err(RegistryError::BadRequest)?;
        if workflow.plugin != "*" {
            crate::server::check_id(&workflow.plugin)?;
        }
        let text = serde_json::to_string(workflow)
            .map_err(|e| RegistryError::Internal(format!("unwritable workflow: {e}")))?;
        let plugin = workflow.plugin.clone();
        super::community::transaction(self, move |sql| {
            let replaced = sql.exec(
                "DELETE FROM approval_workflows WHERE plugin = $1",
                &[plugin.as_str().into()],
            )? > 0;
            sql.exec(
                "INSERT INTO approval_workflows (plugin, workflow, updated_ms) VALUES ($1, $2, $3)",
                &[plugin.into(), text.into(), now_ms().into()],
            )?;
            Ok(replaced)
        })
    }

    /// Submits `plugin` `version` (published and live) for approval under
    /// the workflow that governs it. Refused while a request of the same
    /// version is pending.
    pub fn submit_approval(
        &self,
        plugin: &str,
        version: &str,
        by: &str,
    ) -> Result<ApprovalInfo, RegistryError> {
        let (plugin, version, by) = (plugin.to_owned(), version.to_owned(), by.to_owned());
        super::community::transaction(self, move |sql| {
            let live = sql.rows(
                "SELECT yanked FROM versions WHERE plugin_id = $1 AND version = $2",
                &[plugin.as_str().into(), version.as_str().into()],
            )?;
            if live.first().is_none_or(|r| r[0].int() != 0) {
                return Err(RegistryError::NotFound(format!(
                    "{plugin} {version} is not published here, or is yanked; publish it first"
                )));
            }
            let found = sql.rows(
                "SELECT workflow FROM approval_workflows WHERE plugin = $1 OR plugin = '*'
                 ORDER BY plugin DESC",
                &[plugin.as_str().into()],
            )?;
            // A plugin id sorts after `*`, so its own workflow comes first.
            let Some(text) = found.first().map(|r| r[0].text()) else {
                return Err(RegistryError::Conflict(format!(
                    "no approval workflow governs {plugin}; the registry's operator sets one \
                     with `lord registry workflow set FILE`"
                )));
            };
            let workflow: Workflow = serde_json::from_str(&text)
                .map_err(|e| RegistryError::Internal(format!("unreadable workflow: {e}")))?;
            let earlier = sql.rows(
                &format!("SELECT {COLUMNS} FROM approvals WHERE plugin_id = $1 AND version = $2"),
                &[plugin.as_str().into(), version.as_str().into()],
            )?;
            for row in &earlier {
                let info = read(sql, row)?;
                if info.state == ApprovalState::Pending {
                    return Err(RegistryError::Conflict(format!(
                        "request {} for {plugin} {version} is pending already; review it \
                         (`lord approval review {}`) or let it expire",
                        info.id, info.id
                    )));
                }
            }
            let id = format!("{plugin}-{version}-{}", earlier.len() + 1);
            let now = now_ms();
            let timeout =
                i64::try_from(workflow.timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            sql.exec(
                &format!(
                    "INSERT INTO approvals ({COLUMNS})
                     VALUES ($1, $2, $3, $4, 0, $5, '', $6, $7, $8, 0)"
                ),
                &[
                    id.as_str().into(),
                    plugin.as_str().into(),
                    version.as_str().into(),
                    text.into(),
                    ApprovalState::Pending.as_str().into(),
                    by.into(),
                    now.into(),
                    now.saturating_add(timeout).into(),
                ],
            )?;
            one(sql, &id, false)
        })
    }

    /// The requests of `plugin` (every plugin when `None`), of `version`
    /// when named, newest first.
    pub fn approvals(
        &self,
        plugin: Option<&str>,
        version: Option<&str>,
    ) -> Result<Vec<ApprovalInfo>, RegistryError> {
        let (plugin, version) = (plugin.map(str::to_owned), version.map(str::to_owned));
        super::community::transaction(self, move |sql| {
            let rows = sql.rows(
                &format!(
                    "SELECT {COLUMNS} FROM approvals
                     WHERE ($1 = '' OR plugin_id = $1) AND ($2 = '' OR version = $2)
                     ORDER BY submitted_ms DESC, id DESC"
                ),
                &[
                    plugin.unwrap_or_default().into(),
                    version.unwrap_or_default().into(),
                ],
            )?;
            rows.iter().map(|row| read(sql, row)).collect()
        })
    }

    /// The request `id`.
    pub fn approval(&self, id: &str) -> Result<ApprovalInfo, RegistryError> {
        let id = id.to_owned();
        super::community::transaction(self, move |sql| one(sql, &id, false))
    }

    /// Records `reviewer`'s verdict on request `id`'s current step, which
    /// `may_review` must allow; `evidence` is what the step's criteria
    /// are checked against before an approval lets it pass. Returns the
    /// request as it now stands.
    pub(crate) fn review_approval(
        &self,
        id: &str,
        reviewer: &str,
        may_review: impl FnOnce(&str) -> bool + Send + 'static,
        review: &ApprovalReview,
        evidence: Evidence,
    ) -> Result<ApprovalInfo, RegistryError> {
        let (id, reviewer, review) = (id.to_owned(), reviewer.to_owned(), review.clone());
        super::community::transaction(self, move |sql| {
            let mut info = one(sql, &id, true)?;
            if info.state != ApprovalState::Pending {
                return Err(RegistryError::Conflict(format!(
                    "request {id} is {} already; submit the version again for a new request",
                    info.state.as_str()
                )));
            }
            let step = info.workflow.steps.get(info.step).cloned().ok_or_else(|| {
                RegistryError::Internal(format!("request {id} is past its last step"))
            })?;
            let named = step.reviewers.iter().any(|r| r == &reviewer);
            if !named && !may_review(&step.name) {
                return Err(RegistryError::Forbidden(format!(
                    "`{reviewer}` may not review step `{}` of request {id}; its reviewers are \
                     those listed in the workflow and tokens with scope `review:{}`",
                    step.name, step.name
                )));
            }
            let at = i64::try_from(info.step).unwrap_or(0);
            let done = sql.rows(
                "SELECT approve FROM approval_decisions
                 WHERE approval_id = $1 AND step = $2 AND reviewer = $3",
                &[id.as_str().into(), at.into(), reviewer.as_str().into()],
            )?;
            if !done.is_empty() {
                return Err(RegistryError::Conflict(format!(
                    "`{reviewer}` has reviewed step `{}` of request {id} already; another \
                     reviewer must decide",
                    step.name
                )));
            }
            if review.approve
                && let Some(why) = evidence.fails(&step)
            {
                return Err(RegistryError::Rejected(format!(
                    "step `{}` of request {id} cannot pass: {why}",
                    step.name
                )));
            }
            let now = now_ms();
            sql.exec(
                "INSERT INTO approval_decisions (approval_id, step, reviewer, approve, comment, at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    id.as_str().into(),
                    at.into(),
                    reviewer.as_str().into(),
                    i64::from(review.approve).into(),
                    review.comment.as_str().into(),
                    now.into(),
                ],
            )?;
            if review.approve {
                let approvals = sql.rows(
                    "SELECT COUNT(*) FROM approval_decisions
                     WHERE approval_id = $1 AND step = $2 AND approve = 1",
                    &[id.as_str().into(), at.into()],
                )?;
                let count = approvals.first().map_or(0, |r| r[0].int());
                if count >= i64::from(step.quorum) {
                    info.step += 1;
                    if info.step >= info.workflow.steps.len() {
                        info.state = ApprovalState::Approved;
                        info.decided_ms = Some(now);
                    }
                }
            } else {
                info.state = ApprovalState::Rejected;
                info.decided_ms = Some(now);
                info.reason = Some(format!("rejected by `{reviewer}` at step `{}`", step.name));
            }
            write(sql, &info)?;
            one(sql, &id, false)
        })
    }
}

/// The request `id`, read under a lock when `lock`.
fn one(sql: &mut dyn Sql, id: &str, lock: bool) -> Result<ApprovalInfo, RegistryError> {
    let lock = if lock { lock_clause(sql) } else { "" };
    let rows = sql.rows(
        &format!("SELECT {COLUMNS} FROM approvals WHERE id = $1{lock}"),
        &[id.into()],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| RegistryError::NotFound(format!("no approval request `{id}`")))?;
    read(sql, row)
}
