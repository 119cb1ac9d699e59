//! The registry's HTTP server (axum). Handlers are thin: parse, check,
//! call [`Db`] on a blocking thread, answer JSON. Every error body is
//! `{"error": "..."}` with the status its kind maps to, including bad
//! query strings and JSON bodies, so clients and fuzzers never see a 500
//! for bad input.
//!
//! Invariant: a publish is verified before anything is written: the
//! signature must verify under the public key sent with it, the archive
//! must unpack under the package limits, the manifest must parse and match
//! the token's scope, and its security scan must find nothing critical
//! (`scanning.rs`); then the blob is made durable, then the records are
//! committed in one transaction.
//!
//! Invariant: no body is read before it may be: the package and release
//! uploads read theirs (at most the package limit) only once the bearer
//! token is known (`upload_body`), and every other route takes at most
//! [`JSON_BODY_LIMIT`], refused from its declared length before any is
//! read, so an anonymous client cannot make the server hold large bodies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use lord_package::{Digest, Limits, PublicKey, Signature};

pub use crate::blobs::Blobs;
use crate::db::{Caller, Db, NewVersion, PgOptions, SearchQuery};
use crate::error::{RegistryError, io};
use crate::ops::RateLimits;
use lord_registry_api::{ErrorBody, IndexEntry, Published, Rating, TargetInfo, Yank};

/// A registry: its database and its blob store.
#[derive(Debug)]
pub struct Registry {
    pub db: Db,
    /// The TUF-signed index (`tuf/` in the data folder).
    pub tuf: crate::tuf::TufRepo,
    pub(crate) blobs: Blobs,
    /// Scratch space for unpacking packages under review.
    work: PathBuf,
    pub(crate) limits: Limits,
    pub(crate) metrics: crate::ops::Metrics,
    pub(crate) limiter: crate::ops::Limiter,
    rate_limits: std::sync::Mutex<RateLimits>,
    /// Where each answered request is logged, if anywhere.
    pub(crate) access_log: std::sync::OnceLock<crate::access_log::AccessLog>,
    /// The URL users reach the registry at, for the pages' install lines.
    public_url: std::sync::OnceLock<String>,
    /// The install receipts' key, read from the database once.
    pub(crate) receipt_key: std::sync::OnceLock<Vec<u8>>,
    /// The recommender, retrained when stale (`usage.rs`).
    pub(crate) model: std::sync::Mutex<Option<Arc<crate::usage::Model>>>,
    /// Between a publish's or yank's commit and its signing (`resync.rs`).
    pub(crate) failpoint: crate::resync::Failpoint,
}

impl Registry {
    /// Opens (creating) the registry kept in `dir`: `registry.db` and
    /// `blobs/`.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        Self::open_with(dir, None, None)
    }

    /// Opens the registry with its records in the PostgreSQL database at
    /// `database_url` when one is given (see [`Db::connect`]), in
    /// `dir/registry.db` otherwise; and package blobs in the object store
    /// at `blob_url`, or `dir/blobs/` (content-addressed files, which a
    /// database would only make slower to serve).
    pub fn open_with(
        dir: &Path,
        database_url: Option<&str>,
        blob_url: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let blobs = blob_url.map(Blobs::open).transpose()?;
        Self::open_configured(dir, database_url.map(PgOptions::new).as_ref(), blobs)
    }

    /// [`Registry::open_with`] with the PostgreSQL connection described in
    /// full (password kept apart, pool size, TLS) and the blob store
    /// opened by the caller ([`Blobs::open_with`], with its credentials).
    pub fn open_configured(
        dir: &Path,
        database: Option<&PgOptions>,
        blobs: Option<Blobs>,
    ) -> Result<Self, RegistryError> {
        let work = dir.join("tmp");
        std::fs::create_dir_all(&work).map_err(io("create", &work))?;
        let blobs = match blobs {
            Some(blobs) => blobs,
            None => {
                let local = dir.join("blobs");
                std::fs::create_dir_all(&local).map_err(io("create", &local))?;
                let local = local.canonicalize().map_err(io("resolve", &local))?;
                let url = url::Url::from_directory_path(&local).map_err(|()| {
                    RegistryError::BadRequest(format!(
                        "`{}` is not a usable folder",
                        local.display()
                    ))
                })?;
                Blobs::open(url.as_str())?
            }
        };
        let db = match database {
            Some(options) => Db::connect_with(options)?,
            None => Db::open(dir)?,
        };
        let tuf = crate::tuf::TufRepo::open_in(
            &dir.join("tuf"),
            crate::tuf::Lifetimes::default(),
            db.index_pools()?,
        )?;
        Ok(Self {
            db,
            tuf,
            blobs,
            work,
            limits: Limits::default(),
            metrics: crate::ops::Metrics::default(),
            limiter: crate::ops::Limiter::default(),
            rate_limits: std::sync::Mutex::new(RateLimits::default()),
            access_log: std::sync::OnceLock::new(),
            public_url: std::sync::OnceLock::new(),
            receipt_key: std::sync::OnceLock::new(),
            model: std::sync::Mutex::new(None),
            failpoint: crate::resync::Failpoint::default(),
        })
    }
}

