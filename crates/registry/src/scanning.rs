//! Security: the advisory feed and the scan every publish passes.
//!
//! - `GET /api/v1/advisories?package=ID`: the OSV advisories naming a
//!   plugin, as OSV's query API answers (`{"vulns": [...]}`);
//!   `GET /api/v1/advisories/{id}`: one, as it was added. Operators add
//!   them with [`add_advisory`] (`lord registry advisory add FILE`).
//! - [`check_publish`]: `lord-scan` over the package being published,
//!   with the advisories naming it. A critical finding refuses the
//!   publish (422, naming each); the report is recorded by the package's
//!   digest either way it passes, and
//!   `GET /api/v1/plugins/{id}/versions/{version}/scan` shows it.
//!
//! Invariant: a package with a critical finding is never stored: the
//! check runs inside the publish's verification, before the blob and the
//! records are written.

use std::path::Path;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lord_registry_api::{Advisory, AdvisoryList};
use lord_scan::{Policy, Severity};

use crate::db::Db;
use crate::error::RegistryError;
use crate::server::{Registry, Shared, blocking, check_id, check_version};

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/api/v1/advisories", get(list))
        .route("/api/v1/advisories/{id}", get(one))
        .route("/api/v1/plugins/{id}/versions/{version}/scan", get(scan))
}

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    package: String,
}

/// The advisories naming `plugin`, parsed (an unreadable stored one is
/// skipped: it was checked when added).
fn advisories(db: &Db, plugin: &str) -> Result<Vec<Advisory>, RegistryError> {
    Ok(db
        .advisories_for(plugin)?
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect())
}

async fn list(
    State(registry): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, RegistryError> {
    let Query(query) = query.map_err(|e| {
        RegistryError::BadRequest(format!(
            "bad query: {}; ask for `?package=ID`",
            e.body_text()
        ))
    })?;
    check_id(&query.package)?;
    let vulns = blocking(&registry, move |r| advisories(&r.db, &query.package)).await?;
    Ok(axum::Json(AdvisoryList { vulns }).into_response())
}

async fn one(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    let text = blocking(&registry, move |r| {
        r.db.advisory(&id)?
            .ok_or_else(|| RegistryError::NotFound(format!("no advisory `{id}` is known here")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

async fn scan(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let report = blocking(&registry, move |r| {
        let (_, digest) = r
            .db
            .signature(&id, &version)?
            .ok_or_else(|| RegistryError::NotFound(format!("{id} {version} is not published")))?;
        r.db.scan_of(&digest)?.ok_or_else(|| {
            RegistryError::NotFound(format!(
                "{id} {version} has no scan: it was published before this registry scanned \
                 packages"
            ))
        })
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], report).into_response())
}

/// Scans the unpacked package in `dir` (its manifest already checked) as
/// it is published: refuses it on a critical finding, and records the
/// report under `digest` otherwise.
pub(crate) fn check_publish(
    registry: &Registry,
    manifest: &lord_manifest::Manifest,
    dir: &Path,
    digest: &str,
) -> Result<(), RegistryError> {
    let path = dir.join(&manifest.plugin.component);
    let component = std::fs::read(&path).map_err(crate::error::io("read", &path))?;
    let known = advisories(&registry.db, manifest.plugin.id.as_str())?;
    let subject = lord_scan::Subject {
        manifest,
        component: &component,
    };
    let report = lord_scan::scan(subject, &known, &Policy::default());
    let critical: Vec<String> = report
        .at_least(Severity::Critical)
        .map(|f| format!("`{}` at {}: {}", f.rule, f.location, f.message))
        .collect();
    if !critical.is_empty() {
        return Err(RegistryError::Rejected(format!(
            "the package's security scan found {} critical problem(s), so it was not \
             published (run `lord scan` on it to see every finding): {}",
            critical.len(),
            critical.join("; ")
        )));
    }
    let json = serde_json::to_string(&report)
        .map_err(|e| RegistryError::Internal(format!("a scan report would not encode: {e}")))?;
    registry.db.record_scan(digest, &json)
}

/// Adds (or replaces, by its id) the OSV advisory `text`, after checking
/// it names lord plugins with valid versions; its id and whether it
/// replaced one.
pub fn add_advisory(db: &Db, text: &str) -> Result<(String, bool), RegistryError> {
    let advisory: Advisory = serde_json::from_str(text)
        .map_err(|e| RegistryError::BadRequest(format!("the advisory is not OSV JSON: {e}")))?;
    advisory.check().map_err(RegistryError::BadRequest)?;
    let plugins: Vec<String> = advisory.plugins().map(str::to_owned).collect();
    for plugin in &plugins {
        check_id(plugin)?;
    }
    let replaced = db.put_advisory(&advisory.id, text.trim(), &plugins)?;
    Ok((advisory.id, replaced))
}
