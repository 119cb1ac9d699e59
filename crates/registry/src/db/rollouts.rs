//! Staged rollouts and what machines reported of them, written once for
//! both backends through [`Sql`].
//!
//! A rollout row holds where the rollout stands (its rings, the current
//! one, its gate as JSON, its state); `rollout_health` holds, per
//! reporting installation and day, the runs, failures and p95 latency of
//! the rollout's new version and of the version before it. Installations
//! are kept as the usage tables keep them, hashed under the day's salt,
//! so rollouts learn nothing more about a machine than usage does. A
//! report replaces that installation's earlier report of the same day, as
//! usage reports do, since each carries the day's totals.
//!
//! Invariant: a rollout moves (promoted, rolled back, aborted, complete)
//! in one transaction that reads its row under a lock, so two reports
//! arriving together cannot both promote it.

use super::portable::{Sql, Val};
use super::{Db, now_ms};
use crate::error::RegistryError;
use lord_registry_api::{
    Gate, Health, PluginUsage, RolloutInfo, RolloutStart, RolloutState, Verdict,
};

/// Step of both schemas that adds these tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    plugin_id TEXT NOT NULL,
    version TEXT NOT NULL,
    previous TEXT NOT NULL,        -- '' when there is none
    rings TEXT NOT NULL,           -- JSON array of percentages
    ring BIGINT NOT NULL,
    gate TEXT NOT NULL,            -- JSON, lord_registry_api::Gate
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    ring_start_runs BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX rollouts_by_plugin ON rollouts(plugin_id, started_ms);
CREATE TABLE rollout_health (
    rollout_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    installation TEXT NOT NULL,    -- SHA-256 of the id under the day's salt
    version TEXT NOT NULL,
    runs BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    p95_us BIGINT NOT NULL,        -- -1 when none was sent
    PRIMARY KEY (rollout_id, day, installation, version)
);
";

const COLUMNS: &str = "id, plugin_id, version, previous, rings, ring, gate, state, reason, \
                       ring_start_runs, started_ms, updated_ms";

/// A rollout row (in [`COLUMNS`] order) with its health read beside it.
fn read(sql: &mut dyn Sql, row: &[Val]) -> Result<RolloutInfo, RegistryError> {
    let id = row[0].text();
    let version = row[2].text();
    let previous = Some(row[3].text()).filter(|p| !p.is_empty());
    let gate: Gate = serde_json::from_str(&row[6].text()).map_err(|e| {
        RegistryError::Internal(format!("rollout {id} has an unreadable gate: {e}"))
    })?;
    let state = RolloutState::parse(&row[7].text()).ok_or_else(|| {
        RegistryError::Internal(format!(
            "rollout {id} has an unknown state `{}`",
            row[7].text()
        ))
    })?;
    let canary = health(sql, &id, &version)?;
    let baseline = match &previous {
        Some(previous) => health(sql, &id, previous)?,
        None => Health::default(),
    };
    Ok(RolloutInfo {
        plugin: row[1].text(),
        version,
        previous,
        rings: serde_json::from_str(&row[4].text()).unwrap_or_default(),
        ring: usize::try_from(row[5].int()).unwrap_or(0),
        gate,
        state,
        reason: Some(row[8].text()).filter(|r| !r.is_empty()),
        ring_start_runs: u64::try_from(row[9].int()).unwrap_or(0),
        started_ms: row[10].int(),
        updated_ms: row[11].int(),
        canary,
        baseline,
        id,
    })
}

