//! A package or a release the signed index lists at a length over what
//! lord would open is refused before anything is fetched: the length is
//! what a download may buffer, so a hostile index could otherwise make the
//! client hold tens of gigabytes before the hash check.

use lord_registry_api::{ReleaseInfo, TargetInfo};
use lord_registry_client::{Client, ClientError, TrustedIndex};

/// What the index lists for both: 50 GB.
const HUGE: u64 = 50_000_000_000;

/// A client of a registry where nothing listens (the discard port: a
/// client that tried to fetch would fail to connect, not refuse), and an
/// empty verified index.
fn client_and_index() -> (Client, TrustedIndex) {
    let client = Client::new("http://127.0.0.1:9").expect("a client");
    let index = TrustedIndex {
        targets: Vec::new(),
        releases: Vec::new(),
        consistent_snapshot: false,
    };
    (client, index)
}

/// Runs a download expected to be refused for its length.
fn assert_refused<T>(download: impl std::future::Future<Output = Result<T, ClientError>>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let Err(refused) = runtime.block_on(download) else {
        panic!("{HUGE} bytes were downloaded");
    };
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains(&format!("{HUGE} bytes"))),
        "{refused}"
    );
}

#[test]
fn a_package_listed_over_the_size_limit_is_not_downloaded() {
    let (client, index) = client_and_index();
    let target = TargetInfo {
        id: "huge".to_owned(),
        version: "1.0.0".to_owned(),
        digest: "0".repeat(64),
        length: HUGE,
        host_api: "^0.2".to_owned(),
        dependencies: Default::default(),
        yanked: false,
        key: "0".repeat(16),
        signature: "0".repeat(128),
    };
    assert_refused(client.download_package(&index, &target));
}

#[test]
fn a_release_listed_over_the_size_limit_is_not_downloaded() {
    let (client, index) = client_and_index();
    let release = ReleaseInfo {
        version: "9.9.9".to_owned(),
        platform: "x86_64-linux".to_owned(),
        digest: "0".repeat(64),
        length: HUGE,
        key: "0".repeat(16),
        signature: "0".repeat(128),
    };
    let state = tempfile::tempdir().expect("state");
    assert_refused(client.download_release(&index, &release, &[], state.path()));
}
