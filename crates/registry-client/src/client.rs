//! The client lord uses to reach a registry: search, plugin info,
//! download (package and signature), publish, yank and rate. Answers that
//! are not 2xx become [`ClientError::Remote`] or [`ClientError::NotFound`]
//! carrying the server's own message.

use lord_package::{PublicKey, Signature};

use lord_registry_api::{ErrorBody, PluginInfo, Published, Rating, SearchPage, SearchQuery, Yank};

use crate::error::ClientError;

/// A registry at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// A downloaded package and its signature.
#[derive(Debug, Clone)]
pub struct Download {
    pub bytes: Vec<u8>,
    pub signature: String,
}

impl Client {
    /// A client for the registry at `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ClientError::Client(format!(
                "`{base}` is not a registry URL; use https://HOST or http://HOST:PORT"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| ClientError::Client(format!("could not start an HTTP client: {e}")))?;
        Ok(Self {
            base: base.to_owned(),
            http,
        })
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The registry's TUF-verified index. `state` is this client's folder
    /// for the registry: `root.json` (the trusted root, saved at first
    /// contact: trust on first use, as with an SSH host key) and `tuf/`
    /// (the newest metadata seen, which is what exposes a rollback).
    pub async fn trusted_index(
        &self,
        state: &std::path::Path,
    ) -> Result<crate::index::TrustedIndex, ClientError> {
        let root_path = state.join("root.json");
        let root = match std::fs::read(&root_path) {
            Ok(root) => root,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let response = self
                    .http
                    .get(self.url("/tuf/1.root.json"))
                    .send()
                    .await
                    .map_err(|e| self.unreachable(&e))?;
                let root = self
                    .checked(response)
                    .await?
                    .bytes()
                    .await
                    .map_err(|e| self.unreachable(&e))?
                    .to_vec();
                std::fs::create_dir_all(state).map_err(crate::error::io("create", state))?;
                lord_file::write_atomic(&root_path, &root).map_err(|e| ClientError::Io {
                    action: e.action,
                    path: e.path,
                    source: e.source,
                })?;
                root
            }
            Err(e) => return Err(crate::error::io("read", &root_path)(e)),
        };
        crate::index::TrustedIndex::load(
            &format!("{}/", self.url("/tuf")),
            &root,
            &state.join("tuf"),
        )
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Client(format!(
            "could not reach the registry at {}: {e}; check `registry.url` and that it runs",
            self.base
        ))
    }

    /// The response if it is 2xx, else the server's message.
    async fn checked(&self, response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| text.chars().take(300).collect());
        Err(match status.as_u16() {
            404 => ClientError::NotFound(message),
            code @ 400..=499 => ClientError::Remote {
                status: code,
                message,
            },
            _ => ClientError::Client(format!("the registry answered {status}: {message}")),
        })
    }

    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, ClientError> {
        let response = self
            .http
            .get(self.url("/search"))
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response)
            .await?
            .json()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    /// A plugin's record, or `None` if the registry has no such plugin.
    pub async fn plugin(&self, id: &str) -> Result<Option<PluginInfo>, ClientError> {
        let response = self
            .http
            .get(self.url(&format!("/plugins/{id}")))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        match self.checked(response).await {
            Ok(r) => r.json().await.map(Some).map_err(|e| self.unreachable(&e)),
            Err(ClientError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn download(&self, id: &str, version: &str) -> Result<Download, ClientError> {
        let get = |what: &str| {
            self.http
                .get(self.url(&format!("/plugins/{id}/versions/{version}/{what}")))
                .send()
        };
        let signature = self
            .checked(get("signature").await.map_err(|e| self.unreachable(&e))?)
            .await?
            .text()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let bytes = self
            .checked(get("package").await.map_err(|e| self.unreachable(&e))?)
            .await?
            .bytes()
            .await
            .map_err(|e| self.unreachable(&e))?
            .to_vec();
        Ok(Download { bytes, signature })
    }

    pub async fn publish(
        &self,
        token: &str,
        package: Vec<u8>,
        signature: &Signature,
        key: &PublicKey,
    ) -> Result<Published, ClientError> {
        let compact = serde_json::to_string(signature)
            .map_err(|e| ClientError::Client(format!("unserialisable signature: {e}")))?;
        let response = self
            .http
            .post(self.url("/publish"))
            .bearer_auth(token)
            .header("lord-signature", compact)
            .header("lord-public-key", key.to_text().trim())
            .header("content-type", "application/octet-stream")
            .body(package)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response)
            .await?
            .json()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    pub async fn yank(
        &self,
        token: &str,
        id: &str,
        version: &str,
        yanked: bool,
    ) -> Result<(), ClientError> {
        let response = self
            .http
            .put(self.url(&format!("/plugins/{id}/versions/{version}/yanked")))
            .bearer_auth(token)
            .json(&Yank { yanked })
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }

    pub async fn rate(&self, token: &str, id: &str, stars: u8) -> Result<(), ClientError> {
        let response = self
            .http
            .put(self.url(&format!("/plugins/{id}/rating")))
            .bearer_auth(token)
            .json(&Rating { stars })
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }
}
