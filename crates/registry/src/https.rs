//! `lord registry serve --tls-cert --tls-key`: the registry over HTTPS,
//! with the rustls (over aws-lc-rs) the workspace already builds for its
//! clients, and no proxy needed in front.
//!
//! [`HttpsListener`] is an axum listener whose connections have finished
//! their TLS handshake. Handshakes run on tasks of their own, under a
//! deadline, so a client that connects and says nothing holds up no one
//! else's connection; a failed handshake (a client that does not trust
//! the certificate, a port scanner) drops that connection only.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use crate::error::RegistryError;

/// How long a client may take over its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the server to take them.
const BACKLOG: usize = 128;

/// The server's TLS settings from a certificate chain and its private key,
/// both PEM files.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, RegistryError> {
    let unusable = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        RegistryError::BadRequest(format!(
            "could not read the TLS {what} `{}`: {e}; give a PEM file",
            path.display()
        ))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unusable("certificate", cert, &e))?;
    if chain.is_empty() {
        return Err(unusable("certificate", cert, &"it holds no certificate"));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| unusable("key", key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::BadRequest(format!("no TLS versions to offer: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            RegistryError::BadRequest(format!(
                "the TLS certificate `{}` and key `{}` do not go together: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    // The server speaks HTTP/1.1 (axum is built without HTTP/2).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A TCP listener whose connections come out TLS-handshaken.
#[derive(Debug)]
pub struct HttpsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    /// Starts accepting on `tcp` (in a task of the current runtime) and
    /// handshaking with `config`.
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (sender, ready) = tokio::sync::mpsc::channel(BACKLOG);
        tokio::spawn(async move {
            loop {
                // Ends with the listener (the server stopped), freeing the
                // port at once rather than at the next connection.
                let accepted = tokio::select! {
                    () = sender.closed() => break,
                    accepted = tcp.accept() => accepted,
                };
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors, say: give the system a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
                    {
                        let _ = sender.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.local
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// [`crate::serve_until`] over HTTPS.
pub async fn serve_https_until(
    listener: HttpsListener,
    registry: Arc<crate::Registry>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RegistryError> {
    use axum::serve::ListenerExt as _;
    crate::resync::start(&registry).await?;
    // `tap_io` makes the peer's address reach the handlers as it does
    // over plain TCP (rate limits and the access log use it).
    let listener = listener.tap_io(|_| {});
    let app = crate::server::router(registry).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| RegistryError::Internal(format!("serving HTTPS failed: {e}")))
}
