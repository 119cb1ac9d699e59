//! The client lord uses to reach a registry: search, plugin info,
//! download (package and signature), publish, yank and rate. Answers that
//! are not 2xx become [`ClientError::Remote`] or [`ClientError::NotFound`]
//! carrying the server's own message.

use lord_package::{PublicKey, Signature};

use lord_registry_api::{ErrorBody, PluginInfo, Published, Rating, SearchPage, SearchQuery, Yank};

use crate::error::ClientError;

/// The HTTP client every registry client starts from.
fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(300))
}

/// The reason in `e`'s causes when the server's TLS certificate was
/// refused (rustls says `invalid peer certificate`).
fn certificate_refused(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(error) = cause {
        let text = error.to_string();
        if text.contains("invalid peer certificate") {
            return Some(text);
        }
        cause = error.source();
    }
    None
}

/// A registry at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    pub(crate) http: reqwest::Client,
    clock: Clock,
    /// Refuse to trust the registry's root on first use: only a root
    /// pinned beforehand (`state/root.json`) starts trust.
    require_pinned_root: bool,
}

/// The clock the signed index's expiry is judged by: the system's, unless
/// a test or an embedder sets another with [`Client::with_clock`].
#[derive(Clone)]
struct Clock(std::sync::Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
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
        let http = http_builder()
            .build()
            .map_err(|e| ClientError::Client(format!("could not start an HTTP client: {e}")))?;
        Ok(Self {
            base: base.to_owned(),
            http,
            clock: Clock(std::sync::Arc::new(jiff::Timestamp::now)),
            require_pinned_root: false,
        })
    }

    /// This client trusting, for the registry's HTTPS, only the CA
    /// certificates in `pem` (a PEM bundle): a registry whose certificate
    /// a private CA issued (the system's roots are then not consulted).
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<Self, ClientError> {
        let refused = |detail: String| {
            ClientError::Client(format!(
                "the registry CA file is not usable: {detail}; give the CA certificate in PEM"
            ))
        };
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| refused(e.to_string()))?;
        if certs.is_empty() {
            return Err(refused("it holds no certificate".to_owned()));
        }
        self.http = http_builder()
            .tls_certs_only(certs)
            .build()
            .map_err(|e| ClientError::Client(format!("could not start an HTTP client: {e}")))?;
        Ok(self)
    }

    /// Trusts the registry's root only when pinned before first contact
    /// (an organisation's policy); first use then fails, saying how to pin.
    pub fn require_pinned_root(mut self, required: bool) -> Self {
        self.require_pinned_root = required;
        self
    }

    /// The registry's first root as it serves it (`1.root.json`), to pin
    /// by its SHA-256: checked by the caller, never trusted here.
    pub async fn first_root(&self) -> Result<Vec<u8>, ClientError> {
        let response = self
            .http
            .get(self.url("/tuf/1.root.json"))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        Ok(self
            .checked(response)
            .await?
            .bytes()
            .await
            .map_err(|e| self.unreachable(&e))?
            .to_vec())
    }

    /// This client with `clock` in place of the system clock for judging
    /// whether signed metadata has expired.
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.clock = Clock(std::sync::Arc::new(clock));
        self
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The registry's TUF-verified index. `state` is this client's folder
    /// for the registry; `state/metadata/` holds the metadata it trusts, as
    /// received. At first contact the registry's version 1 root is trusted
    /// as given (trust on first use, as with an SSH host key; a `root.json`
    /// an earlier lord saved in `state` is used instead when present); from
    /// then on trust starts from the newest root verified, so rotated-out
    /// keys are never trusted again. Expiry is judged by this client's
    /// clock at the moment of the call; nothing about time is remembered.
    pub async fn trusted_index(
        &self,
        state: &std::path::Path,
    ) -> Result<crate::index::TrustedIndex, ClientError> {
        let first_root = self.first_contact_root(state).await?;
        let index = crate::index::TrustedIndex::load_over(
            self.http.clone(),
            &format!("{}/", self.url("/tuf")),
            &first_root,
            &state.join("metadata"),
            (self.clock.0)(),
        )
        .await?;
        forget_old_layout(state)?;
        Ok(index)
    }

    /// The registry's TUF-verified index read one plugin at a time (only
    /// the bins holding the plugins asked about are fetched), trusted as
    /// [`Client::trusted_index`] says, from the same `state`.
    pub async fn plugin_index(
        &self,
        state: &std::path::Path,
    ) -> Result<crate::index::PluginIndex, ClientError> {
        let first_root = self.first_contact_root(state).await?;
        let index = crate::index::PluginIndex::open(
            self.http.clone(),
            &format!("{}/", self.url("/tuf")),
            &first_root,
            &state.join("metadata"),
            (self.clock.0)(),
        )
        .await?;
        forget_old_layout(state)?;
        Ok(index)
    }

    /// The root trust starts from when `state/metadata/` has none yet (a
    /// pinned one, or the registry's version 1 on first use); empty when
    /// it has one.
    async fn first_contact_root(&self, state: &std::path::Path) -> Result<Vec<u8>, ClientError> {
        if state.join("metadata").join("root.json").exists() {
            return Ok(Vec::new());
        }
        let saved = state.join("root.json");
        match std::fs::read(&saved) {
            Ok(root) => Ok(root),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.require_pinned_root {
                    return Err(ClientError::Refused(format!(
                        "this machine trusts a registry only from a pinned root \
                         (registry.require-pinned-root), and none is pinned for {}; get \
                         its root.json from its operator and run `lord registry pin \
                         --registry {} --root FILE` (or --root-sha256 HEX)",
                        self.base, self.base
                    )));
                }
                self.first_root().await
            }
            Err(e) => Err(crate::error::io("read", &saved)(e)),
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends `request` and reads a successful answer as JSON; a failure is
    /// the error its status maps to, as [`Client::checked`] says.
    pub(crate) async fn answer<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        self.checked(response)
            .await?
            .json()
            .await
            .map_err(|e| self.unreachable(&e))
    }

    pub(crate) fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        if let Some(reason) = certificate_refused(e) {
            return ClientError::Client(format!(
                "refusing the registry at {}: its TLS certificate is not trusted ({reason}); if \
                 a private CA issued it, pin that CA before first contact with `lord registry \
                 pin --registry {} --ca-file CA.pem`",
                self.base, self.base
            ));
        }
        ClientError::Client(format!(
            "could not reach the registry at {}: {e}; check `registry.url` and that it runs",
            self.base
        ))
    }

    /// The response if it is 2xx, else the server's message.
    pub(crate) async fn checked(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, ClientError> {
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
        self.answer(self.http.get(self.url("/search")).query(query))
            .await
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

    /// The package `target` names, fetched from the registry's TUF target
    /// path (`/api/v1/tuf/targets/plugins/ID/SHA256.VERSION.lordpkg`, as any
    /// static mirror of the index serves it) through the same routine the
    /// TUF client downloads targets with, and checked against the length
    /// and SHA-256 the verified `index` lists before it is returned. Its
    /// signature is the one the signed index carries, so nothing the
    /// server says outside the index is used.
    pub async fn download_package(
        &self,
        index: &crate::index::TrustedIndex,
        target: &lord_registry_api::TargetInfo,
    ) -> Result<Download, ClientError> {
        // The index's length is what the download may buffer; a package
        // over what lord would open is refused before a byte comes.
        let most = lord_package::Limits::default().max_total_bytes + (1 << 20);
        if target.length > most {
            return Err(ClientError::Refused(format!(
                "the index lists `{}` at {} bytes, over the {most} a package may be; nothing was \
                 downloaded",
                target.name(),
                target.length
            )));
        }
        let file = crate::tuf::TargetFile {
            length: target.length,
            hashes: [("sha256".to_owned(), target.digest.clone())].into(),
            custom: None,
        };
        let mut fetch = crate::tuf::Fetch::new(self.http.clone());
        let bytes = crate::tuf::fetch_target(
            &mut fetch,
            &self.url("/tuf/targets/"),
            index.consistent_snapshot,
            &target.name(),
            &file,
        )
        .await?;
        let signature = serde_json::json!({
            "version": 1,
            "key": target.key,
            "digest": target.digest,
            "signature": target.signature,
        });
        Ok(Download {
            bytes,
            signature: format!("{signature:#}\n"),
        })
    }

    /// A package and its signature from the registry's plain API (for
    /// tools and tests; installs use [`Client::download_package`]).
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
        self.answer(
            self.http
                .post(self.url("/publish"))
                .bearer_auth(token)
                .header("lord-signature", compact)
                .header("lord-public-key", key.to_text().trim())
                .header("content-type", "application/octet-stream")
                .body(package),
        )
        .await
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

    /// Rates plugin `id` as the account behind `token`, showing the
    /// install `receipt` that account was given ([`Client::receipt`]).
    pub async fn rate(
        &self,
        token: &str,
        id: &str,
        stars: u8,
        receipt: &str,
    ) -> Result<(), ClientError> {
        let response = self
            .http
            .put(self.url(&format!("/plugins/{id}/rating")))
            .bearer_auth(token)
            .json(&Rating {
                stars,
                receipt: Some(receipt.to_owned()),
            })
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        self.checked(response).await.map(drop)
    }
}

/// An earlier lord kept its datastore in `state/tuf/` and the first root
/// in `state/root.json`; once trust lives in `metadata/` they are never
/// read again.
fn forget_old_layout(state: &std::path::Path) -> Result<(), ClientError> {
    let old = state.join("tuf");
    if old.is_dir() {
        std::fs::remove_dir_all(&old).map_err(crate::error::io("remove", &old))?;
        let saved = state.join("root.json");
        if saved.is_file() {
            std::fs::remove_file(&saved).map_err(crate::error::io("remove", &saved))?;
        }
    }
    Ok(())
}
