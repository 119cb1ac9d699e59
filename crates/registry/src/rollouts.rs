//! Staged rollouts over HTTP: `POST /api/v1/rollouts` starts one (a token
//! whose scope names the plugin, or the `publish:*` token that published
//! it last: `ownership.rs`), `GET
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
    crate::ownership::may_change(&registry, &start.plugin, caller, "roll out").await?;
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
    // Whose rollout it is, then whether this token may change that plugin.
    let wanted = id.clone();
    let plugin = blocking(&registry, move |r| {
        r.db.rollouts(None)?
            .into_iter()
            .find(|rollout| rollout.id == wanted)
            .map(|rollout| rollout.plugin)
            .ok_or_else(|| RegistryError::NotFound(format!("no rollout `{wanted}`")))
    })
    .await?;
    crate::ownership::may_change(&registry, &plugin, caller, "move the rollout of").await?;
    let rollout = blocking(&registry, move |r| {
        r.db.move_rollout(&id, how, move |moved| moved == plugin)
    })
    .await?;
    Ok(Json(rollout).into_response())
}

/// The rollout endpoints for the OpenAPI document (`openapi.rs`).
pub(crate) fn openapi_paths() -> serde_json::Value {
    let bearer = serde_json::json!([{"token": []}]);
    let id = serde_json::json!({"name": "id", "in": "path", "required": true,
        "description": "A rollout id, like `hello-1.1.0-1`.", "schema": {"type": "string"}});
    let errors = |codes: &[&str]| -> serde_json::Map<String, serde_json::Value> {
        codes
            .iter()
            .map(|c| {
                ((*c).to_owned(), serde_json::json!({"description": "An error: what went wrong and what to do.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}))
            })
            .collect()
    };
    let answer = |code: &str, description: &str, schema: serde_json::Value, codes: &[&str]| {
        let mut all = errors(codes);
        all.insert(
            code.to_owned(),
            serde_json::json!({"description": description,
            "content": {"application/json": {"schema": schema}}}),
        );
        serde_json::Value::Object(all)
    };
    let one = serde_json::json!({"$ref": "#/components/schemas/RolloutInfo"});
    let moved = |summary: &str| {
        serde_json::json!({"post": {
            "summary": summary, "security": bearer, "parameters": [id],
            "responses": answer("200", "The rollout as it now stands.", one.clone(), &["401", "403", "404", "409"])
        }})
    };
    serde_json::json!({
        "/api/v1/rollouts": {
            "post": {
                "summary": "Start a staged rollout of a published version (a token whose scope names the plugin, or the wildcard token that published it last)",
                "security": bearer,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RolloutStart"}}}},
                "responses": answer("201", "The rollout, at its first ring.", one.clone(), &["400", "401", "403", "404", "409", "415", "422"])
            },
            "get": {
                "summary": "Rollouts, newest first: what clients read to leave out versions they may not take (not signed; it only narrows)",
                "parameters": [{"name": "plugin", "in": "query", "schema": {"type": "string"}, "description": "Only this plugin's."}],
                "responses": answer("200", "The rollouts.", serde_json::json!({"type": "array", "items": one}), &["400"])
            }
        },
        "/api/v1/rollouts/{id}/promote": moved("Move a rollout to its next ring now, whatever its gate says"),
        "/api/v1/rollouts/{id}/abort": moved("Stop a rollout: no machine takes its version, and those that did return")
    })
}

/// The rollout bodies for the OpenAPI document.
pub(crate) fn openapi_schemas() -> serde_json::Value {
    let count =
        serde_json::json!({"type": "integer", "minimum": 0, "maximum": 9007199254740991u64});
    let ratio = serde_json::json!({"type": "number", "minimum": 0});
    let health = serde_json::json!({"type": "object", "required": ["machines", "runs", "errors"],
        "properties": {"machines": count, "runs": count, "errors": count, "p95_us": count}});
    serde_json::json!({
        "Gate": {"type": "object", "required": ["min_runs"], "additionalProperties": false, "properties": {
            "min_runs": count, "max_error_rate": ratio, "max_error_increase": ratio,
            "max_p95_ms": ratio, "max_p95_ratio": ratio}},
        "RolloutStart": {"type": "object", "required": ["plugin", "version", "rings"], "additionalProperties": false, "properties": {
            "plugin": {"type": "string"}, "version": {"type": "string"},
            "rings": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100}, "minItems": 1, "maxItems": 10},
            "gate": {"$ref": "#/components/schemas/Gate"}}},
        "RolloutInfo": {"type": "object",
            "required": ["id", "plugin", "version", "rings", "ring", "gate", "state", "ring_start_runs", "started_ms", "updated_ms", "canary", "baseline"],
            "properties": {
                "id": {"type": "string"}, "plugin": {"type": "string"}, "version": {"type": "string"},
                "previous": {"type": "string", "nullable": true},
                "rings": {"type": "array", "items": {"type": "integer"}}, "ring": count,
                "gate": {"$ref": "#/components/schemas/Gate"},
                "state": {"type": "string", "enum": ["in-progress", "complete", "rolled-back", "aborted"]},
                "reason": {"type": "string"}, "ring_start_runs": count,
                "started_ms": {"type": "integer"}, "updated_ms": {"type": "integer"},
                "canary": health, "baseline": health}}
    })
}