/// What installations reported of `version` in rollout `id`. Summed
/// here rather than in SQL: a report's counts are the client's, and a
/// sum (or a p95 weighted by runs) of large ones must saturate, not fail
/// the report with an overflow.
fn health(sql: &mut dyn Sql, id: &str, version: &str) -> Result<Health, RegistryError> {
    let rows = sql.rows(
        "SELECT installation, runs, errors, p95_us FROM rollout_health
         WHERE rollout_id = $1 AND version = $2",
        &[id.into(), version.into()],
    )?;
    let count = |v: &Val| u64::try_from(v.int()).unwrap_or(0);
    let mut machines = std::collections::BTreeSet::new();
    let mut health = Health::default();
    let (mut weighted, mut timed) = (0u128, 0u128);
    for row in &rows {
        machines.insert(row[0].text());
        let runs = count(&row[1]);
        health.runs = health.runs.saturating_add(runs);
        health.errors = health.errors.saturating_add(count(&row[2]));
        if row[3].int() >= 0 {
            weighted = weighted
                .saturating_add(u128::from(count(&row[3])).saturating_mul(u128::from(runs)));
            timed = timed.saturating_add(u128::from(runs));
        }
    }
    health.machines = machines.len() as u64;
    // Runs-weighted over the machines that sent a figure: a busy machine's
    // p95 speaks for more calls than an idle one's.
    health.p95_us = (timed > 0).then(|| u64::try_from(weighted / timed).unwrap_or(u64::MAX));
    Ok(health)
}

/// The newest live version of `plugin` below `version`, and whether
/// `version` itself is published and live.
fn previous_of(
    sql: &mut dyn Sql,
    plugin: &str,
    version: &semver::Version,
) -> Result<(bool, Option<String>), RegistryError> {
    let rows = sql.rows(
        "SELECT version, yanked FROM versions WHERE plugin_id = $1",
        &[plugin.into()],
    )?;
    let mut live = false;
    let mut previous: Option<semver::Version> = None;
    for row in rows {
        let (Ok(v), yanked) = (semver::Version::parse(&row[0].text()), row[1].int() != 0) else {
            continue;
        };
        if yanked {
            continue;
        }
        if v == *version {
            live = true;
        } else if v < *version && previous.as_ref().is_none_or(|p| v > *p) {
            previous = Some(v);
        }
    }
    Ok((live, previous.map(|v| v.to_string())))
}

fn lock_clause(sql: &dyn Sql) -> &'static str {
    if sql.is_postgres() { " FOR UPDATE" } else { "" }
}

/// Moves `rollout` as its gate says, and writes the move.
/// The most runs of one version one machine's daily report may count
/// towards a rollout's gate: about one a second around the clock, far
/// more than a person makes, so one report cannot stand for a crowd.
const MAX_DAILY_RUNS: u64 = 100_000;

fn advance(sql: &mut dyn Sql, rollout: &mut RolloutInfo) -> Result<(), RegistryError> {
    if rollout.state != RolloutState::InProgress {
        return Ok(());
    }
    match rollout
        .gate
        .judge(&rollout.canary, &rollout.baseline, rollout.ring_start_runs)
    {
        Verdict::Wait(_) => return Ok(()),
        Verdict::Fail(reason) => {
            // Named before the state changes: a rolled-back share is 0%.
            rollout.reason = Some(format!(
                "ring {} ({}% of machines) regressed: {reason}",
                rollout.ring + 1,
                rollout.share()
            ));
            rollout.state = RolloutState::RolledBack;
        }
        Verdict::Pass if rollout.ring + 1 >= rollout.rings.len() => {
            rollout.state = RolloutState::Complete;
        }
        Verdict::Pass => {
            rollout.ring += 1;
            rollout.ring_start_runs = rollout.canary.runs;
        }
    }
    write(sql, rollout)
}

fn write(sql: &mut dyn Sql, rollout: &mut RolloutInfo) -> Result<(), RegistryError> {
    rollout.updated_ms = now_ms();
    sql.exec(
        "UPDATE rollouts SET ring = $2, state = $3, reason = $4, ring_start_runs = $5,
         updated_ms = $6 WHERE id = $1",
        &[
            rollout.id.as_str().into(),
            i64::try_from(rollout.ring).unwrap_or(0).into(),
            rollout.state.as_str().into(),
            rollout.reason.clone().unwrap_or_default().into(),
            i64::try_from(rollout.ring_start_runs)
                .unwrap_or(i64::MAX)
                .into(),
            rollout.updated_ms.into(),
        ],
    )?;
    Ok(())
}

/// How a publisher moves a rollout by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    /// To the next ring (or complete from the last), whatever the gate.
    Promote,
    /// Stop it: no machine takes the version, and those that did return.
    Abort,
}

