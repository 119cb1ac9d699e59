//! The registry over HTTPS (`serve_https_until`, what `lord registry serve
//! --tls-cert --tls-key` runs): a certificate for 127.0.0.1 issued by a CA
//! of the test's own (made with the `openssl` program, as the PostgreSQL
//! TLS tests make theirs). A client that trusts that CA verifies the index
//! and downloads a package over it; one that does not is refused with a
//! message that says why and how to pin the CA.

use std::sync::Arc;

use lord_registry_client::Client;

use super::{Backend, Running, Spec};

#[test]
fn a_client_trusting_the_private_ca_installs_over_https_and_others_are_refused() {
    let r = Running::start(Backend::Sqlite).expect("sqlite");
    let published = r.publish(&Spec::default()).expect("0.1.0");
    let certs = tempfile::tempdir().expect("certificates");
    super::support::make_certificates(certs.path(), None);
    let config = lord_registry::tls_config(
        &certs.path().join("server.crt"),
        &certs.path().join("server.key"),
    )
    .expect("TLS settings");
    let url = r.runtime.block_on(async {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let listener = lord_registry::HttpsListener::new(tcp, config).expect("listener");
        let address = listener.address();
        tokio::spawn(lord_registry::serve_https_until(
            listener,
            Arc::clone(&r.registry),
            std::future::pending(),
        ));
        format!("https://127.0.0.1:{}", address.port())
    });

    // Without the CA: refused, saying so.
    let stranger = tempfile::tempdir().expect("state");
    let error = r
        .runtime
        .block_on(
            Client::new(&url)
                .expect("client")
                .trusted_index(stranger.path()),
        )
        .expect_err("an untrusted certificate");
    let text = error.to_string();
    assert!(
        text.contains("TLS certificate is not trusted") && text.contains("--ca-file"),
        "{text}"
    );
    assert!(!stranger.path().join("metadata/root.json").exists());

    // With it: the verified index, and the package at its TUF path.
    let ca = std::fs::read(certs.path().join("ca.crt")).expect("ca");
    let client = Client::new(&url)
        .expect("client")
        .with_ca_pem(&ca)
        .expect("the CA");
    let state = tempfile::tempdir().expect("state");
    let index = r
        .runtime
        .block_on(client.trusted_index(state.path()))
        .expect("verified over HTTPS");
    assert_eq!(index.targets.len(), 1);
    let download = r
        .runtime
        .block_on(client.download_package(&index, &index.targets[0]))
        .expect("download over HTTPS");
    assert_eq!(
        lord_package::Digest::of(&download.bytes).to_string(),
        published.digest
    );
    // A bundle with no certificate is refused before any request.
    assert!(Client::new(&url).expect("client").with_ca_pem(b"").is_err());

    // Stopped, a server lets go of its port.
    let config = lord_registry::tls_config(
        &certs.path().join("server.crt"),
        &certs.path().join("server.key"),
    )
    .expect("TLS settings");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (port, served) = r.runtime.block_on(async {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let listener = lord_registry::HttpsListener::new(tcp, config).expect("listener");
        let port = listener.address().port();
        let served = tokio::spawn(lord_registry::serve_https_until(
            listener,
            Arc::clone(&r.registry),
            async {
                let _ = stopped.await;
            },
        ));
        (port, served)
    });
    stop.send(()).expect("stop");
    r.runtime
        .block_on(served)
        .expect("joined")
        .expect("stopped cleanly");
    let freed = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    });
    assert!(freed, "port {port} still held after the server stopped");
}
