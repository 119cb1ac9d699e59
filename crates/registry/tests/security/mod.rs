//! The registry's security feed and publish-time scan, over real HTTP:
//! OSV advisories added by the operator and served per plugin and by id,
//! a publish refused (422, nothing stored) when its scan finds something
//! critical (an import the manifest does not declare; an advisory rated
//! critical), and the report of a publish that passed kept and served.
//! The packages are lord's own guest fixtures, packed and signed.

use lord_registry_client::ClientError;

use super::{Backend, Running, Spec, repo};

/// `plugins/NAME` packed and signed by the running registry's publisher.
fn fixture_package(r: &Running, name: &str) -> (Vec<u8>, lord_package::Signature) {
    let packed = lord_package::pack(&repo().join("plugins").join(name)).expect("pack");
    let signature = r.keys.sign("ada", &packed.digest).expect("sign");
    (packed.bytes, signature)
}

pub(crate) fn advisory(id: &str, plugin: &str, fixed: &str, severity: &str) -> String {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-12-01T00:00:00Z",
        "summary": "the greeting echoes terminal escapes",
        "affected": [{
            "package": {"ecosystem": "lord", "name": plugin},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": severity},
        "credits": [{"name": "Ada"}]
    })
    .to_string()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

pub(crate) fn a_critical_finding_blocks_the_publish_and_nothing_is_stored(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    // `hostile/undeclared` imports wasi:sockets and requests no `net`.
    let (bytes, signature) = fixture_package(&r, "hostile/undeclared");
    let refused = r
        .runtime
        .block_on(r.client.publish(&r.token, bytes, &signature, &r.key))
        .expect_err("a package with an undeclared import was published");
    let ClientError::Remote { status, message } = &refused else {
        panic!("refused as {refused:?}");
    };
    assert_eq!(*status, 422, "{message}");
    assert!(message.contains("`undeclared-import`"), "{message}");
    assert!(message.contains("wasi:sockets/"), "{message}");
    assert!(message.contains("`net` permission"), "{message}");
    assert!(
        r.runtime
            .block_on(r.client.plugin("undeclared"))
            .expect("lookup")
            .is_none(),
        "the refused plugin was recorded"
    );
    // Blobs are in the data folder on SQLite (and without the `cloud`
    // feature on PostgreSQL too); none was written.
    let stored = files_under(&r.data_path().join("blobs"));
    assert!(stored.is_empty(), "blobs were stored: {stored:?}");

    // An advisory rated critical blocks the versions it affects, not the
    // fixed one.
    lord_registry::add_advisory(
        &r.registry.db,
        &advisory("LORD-2026-0002", "hello", "0.2.0", "CRITICAL"),
    )
    .expect("add");
    let refused = r
        .publish(&Spec::default())
        .expect_err("an affected version");
    assert!(
        refused.to_string().contains("`known-vulnerability`")
            && refused.to_string().contains("LORD-2026-0002"),
        "{refused}"
    );
    r.publish(&Spec {
        version: "0.2.0",
        ..Spec::default()
    })
    .expect("the fixed version publishes");
}

pub(crate) fn advisories_are_served_as_osv_and_a_publishs_scan_is_kept(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    let text = advisory("LORD-2026-0001", "hello", "0.1.5", "MODERATE");
    let (id, replaced) = lord_registry::add_advisory(&r.registry.db, &text).expect("add");
    assert_eq!((id.as_str(), replaced), ("LORD-2026-0001", false));
    let (_, replaced) = lord_registry::add_advisory(&r.registry.db, &text).expect("again");
    assert!(replaced, "the same id replaces the advisory");
    lord_registry::add_advisory(
        &r.registry.db,
        &advisory("LORD-2026-0003", "notes", "1.0.0", "HIGH"),
    )
    .expect("add");
    for bad in [
        "not json".to_owned(),
        r#"{"id": "X-1", "modified": "2026-01-01T00:00:00Z"}"#.to_owned(),
        advisory("../1", "hello", "1.0.0", "LOW"),
    ] {
        let e = lord_registry::add_advisory(&r.registry.db, &bad).expect_err(&bad);
        assert_eq!(e.status(), 400, "{e}");
    }

    let served = r
        .runtime
        .block_on(r.client.advisories("hello"))
        .expect("advisories");
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(served[0].id, "LORD-2026-0001");
    assert!(served[0].affects("hello", &semver::Version::new(0, 1, 0)));
    assert!(
        r.runtime
            .block_on(r.client.advisories("weather"))
            .expect("none")
            .is_empty()
    );
    // By id, exactly as it was added (fields lord does not read included).
    let one = raw_get(&r, "/api/v1/advisories/LORD-2026-0001");
    assert_eq!(one["credits"][0]["name"], "Ada");
    assert_eq!(one["id"], "LORD-2026-0001");

    // A moderate advisory does not block; the publish's scan keeps it.
    let published = r.publish(&Spec::default()).expect("publish");
    assert_eq!(published.version, "0.1.0");
    let report = r
        .runtime
        .block_on(r.client.scan_report("hello", "0.1.0"))
        .expect("the scan report");
    assert_eq!(report["plugin"], "hello");
    let findings = report["findings"].as_array().expect("findings");
    let vulnerable = findings
        .iter()
        .find(|f| f["rule"] == "known-vulnerability")
        .unwrap_or_else(|| panic!("no advisory finding in {report:#}"));
    assert_eq!(vulnerable["severity"], "warning");
    assert!(
        findings.iter().all(|f| f["severity"] != "critical"),
        "{report:#}"
    );
    let unpublished = r.runtime.block_on(r.client.scan_report("hello", "9.9.9"));
    assert!(
        matches!(unpublished, Err(ClientError::NotFound(_))),
        "a scan of an unpublished version: {unpublished:?}"
    );
}

/// One GET over a plain HTTP/1.1 connection, for an answer the client
/// has no method for (an advisory's text as it was added).
fn raw_get(r: &Running, path: &str) -> serde_json::Value {
    use std::io::{Read as _, Write as _};
    let host = r.client.base().trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