impl Db {
    /// Starts a rollout of a published, live version. Refused while
    /// another rollout of the same plugin is in progress.
    pub fn start_rollout(&self, start: &RolloutStart) -> Result<RolloutInfo, RegistryError> {
        let start = start.clone();
        let version = semver::Version::parse(&start.version).map_err(|e| {
            RegistryError::BadRequest(format!("`{}` is not a version: {e}", start.version))
        })?;
        lord_registry_api::check_rings(&start.rings).map_err(RegistryError::BadRequest)?;
        start.gate.check().map_err(RegistryError::BadRequest)?;
        super::community::transaction(self, move |sql| {
            let plugin = start.plugin.as_str();
            let running = sql.rows(
                "SELECT id FROM rollouts WHERE plugin_id = $1 AND state = $2",
                &[plugin.into(), RolloutState::InProgress.as_str().into()],
            )?;
            if let Some(row) = running.first() {
                return Err(RegistryError::Conflict(format!(
                    "rollout {} of {plugin} is in progress; promote or abort it first \
                     (`lord rollout abort {}`)",
                    row[0].text(),
                    row[0].text()
                )));
            }
            let (live, previous) = previous_of(sql, plugin, &version)?;
            if !live {
                return Err(RegistryError::NotFound(format!(
                    "{plugin} {version} is not published here, or is yanked; publish it first"
                )));
            }
            let earlier = sql.rows(
                "SELECT COUNT(*) FROM rollouts WHERE plugin_id = $1 AND version = $2",
                &[plugin.into(), start.version.as_str().into()],
            )?;
            let n = earlier.first().map_or(0, |r| r[0].int()) + 1;
            let id = format!("{plugin}-{version}-{n}");
            let gate = serde_json::to_string(&start.gate)
                .map_err(|e| RegistryError::Internal(format!("unwritable gate: {e}")))?;
            let rings = serde_json::to_string(&start.rings)
                .map_err(|e| RegistryError::Internal(format!("unwritable rings: {e}")))?;
            let now = now_ms();
            sql.exec(
                &format!(
                    "INSERT INTO rollouts ({COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7, '', 0, $8, $8)"
                ),
                &[
                    id.as_str().into(),
                    plugin.into(),
                    start.version.as_str().into(),
                    previous.unwrap_or_default().into(),
                    rings.into(),
                    gate.into(),
                    RolloutState::InProgress.as_str().into(),
                    now.into(),
                ],
            )?;
            let row = sql.rows(
                &format!("SELECT {COLUMNS} FROM rollouts WHERE id = $1"),
                &[id.as_str().into()],
            )?;
            let row = row
                .first()
                .ok_or_else(|| RegistryError::Internal(format!("rollout {id} vanished")))?;
            read(sql, row)
        })
    }

    /// Every rollout of `plugin` (of every plugin when `None`), newest first.
    pub fn rollouts(&self, plugin: Option<&str>) -> Result<Vec<RolloutInfo>, RegistryError> {
        let plugin = plugin.map(str::to_owned);
        super::community::transaction(self, move |sql| {
            let rows = match &plugin {
                Some(p) => sql.rows(
                    &format!(
                        "SELECT {COLUMNS} FROM rollouts WHERE plugin_id = $1
                         ORDER BY started_ms DESC, id DESC"
                    ),
                    &[p.as_str().into()],
                )?,
                None => sql.rows(
                    &format!("SELECT {COLUMNS} FROM rollouts ORDER BY started_ms DESC, id DESC"),
                    &[],
                )?,
            };
            rows.iter().map(|row| read(sql, row)).collect()
        })
    }

