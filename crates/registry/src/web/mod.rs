//! The registry's web pages, rendered on the server (minijinja templates
//! embedded in the binary; no client framework): search with filters and
//! sorting at `/`, a page per plugin at `/plugins/ID`, a page per publisher
//! (a signing key) at `/publishers/KEY-ID`, and their stylesheet and one
//! small script under `/static/`.
//!
//! Every page is sent with a strict Content-Security-Policy: nothing
//! inline runs or applies (`script-src 'self'`, `style-src 'self'`), no
//! image comes from elsewhere, nothing frames the page, and forms post
//! only here. Pages work without the script; it only adds a "copy" button
//! beside the install line.
//!
//! Invariant: nothing an author or a visitor sends reaches a page
//! unescaped: text goes through the templates' HTML escaping, and the
//! README through the sanitiser (`readme.rs`).

mod chart;
mod readme;
mod view;

pub(crate) use readme::readme_in;

use std::sync::OnceLock;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, Value, context};
use serde::Deserialize;

use crate::error::RegistryError;
use crate::server::{Shared, blocking};
use lord_registry_api::{SearchQuery, Sort};

/// What every page is sent with.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Results per search page.
const PAGE_SIZE: u32 = 20;

/// The pages' routes, merged into the API's router.
pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/", get(search_page))
        .route("/plugins/{id}", get(plugin_page))
        .route("/publishers/{key_id}", get(publisher_page))
        .route("/insights", get(insights_page))
        .route("/static/style.css", get(style))
        .route("/static/copy.js", get(script))
        .layer(axum::middleware::map_response(secure))
}

/// Adds the security headers to every page and file.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        // Names end in `.html`, so minijinja escapes every value for HTML.
        for (name, text) in [
            ("layout.html", include_str!("templates/layout.html")),
            ("search.html", include_str!("templates/search.html")),
            ("plugin.html", include_str!("templates/plugin.html")),
            ("publisher.html", include_str!("templates/publisher.html")),
            ("insights.html", include_str!("templates/insights.html")),
            ("error.html", include_str!("templates/error.html")),
        ] {
            // The templates are part of the binary and a test renders each,
            // so a broken one fails the tests, never a server.
            if let Err(e) = env.add_template(name, text) {
                panic!("the embedded template {name} is broken: {e}");
            }
        }
        env
    })
}

/// `template` rendered with `values`, or the error page when rendering
/// fails (a bug: the values come from the records).
fn render(status: StatusCode, template: &str, values: Value) -> Response {
    match templates()
        .get_template(template)
        .and_then(|t| t.render(values))
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("this page could not be drawn: {e}"),
        ),
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let html = templates()
        .get_template("error.html")
        .and_then(|t| t.render(context! { title => status.canonical_reason(), message }))
        .unwrap_or_else(|_| message.to_owned());
    (status, Html(html)).into_response()
}

/// An error as a page of its own, with its status.
fn failed(e: &RegistryError) -> Response {
    error_page(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.told(),
    )
}

/// The registry's address as users reach it, for install lines: the
/// configured public URL, or `http://` and the request's `Host` when that
/// is a plain host name or address with an optional port (anything else
/// could carry text into a command a user copies).
fn base_url(registry: &Shared, headers: &HeaderMap) -> String {
    if let Some(url) = registry.public_url() {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The search form as sent: every field optional, and an empty field
/// meaning "any" (a form sends `category=` when nothing is chosen).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    q: Option<String>,
    category: Option<String>,
    permission: Option<String>,
    max_risk: Option<String>,
    host_api: Option<String>,
    verified: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
}

fn given(field: Option<String>) -> Option<String> {
    field
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

impl Form {
    fn query(self) -> Result<(SearchQuery, u32), RegistryError> {
        let sort = match given(self.sort).as_deref() {
            None => None,
            Some("relevance") => Some(Sort::Relevance),
            Some("downloads") => Some(Sort::Downloads),
            Some("rating") => Some(Sort::Rating),
            Some("updated") => Some(Sort::Updated),
            Some(other) => {
                return Err(RegistryError::BadRequest(format!(
                    "`{other}` is not a sort order: use relevance, downloads, rating or updated"
                )));
            }
        };
        let page = self.page.unwrap_or(1).clamp(1, 500);
        Ok((
            SearchQuery {
                q: given(self.q),
                category: given(self.category),
                permission: given(self.permission),
                max_risk: given(self.max_risk),
                host_api: given(self.host_api),
                verified: given(self.verified).map(|_| true),
                sort,
                limit: Some(PAGE_SIZE),
                offset: Some((page - 1) * PAGE_SIZE),
                ..SearchQuery::default()
            },
            page,
        ))
    }
}

/// The query string of `query` for another page of the same results.
fn page_link(query: &SearchQuery, page: u32) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("q", &query.q),
        ("category", &query.category),
        ("permission", &query.permission),
        ("max_risk", &query.max_risk),
        ("host_api", &query.host_api),
    ] {
        if let Some(value) = value {
            pairs.append_pair(key, value);
        }
    }
    if query.verified == Some(true) {
        pairs.append_pair("verified", "on");
    }
    if let Some(sort) = query.sort {
        let name = match sort {
            Sort::Relevance => "relevance",
            Sort::Downloads => "downloads",
            Sort::Rating => "rating",
            Sort::Updated => "updated",
        };
        pairs.append_pair("sort", name);
    }
    pairs.append_pair("page", &page.to_string());
    format!("/?{}", pairs.finish())
}

