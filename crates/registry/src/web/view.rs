//! What each page shows, as plain values the templates read: built from
//! the records here so the templates hold no logic beyond loops and
//! conditions. Every text field is escaped by the template engine; only
//! the README (sanitised, `readme.rs`) and the chart (made here,
//! `chart.rs`) are passed as markup.

use std::collections::BTreeSet;

use lord_manifest::{Category, Permission, PermissionFamily, RiskLevel};
use lord_registry_api::{PluginInfo, SearchHit, SearchQuery, Sort};
use serde::Serialize;

use crate::db::VersionText;

/// A date as `YYYY-MM-DD` (UTC) from Unix milliseconds.
pub(crate) fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// One result line of a list of plugins.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    id: String,
    name: String,
    description: String,
    latest: String,
    category: String,
    authors: String,
    downloads: u64,
    rating: String,
    verified: bool,
    updated: String,
}

impl Row {
    pub(crate) fn of(hit: &SearchHit) -> Self {
        Self {
            id: hit.id.clone(),
            name: hit.name.clone(),
            description: hit.description.clone(),
            latest: hit.latest.clone(),
            category: hit.category.clone(),
            authors: hit.authors.join(", "),
            downloads: hit.downloads,
            rating: rating_text(hit.rating, hit.ratings),
            verified: hit.verified,
            updated: date(hit.updated_ms),
        }
    }
}

pub(crate) fn rating_text(mean: f64, count: u64) -> String {
    match count {
        0 => "not rated yet".to_owned(),
        1 => format!("{mean:.1} of 5 (1 rating)"),
        n => format!("{mean:.1} of 5 ({n} ratings)"),
    }
}

/// A review or post as a page shows it.
#[derive(Debug, Serialize)]
pub(crate) struct Said {
    author: String,
    when: String,
    text: String,
    stars: Option<u8>,
    version: Option<String>,
    edited: bool,
}

impl Said {
    pub(crate) fn review(r: &lord_registry_api::ReviewInfo) -> Self {
        Self {
            author: r.author.clone(),
            when: date(r.updated_ms),
            text: r.text.clone(),
            stars: Some(r.stars),
            version: Some(r.version.clone()),
            edited: r.edits > 0,
        }
    }

    pub(crate) fn post(p: &lord_registry_api::PostInfo) -> Self {
        Self {
            author: p.author.clone(),
            when: date(p.created_ms),
            text: p.text.clone(),
            stars: None,
            version: None,
            edited: false,
        }
    }
}

/// Reported use over the last 30 days, in words a page shows.
#[derive(Debug, Serialize)]
pub(crate) struct Usage {
    /// Installations that reported it on the latest day with reports.
    pub(crate) active: u64,
    pub(crate) runs: u64,
    /// Errors per hundred runs, one decimal.
    pub(crate) error_rate: String,
}

fn rate(runs: u64, errors: u64) -> f64 {
    if runs == 0 {
        0.0
    } else {
        errors as f64 * 100.0 / runs as f64
    }
}

impl Usage {
    pub(crate) fn of(days: &[crate::db::DayOfUse]) -> Self {
        let (runs, errors) = days
            .iter()
            .fold((0, 0), |(r, e), d| (r + d.runs, e + d.errors));
        Self {
            active: days.last().map_or(0, |d| d.active),
            runs,
            error_rate: format!("{:.1}", rate(runs, errors)),
        }
    }
}

/// A choice in a `<select>`.
#[derive(Debug, Serialize)]
pub(crate) struct Choice {
    value: &'static str,
    label: String,
    selected: bool,
}

/// The search form's choices, with what the query chose selected.
#[derive(Debug, Serialize)]
pub(crate) struct Filters {
    categories: Vec<Choice>,
    permissions: Vec<Choice>,
    risks: Vec<Choice>,
    sorts: Vec<Choice>,
}

impl Filters {
    pub(crate) fn for_query(query: &SearchQuery) -> Self {
        let chosen = |field: &Option<String>, value: &str| field.as_deref() == Some(value);
        let sort = query.sort;
        Self {
            categories: Category::ALL
                .into_iter()
                .map(|c| Choice {
                    value: c.as_str(),
                    label: c.as_str().to_owned(),
                    selected: chosen(&query.category, c.as_str()),
                })
                .collect(),
            permissions: PermissionFamily::ALL
                .into_iter()
                .map(|f| Choice {
                    value: f.as_str(),
                    label: format!("{} ({})", f.as_str(), f.meaning().summary),
                    selected: chosen(&query.permission, f.as_str()),
                })
                .collect(),
            risks: RiskLevel::ALL
                .into_iter()
                .map(|r| Choice {
                    value: r.as_str(),
                    label: format!("at most {}", r.as_str()),
                    selected: chosen(&query.max_risk, r.as_str()),
                })
                .collect(),
            sorts: [
                (Sort::Relevance, "relevance", "relevance"),
                (Sort::Downloads, "downloads", "most downloaded"),
                (Sort::Rating, "rating", "best rated"),
                (Sort::Updated, "updated", "recently updated"),
            ]
            .into_iter()
            .map(|(s, value, label)| Choice {
                value,
                label: label.to_owned(),
                selected: sort == Some(s),
            })
            .collect(),
        }
    }
}

