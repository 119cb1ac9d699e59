//! Staged rollouts over HTTP: `POST /api/v1/rollouts` starts one (a token
//! whose scope covers the plugin, as publishing needs), `GET
//! /api/v1/rollouts?plugin=ID` lists them for clients deciding what to
//! take, and `POST /api/v1/rollouts/{id}/promote` and `.../abort` move
//! one by hand. Reports of use (`usage.rs`) carry each version's runs,
//! failures and p95 latency; each report lets the rollouts of its plugins
//! promote themselves when their gate holds, or roll back when it fails
//! (`db/rollouts.rs`).
//!
//! Boundary: nothing here touches the signed index. A rollout only ever
//! narrows which signed versions a client takes.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lord_registry_api::RolloutStart;

use crate::db::Move;
use crate::error::RegistryError;
use crate::server::{Shared, blocking, caller};

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/api/v1/rollouts", post(start).get(list))
        .route("/api/v1/rollouts/{id}/promote", post(promote))
        .route("/api/v1/rollouts/{id}/abort", post(abort))
}

/// The query of `GET /api/v1/rollouts`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    plugin: Option<String>,
}

async fn start(
    State(registry): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<RolloutStart>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    let Json(start) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    start
        .plugin
        .parse::<lord_manifest::PluginId>()
        .map_err(|e| RegistryError::BadRequest(format!("plugin `{}`: {e}", start.plugin)))?;
    if !caller.scope.covers(&start.plugin) {
        return Err(RegistryError::Forbidden(format!(
            "this token may not roll out `{}`; ask for a token with scope `publish:{}`",
            start.plugin, start.plugin
        )));
    }
    let started = blocking(&registry, move |r| r.db.start_rollout(&start)).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

async fn list(
    State(registry): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, RegistryError> {
    let Query(query) =
        query.map_err(|e| RegistryError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let rollouts = blocking(&registry, move |r| r.db.rollouts(query.plugin.as_deref())).await?;
    Ok(Json(rollouts).into_response())
}

async fn promote(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    moved(registry, id, headers, Move::Promote).await
}

async fn abort(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    moved(registry, id, headers, Move::Abort).await
}

async fn moved(
    registry: Shared,
    id: String,
    headers: HeaderMap,
    how: Move,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    let rollout = blocking(&registry, move |r| {
        r.db.move_rollout(&id, how, move |plugin| caller.scope.covers(plugin))
    })
    .await?;
    Ok(Json(rollout).into_response())
}
