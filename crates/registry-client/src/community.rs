//! The community calls of a registry (install receipts, reviews, ratings,
//! discussions, moderation) and the receipts a client keeps.
//!
//! A receipt comes with an install by an account:
//! [`Client::install_receipt`] asks for it with the digest installed,
//! checks its Ed25519 signature under the registry's receipt key (pinned
//! on first use in the registry's folder, as the index's first root is)
//! and that it names the plugin, version and digest installed, and only
//! then keeps it. Receipts are kept per registry, plugin and version
//! ([`save_receipt`]), one file each, replaced atomically.

use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use lord_registry_api::{
    AuditEntry, ModerationRequest, PostInfo, PostRequest, RECEIPT_HEADER, ReceiptAnswer,
    ReceiptKey, ReceiptRequest, Recommendation, RecommendationQuery, ReportRequest, ReviewInfo,
    ReviewRequest, UsageReport,
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

/// The file in a registry's folder holding its pinned receipt key.
const RECEIPT_KEY_FILE: &str = "receipt-key";

/// Where receipts are kept in a registry's folder.
pub fn receipts_dir(state: &Path) -> PathBuf {
    state.join("receipts")
}

/// Checks that `text` is a receipt signed under `public_key` (32 bytes)
/// for `id` `version` with `digest`.
pub fn check_receipt(
    public_key: &[u8],
    text: &str,
    id: &str,
    version: &str,
    digest: &str,
) -> Result<(), ClientError> {
    let refused = |why: &str| {
        ClientError::Refused(format!(
            "the registry's install receipt for {id} {version} {why}; it was not kept"
        ))
    };
    let receipt =
        lord_registry_api::Receipt::parse(text).ok_or_else(|| refused("is not a receipt"))?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&receipt.signed, &receipt.signature)
        .map_err(|_| refused("is not signed by the registry's receipt key"))?;
    let c = &receipt.claims;
    if c.plugin != id || c.version != version || !c.digest.eq_ignore_ascii_case(digest) {
        return Err(refused(&format!(
            "names {} {} ({}) instead of the package installed",
            c.plugin, c.version, c.digest
        )));
    }
    Ok(())
}

impl Client {
    /// The registry's receipt key: the one pinned in `state` (the
    /// registry's folder), or, at first contact, the one it shows, pinned
    /// from then on. A registry whose key later differs is refused rather
    /// than trusted again.
    pub async fn receipt_key(&self, state: &Path) -> Result<Vec<u8>, ClientError> {
        let pinned = state.join(RECEIPT_KEY_FILE);
        match std::fs::read_to_string(&pinned) {
            Ok(text) => {
                return hex::decode(text.trim()).map_err(|e| {
                    ClientError::Client(format!(
                        "the pinned receipt key in {} is damaged ({e}); delete it to pin the \
                         registry's key again",
                        pinned.display()
                    ))
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::error::io("read", &pinned)(e)),
        }
        let shown: ReceiptKey = self
            .answer(self.http.get(self.url("/receipts/key")))
            .await?;
        let key = hex::decode(&shown.public_key)
            .ok()
            .filter(|k| k.len() == 32);
        let key = match (shown.algorithm.as_str(), key) {
            ("ed25519", Some(key)) => key,
            _ => {
                return Err(ClientError::Refused(format!(
                    "the registry's receipt key is not a 32-byte ed25519 key ({})",
                    shown.algorithm
                )));
            }
        };
        std::fs::create_dir_all(state).map_err(crate::error::io("create", state))?;
        lord_file::write_atomic(&pinned, format!("{}\n", hex::encode(&key)).as_bytes()).map_err(
            |e| {
                ClientError::Client(format!(
                    "could not pin the receipt key in {}: {e}",
                    pinned.display()
                ))
            },
        )?;
        Ok(key)
    }

    /// Asks for the install receipt of `id` `version` (`digest`, as the
    /// signed index lists it) just installed by the account behind
    /// `token`, checks it ([`check_receipt`] under [`Client::receipt_key`])
    /// and keeps it in `state`'s receipts.
    pub async fn install_receipt(
        &self,
        state: &Path,
        token: &str,
        id: &str,
        version: &str,
        digest: &str,
    ) -> Result<Receipt, ClientError> {
        let key = self.receipt_key(state).await?;
        let answer: ReceiptAnswer = self
            .answer(
                self.http
                    .post(self.url(&format!("/plugins/{id}/versions/{version}/receipt")))
                    .bearer_auth(token)
                    .json(&ReceiptRequest {
                        digest: digest.to_owned(),
                    }),
            )
            .await?;
        check_receipt(&key, &answer.receipt, id, version, digest)?;
        let receipt = Receipt {
            text: answer.receipt,
            digest: digest.to_owned(),
        };
        save_receipt(&receipts_dir(state), id, version, &receipt)?;
        Ok(receipt)
    }

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