async fn search_page(
    State(registry): State<Shared>,
    form: Result<Query<Form>, QueryRejection>,
) -> Response {
    let form = match form {
        Ok(Query(form)) => form,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let (query, page) = match form.query() {
        Ok(parsed) => parsed,
        Err(e) => return failed(&e),
    };
    let asked = query.clone();
    let (status, results, problem) = match blocking(&registry, move |r| r.db.search(&asked)).await {
        Ok(results) => (StatusCode::OK, Some(results), None),
        Err(e) if e.is_user_error() => (StatusCode::BAD_REQUEST, None, Some(e.to_string())),
        Err(e) => return failed(&e),
    };
    let total = results.as_ref().map_or(0, |r| r.total);
    let rows: Vec<view::Row> = results
        .iter()
        .flat_map(|r| r.hits.iter().map(view::Row::of))
        .collect();
    let shown_to = u64::from((page - 1) * PAGE_SIZE) + rows.len() as u64;
    render(
        status,
        "search.html",
        context! {
            title => "Find plugins",
            q => query.q.clone().unwrap_or_default(),
            host_api => query.host_api.clone().unwrap_or_default(),
            host_api_current => lord_manifest::host_api_version().to_string(),
            verified => query.verified == Some(true),
            filters => view::Filters::for_query(&query),
            problem,
            total,
            rows,
            shown_from => if total == 0 { 0 } else { u64::from((page - 1) * PAGE_SIZE) + 1 },
            shown_to,
            previous => (page > 1).then(|| page_link(&query, page - 1)),
            next => (shown_to < total).then(|| page_link(&query, page + 1)),
        },
    )
}

async fn plugin_page(
    State(registry): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = crate::server::check_id(&id) {
        return failed(&e);
    }
    let base = base_url(&registry, &headers);
    let wanted = id.clone();
    let loaded = blocking(&registry, move |r| {
        let Some(info) = r.db.plugin(&wanted)? else {
            return Ok(None);
        };
        let manifests = r.db.manifests(&wanted)?;
        let readme =
            r.db.readme(&wanted, &info.summary.latest)?
                .unwrap_or_default();
        let today = crate::db::today();
        let days = r.db.downloads_by_day(&wanted, today - chart::DAYS + 1)?;
        let talk = (r.db.reviews(&wanted, false)?, r.db.posts(&wanted, false)?);
        let used = r.db.use_by_day(&wanted, today - 29)?;
        let insights = crate::insights::of_plugin(&r.db, &wanted)?.unwrap_or_default();
        let also = crate::usage::recommend(
            r,
            std::slice::from_ref(&wanted),
            &lord_manifest::host_api_version(),
            5,
        )?;
        Ok(Some((
            info,
            manifests,
            readme,
            days,
            today,
            talk,
            (used, also, insights),
        )))
    })
    .await;
    let (info, manifests, readme, days, today, (reviews, posts), (used, also, insights)) =
        match loaded {
            Ok(Some(loaded)) => loaded,
            Ok(None) => {
                return error_page(
                    StatusCode::NOT_FOUND,
                    &format!("no plugin named `{id}` is published here; search for another"),
                );
            }
            Err(e) => return failed(&e),
        };
    let plugin = view::PluginView::of(&info, &manifests, &base);
    let usage = view::Usage::of(&used);
    let insights: Vec<String> = insights.into_iter().map(|i| i.text).collect();
    render(
        StatusCode::OK,
        "plugin.html",
        context! {
            title => info.summary.name.clone(),
            plugin,
            readme => Value::from_safe_string(readme::render(&readme)),
            chart => Value::from_safe_string(chart::downloads_svg(&days, today)),
            reviews => reviews.iter().map(view::Said::review).collect::<Vec<_>>(),
            posts => posts.iter().map(view::Said::post).collect::<Vec<_>>(),
            usage,
            insights,
            also,
        },
    )
}

/// The registry-wide insights, each naming its plugin with a link.
async fn insights_page(State(registry): State<Shared>) -> Response {
    let today = crate::db::today();
    match blocking(&registry, move |r| {
        crate::insights::registry_wide(&r.db, today)
    })
    .await
    {
        Ok(all) => render(
            StatusCode::OK,
            "insights.html",
            context! {
                title => "Insights",
                rising => all.rising_errors,
                abandoned => all.abandoned,
                creep => all.permission_creep,
            },
        ),
        Err(e) => failed(&e),
    }
}

async fn publisher_page(
    State(registry): State<Shared>,
    UrlPath(key_id): UrlPath<String>,
) -> Response {
    let wanted = key_id.clone();
    let loaded = blocking(&registry, move |r| {
        let Some(public_key) = r.db.public_key(&wanted)? else {
            return Ok(None);
        };
        let plugins = r.db.search(&SearchQuery {
            publisher: Some(wanted),
            sort: Some(Sort::Downloads),
            limit: Some(100),
            ..SearchQuery::default()
        })?;
        Ok(Some((public_key, plugins)))
    })
    .await;
    let (public_key, plugins) = match loaded {
        Ok(Some(loaded)) => loaded,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("no key `{key_id}` signed anything published here"),
            );
        }
        Err(e) => return failed(&e),
    };
    let mut authors: Vec<String> = plugins
        .hits
        .iter()
        .flat_map(|h| h.authors.iter().cloned())
        .collect();
    authors.sort();
    authors.dedup();
    let downloads: u64 = plugins.hits.iter().map(|h| h.downloads).sum();
    render(
        StatusCode::OK,
        "publisher.html",
        context! {
            title => format!("Publisher {key_id}"),
            key_id,
            public_key,
            authors,
            downloads,
            total => plugins.total,
            rows => plugins.hits.iter().map(view::Row::of).collect::<Vec<_>>(),
        },
    )
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("templates/style.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("templates/copy.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let env = super::templates();
        for name in [
            "layout.html",
            "search.html",
            "plugin.html",
            "publisher.html",
            "insights.html",
            "error.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }
}
