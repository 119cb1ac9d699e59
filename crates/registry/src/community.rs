//! The community API: reviews and ratings from accounts that installed
//! what they review, per-plugin discussions, and moderation (reports,
//! hiding, a spam filter, moderator tokens, an audit naming who did what).
//! Handlers are thin, as in `server.rs`; the records are `db/community.rs`,
//! receipts `receipt.rs` (issued here at install, `POST .../receipt`, and
//! with a download by an account; the key to check them at
//! `GET /api/v1/receipts/key`).
//!
//! Invariant: a review or rating is recorded only with an install receipt
//! this registry issued to the caller's own account for that plugin (and,
//! for a review, that version).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use crate::db::Kind;
use crate::error::RegistryError;
use crate::receipt::{self, Claims};
use crate::server::{Shared, blocking, caller, check_id, check_version};
use lord_registry_api::{
    ModerationRequest, PostRequest, RECEIPT_HEADER, ReceiptAnswer, ReceiptKey, ReceiptRequest,
    ReportRequest, ReviewRequest,
};

/// The longest review or post, in characters.
pub(crate) const MAX_TEXT: usize = 4000;
/// The longest reason for a report or a moderation.
const MAX_REASON: usize = 500;

pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route(
            "/api/v1/plugins/{id}/versions/{version}/review",
            put(review),
        )
        .route(
            "/api/v1/plugins/{id}/versions/{version}/receipt",
            post(install_receipt),
        )
        .route("/api/v1/receipts/key", get(receipt_public_key))
        .route("/api/v1/plugins/{id}/reviews", get(reviews))
        .route("/api/v1/plugins/{id}/posts", get(posts).post(add_post))
        .route("/api/v1/moderation/{kind}/{target}/report", post(report))
        .route("/api/v1/moderation/{kind}/{target}/hidden", put(moderate))
        .route("/api/v1/moderation/audit", get(audit))
}

/// Why the spam filter holds `text` back, if it does. Simple, visible
/// rules rather than a model: each names itself in the audit, and a
/// moderator can show what it hid.
pub(crate) fn spam(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let links = lower.matches("http://").count()
        + lower.matches("https://").count()
        + lower.matches("www.").count();
    if links > 3 {
        return Some("more than three links");
    }
    const PHRASES: &[&str] = &[
        "buy now",
        "free money",
        "click here",
        "casino",
        "crypto giveaway",
        "work from home",
        "limited offer",
    ];
    if PHRASES.iter().any(|p| lower.contains(p)) {
        return Some("a phrase spam uses");
    }
    let mut run = (None, 0usize);
    for c in text.chars() {
        run = if run.0 == Some(c) {
            (run.0, run.1 + 1)
        } else {
            (Some(c), 1)
        };
        if run.1 >= 12 && !c.is_whitespace() {
            return Some("a character repeated a dozen times");
        }
    }
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if letters.len() >= 20 && upper * 10 >= letters.len() * 7 {
        return Some("shouting (mostly capitals)");
    }
    None
}

/// Refuses text that is too long, or carries control characters other
/// than line breaks and tabs (which could hide text from a moderator).
fn checked_text(
    text: &str,
    what: &str,
    max: usize,
    may_be_empty: bool,
) -> Result<(), RegistryError> {
    if !may_be_empty && text.trim().is_empty() {
        return Err(RegistryError::BadRequest(format!(
            "the {what} is empty; write something"
        )));
    }
    if text.chars().count() > max {
        return Err(RegistryError::BadRequest(format!(
            "the {what} is longer than {max} characters; shorten it"
        )));
    }
    // Direction controls would let text read differently to a moderator
    // than to a reader.
    let hiding = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if text.chars().any(hiding) {
        return Err(RegistryError::BadRequest(format!(
            "the {what} holds control or invisible characters; remove them"
        )));
    }
    Ok(())
}

/// The receipt key, read (or made) once per server.
async fn receipt_key(registry: &Shared) -> Result<Vec<u8>, RegistryError> {
    if let Some(key) = registry.receipt_key.get() {
        return Ok(key.clone());
    }
    let key = blocking(registry, |r| r.db.receipt_key()).await?;
    Ok(registry.receipt_key.get_or_init(|| key).clone())
}

/// The receipt header for a download of `id` `version` (`digest`) by the
/// account behind the request's bearer token; none without a valid token,
/// since downloads are public.
pub(crate) async fn receipt_for(
    registry: &Shared,
    headers: &HeaderMap,
    id: &str,
    version: &str,
    digest: &str,
) -> Option<(HeaderName, HeaderValue)> {
    let account = caller(registry, headers).await.ok()?;
    let key = receipt_key(registry).await.ok()?;
    let text = receipt::issue(
        &key,
        &Claims {
            account: account.token_id,
            plugin: id.to_owned(),
            version: version.to_owned(),
            digest: digest.to_owned(),
            issued_ms: crate::db::now_ms(),
        },
    )
    .ok()?;
    Some((
        HeaderName::from_static(RECEIPT_HEADER),
        HeaderValue::from_str(&text).ok()?,
    ))
}

/// The claims of `receipt` if this registry issued it.
pub(crate) async fn verified(registry: &Shared, receipt: &str) -> Result<Claims, RegistryError> {
    let key = receipt_key(registry).await?;
    receipt::verify(&key, receipt)
}

