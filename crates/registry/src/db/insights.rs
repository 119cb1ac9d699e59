//! The records insights are drawn from (`insights.rs` judges them), for
//! one plugin or for all, written once for both backends through [`Sql`].
//!
//! A report is open while no moderator has hidden or shown what it
//! reported since it was made: the report threshold and the spam filter
//! act as the registry (account 0), which does not close a report.

use std::collections::BTreeMap;

use super::Db;
use super::portable::{Sql, Val};
use crate::error::RegistryError;

/// Runs and errors in the last 7 days and in the 7 before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ErrorWindows {
    pub(crate) runs_last: u64,
    pub(crate) errors_last: u64,
    pub(crate) runs_before: u64,
    pub(crate) errors_before: u64,
}

/// What insights are judged from, per plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) errors: ErrorWindows,
    /// When its newest version was published.
    pub(crate) newest_ms: i64,
    pub(crate) open_reports: u64,
    /// Every version's manifest text (for all plugins, only those with
    /// more than one).
    pub(crate) manifests: Vec<(String, String)>,
}

fn count(v: &Val) -> u64 {
    u64::try_from(v.int()).unwrap_or(0)
}

/// `AND column = $n` when `plugin` is given, so one query serves one
/// plugin and all of them.
fn only(plugin: Option<&str>, column: &str, n: usize, args: &mut Vec<Val>) -> String {
    match plugin {
        Some(id) => {
            args.push(id.into());
            format!(" AND {column} = ${n}")
        }
        None => String::new(),
    }
}

fn gather(
    sql: &mut dyn Sql,
    plugin: Option<&str>,
    today: i64,
) -> Result<BTreeMap<String, Facts>, RegistryError> {
    let mut facts: BTreeMap<String, Facts> = BTreeMap::new();
    let mut args: Vec<Val> = Vec::new();
    let filter = only(plugin, "p.id", 1, &mut args);
    for row in sql.rows(
        &format!(
            "SELECT p.id, COALESCE(MAX(v.published_ms), 0) FROM plugins p
             JOIN versions v ON v.plugin_id = p.id WHERE 1 = 1{filter} GROUP BY p.id"
        ),
        &args,
    )? {
        facts.entry(row[0].text()).or_default().newest_ms = row[1].int();
    }

    let mut args: Vec<Val> = vec![(today - 7).into(), (today - 14).into(), today.into()];
    let filter = only(plugin, "plugin_id", 4, &mut args);
    let sum = |what: &str, when: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN day {when} $1 THEN {what} ELSE 0 END), 0) AS BIGINT)")
    };
    for row in sql.rows(
        &format!(
            "SELECT plugin_id, {}, {}, {}, {} FROM usage
             WHERE day > $2 AND day <= $3{filter} GROUP BY plugin_id",
            sum("runs", ">"),
            sum("errors", ">"),
            sum("runs", "<="),
            sum("errors", "<=")
        ),
        &args,
    )? {
        if let Some(f) = facts.get_mut(&row[0].text()) {
            f.errors = ErrorWindows {
                runs_last: count(&row[1]),
                errors_last: count(&row[2]),
                runs_before: count(&row[3]),
                errors_before: count(&row[4]),
            };
        }
    }

    let mut args: Vec<Val> = Vec::new();
    let filter = only(plugin, "o.plugin_id", 1, &mut args);
    for row in sql.rows(
        &format!(
            "SELECT o.plugin_id, COUNT(*) FROM (
                SELECT c.plugin_id AS plugin_id, r.kind AS kind, r.target AS target,
                       r.created_ms AS created_ms
                  FROM reports r JOIN reviews c ON r.kind = 'review' AND c.id = r.target
                UNION ALL
                SELECT c.plugin_id, r.kind, r.target, r.created_ms
                  FROM reports r JOIN posts c ON r.kind = 'post' AND c.id = r.target
             ) o
             WHERE NOT EXISTS (
                SELECT 1 FROM moderation_audit a
                 WHERE a.kind = o.kind AND a.target = o.target AND a.token_id > 0
                   AND a.action IN ('hide', 'show') AND a.at_ms >= o.created_ms
             ){filter}
             GROUP BY o.plugin_id"
        ),
        &args,
    )? {
        if let Some(f) = facts.get_mut(&row[0].text()) {
            f.open_reports = count(&row[1]);
        }
    }

    // One plugin's versions by its index; for all, only plugins with more
    // than one version (creep needs two).
    let (query, args): (&str, Vec<Val>) = match plugin {
        Some(id) => (
            "SELECT plugin_id, version, manifest FROM versions WHERE plugin_id = $1",
            vec![id.into()],
        ),
        None => (
            "SELECT plugin_id, version, manifest FROM versions
             WHERE plugin_id IN (SELECT plugin_id FROM versions GROUP BY plugin_id
                                 HAVING COUNT(*) > 1)",
            Vec::new(),
        ),
    };
    for row in sql.rows(query, &args)? {
        if let Some(f) = facts.get_mut(&row[0].text()) {
            f.manifests.push((row[1].text(), row[2].text()));
        }
    }
    Ok(facts)
}

impl Db {
    /// The facts about `plugin` (`None` when it is not published) on `today`.
    pub(crate) fn facts(&self, plugin: &str, today: i64) -> Result<Option<Facts>, RegistryError> {
        let plugin = plugin.to_owned();
        super::community::transaction(self, move |sql| {
            Ok(gather(sql, Some(&plugin), today)?.remove(&plugin))
        })
    }

    /// Dates `id` `version` as published at `published_ms` (the demo's
    /// and tests' history; a publish is dated when it happens). Whether
    /// that version exists.
    pub fn backdate(
        &self,
        id: &str,
        version: &str,
        published_ms: i64,
    ) -> Result<bool, RegistryError> {
        let (id, version) = (id.to_owned(), version.to_owned());
        super::community::transaction(self, move |sql| {
            Ok(sql.exec(
                "UPDATE versions SET published_ms = $1 WHERE plugin_id = $2 AND version = $3",
                &[published_ms.into(), id.into(), version.into()],
            )? > 0)
        })
    }

    /// The facts about every plugin on `today`, by id.
    pub(crate) fn all_facts(&self, today: i64) -> Result<BTreeMap<String, Facts>, RegistryError> {
        super::community::transaction(self, move |sql| gather(sql, None, today))
    }
}
