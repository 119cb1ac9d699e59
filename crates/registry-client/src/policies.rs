//! The organisation's governance policies a registry serves, read through
//! its signed index: the target `policies/registry.cedar` is looked up in
//! the top-level targets (no bin is fetched) and downloaded through the
//! target routine every package download uses, no further than its signed
//! length and checked against its signed SHA-256, so only the text the
//! registry's online keys signed is ever returned.

use std::path::Path;

use lord_registry_api::POLICIES;

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The policy text the registry's signed index lists, trusted as
    /// [`Client::plugin_index`] trusts (from `state`); `None` when the
    /// index lists none.
    pub async fn signed_policies(&self, state: &Path) -> Result<Option<Vec<u8>>, ClientError> {
        let mut index = self.plugin_index(state).await?;
        let Some(file) = index.top_level_target(POLICIES).await? else {
            return Ok(None);
        };
        let mut fetch = crate::tuf::Fetch::new(self.http().clone());
        let bytes = crate::tuf::fetch_target(
            &mut fetch,
            &self.url("/tuf/targets/"),
            index.consistent_snapshot(),
            POLICIES,
            &file,
        )
        .await
        .map_err(|e| ClientError::Refused(format!("the registry's policies: {e}")))?;
        Ok(Some(bytes))
    }
}
