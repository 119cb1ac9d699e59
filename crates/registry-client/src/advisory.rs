//! The registry's security feed: the OSV advisories naming a plugin,
//! which `lord scan` judges a version against, and the report of the scan
//! the registry ran when a version was published.

use lord_registry_api::{Advisory, AdvisoryList};

use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The advisories naming plugin `id` (none when the registry knows
    /// none).
    pub async fn advisories(&self, id: &str) -> Result<Vec<Advisory>, ClientError> {
        let list: AdvisoryList = self
            .answer(
                self.http
                    .get(self.url("/advisories"))
                    .query(&[("package", id)]),
            )
            .await?;
        Ok(list.vulns)
    }

    /// The report of the scan the registry ran when `id` `version` was
    /// published (`lord-scan`'s report, as JSON).
    pub async fn scan_report(
        &self,
        id: &str,
        version: &str,
    ) -> Result<serde_json::Value, ClientError> {
        self.answer(
            self.http
                .get(self.url(&format!("/plugins/{id}/versions/{version}/scan"))),
        )
        .await
    }
}
