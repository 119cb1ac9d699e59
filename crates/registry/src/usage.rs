//! Opt-in use reports and the recommendations learnt from them:
//! `POST /api/v1/usage` (anonymous: an installation id the registry keeps
//! only as a daily salted hash, `db/analytics.rs`) and
//! `GET /api/v1/recommendations?installed=a,b&host_api=0.2.1`.
//!
//! The recommender (`recommend.rs`) is trained from the last 30 days of
//! baskets and every plugin's features, and reused for ten minutes, so a
//! request scores candidates and does not retrain.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::RegistryError;
use crate::recommend::Recommender;
use crate::server::{Registry, Shared, blocking};
use lord_registry_api::{Recommendation, RecommendationQuery, UsageReport};

/// A trained recommender and what a recommendation shows of each plugin.
#[derive(Debug)]
pub(crate) struct Model {
    recommender: Recommender,
    /// Id to name and description.
    shown: BTreeMap<String, (String, String)>,
    stale_at: i64,
}

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/api/v1/usage", post(report))
        .route("/api/v1/recommendations", get(recommendations))
}

/// The current model, trained afresh when the last one went stale.
pub(crate) fn model(registry: &Registry) -> Result<Arc<Model>, RegistryError> {
    let mut cached = registry.model.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(model) = cached.as_ref()
        && model.stale_at > crate::db::now_ms()
    {
        return Ok(Arc::clone(model));
    }
    let baskets = registry.db.baskets()?;
    let mut shown = BTreeMap::new();
    let mut features = BTreeMap::new();
    for (id, name, description, f) in registry.db.features()? {
        shown.insert(id.clone(), (name, description));
        features.insert(id, f);
    }
    let model = Arc::new(Model {
        recommender: Recommender::train(&baskets, features),
        shown,
        stale_at: crate::db::stale_at(),
    });
    *cached = Some(Arc::clone(&model));
    Ok(model)
}

/// Up to `limit` plugins for an installation holding `installed`.
pub(crate) fn recommend(
    registry: &Registry,
    installed: &[String],
    host_api: &semver::Version,
    limit: usize,
) -> Result<Vec<Recommendation>, RegistryError> {
    let model = model(registry)?;
    Ok(model
        .recommender
        .recommend(installed, host_api, limit)
        .into_iter()
        .map(|s| {
            let (name, description) = model.shown.get(&s.id).cloned().unwrap_or_default();
            Recommendation {
                id: s.id,
                name,
                description,
                score: s.score,
                because: s.because,
            }
        })
        .collect())
}

async fn report(
    State(registry): State<Shared>,
    body: Result<Json<UsageReport>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let Json(report) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    let id_len = report.installation.chars().count();
    if !(16..=64).contains(&id_len)
        || !report
            .installation
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(RegistryError::BadRequest(
            "installation must be 16 to 64 letters, digits or `-` (a random id the client keeps)"
                .to_owned(),
        ));
    }
    if report.plugins.len() > 500 {
        return Err(RegistryError::BadRequest(
            "a report lists at most 500 plugins".to_owned(),
        ));
    }
    semver::Version::parse(&report.host_api).map_err(|e| {
        RegistryError::BadRequest(format!(
            "host_api `{}` is not a version: {e}",
            report.host_api
        ))
    })?;
    blocking(&registry, move |r| {
        r.db.record_usage(&report)?;
        // The rollouts of these plugins judge the report (and may move).
        r.db.observe_rollouts(&report.installation, &report.plugins)?;
        // The next recommendation learns from this report.
        *r.model.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    })
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn recommendations(
    State(registry): State<Shared>,
    query: Result<Query<RecommendationQuery>, QueryRejection>,
) -> Result<Response, RegistryError> {
    let Query(query) =
        query.map_err(|e| RegistryError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let host_api = match &query.host_api {
        Some(text) => semver::Version::parse(text).map_err(|e| {
            RegistryError::BadRequest(format!("host_api `{text}` is not a version: {e}"))
        })?,
        None => lord_manifest::host_api_version(),
    };
    let installed: Vec<String> = query
        .installed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(500)
        .map(str::to_owned)
        .collect();
    let limit = usize::try_from(query.limit.unwrap_or(5).min(50)).unwrap_or(5);
    let list = blocking(&registry, move |r| {
        recommend(r, &installed, &host_api, limit)
    })
    .await?;
    Ok(Json(list).into_response())
}
