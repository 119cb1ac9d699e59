//! Trends and insights, judged in one place for a plugin's page, its JSON
//! (`GET /api/v1/plugins/{id}/insights`) and the registry-wide page and
//! JSON (`/insights`, `GET /api/v1/insights`), from the facts
//! `db/insights.rs` gathers:
//!
//! - rising error rate: the last 7 days' errors per 100 runs at least 1
//!   and at least double the 7 days before, which must have had runs (a
//!   plugin's first week is not a trend);
//! - abandoned: no release in over a year *and* open reports (reports of
//!   its reviews or discussion that no moderator has acted on): age alone
//!   is not neglect, a finished plugin may need no release;
//! - permission creep: the newest version asks for permissions the oldest
//!   did not.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lord_manifest::Permission;
use lord_registry_api::{Insight, InsightKind, RegistryInsights};

use crate::db::Facts;
use crate::error::RegistryError;
use crate::server::{Shared, blocking, check_id};

const DAY_MS: i64 = 86_400_000;

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/api/v1/insights", get(all_json))
        .route("/api/v1/plugins/{id}/insights", get(plugin_json))
}

fn per_hundred(runs: u64, errors: u64) -> f64 {
    if runs == 0 {
        0.0
    } else {
        errors as f64 * 100.0 / runs as f64
    }
}

/// The permissions a manifest text asks for (none if it does not parse).
fn asked(manifest: &str) -> BTreeSet<Permission> {
    lord_manifest::parse("plugin.toml", manifest)
        .map(|m| m.permissions.into_iter().collect())
        .unwrap_or_default()
}

/// What is worth knowing about `plugin`, from `facts`, on `today`.
pub(crate) fn judge(plugin: &str, facts: &Facts, today: i64) -> Vec<Insight> {
    let said = |kind, text: String| Insight {
        plugin: plugin.to_owned(),
        kind,
        text,
    };
    let mut out = Vec::new();
    let e = &facts.errors;
    let (recent, before) = (
        per_hundred(e.runs_last, e.errors_last),
        per_hundred(e.runs_before, e.errors_before),
    );
    if e.runs_before > 0 && recent >= 1.0 && recent >= before * 2.0 {
        out.push(said(
            InsightKind::RisingErrors,
            format!(
                "Error rate rising: {recent:.1} per 100 runs in the last 7 days, {before:.1} in \
                 the 7 before."
            ),
        ));
    }
    if today * DAY_MS - facts.newest_ms > 365 * DAY_MS && facts.open_reports > 0 {
        out.push(said(
            InsightKind::Abandoned,
            format!(
                "May be abandoned: no release in over a year, and {} report{} waiting for a \
                 moderator.",
                facts.open_reports,
                if facts.open_reports == 1 { "" } else { "s" }
            ),
        ));
    }
    let mut versions: Vec<(semver::Version, &str)> = facts
        .manifests
        .iter()
        .filter_map(|(v, text)| Some((semver::Version::parse(v).ok()?, text.as_str())))
        .collect();
    versions.sort_by(|a, b| a.0.cmp(&b.0));
    if let (Some(first), Some(last)) = (versions.first(), versions.last())
        && first.0 != last.0
    {
        let added: Vec<String> = asked(last.1)
            .difference(&asked(first.1))
            .map(ToString::to_string)
            .collect();
        if !added.is_empty() {
            out.push(said(
                InsightKind::PermissionCreep,
                format!(
                    "Permission creep: {} asks for {} that {} did not.",
                    last.0,
                    added.join(", "),
                    first.0
                ),
            ));
        }
    }
    out
}

/// Everything noticed across the registry on `today`.
pub(crate) fn registry_wide(
    db: &crate::db::Db,
    today: i64,
) -> Result<RegistryInsights, RegistryError> {
    let mut all = RegistryInsights::default();
    for (plugin, facts) in db.all_facts(today)? {
        for insight in judge(&plugin, &facts, today) {
            match insight.kind {
                InsightKind::RisingErrors => all.rising_errors.push(insight),
                InsightKind::Abandoned => all.abandoned.push(insight),
                InsightKind::PermissionCreep => all.permission_creep.push(insight),
            }
        }
    }
    Ok(all)
}

/// What is worth knowing about `plugin` now; `None` if it is not published.
pub(crate) fn of_plugin(
    db: &crate::db::Db,
    plugin: &str,
) -> Result<Option<Vec<Insight>>, RegistryError> {
    let today = crate::db::today();
    Ok(db
        .facts(plugin, today)?
        .map(|facts| judge(plugin, &facts, today)))
}

async fn all_json(State(registry): State<Shared>) -> Result<Response, RegistryError> {
    let all = blocking(&registry, |r| registry_wide(&r.db, crate::db::today())).await?;
    Ok(Json(all).into_response())
}

async fn plugin_json(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let found = blocking(&registry, move |r| {
        of_plugin(&r.db, &id)?
            .ok_or_else(|| RegistryError::NotFound(format!("no plugin named `{id}` is published")))
    })
    .await?;
    Ok(Json(found).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::ErrorWindows;

    fn manifest(version: &str, request: &str) -> (String, String) {
        (
            version.to_owned(),
            format!(
                "[plugin]\nid = \"p\"\nname = \"p\"\nversion = \"{version}\"\n\
                 description = \"d\"\nauthors = [\"a\"]\nlicense = \"MIT\"\n\
                 category = \"utility\"\nhost-api = \"^0.2\"\ncomponent = \"p.wasm\"\n\n\
                 [permissions]\nrequest = [{request}]\n"
            ),
        )
    }

    fn kinds(facts: &Facts, today: i64) -> Vec<InsightKind> {
        judge("p", facts, today).iter().map(|i| i.kind).collect()
    }

    #[test]
    fn rising_errors_need_a_week_to_compare_with() {
        let mut facts = Facts {
            newest_ms: 100 * DAY_MS,
            errors: ErrorWindows {
                runs_last: 100,
                errors_last: 9,
                runs_before: 100,
                errors_before: 1,
            },
            ..Facts::default()
        };
        assert_eq!(kinds(&facts, 100), [InsightKind::RisingErrors]);
        facts.errors.runs_before = 0;
        facts.errors.errors_before = 0;
        assert_eq!(kinds(&facts, 100), []);
    }

    #[test]
    fn abandoned_needs_a_year_without_release_and_open_reports() {
        let mut facts = Facts {
            newest_ms: 100 * DAY_MS,
            ..Facts::default()
        };
        assert_eq!(kinds(&facts, 500), [], "old alone is not abandoned");
        facts.open_reports = 2;
        assert_eq!(kinds(&facts, 500), [InsightKind::Abandoned]);
        assert_eq!(kinds(&facts, 200), [], "released within the year");
    }

    #[test]
    fn permission_creep_compares_the_oldest_and_newest_versions() {
        let facts = Facts {
            newest_ms: 100 * DAY_MS,
            manifests: vec![
                manifest("0.10.0", "\"net(*)\""),
                manifest("0.2.0", ""),
                manifest("0.9.0", ""),
            ],
            ..Facts::default()
        };
        let said = judge("p", &facts, 100);
        assert_eq!(said.len(), 1, "{said:?}");
        assert_eq!(said[0].kind, InsightKind::PermissionCreep);
        assert!(
            said[0].text.contains("0.10.0 asks for net(*) that 0.2.0"),
            "{said:?}"
        );
    }
}