    /// Moves rollout `id` by hand; `covers` says whether the caller may
    /// change its plugin. Returns it as it now stands.
    pub(crate) fn move_rollout(
        &self,
        id: &str,
        how: Move,
        covers: impl FnOnce(&str) -> bool + Send + 'static,
    ) -> Result<RolloutInfo, RegistryError> {
        let id = id.to_owned();
        super::community::transaction(self, move |sql| {
            let rows = sql.rows(
                &format!(
                    "SELECT {COLUMNS} FROM rollouts WHERE id = $1{}",
                    lock_clause(sql)
                ),
                &[id.as_str().into()],
            )?;
            let row = rows
                .first()
                .ok_or_else(|| RegistryError::NotFound(format!("no rollout `{id}`")))?;
            let mut rollout = read(sql, row)?;
            if !covers(&rollout.plugin) {
                return Err(RegistryError::Forbidden(format!(
                    "this token may not change `{}`",
                    rollout.plugin
                )));
            }
            if rollout.state != RolloutState::InProgress {
                return Err(RegistryError::Conflict(format!(
                    "rollout {id} is {} already; start a new one to move again",
                    rollout.state.as_str()
                )));
            }
            match how {
                Move::Promote if rollout.ring + 1 >= rollout.rings.len() => {
                    rollout.state = RolloutState::Complete;
                }
                Move::Promote => {
                    rollout.ring += 1;
                    rollout.ring_start_runs = rollout.canary.runs;
                }
                Move::Abort => {
                    rollout.state = RolloutState::Aborted;
                    rollout.reason = Some("aborted by its publisher".to_owned());
                }
            }
            write(sql, &mut rollout)?;
            Ok(rollout)
        })
    }

    /// Records what one installation reported today of the plugins in
    /// rollouts in progress, then lets each such rollout's gate move it.
    /// Returns the rollouts that moved.
    pub fn observe_rollouts(
        &self,
        installation: &str,
        plugins: &[PluginUsage],
    ) -> Result<Vec<RolloutInfo>, RegistryError> {
        self.observe_rollouts_on(installation, plugins, super::today())
    }

    /// [`Db::observe_rollouts`] as of `day`.
    pub fn observe_rollouts_on(
        &self,
        installation: &str,
        plugins: &[PluginUsage],
        day: i64,
    ) -> Result<Vec<RolloutInfo>, RegistryError> {
        let (installation, plugins) = (installation.to_owned(), plugins.to_vec());
        super::community::transaction(self, move |sql| {
            let hashed = super::analytics::installation_hash(sql, day, &installation)?;
            let mut moved = Vec::new();
            for plugin in &plugins {
                let rows = sql.rows(
                    &format!(
                        "SELECT {COLUMNS} FROM rollouts WHERE plugin_id = $1 AND state = $2{}",
                        lock_clause(sql)
                    ),
                    &[
                        plugin.id.as_str().into(),
                        RolloutState::InProgress.as_str().into(),
                    ],
                )?;
                for row in rows {
                    let id = row[0].text();
                    let (version, previous) = (row[2].text(), row[3].text());
                    if plugin.version != version && plugin.version != previous {
                        continue;
                    }
                    // Reports are anonymous, so what one may claim is
                    // bounded: the new version only from a machine its
                    // ring admits (no other is offered it), and no more
                    // than a day's worth of runs, errors no more than runs.
                    if plugin.version == version && !read(sql, &row)?.admits(&installation) {
                        continue;
                    }
                    let runs = plugin.runs.min(MAX_DAILY_RUNS);
                    let errors = plugin.errors.min(runs);
                    sql.exec(
                        "DELETE FROM rollout_health
                         WHERE rollout_id = $1 AND day = $2 AND installation = $3 AND version = $4",
                        &[
                            id.as_str().into(),
                            day.into(),
                            hashed.as_str().into(),
                            plugin.version.as_str().into(),
                        ],
                    )?;
                    let p95 = plugin
                        .p95_us
                        .map_or(-1, |p| i64::try_from(p).unwrap_or(i64::MAX));
                    sql.exec(
                        "INSERT INTO rollout_health
                         (rollout_id, day, installation, version, runs, errors, p95_us)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            id.as_str().into(),
                            day.into(),
                            hashed.as_str().into(),
                            plugin.version.as_str().into(),
                            i64::try_from(runs).unwrap_or(i64::MAX).into(),
                            i64::try_from(errors).unwrap_or(i64::MAX).into(),
                            p95.into(),
                        ],
                    )?;
                    let mut rollout = read(sql, &row)?;
                    let before = (rollout.state, rollout.ring);
                    advance(sql, &mut rollout)?;
                    if (rollout.state, rollout.ring) != before {
                        moved.push(rollout);
                    }
                }
            }
            Ok(moved)
        })
    }
}
