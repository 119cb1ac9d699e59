//! Staged rollouts from the client's side: reading a plugin's rollouts
//! before an install or update, and starting, promoting and aborting one
//! with a publishing token.
//!
//! Invariant: what these answers say is not signed. A caller uses them only
//! to leave versions of the signed index out (or to return to one it had),
//! never to take a version the signed index does not list.

use lord_registry_api::{RolloutInfo, RolloutStart};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The rollouts of `plugin` (of every plugin when `None`), newest
    /// first. A registry that has no rollouts at all (an older one, which
    /// answers 404) has none to narrow anything with.
    pub async fn rollouts(&self, plugin: Option<&str>) -> Result<Vec<RolloutInfo>, ClientError> {
        let mut request = self.http.get(self.url("/rollouts"));
        if let Some(plugin) = plugin {
            request = request.query(&[("plugin", plugin)]);
        }
        match self.answer(request).await {
            Err(ClientError::NotFound(_)) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Starts a rollout; the token's scope must cover the plugin.
    pub async fn start_rollout(
        &self,
        token: &str,
        start: &RolloutStart,
    ) -> Result<RolloutInfo, ClientError> {
        self.answer(
            self.http
                .post(self.url("/rollouts"))
                .bearer_auth(token)
                .json(start),
        )
        .await
    }

    /// Moves rollout `id` to its next ring, whatever its gate says.
    pub async fn promote_rollout(&self, token: &str, id: &str) -> Result<RolloutInfo, ClientError> {
        self.move_rollout(token, id, "promote").await
    }

    /// Stops rollout `id`: no machine takes its version any more, and
    /// those that took it return to the previous one.
    pub async fn abort_rollout(&self, token: &str, id: &str) -> Result<RolloutInfo, ClientError> {
        self.move_rollout(token, id, "abort").await
    }

    async fn move_rollout(
        &self,
        token: &str,
        id: &str,
        how: &str,
    ) -> Result<RolloutInfo, ClientError> {
        let path = format!("/rollouts/{}/{how}", url_segment(id));
        self.answer(self.http.post(self.url(&path)).bearer_auth(token))
            .await
    }
}

/// `id` as one path segment: anything but letters, digits, `-`, `.` and
/// `_` is percent-encoded, so an id cannot reach another endpoint.
pub(crate) fn url_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
