//! Getting metadata and targets: HTTP(S) through lord's reqwest client, or
//! a `file://` mirror. Every read is capped at the length the workflow
//! allows, so an endless answer cannot exhaust memory. Counts requests and
//! bytes received, for the benchmark and the tests.

use super::error::TufError;

#[derive(Debug, Clone)]
pub(crate) struct Fetch {
    http: reqwest::Client,
    pub(crate) requests: usize,
    /// Bytes of every answer that had a body, together.
    pub(crate) bytes: u64,
}

impl Fetch {
    pub(crate) fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            requests: 0,
            bytes: 0,
        }
    }

    /// The bytes at `url` (which holds `what`), `None` when there is nothing there (404, or
    /// 403 as static hosts answer for a missing file), or an error.
    pub(crate) async fn get(
        &mut self,
        what: &str,
        url: &url::Url,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, TufError> {
        self.requests += 1;
        let failed = |reason: String| TufError::Fetch {
            url: url.to_string(),
            reason,
        };
        let too_large = || TufError::TooLarge {
            what: what.to_owned(),
            limit,
        };
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| failed("not a local path".to_owned()))?;
            // Read no further than one byte past the limit, as from a
            // server: a mirror's file may be any size.
            let read = std::fs::File::open(&path).and_then(|file| {
                use std::io::Read as _;
                let mut bytes = Vec::new();
                file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
                Ok(bytes)
            });
            return match read {
                Ok(bytes) if bytes.len() as u64 > limit => Err(too_large()),
                Ok(bytes) => {
                    self.bytes += bytes.len() as u64;
                    Ok(Some(bytes))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failed(e.to_string())),
            };
        }
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| failed(with_causes(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(failed(format!("the server answered {status}")));
        }
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                return Err(too_large());
            }
        }
        self.bytes += bytes.len() as u64;
        Ok(Some(bytes))
    }
}

/// An error with its causes, so that what went wrong below "error sending
/// request" (a refused TLS certificate, a refused connection) is said.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}
