//! The community calls of a registry (install receipts, reviews, ratings,
//! discussions, moderation) and the receipts a client keeps.
//!
//! A receipt comes with a download by an account: [`Client::receipt`]
//! fetches the package of one version with the account's token and keeps
//! the `lord-install-receipt` header and the digest it was for, so the
//! caller can check that digest against the one it installed. Receipts are
//! kept per registry, plugin and version ([`save_receipt`]), one file each,
//! replaced atomically.

use std::path::{Path, PathBuf};

use lord_registry_api::{
    AuditEntry, ModerationRequest, PostInfo, PostRequest, RECEIPT_HEADER, Recommendation,
    RecommendationQuery, ReportRequest, ReviewInfo, ReviewRequest, UsageReport,
};

use crate::client::Client;
use crate::error::ClientError;

/// An install receipt and the package digest it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub text: String,
    pub digest: String,
}

fn receipt_path(dir: &Path, id: &str, version: &str) -> PathBuf {
    dir.join(format!("{id}@{version}.receipt"))
}

/// Keeps `receipt` for `id` `version` in `dir` (made if missing).
pub fn save_receipt(
    dir: &Path,
    id: &str,
    version: &str,
    receipt: &Receipt,
) -> Result<(), ClientError> {
    std::fs::create_dir_all(dir).map_err(crate::error::io("create", dir))?;
    let path = receipt_path(dir, id, version);
    lord_file::write_atomic(
        &path,
        format!("{}\n{}\n", receipt.digest, receipt.text).as_bytes(),
    )
    .map_err(|e| {
        ClientError::Client(format!(
            "could not keep the receipt in {}: {e}",
            path.display()
        ))
    })
}

/// The receipt kept for `id` `version` in `dir`, if any.
pub fn load_receipt(dir: &Path, id: &str, version: &str) -> Result<Option<Receipt>, ClientError> {
    let path = receipt_path(dir, id, version);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut lines = text.lines();
            Ok(match (lines.next(), lines.next()) {
                (Some(digest), Some(text)) => Some(Receipt {
                    text: text.to_owned(),
                    digest: digest.to_owned(),
                }),
                _ => None,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::error::io("read", &path)(e)),
    }
}

impl Client {
    /// Downloads `id` `version` as the account behind `token` and returns
    /// the install receipt the registry gave for it.
    pub async fn receipt(
        &self,
        token: &str,
        id: &str,
        version: &str,
    ) -> Result<Receipt, ClientError> {
        let response = self
            .http
            .get(self.url(&format!("/plugins/{id}/versions/{version}/package")))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let response = self.checked(response).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let text = header(RECEIPT_HEADER).ok_or_else(|| {
            ClientError::Client(
                "the registry gave no install receipt: the token was not accepted, or the \
                 registry does not issue receipts"
                    .to_owned(),
            )
        })?;
        let digest = header("lord-digest").unwrap_or_default();
        Ok(Receipt { text, digest })
    }

    /// Reviews `id` `version` as the account behind `token`.
    pub async fn review(
        &self,
        token: &str,
        id: &str,
        version: &str,
        stars: u8,
        text: &str,
        receipt: &str,
    ) -> Result<ReviewInfo, ClientError> {
        self.answer(
            self.http
                .put(self.url(&format!("/plugins/{id}/versions/{version}/review")))
                .bearer_auth(token)
                .json(&ReviewRequest {
                    stars,
                    text: text.to_owned(),
                    receipt: receipt.to_owned(),
                }),
        )
        .await
    }

    /// The visible reviews of `id`, newest first.
    pub async fn reviews(&self, id: &str) -> Result<Vec<ReviewInfo>, ClientError> {
        self.answer(self.http.get(self.url(&format!("/plugins/{id}/reviews"))))
            .await
    }

    /// Posts to `id`'s discussion.
    pub async fn post(&self, token: &str, id: &str, text: &str) -> Result<PostInfo, ClientError> {
        self.answer(
            self.http
                .post(self.url(&format!("/plugins/{id}/posts")))
                .bearer_auth(token)
                .json(&PostRequest {
                    text: text.to_owned(),
                }),
        )
        .await
    }

    /// The visible posts of `id`'s discussion, oldest first.
    pub async fn posts(&self, id: &str) -> Result<Vec<PostInfo>, ClientError> {
        self.answer(self.http.get(self.url(&format!("/plugins/{id}/posts"))))
            .await
    }

    /// Reports a `kind` (`review` or `post`) to the moderators.
    pub async fn report(
        &self,
        token: &str,
        kind: &str,
        target: i64,
        reason: &str,
    ) -> Result<(), ClientError> {
        let response = self
            .http
            .post(self.url(&format!("/moderation/{kind}/{target}/report")))
            .bearer_auth(token)
            .json(&ReportRequest {
                reason: reason.to_owned(),
            })
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }

    /// Hides or shows a review or post (a moderator's token).
    pub async fn moderate(
        &self,
        token: &str,
        kind: &str,
        target: i64,
        hidden: bool,
        reason: &str,
    ) -> Result<(), ClientError> {
        let response = self
            .http
            .put(self.url(&format!("/moderation/{kind}/{target}/hidden")))
            .bearer_auth(token)
            .json(&ModerationRequest {
                hidden,
                reason: reason.to_owned(),
            })
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }

    /// The moderation audit, newest first (a moderator's token).
    pub async fn audit(&self, token: &str) -> Result<Vec<AuditEntry>, ClientError> {
        self.answer(
            self.http
                .get(self.url("/moderation/audit"))
                .bearer_auth(token),
        )
        .await
    }

    /// Sends an opt-in report of what this installation holds and how it
    /// went (the caller asks its user first).
    pub async fn report_usage(&self, report: &UsageReport) -> Result<(), ClientError> {
        let response = self
            .http
            .post(self.url("/usage"))
            .json(report)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }

    /// Plugins recommended for an installation holding `query.installed`.
    pub async fn recommendations(
        &self,
        query: &RecommendationQuery,
    ) -> Result<Vec<Recommendation>, ClientError> {
        self.answer(self.http.get(self.url("/recommendations")).query(query))
            .await
    }
}
