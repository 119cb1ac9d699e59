//! Approval workflows over HTTP: `POST /api/v1/approvals` submits a
//! published version for approval (a token whose scope names the plugin,
//! or the `publish:*` token that published it last: `ownership.rs`), `GET /api/v1/approvals?plugin=ID&version=V`
//! shows where requests stand (an install that policy says must be
//! approved reads it), and `POST /api/v1/approvals/{id}/review` records a
//! reviewer's verdict on the request's current step (a token named among
//! the step's reviewers, or with scope `review:STEP`). Before an approval
//! lets a step pass, the server checks the step's criteria against what
//! it holds of the version (`db/approvals.rs`): its signature, its
//! publish-time scan, the advisories that affect it. Operators set
//! workflows with [`set_workflow`] (`lord registry workflow set FILE`).
//!
//! Boundary: nothing here touches the signed index. An approval only ever
//! lets a policy refuse a version it would otherwise take.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lord_registry_api::{ApprovalReview, ApprovalSubmit, Workflow};

use crate::db::{Db, Evidence};
use crate::error::RegistryError;
use crate::server::{Shared, blocking, caller, check_id, check_version};

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/api/v1/approvals", post(submit).get(list))
        .route("/api/v1/approvals/{id}/review", post(review))
}

/// The query of `GET /api/v1/approvals`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    plugin: Option<String>,
    version: Option<String>,
}

/// Sets (or replaces) the workflow `text` (JSON) names; the plugin it
/// governs and whether it replaced one.
pub fn set_workflow(db: &Db, text: &str) -> Result<(String, bool), RegistryError> {
    let workflow: Workflow = serde_json::from_str(text).map_err(|e| {
        RegistryError::BadRequest(format!("the workflow is not workflow JSON: {e}"))
    })?;
    let replaced = db.set_workflow(&workflow)?;
    Ok((workflow.plugin, replaced))
}

