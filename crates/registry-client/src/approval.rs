//! Approval requests from the client's side: reading where a version's
//! requests stand (before an install a policy governs, and for `lord
//! approval status`), submitting a version with a publishing token, and
//! reviewing one with a reviewer's token.
//!
//! Invariant: what these answers say is not signed. A caller uses them
//! only to refuse a version, never to take one the signed index does not
//! list.

use lord_registry_api::{ApprovalInfo, ApprovalReview, ApprovalSubmit};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The approval requests of `plugin` (every plugin when `None`), of
    /// `version` when named, newest first.
    pub async fn approvals(
        &self,
        plugin: Option<&str>,
        version: Option<&str>,
    ) -> Result<Vec<ApprovalInfo>, ClientError> {
        let mut request = self.http.get(self.url("/approvals"));
        if let Some(plugin) = plugin {
            request = request.query(&[("plugin", plugin)]);
        }
        if let Some(version) = version {
            request = request.query(&[("version", version)]);
        }
        self.answer(request).await
    }

    /// Submits a published version for approval; the token's scope must
    /// cover the plugin.
    pub async fn submit_approval(
        &self,
        token: &str,
        submit: &ApprovalSubmit,
    ) -> Result<ApprovalInfo, ClientError> {
        self.answer(
            self.http
                .post(self.url("/approvals"))
                .bearer_auth(token)
                .json(submit),
        )
        .await
    }

    /// Approves or rejects request `id`'s current step.
    pub async fn review_approval(
        &self,
        token: &str,
        id: &str,
        review: &ApprovalReview,
    ) -> Result<ApprovalInfo, ClientError> {
        let path = format!("/approvals/{}/review", crate::rollout::url_segment(id));
        self.answer(
            self.http
                .post(self.url(&path))
                .bearer_auth(token)
                .json(review),
        )
        .await
    }
}