/// One permission a version asks for, in plain words.
#[derive(Debug, Serialize)]
pub(crate) struct PermissionRow {
    text: String,
    words: String,
    risk: &'static str,
    reason: Option<String>,
}

fn permission_rows(manifest: &lord_manifest::Manifest) -> Vec<PermissionRow> {
    manifest
        .permissions
        .iter()
        .map(|p| PermissionRow {
            text: p.to_string(),
            words: p.describe(),
            risk: p.risk().as_str(),
            reason: manifest.permission_reasons.get(p).cloned(),
        })
        .collect()
}

/// One row of the versions table.
#[derive(Debug, Serialize)]
pub(crate) struct VersionRow {
    version: String,
    published: String,
    host_api: String,
    size_kb: String,
    yanked: bool,
    digest: String,
    /// Permissions this version asks for that the one before it did not.
    added: Vec<String>,
}

/// Everything the plugin page shows apart from the README and chart.
#[derive(Debug, Serialize)]
pub(crate) struct PluginView {
    row: Row,
    license: String,
    keywords: Vec<String>,
    latest: String,
    install: String,
    permissions: Vec<PermissionRow>,
    risk: &'static str,
    signer: String,
    host_api_req: String,
    host_api: String,
    compatible: bool,
    versions: Vec<VersionRow>,
}

impl PluginView {
    /// The view of `info`, with `manifests` the manifest text of each of
    /// its versions and `base` the registry URL for the install line.
    pub(crate) fn of(info: &PluginInfo, manifests: &[VersionText], base: &str) -> Self {
        let parsed = |version: &str| {
            manifests
                .iter()
                .find(|m| m.version == version)
                .and_then(|m| lord_manifest::parse("plugin.toml", &m.manifest).ok())
        };
        let latest = parsed(&info.summary.latest);
        let latest_version = info.summary.latest.clone();
        let signer = info
            .versions
            .iter()
            .find(|v| v.version == latest_version)
            .map(|v| v.key.clone())
            .unwrap_or_default();
        // Versions are newest first; each is compared with the next one.
        let sets: Vec<BTreeSet<Permission>> = info
            .versions
            .iter()
            .map(|v| {
                parsed(&v.version)
                    .map(|m| m.permissions.into_iter().collect())
                    .unwrap_or_default()
            })
            .collect();
        let versions = info
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| VersionRow {
                version: v.version.clone(),
                published: date(v.published_ms),
                host_api: v.host_api.clone(),
                size_kb: format!("{:.1}", v.size as f64 / 1024.0),
                yanked: v.yanked,
                digest: v.digest.chars().take(16).collect(),
                added: sets
                    .get(i + 1)
                    .map(|older| sets[i].difference(older).map(ToString::to_string).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let host_api_req = latest
            .as_ref()
            .map(|m| m.plugin.host_api.to_string())
            .unwrap_or_default();
        Self {
            row: Row::of(&info.summary),
            license: info
                .license
                .clone()
                .unwrap_or_else(|| "not stated".to_owned()),
            keywords: info.summary.keywords.clone(),
            install: install_line(&info.summary.id, &latest_version, base),
            latest: latest_version,
            permissions: latest.as_ref().map(permission_rows).unwrap_or_default(),
            risk: latest
                .as_ref()
                .map_or("unknown", |m| m.risk_level().as_str()),
            signer,
            compatible: latest
                .as_ref()
                .is_some_and(|m| lord_manifest::host_api_satisfied_by(&m.plugin.host_api)),
            host_api_req,
            host_api: lord_manifest::host_api_version().to_string(),
            versions,
        }
    }
}

/// The exact command that installs `id` at `version` from the registry at
/// `base`. Ids and versions are checked before they are recorded, and
/// `base` is checked by the caller, so nothing in it needs shell quoting.
pub(crate) fn install_line(id: &str, version: &str, base: &str) -> String {
    format!("lord plugin install {id}@={version} --registry {base}")
}

#[cfg(test)]
mod tests {

    #[test]
    fn ratings_read_as_words() {
        assert_eq!(super::rating_text(0.0, 0), "not rated yet");
        assert_eq!(super::rating_text(4.0, 1), "4.0 of 5 (1 rating)");
        assert_eq!(super::rating_text(3.25, 8), "3.2 of 5 (8 ratings)");
    }

    #[test]
    fn the_install_line_pins_the_version() {
        assert_eq!(
            super::install_line("hello", "1.2.0", "http://127.0.0.1:8080"),
            "lord plugin install hello@=1.2.0 --registry http://127.0.0.1:8080"
        );
    }
}
