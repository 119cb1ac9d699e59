//! Use that clients report when their user opts in, kept so that no one
//! can be followed: an installation is stored as a SHA-256 of its random
//! id under a salt of the day (`usage_salts`), and salts of past days are
//! deleted, so a day's rows cannot be tied to another day's or to an
//! account. What is left is enough for active installs per day, runs and
//! error rates, and the co-install baskets recommendations learn from.
//! Written once for both backends through [`Sql`].

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use super::portable::{Sql, Val};
use super::{Db, now_ms};
use crate::error::RegistryError;
use crate::recommend::Features;
use lord_registry_api::UsageReport;

/// Step of both schemas that adds these tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE usage_salts (day BIGINT PRIMARY KEY, salt TEXT NOT NULL);
CREATE TABLE usage (
    day BIGINT NOT NULL,
    installation TEXT NOT NULL,   -- SHA-256 of the id under the day's salt
    plugin_id TEXT NOT NULL,
    version TEXT NOT NULL,
    host_api TEXT NOT NULL,
    runs BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    PRIMARY KEY (day, installation, plugin_id)
);
CREATE INDEX usage_by_plugin ON usage(plugin_id, day);
";

/// Days of reports recommendations learn from.
pub const BASKET_DAYS: i64 = 30;

/// One day of a plugin's reported use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOfUse {
    pub day: i64,
    /// Installations that reported holding it.
    pub active: u64,
    pub runs: u64,
    pub errors: u64,
}

fn salt_of_today(sql: &mut dyn Sql, day: i64) -> Result<String, RegistryError> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh)
        .map_err(|e| RegistryError::Internal(format!("no randomness for a salt: {e}")))?;
    // Yesterday's salts go: nothing can link an installation across days.
    sql.exec("DELETE FROM usage_salts WHERE day < $1", &[day.into()])?;
    sql.exec(
        "INSERT INTO usage_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
        &[day.into(), hex::encode(fresh).into()],
    )?;
    let rows = sql.rows("SELECT salt FROM usage_salts WHERE day = $1", &[day.into()])?;
    Ok(rows.first().map(|r| r[0].text()).unwrap_or_default())
}

/// An installation id as the usage tables keep it: its SHA-256 under the
/// salt of `day` (also what rollouts key their reports by).
pub(super) fn installation_hash(
    sql: &mut dyn Sql,
    day: i64,
    installation: &str,
) -> Result<String, RegistryError> {
    let salt = salt_of_today(sql, day)?;
    Ok(hex::encode(Sha256::digest(format!(
        "{salt}:{installation}"
    ))))
}

impl Db {
    /// Records today's report of one installation (replacing an earlier
    /// report of the same day). Plugins the registry does not list are
    /// left out.
    pub fn record_usage(&self, report: &UsageReport) -> Result<usize, RegistryError> {
        self.record_usage_on(report, super::today())
    }

    /// [`Db::record_usage`] as of `day` (the demo's and tests' history;
    /// the API records reports on the day they arrive).
    pub fn record_usage_on(&self, report: &UsageReport, day: i64) -> Result<usize, RegistryError> {
        let report = report.clone();
        super::community::transaction(self, move |sql| {
            let hashed = installation_hash(sql, day, &report.installation)?;
            sql.exec(
                "DELETE FROM usage WHERE day = $1 AND installation = $2",
                &[day.into(), hashed.as_str().into()],
            )?;
            let mut kept = 0;
            for plugin in &report.plugins {
                let known = sql.rows(
                    "SELECT 1 FROM plugins WHERE id = $1",
                    &[plugin.id.as_str().into()],
                )?;
                if known.is_empty() {
                    continue;
                }
                sql.exec(
                    "INSERT INTO usage (day, installation, plugin_id, version, host_api, runs, errors)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day, installation, plugin_id) DO NOTHING",
                    &[
                        day.into(),
                        hashed.as_str().into(),
                        plugin.id.as_str().into(),
                        plugin.version.as_str().into(),
                        report.host_api.as_str().into(),
                        i64::try_from(plugin.runs).unwrap_or(i64::MAX).into(),
                        i64::try_from(plugin.errors).unwrap_or(i64::MAX).into(),
                    ],
                )?;
                kept += 1;
            }
            Ok(kept)
        })
    }

    /// A plugin's reported use per day from `since` on, oldest first.
    pub fn use_by_day(&self, id: &str, since: i64) -> Result<Vec<DayOfUse>, RegistryError> {
        let id = id.to_owned();
        super::community::transaction(self, move |sql| {
            let rows = sql.rows(
                "SELECT day, COUNT(*), CAST(COALESCE(SUM(runs), 0) AS BIGINT), CAST(COALESCE(SUM(errors), 0) AS BIGINT) FROM usage
                 WHERE plugin_id = $1 AND day >= $2 GROUP BY day ORDER BY day",
                &[id.into(), since.into()],
            )?;
            Ok(rows
                .iter()
                .map(|r| DayOfUse {
                    day: r[0].int(),
                    active: u64::try_from(r[1].int()).unwrap_or(0),
                    runs: u64::try_from(r[2].int()).unwrap_or(0),
                    errors: u64::try_from(r[3].int()).unwrap_or(0),
                })
                .collect())
        })
    }

    /// The co-install baskets of the last [`BASKET_DAYS`] days: the
    /// plugins each installation reported on each day.
    pub fn baskets(&self) -> Result<Vec<Vec<String>>, RegistryError> {
        super::community::transaction(self, move |sql| {
            let rows = sql.rows(
                "SELECT day, installation, plugin_id FROM usage WHERE day >= $1
                 ORDER BY day, installation, plugin_id",
                &[(super::today() - BASKET_DAYS).into()],
            )?;
            let mut baskets: BTreeMap<(i64, String), Vec<String>> = BTreeMap::new();
            for row in rows {
                baskets
                    .entry((row[0].int(), row[1].text()))
                    .or_default()
                    .push(row[2].text());
            }
            Ok(baskets.into_values().collect())
        })
    }

    /// What content similarity compares, for every plugin, with its name
    /// and description: `(id, name, description, features)`.
    pub fn features(&self) -> Result<Vec<(String, String, String, Features)>, RegistryError> {
        super::community::transaction(self, move |sql| {
            let rows = sql.rows(
                "SELECT id, name, description, keywords, category, permissions, host_api FROM plugins",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r: &Vec<Val>| {
                    let keywords = super::json_list(&r[3].text());
                    let permissions = r[5].text();
                    let families: Vec<&str> = permissions.split_whitespace().collect();
                    let host_api = r[6].text();
                    (
                        r[0].text(),
                        r[1].text(),
                        r[2].text(),
                        Features::of(
                            &keywords,
                            &r[4].text(),
                            &families,
                            Some(host_api.as_str()).filter(|t| !t.is_empty()),
                        ),
                    )
                })
                .collect())
        })
    }
}

/// The time a recommender trained from these records may be reused.
pub(crate) const MODEL_MS: i64 = 10 * 60 * 1000;

/// When a model trained now goes stale.
pub(crate) fn stale_at() -> i64 {
    now_ms() + MODEL_MS
}
