//! A search request, as the client sends it in the query string and the
//! server reads it back.

use serde::{Deserialize, Serialize};

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Relevance,
    Downloads,
    Rating,
    Updated,
}

/// A search request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub author: Option<String>,
    pub min_rating: Option<f64>,
    pub verified: Option<bool>,
    /// Only plugins whose newest version asks for a permission of this
    /// family (`net`, `fs-write`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Only plugins whose newest version's risk is at most this level
    /// (`low`, `medium`, `high`, `critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_risk: Option<String>,
    /// Only plugins whose newest version's `host-api` requirement accepts
    /// this host API version (like `0.2.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_api: Option<String>,
    /// Only plugins signed by this key id (a publisher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    pub sort: Option<Sort>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl SearchQuery {
    /// The page size (20 unless asked, at most 100) and offset.
    pub fn page(&self) -> (u32, u32) {
        (self.limit.unwrap_or(20).min(100), self.offset.unwrap_or(0))
    }

    /// The order asked for: relevance when there is text to rank by,
    /// downloads otherwise.
    pub fn order(&self, has_text: bool) -> Sort {
        self.sort.unwrap_or(if has_text {
            Sort::Relevance
        } else {
            Sort::Downloads
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_capped_and_order_follows_the_text() {
        let query = SearchQuery {
            limit: Some(1000),
            ..SearchQuery::default()
        };
        assert_eq!(query.page(), (100, 0));
        assert_eq!(query.order(true), Sort::Relevance);
        assert_eq!(query.order(false), Sort::Downloads);
    }
}
