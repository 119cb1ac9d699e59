//! Where alerts go (the `notify` feature): a webhook, which receives the
//! transition as JSON signed with HMAC-SHA256 over the exact body
//! (`X-Lord-Signature: sha256=HEX`, so the receiver can check it came
//! from whoever holds the secret and was not changed), and e-mail over
//! SMTP, always upgraded with STARTTLS before anything is sent (a server
//! that does not offer it is refused, never written to in the clear).

use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::hmac;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::alert::Transition;
use crate::error::MonitorError;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Lord-Signature";

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// A webhook to POST transitions to.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    /// The HMAC key; `None` sends unsigned.
    pub secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &crate::http::shown_url(&self.url))
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

impl Webhook {
    pub async fn send(
        &self,
        client: &reqwest::Client,
        transition: &Transition,
    ) -> Result<(), MonitorError> {
        let failed = |reason: String| MonitorError::Notify {
            channel: "webhook",
            reason,
        };
        let body = serde_json::to_vec(transition).map_err(|e| failed(e.to_string()))?;
        let mut request = client
            .post(&self.url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(10));
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, sign(secret, &body));
        }
        let response = request.body(body).send().await.map_err(|e| {
            failed(format!(
                "{}: {}",
                crate::http::shown_url(&self.url),
                e.without_url()
            ))
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(format!(
                "{} answered {}",
                crate::http::shown_url(&self.url),
                response.status()
            )))
        }
    }
}

/// An SMTP server and the mail to send through it.
#[derive(Clone)]
pub struct Email {
    pub server: String,
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub credentials: Option<(String, String)>,
    /// A PEM certificate to trust besides the system's (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is never shown.
        f.debug_struct("Email")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl Email {
    pub async fn send(&self, transition: &Transition) -> Result<(), MonitorError> {
        let failed = |reason: String| MonitorError::Notify {
            channel: "email",
            reason,
        };
        let mailbox = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|e| failed(format!("`{text}` is not an e-mail address: {e}")))
        };
        let mut message = Message::builder()
            .from(mailbox(&self.from)?)
            .subject(format!("[lord] {}", transition.summary));
        for to in &self.to {
            message = message.to(mailbox(to)?);
        }
        let body = format!(
            "{}\n\nrule: {}\nmetric: {}\nstate: {}\nat: {} ms since the epoch\n",
            transition.summary,
            transition.rule,
            transition.metric,
            serde_json::to_value(transition.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            transition.at_ms
        );
        let message = message.body(body).map_err(|e| failed(e.to_string()))?;
        let mut tls = TlsParameters::builder(self.server.clone());
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| failed(format!("reading the CA file {}: {e}", path.display())))?;
            tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| {
                failed(format!("{} is not a PEM certificate: {e}", path.display()))
            })?);
        }
        let tls = tls.build_rustls().map_err(|e| failed(e.to_string()))?;
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.server)
            .port(self.port)
            .tls(Tls::Required(tls))
            .timeout(Some(Duration::from_secs(15)));
        if let Some((user, password)) = &self.credentials {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
        transport
            .build()
            .send(message)
            .await
            .map_err(|e| failed(format!("{}:{}: {e}", self.server, self.port)))?;
        Ok(())
    }
}

/// The channels configured beyond the terminal.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    pub webhook: Option<Webhook>,
    pub email: Option<Email>,
}

impl Channels {
    /// Sends `transition` to every channel; returns the channels that took
    /// it and, for those that did not, why.
    pub async fn deliver(&self, transition: &Transition) -> (Vec<String>, Vec<String>) {
        let mut delivered = Vec::new();
        let mut failed = Vec::new();
        if let Some(webhook) = &self.webhook {
            match webhook.send(&reqwest::Client::new(), transition).await {
                Ok(()) => delivered.push("webhook".to_owned()),
                Err(e) => failed.push(e.to_string()),
            }
        }
        if let Some(email) = &self.email {
            match email.send(transition).await {
                Ok(()) => delivered.push("email".to_owned()),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (delivered, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