async fn submit(
    State(registry): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<ApprovalSubmit>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    let Json(submit) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    check_id(&submit.plugin)?;
    check_version(&submit.version)?;
    let by = caller.shown_name();
    crate::ownership::may_change(&registry, &submit.plugin, caller, "submit for approval").await?;
    let info = blocking(&registry, move |r| {
        r.db.submit_approval(&submit.plugin, &submit.version, &by)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn list(
    State(registry): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, RegistryError> {
    let Query(query) =
        query.map_err(|e| RegistryError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let all = blocking(&registry, move |r| {
        r.db.approvals(query.plugin.as_deref(), query.version.as_deref())
    })
    .await?;
    Ok(Json(all).into_response())
}

async fn review(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Result<Json<ApprovalReview>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    let Json(review) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    if review.comment.chars().count() > 2000 {
        return Err(RegistryError::BadRequest(
            "a review comment is at most 2000 characters".to_owned(),
        ));
    }
    let info = blocking(&registry, move |r| {
        let request = r.db.approval(&id)?;
        let evidence = evidence(&r.db, &request.plugin, &request.version)?;
        let reviewer = caller.shown_name();
        let scope = caller.scope;
        r.db.review_approval(
            &id,
            &reviewer,
            move |step| scope.may_review(step),
            &review,
            evidence,
        )
    })
    .await?;
    Ok(Json(info).into_response())
}

/// What the registry holds of `plugin` `version` for a step's criteria.
fn evidence(db: &Db, plugin: &str, version: &str) -> Result<Evidence, RegistryError> {
    let signature = db.signature(plugin, version)?;
    let signed = signature.as_ref().is_some_and(|(s, _)| !s.is_empty());
    let scan = match &signature {
        Some((_, digest)) => db.scan_of(digest)?.and_then(|text| {
            serde_json::from_str::<lord_scan::Report>(&text)
                .ok()
                .map(|report| {
                    report
                        .findings
                        .iter()
                        .map(|f| f.severity.as_str().to_owned())
                        .collect()
                })
        }),
        None => None,
    };
    let parsed = semver::Version::parse(version)
        .map_err(|e| RegistryError::Internal(format!("`{version}` is not a version: {e}")))?;
    let advisories = db
        .advisories_for(plugin)?
        .iter()
        .filter_map(|text| serde_json::from_str::<lord_registry_api::Advisory>(text).ok())
        .filter(|a| a.affects(plugin, &parsed))
        .map(|a| a.id)
        .collect();
    Ok(Evidence {
        signed,
        scan,
        advisories,
    })
}

/// The approval endpoints for the OpenAPI document (`openapi.rs`).
pub(crate) fn openapi_paths() -> serde_json::Value {
    let bearer = serde_json::json!([{"token": []}]);
    let error = serde_json::json!({"description": "An error: what went wrong and what to do.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let answer = |code: &str, description: &str, schema: serde_json::Value, codes: &[&str]| {
        let mut all: serde_json::Map<String, serde_json::Value> = codes
            .iter()
            .map(|c| ((*c).to_owned(), error.clone()))
            .collect();
        all.insert(
            code.to_owned(),
            serde_json::json!({"description": description,
                "content": {"application/json": {"schema": schema}}}),
        );
        serde_json::Value::Object(all)
    };
    let one = serde_json::json!({"$ref": "#/components/schemas/ApprovalInfo"});
    let text = serde_json::json!({"type": "string"});
    serde_json::json!({
        "/api/v1/approvals": {
            "post": {
                "summary": "Submit a published version for approval under the workflow that governs its plugin (a token whose scope names the plugin, or the wildcard token that published it last)",
                "security": bearer,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApprovalSubmit"}}}},
                "responses": answer("201", "The request, pending at its first step.", one.clone(), &["400", "401", "403", "404", "409", "415"])
            },
            "get": {
                "summary": "Approval requests, newest first (not signed; a client uses them only to refuse a version)",
                "parameters": [
                    {"name": "plugin", "in": "query", "schema": text, "description": "Only this plugin's."},
                    {"name": "version", "in": "query", "schema": text, "description": "Only this version's."}],
                "responses": answer("200", "The requests.", serde_json::json!({"type": "array", "items": one}), &["400"])
            }
        },
        "/api/v1/approvals/{id}/review": {"post": {
            "summary": "Approve or reject the request's current step (a reviewer the workflow names, or a token with scope `review:STEP`); an approval is refused while the step's criteria fail",
            "security": bearer,
            "parameters": [{"name": "id", "in": "path", "required": true,
                "description": "A request id, like `hello-1.0.0-1`.", "schema": text}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApprovalReview"}}}},
            "responses": answer("200", "The request as it now stands.", one, &["400", "401", "403", "404", "409", "415", "422"])
        }}
    })
}

/// The approval bodies for the OpenAPI document.
pub(crate) fn openapi_schemas() -> serde_json::Value {
    let text = serde_json::json!({"type": "string"});
    let ms = serde_json::json!({"type": "integer"});
    serde_json::json!({
        "ApprovalSubmit": {"type": "object", "required": ["plugin", "version"], "additionalProperties": false,
            "properties": {"plugin": text, "version": text}},
        "ApprovalReview": {"type": "object", "required": ["approve"], "additionalProperties": false,
            "properties": {"approve": {"type": "boolean"}, "comment": {"type": "string", "maxLength": 2000}}},
        "Workflow": {"type": "object", "required": ["plugin", "timeout_secs", "steps"], "properties": {
            "plugin": text, "timeout_secs": {"type": "integer", "minimum": 1},
            "steps": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "object",
                "required": ["name", "quorum"], "properties": {
                    "name": text, "reviewers": {"type": "array", "items": text},
                    "quorum": {"type": "integer", "minimum": 1},
                    "criteria": {"type": "object", "properties": {
                        "scan_below": {"type": "string", "enum": lord_registry_api::SEVERITIES},
                        "signed": {"type": "boolean"}, "no_advisories": {"type": "boolean"}}}}}}}},
        "ApprovalInfo": {"type": "object",
            "required": ["id", "plugin", "version", "state", "step", "workflow", "submitted_by", "submitted_ms", "deadline_ms", "decisions"],
            "properties": {
                "id": text, "plugin": text, "version": text,
                "state": {"type": "string", "enum": ["pending", "approved", "rejected", "expired"]},
                "step": {"type": "integer", "minimum": 0},
                "workflow": {"$ref": "#/components/schemas/Workflow"},
                "submitted_by": text, "submitted_ms": ms, "deadline_ms": ms, "decided_ms": ms,
                "reason": text,
                "decisions": {"type": "array", "items": {"type": "object",
                    "required": ["step", "reviewer", "approve", "comment", "at_ms"], "properties": {
                        "step": text, "reviewer": text, "approve": {"type": "boolean"},
                        "comment": text, "at_ms": ms}}}}}
    })
}
