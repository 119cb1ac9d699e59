//! A package or a release the signed index lists at a length over what
//! lord would open is refused before anything is fetched: the length is
//! what a download may buffer, so a hostile index could otherwise make the
//! client hold tens of gigabytes before the hash check.

use lord_registry_api::{ReleaseInfo, TargetInfo};
use lord_registry_client::{ClientError, TrustedIndex};

#[test]
fn a_package_listed_over_the_size_limit_is_not_downloaded() {
    // Nothing listens on the discard port: a client that tried to fetch
    // would fail to connect, not refuse.
    let client = lord_registry_client::Client::new("http://127.0.0.1:9").expect("a client");
    let index = TrustedIndex {
        targets: Vec::new(),
        releases: Vec::new(),
        consistent_snapshot: false,
    };
    let target = TargetInfo {
        id: "huge".to_owned(),
        version: "1.0.0".to_owned(),
        digest: "0".repeat(64),
        length: 50_000_000_000,
        host_api: "^0.2".to_owned(),
        dependencies: Default::default(),
        yanked: false,
        key: "0".repeat(16),
        signature: "0".repeat(128),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let Err(refused) = runtime.block_on(client.download_package(&index, &target)) else {
        panic!("a package of 50 GB was downloaded");
    };
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("50000000000 bytes")),
        "{refused}"
    );
}

#[test]
fn a_release_listed_over_the_size_limit_is_not_downloaded() {
    let client = lord_registry_client::Client::new("http://127.0.0.1:9").expect("a client");
    let index = TrustedIndex {
        targets: Vec::new(),
        releases: Vec::new(),
        consistent_snapshot: false,
    };
    let release = ReleaseInfo {
        version: "9.9.9".to_owned(),
        platform: "x86_64-linux".to_owned(),
        digest: "0".repeat(64),
        length: 50_000_000_000,
        key: "0".repeat(16),
        signature: "0".repeat(128),
    };
    let state = tempfile::tempdir().expect("state");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let Err(refused) =
        runtime.block_on(client.download_release(&index, &release, &[], state.path()))
    else {
        panic!("a release of 50 GB was downloaded");
    };
    assert!(
        matches!(&refused, ClientError::Refused(m) if m.contains("50000000000 bytes")),
        "{refused}"
    );
}