impl Registry {
    /// Replaces the rate limits (from the next request on).
    pub fn set_rate_limits(&self, limits: RateLimits) {
        *self.rate_limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    /// Logs every answered request to `log` from now on (once; a second
    /// log is refused and returned).
    pub fn set_access_log(
        &self,
        log: crate::access_log::AccessLog,
    ) -> Result<(), crate::access_log::AccessLog> {
        self.access_log.set(log)
    }

    /// Names the URL users reach this registry at (behind a proxy, say),
    /// for the install lines its pages show; without it a page uses
    /// `http://` and the host the request was sent to. Set once; a second
    /// URL is refused and returned.
    pub fn set_public_url(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        }
        self.public_url
            .set(parsed.as_str().trim_end_matches('/').to_owned())
    }

    pub(crate) fn public_url(&self) -> Option<&str> {
        self.public_url.get().map(String::as_str)
    }

    pub(crate) fn rate_limits(&self) -> RateLimits {
        *self.rate_limits.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = if let RegistryError::TooManyRequests { retry_after, .. } = &self {
            Some(retry_after.to_string())
        } else {
            None
        };
        let mut response = (status, Json(ErrorBody { error: self.told() })).into_response();
        if let Some(seconds) = retry_after.and_then(|s| header::HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

pub(crate) type Shared = Arc<Registry>;

/// Runs `work` on a blocking thread: database calls (SQLite, or waiting on
/// the PostgreSQL connection thread) and file writes must not hold up the
/// async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    registry: &Shared,
    work: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    let registry = Arc::clone(registry);
    tokio::task::spawn_blocking(move || work(&registry))
        .await
        .map_err(|e| RegistryError::Internal(format!("a registry worker failed: {e}")))?
}

/// The most any route but the uploads takes in a body. The largest
/// legitimate one is a use report (`usage.rs`: up to 500 plugins, each a
/// 64-character id, a version and three counts, about 125 KiB); a review
/// or post is at most 4000 characters (24 KiB JSON-escaped).
pub(crate) const JSON_BODY_LIMIT: usize = 256 * 1024;

/// A body's declared length, when it declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Refuses (413) a body whose declared length is over
/// [`JSON_BODY_LIMIT`] before reading any of it; one sent without a
/// length is cut off there by `DefaultBodyLimit`.
async fn small_bodies(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if declared_length(request.headers()).is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
        return RegistryError::TooLarge(format!(
            "the body is over the {} KiB this endpoint takes",
            JSON_BODY_LIMIT / 1024
        ))
        .into_response();
    }
    next.run(request).await
}

/// An upload's body, read only after its sender's token was checked: at
/// most `max` bytes, refused (413) by its declared length before any is
/// read, or as soon as more than `max` arrive. One copy: hyper's chunks
/// into the buffer the blob store is handed.
pub(crate) async fn upload_body(
    headers: &HeaderMap,
    body: Body,
    max: u64,
) -> Result<Bytes, RegistryError> {
    use axum::body::HttpBody as _;
    let too_large = || {
        RegistryError::TooLarge(format!(
            "the upload is over the {max} bytes this registry accepts"
        ))
    };
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(
        declared
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(max),
    );
    let mut body = body;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame
            .map_err(|e| RegistryError::BadRequest(format!("the upload could not be read: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len().saturating_add(data.len()) > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// The routes, under `/api/v1`.
pub fn router(registry: Shared) -> axum::Router {
    // The uploads take their bodies raw and read them after checking the
    // token (`upload_body`); every other route is held to small bodies.
    let uploads = axum::Router::new()
        .route("/api/v1/publish", post(publish))
        .route("/api/v1/releases", post(crate::releases::publish_release));
    axum::Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/search", get(search))
        .route("/api/v1/plugins/{id}", get(plugin))
        .route(
            "/api/v1/plugins/{id}/versions/{version}/package",
            get(package),
        )
        .route(
            "/api/v1/plugins/{id}/versions/{version}/signature",
            get(signature),
        )
        .route("/api/v1/plugins/{id}/versions/{version}/yanked", put(yank))
        .route("/api/v1/plugins/{id}/rating", put(rate))
        .route("/api/v1/keys/{key_id}", get(key))
        .route("/api/v1/tuf/{file}", get(tuf_file))
        .route("/api/v1/tuf/targets/plugins/{id}/{file}", get(tuf_target))
        .route(
            "/api/v1/tuf/targets/releases/{platform}/{file}",
            get(crate::releases::release_target),
        )
        .route(
            "/api/v1/tuf/targets/policies/{file}",
            get(crate::policies::policies_target),
        )
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .merge(crate::web::routes())
        .merge(crate::community::routes())
        .merge(crate::usage::routes())
        .merge(crate::rollouts::routes())
        .merge(crate::approvals::routes())
        .merge(crate::insights::routes())
        .merge(crate::scanning::routes())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn(small_bodies))
        .merge(uploads)
        .fallback(|| async {
            RegistryError::NotFound("no such endpoint; see /api/v1/openapi.json".to_owned())
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&registry),
            crate::ops::measured,
        ))
        .with_state(registry)
}

/// Serves `registry` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, registry: Shared) -> std::io::Result<()> {
    serve_until(listener, registry, std::future::pending()).await
}

/// Serves `registry` on `listener` until `shutdown` completes, then stops
/// taking connections and returns once the requests in flight are
/// answered (a publish being signed finishes signing). Before taking
/// connections it signs in whatever the records hold that the index
/// lacks (`resync.rs`).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    registry: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::resync::start(&registry)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let app = router(registry).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// TUF metadata files; the timestamp is re-signed first when half its
/// lifetime has passed.
async fn tuf_file(
    State(registry): State<Shared>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, RegistryError> {
    registry.tuf.ready().await?;
    registry.tuf.refresh_if_stale().await?;
    let name = file.clone();
    let bytes = blocking(&registry, move |r| r.tuf.file(&name))
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("no metadata file `{file}`")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// A package at its TUF target path with consistent snapshots
/// (`plugins/ID/SHA256.VERSION.lordpkg` under `/api/v1/tuf/targets/`), so
/// any TUF client, or a static mirror of these files, can fetch what the
/// index lists. The digest in the name must be the one the registry
/// recorded for that version.
async fn tuf_target(
    State(registry): State<Shared>,
    UrlPath((id, file)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let missing = format!("no target `plugins/{id}/{file}`");
    let no_target = || RegistryError::NotFound(missing.clone());
    let (digest, version) = file
        .strip_suffix(".lordpkg")
        .and_then(|rest| rest.split_once('.'))
        .map(|(d, v)| (d.to_owned(), v.to_owned()))
        .ok_or_else(no_target)?;
    check_version(&version)?;
    let (wanted, asked) = (id.clone(), version.clone());
    let recorded = blocking(&registry, move |r| {
        let (_, recorded) =
            r.db.signature(&id, &version)?
                .ok_or_else(|| not_published(&id, &version))?;
        if recorded == digest {
            r.db.count_download(&id)?;
        }
        Ok((recorded == digest).then_some(recorded))
    })
    .await?
    .ok_or_else(no_target)?;
    let bytes = registry.blobs.get(&recorded).await?;
    let mut response =
        ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response();
    if let Some((name, value)) =
        crate::community::receipt_for(&registry, &headers, &wanted, &asked, &recorded).await
    {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// The signed-index entry of a recorded version.
fn target_of(registry: &Registry, id: &str, version: &str) -> Result<TargetInfo, RegistryError> {
    let info = registry
        .db
        .plugin(id)?
        .ok_or_else(|| not_published(id, version))?;
    let v = info
        .versions
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| not_published(id, version))?;
    Ok(TargetInfo {
        id: id.to_owned(),
        version: v.version,
        digest: v.digest,
        length: v.size,
        host_api: v.host_api,
        dependencies: v.dependencies,
        yanked: v.yanked,
        key: v.key,
        signature: registry
            .db
            .signature(id, version)?
            .and_then(|(json, _)| serde_json::from_str::<Signature>(&json).ok())
            .map(|s| s.signature)
            .unwrap_or_default(),
    })
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

fn bad_query(e: &QueryRejection) -> RegistryError {
    RegistryError::BadRequest(format!("bad query: {}", e.body_text()))
}

pub(crate) fn check_id(id: &str) -> Result<(), RegistryError> {
    id.parse::<lord_manifest::PluginId>()
        .map(|_| ())
        .map_err(|e| RegistryError::BadRequest(format!("`{id}` is not a plugin id: {e}")))
}

pub(crate) fn check_version(version: &str) -> Result<(), RegistryError> {
    semver::Version::parse(version)
        .map(|_| ())
        .map_err(|e| RegistryError::BadRequest(format!("`{version}` is not a version: {e}")))
}

async fn search(
    State(registry): State<Shared>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, RegistryError> {
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    if let Some(min) = query.min_rating
        && !(0.0..=5.0).contains(&min)
    {
        return Err(RegistryError::BadRequest(
            "min_rating must be from 0 to 5".to_owned(),
        ));
    }
    let page = blocking(&registry, move |r| r.db.search(&query)).await?;
    Ok(Json(page).into_response())
}

async fn plugin(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let info = blocking(&registry, move |r| {
        r.db.plugin(&id)?
            .ok_or_else(|| RegistryError::NotFound(format!("no plugin named `{id}` is published")))
    })
    .await?;
    Ok(Json(info).into_response())
}

fn not_published(id: &str, version: &str) -> RegistryError {
    RegistryError::NotFound(format!("{id} {version} is not published"))
}

async fn package(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let (wanted, asked) = (id.clone(), version.clone());
    let digest = blocking(&registry, move |r| {
        let (_, digest) =
            r.db.signature(&id, &version)?
                .ok_or_else(|| not_published(&id, &version))?;
        r.db.count_download(&id)?;
        Ok(digest)
    })
    .await?;
    let bytes = registry.blobs.get(&digest).await?;
    let receipt =
        crate::community::receipt_for(&registry, &headers, &wanted, &asked, &digest).await;
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::HeaderName::from_static("lord-digest"), digest),
        ],
        bytes,
    )
        .into_response();
    if let Some((name, value)) = receipt {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

async fn signature(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let (text, _) = blocking(&registry, move |r| {
        r.db.signature(&id, &version)?
            .ok_or_else(|| not_published(&id, &version))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

async fn key(
    State(registry): State<Shared>,
    UrlPath(key_id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    let text = blocking(&registry, move |r| {
        r.db.public_key(&key_id)?
            .ok_or_else(|| RegistryError::NotFound(format!("no key {key_id} signed anything here")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], text).into_response())
}

/// The caller behind `Authorization: Bearer TOKEN`.
pub(crate) async fn caller(
    registry: &Shared,
    headers: &HeaderMap,
) -> Result<Caller, RegistryError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(RegistryError::Unauthorized)?
        .to_owned();
    blocking(registry, move |r| {
        r.db.caller(&token)?.ok_or(RegistryError::Unauthorized)
    })
    .await
}

async fn yank(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Yank>, JsonRejection>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let caller = caller(&registry, &headers).await?;
    let Json(yank) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    crate::ownership::may_change(&registry, &id, caller, "yank or restore versions of").await?;
    let target = blocking(&registry, move |r| {
        if r.db.set_yanked(&id, &version, yank.yanked)? {
            target_of(r, &id, &version)
        } else {
            Err(not_published(&id, &version))
        }
    })
    .await?;
    registry.before_signing()?;
    registry.tuf.ready().await?;
    registry.tuf.resign(&[IndexEntry::from(&target)]).await?;
    Ok(Json(yank).into_response())
}

async fn rate(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Result<Json<Rating>, JsonRejection>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let caller = caller(&registry, &headers).await?;
    let Json(rating) = body.map_err(|e| RegistryError::BadRequest(e.body_text()))?;
    if !(1..=5).contains(&rating.stars) {
        return Err(RegistryError::BadRequest(
            "stars must be from 1 to 5".to_owned(),
        ));
    }
    // Only an account that installed the plugin rates it.
    let receipt = rating.receipt.as_deref().ok_or_else(|| {
        RegistryError::Forbidden(
            "a rating needs an install receipt: install the plugin with your account's token, \
             then rate it with `lord plugin rate`"
                .to_owned(),
        )
    })?;
    let claims = crate::community::verified(&registry, receipt).await?;
    crate::receipt::check_binding(&claims, caller.token_id, &id, &claims.version)?;
    let stars = rating.stars;
    blocking(&registry, move |r| {
        if r.db.rate(&id, &caller, stars)? {
            Ok(())
        } else {
            Err(RegistryError::NotFound(format!(
                "no plugin named `{id}` is published"
            )))
        }
    })
    .await?;
    Ok(Json(rating).into_response())
}

pub(crate) fn header_text<'a>(
    headers: &'a HeaderMap,
    name: &str,
    what: &str,
) -> Result<&'a str, RegistryError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Rejected(format!("the `{name}` header is missing: {what}")))
}

async fn publish(
    State(registry): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegistryError> {
    let caller = caller(&registry, &headers).await?;
    if !caller.scope.may_publish() {
        return Err(RegistryError::Forbidden(
            "this token may not publish plugins; ask for a token with scope `publish:ID`"
                .to_owned(),
        ));
    }
    let signature_text = header_text(
        &headers,
        "lord-signature",
        "send the package's signature (`lord pdk sign`) as compact JSON",
    )?
    .to_owned();
    let key_text = header_text(
        &headers,
        "lord-public-key",
        "send the signer's public key (`lord key export`)",
    )?
    .to_owned();
    // A compressed package may be a little larger than what it unpacks to.
    let max = registry.limits.max_total_bytes.saturating_add(1 << 20);
    let body = upload_body(&headers, body, max).await?;
    let (target, refused) =
        record_package(&registry, caller, body, signature_text, key_text).await?;
    registry.before_signing()?;
    registry.tuf.ready().await?;
    registry.tuf.resign(&[IndexEntry::from(&target)]).await?;
    match refused {
        Some(duplicate) => Err(duplicate),
        None => Ok((
            StatusCode::CREATED,
            Json(Published {
                id: target.id,
                version: target.version,
                digest: target.digest,
            }),
        )
            .into_response()),
    }
}

/// Verifies and records a package as `caller` publishes it: the blob
/// durably first, then the records. Returns its index entry, to be signed
/// in (by the caller, so the demo can sign many at once), and the refusal
/// of a duplicate whose earlier publish may not have been signed in.
pub(crate) async fn record_package(
    registry: &Shared,
    caller: Caller,
    body: impl Into<Bytes>,
    signature_text: String,
    key_text: String,
) -> Result<(TargetInfo, Option<RegistryError>), RegistryError> {
    let body: Bytes = body.into();
    let checked_body = body.clone();
    let new = blocking(registry, move |r| {
        let new = verify(r, &caller, &checked_body, &signature_text, &key_text)?;
        r.db.check_publish(&new)?;
        Ok(new)
    })
    .await?;
    // The blob first, durably: a record never points at a missing blob.
    registry.blobs.put(&new.digest, body).await?;
    let id = new.manifest.plugin.id.to_string();
    let version = new.manifest.plugin.version.to_string();
    blocking(registry, move |r| match r.db.publish(&new) {
        Ok(()) => Ok((target_of(r, &id, &version)?, None)),
        // The same package again: the retry of a publish whose server
        // died after recording it and before signing it into the index.
        // It is still refused (versions are immutable), but signed now,
        // so the index cannot stay without a version the records hold.
        Err(duplicate @ RegistryError::Duplicate { .. })
            if r.db
                .signature(&id, &version)?
                .is_some_and(|(_, digest)| digest == new.digest) =>
        {
            Ok((target_of(r, &id, &version)?, Some(duplicate)))
        }
        Err(e) => Err(e),
    })
    .await
}

/// Every check a publish must pass, in order; the version to record.
fn verify(
    registry: &Registry,
    caller: &Caller,
    body: &[u8],
    signature_text: &str,
    key_text: &str,
) -> Result<NewVersion, RegistryError> {
    let rejected = |e: lord_package::PackageError| RegistryError::Rejected(e.to_string());
    let public = PublicKey::parse("the lord-public-key header", key_text).map_err(rejected)?;
    let signature = Signature::parse(Path::new("the lord-signature header"), signature_text)
        .map_err(rejected)?;
    let digest = Digest::of(body);
    lord_package::verify(&signature, &digest, std::slice::from_ref(&public)).map_err(rejected)?;

    let unpacked =
        tempfile::tempdir_in(&registry.work).map_err(io("create a folder in", &registry.work))?;
    lord_package::unpack(body, unpacked.path(), &registry.limits).map_err(rejected)?;
    let manifest_path = unpacked.path().join(lord_manifest::MANIFEST_FILE);
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        RegistryError::Rejected(format!("the package's plugin.toml is unreadable: {e}"))
    })?;
    let manifest = lord_manifest::parse("plugin.toml", &manifest_text)
        .map_err(|e| RegistryError::Rejected(e.to_string()))?;
    if !unpacked.path().join(&manifest.plugin.component).is_file() {
        return Err(RegistryError::Rejected(format!(
            "the package lacks its component `{}`",
            manifest.plugin.component
        )));
    }
    let readme = crate::web::readme_in(unpacked.path())?;
    let id = manifest.plugin.id.to_string();
    if !caller.scope.covers(&id) {
        return Err(RegistryError::Forbidden(format!(
            "this token may not publish `{id}`; ask for a token with scope `publish:{id}`"
        )));
    }
    crate::scanning::check_publish(registry, &manifest, unpacked.path(), &digest.to_string())?;

    Ok(NewVersion {
        manifest,
        manifest_text,
        digest: digest.to_string(),
        size: body.len() as u64,
        signature_json: signature.to_json(),
        key_id: public.id().to_string(),
        public_key: public.to_text().trim().to_owned(),
        readme,
        publisher_token: caller.token_id,
    })
}
