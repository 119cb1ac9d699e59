//! How the registry reaches PostgreSQL: the URL with libpq's TLS words
//! (`sslmode`, `sslrootcert`) read here, since the `postgres` crate's own
//! parser knows neither `verify-full` nor `sslrootcert`; the password
//! from wherever the operator keeps it; and TLS through rustls, which the
//! workspace already builds (for the client's HTTPS), over aws-lc-rs.
//!
//! Invariant: a TLS connection is always verified, the server's
//! certificate against the CA file given (`sslrootcert`) or the system's
//! roots, and its name against the host connected to. libpq's `require`
//! skips that check and `verify-ca` skips the name; here both verify fully,
//! because the registry sends its database password over that connection.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::RegistryError;

/// How to reach the registry's PostgreSQL database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?sslmode=...&sslrootcert=FILE]`.
    pub url: String,
    /// The password, when it is kept apart from the URL (a file, the
    /// environment or `lord secret`); it wins over one in the URL.
    pub password: Option<String>,
    /// How many connections to keep (at least one).
    pub pool_size: usize,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the URL (it may carry a password) nor the password.
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            password: None,
            pool_size: super::DEFAULT_POOL_SIZE,
        }
    }
}

/// Whether and how to use TLS, from `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    Require,
}

/// The `postgres` configuration and the TLS connector for `options`.
pub(super) fn configure(
    options: &PgOptions,
) -> Result<(postgres::Config, Option<Rustls>), RegistryError> {
    let bad = |why: String| RegistryError::BadRequest(why);
    let mut url = url::Url::parse(&options.url)
        .map_err(|e| bad(format!("the database URL is not a URL: {e}")))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(bad("the database URL must start with postgres:// (like \
             postgres://USER@HOST:5432/DBNAME)"
            .to_owned()));
    }
    let mut mode = Mode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for (key, value) in url.query_pairs() {
        match &*key {
            "sslmode" => {
                mode = match &*value {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" | "verify-ca" | "verify-full" => Mode::Require,
                    other => {
                        return Err(bad(format!(
                            "sslmode `{other}` is not one of disable, prefer, require, \
                             verify-ca or verify-full"
                        )));
                    }
                }
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(&*value)),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    let mut config: postgres::Config = url.as_str().parse()?;
    if let Some(password) = &options.password {
        config.password(password);
    }
    config.ssl_mode(match mode {
        Mode::Disable => postgres::config::SslMode::Disable,
        Mode::Prefer => postgres::config::SslMode::Prefer,
        Mode::Require => postgres::config::SslMode::Require,
    });
    let tls = match mode {
        Mode::Disable => None,
        Mode::Prefer | Mode::Require => Some(Rustls::new(root_cert.as_deref())?),
    };
    Ok((config, tls))
}

/// A rustls connector for `postgres`.
#[derive(Clone)]
pub(super) struct Rustls(Arc<rustls::ClientConfig>);

impl Rustls {
    /// Trusting the certificates in `ca_file` (PEM), or the system's roots.
    fn new(ca_file: Option<&Path>) -> Result<Self, RegistryError> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    RegistryError::BadRequest(format!(
                        "could not read the database's CA file `{}` (sslrootcert): {e}",
                        path.display()
                    ))
                })?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    RegistryError::BadRequest(format!(
                        "`{}` holds a certificate rustls cannot use: {e}",
                        path.display()
                    ))
                })?;
            }
        } else {
            // Unreadable system certificates are skipped: the roots that
            // load are still the ones to trust.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RegistryError::Database(format!("no TLS versions to offer: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }
}

impl<S> MakeTlsConnect<S> for Rustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
        Ok(Connect {
            config: Arc::clone(&self.0),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

/// One handshake's connector, for the host's name.
pub(super) struct Connect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

type Handshake<S> = Pin<Box<dyn Future<Output = std::io::Result<Stream<S>>> + Send>>;

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = std::io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(Stream)
        })
    }
}

/// The encrypted stream.
pub(super) struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    /// None: SCRAM's channel binding (`-PLUS`) is not offered, so a server
    /// that demands it is refused; plain SCRAM over the verified channel
    /// is what libpq uses by default too.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::{PgOptions, configure};

    #[test]
    fn libpq_tls_words_are_read_and_the_rest_reaches_postgres() {
        let options = |url: &str| PgOptions::new(url);
        let (config, tls) = configure(&options(
            "postgres://u@h/db?sslmode=disable&application_name=x",
        ))
        .expect("config");
        assert!(tls.is_none());
        assert_eq!(config.get_application_name(), Some("x"));
        let (config, tls) =
            configure(&options("postgres://u@h/db?sslmode=verify-full")).expect("config");
        assert!(tls.is_some());
        assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);
        let refused = configure(&options("postgres://u@h/db?sslmode=maybe"))
            .err()
            .map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("sslmode `maybe`")));
        let missing = configure(&options("postgres://u@h/db?sslrootcert=/nonexistent.pem"))
            .err()
            .map(|e| e.to_string());
        assert!(missing.is_some_and(|e| e.contains("/nonexistent.pem")));
        let mut with_password = options("postgres://u:inurl@h/db?sslmode=disable");
        with_password.password = Some("kept-apart".to_owned());
        let (config, _) = configure(&with_password).expect("config");
        assert_eq!(config.get_password(), Some(&b"kept-apart"[..]));
    }
}