/// The receipt for an install the caller just made: the digest must be
/// the one this registry recorded for that version, so a receipt always
/// names a package the registry served.
async fn install_receipt(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<ReceiptRequest>, JsonRejection>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let who = caller(&registry, &headers).await?;
    let request = body(request)?;
    let (plugin, asked) = (id.clone(), version.clone());
    let recorded = blocking(&registry, move |r| r.db.signature(&plugin, &asked))
        .await?
        .map(|(_, digest)| digest)
        .ok_or_else(|| RegistryError::NotFound(format!("{id} {version} is not published")))?;
    if !recorded.eq_ignore_ascii_case(request.digest.trim()) {
        return Err(RegistryError::BadRequest(format!(
            "{id} {version} was published with digest {recorded}, not {}; ask for the receipt \
             of the package you installed",
            request.digest.trim()
        )));
    }
    let key = receipt_key(&registry).await?;
    let receipt = receipt::issue(
        &key,
        &Claims {
            account: who.token_id,
            plugin: id,
            version,
            digest: recorded,
            issued_ms: crate::db::now_ms(),
        },
    )?;
    Ok(Json(ReceiptAnswer { receipt }).into_response())
}

/// The public key install receipts verify under.
async fn receipt_public_key(State(registry): State<Shared>) -> Result<Response, RegistryError> {
    let key = receipt_key(&registry).await?;
    Ok(Json(ReceiptKey {
        algorithm: "ed25519".to_owned(),
        public_key: receipt::public_key(&key)?,
    })
    .into_response())
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, RegistryError> {
    body.map(|Json(b)| b)
        .map_err(|e| RegistryError::BadRequest(e.body_text()))
}

async fn review(
    State(registry): State<Shared>,
    UrlPath((id, version)): UrlPath<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<ReviewRequest>, JsonRejection>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    check_version(&version)?;
    let who = caller(&registry, &headers).await?;
    let request = body(request)?;
    if !(1..=5).contains(&request.stars) {
        return Err(RegistryError::BadRequest(
            "stars must be from 1 to 5".to_owned(),
        ));
    }
    checked_text(&request.text, "review", MAX_TEXT, true)?;
    let claims = verified(&registry, &request.receipt).await?;
    receipt::check_binding(&claims, who.token_id, &id, &version)?;
    let held = spam(&request.text);
    let recorded = blocking(&registry, move |r| {
        r.db.review(&who, &id, &version, request.stars, &request.text, held)
    })
    .await?;
    Ok(Json(recorded).into_response())
}

async fn reviews(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let list = blocking(&registry, move |r| r.db.reviews(&id, false)).await?;
    Ok(Json(list).into_response())
}

async fn posts(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let list = blocking(&registry, move |r| r.db.posts(&id, false)).await?;
    Ok(Json(list).into_response())
}

async fn add_post(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    request: Result<Json<PostRequest>, JsonRejection>,
) -> Result<Response, RegistryError> {
    check_id(&id)?;
    let who = caller(&registry, &headers).await?;
    let request = body(request)?;
    checked_text(&request.text, "post", MAX_TEXT, false)?;
    let held = spam(&request.text);
    let recorded = blocking(&registry, move |r| {
        r.db.post(&who, &id, &request.text, held)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(recorded)).into_response())
}

fn target_of(kind: &str, target: &str) -> Result<(Kind, i64), RegistryError> {
    let kind = Kind::parse(kind)?;
    let target = target.parse::<i64>().map_err(|_| {
        RegistryError::BadRequest(format!("`{target}` is not a {} number", kind.as_str()))
    })?;
    Ok((kind, target))
}

async fn report(
    State(registry): State<Shared>,
    UrlPath((kind, target)): UrlPath<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<ReportRequest>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let (kind, target) = target_of(&kind, &target)?;
    let who = caller(&registry, &headers).await?;
    let request = body(request)?;
    checked_text(&request.reason, "reason", MAX_REASON, false)?;
    let found = blocking(&registry, move |r| {
        r.db.report(&who, kind, target, &request.reason)
    })
    .await?;
    if !found {
        return Err(RegistryError::NotFound(format!(
            "no {} {target}",
            kind.as_str()
        )));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn moderate(
    State(registry): State<Shared>,
    UrlPath((kind, target)): UrlPath<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<ModerationRequest>, JsonRejection>,
) -> Result<Response, RegistryError> {
    let (kind, target) = target_of(&kind, &target)?;
    let who = caller(&registry, &headers).await?;
    let request = body(request)?;
    checked_text(&request.reason, "reason", MAX_REASON, false)?;
    let answer = request.clone();
    let found = blocking(&registry, move |r| {
        r.db.moderate(&who, kind, target, request.hidden, &request.reason)
    })
    .await?;
    if !found {
        return Err(RegistryError::NotFound(format!(
            "no {} {target}",
            kind.as_str()
        )));
    }
    Ok(Json(answer).into_response())
}

async fn audit(
    State(registry): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    let who = caller(&registry, &headers).await?;
    if !who.scope.may_moderate() {
        return Err(RegistryError::Forbidden(
            "only moderators read the moderation audit; ask for a token with scope `moderate`"
                .to_owned(),
        ));
    }
    let entries = blocking(&registry, |r| r.db.audit(500)).await?;
    Ok(Json(entries).into_response())
}

#[cfg(test)]
mod tests {
    use super::spam;

    #[test]
    fn the_spam_filter_names_its_reason() {
        assert_eq!(spam("Works well; the CSV export saved me an hour."), None);
        assert_eq!(
            spam("see http://a.example http://b.example https://c.example www.d.example"),
            Some("more than three links")
        );
        assert_eq!(spam("Free money for everyone"), Some("a phrase spam uses"));
        assert_eq!(
            spam("great!!!!!!!!!!!!!!"),
            Some("a character repeated a dozen times")
        );
        assert_eq!(
            spam("THIS PLUGIN IS THE BEST THING EVER MADE"),
            Some("shouting (mostly capitals)")
        );
    }
}
