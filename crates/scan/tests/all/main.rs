//! `lord-scan` on lord's own guest fixtures (real components built from
//! `plugins/`, `cargo xtask plugins`), packed into real packages, and its
//! SARIF validated against the SARIF 2.1.0 JSON schema.

mod sarif;

use std::path::{Path, PathBuf};

use lord_registry_api::Advisory;
use lord_scan::{Finding, Loaded, Policy, Report, Rule, Severity};

fn fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(name);
    assert!(
        dir.join("plugin.wasm").is_file(),
        "{} has no plugin.wasm; run `cargo xtask plugins` before the tests",
        dir.display()
    );
    dir
}

fn loaded(name: &str) -> Loaded {
    lord_scan::load::load(&fixture(name)).expect("a fixture loads")
}

fn scan(loaded: &Loaded, advisories: &[Advisory], policy: &Policy) -> Report {
    lord_scan::scan(loaded.subject(), advisories, policy)
}

fn of_rule(report: &Report, rule: Rule) -> Vec<&Finding> {
    report.findings.iter().filter(|f| f.rule == rule).collect()
}

/// An OSV advisory against `id`, versions below `fixed`.
fn advisory(id: &str, fixed: &str, severity: &str) -> Advisory {
    serde_json::from_value(serde_json::json!({
        "schema_version": "1.6.0",
        "id": "LORD-2026-0001",
        "modified": "2026-12-01T00:00:00Z",
        "summary": "the greeting leaks the caller's name",
        "affected": [{
            "package": {"ecosystem": "lord", "name": id},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": severity}
    }))
    .expect("an advisory")
}

#[test]
fn an_import_whose_permission_is_not_requested_is_critical() {
    let report = scan(&loaded("hostile/undeclared"), &[], &Policy::default());
    let undeclared = of_rule(&report, Rule::UndeclaredImport);
    assert!(!undeclared.is_empty(), "{report:#?}");
    assert!(undeclared.iter().all(|f| f.severity == Severity::Critical));
    assert!(
        undeclared.iter().all(|f| matches!(
            &f.location,
            lord_scan::Location::Import { name } if name.starts_with("wasi:sockets/")
        )),
        "{undeclared:#?}"
    );
    assert!(undeclared[0].message.contains("`net` permission"));
    assert_eq!(report.worst(), Some(Severity::Critical));
}

#[test]
fn an_honest_plugin_has_nothing_worse_than_a_note() {
    let report = scan(&loaded("hello"), &[], &Policy::default());
    assert!(
        report.worst() <= Some(Severity::Note),
        "{:#?}",
        report.findings
    );
    assert!(of_rule(&report, Rule::UndeclaredImport).is_empty());
    // Rust's guests declare no maximum for their memory; the host's
    // budget holds it.
    assert!(!of_rule(&report, Rule::MemoryUnbounded).is_empty());
}

#[test]
fn a_requested_permission_never_imported_is_a_note() {
    let mut hello = loaded("hello");
    hello
        .manifest
        .permissions
        .push("secret(API_TOKEN)".parse().expect("a permission"));
    let report = scan(&hello, &[], &Policy::default());
    let unused = of_rule(&report, Rule::UnusedPermission);
    assert_eq!(unused.len(), 1, "{report:#?}");
    assert_eq!(unused[0].severity, Severity::Note);
}

#[test]
fn an_advisory_reports_the_versions_it_affects_only() {
    let hello = loaded("hello");
    let version = hello.manifest.plugin.version.clone();
    let affecting = advisory("hello", "99.0.0", "HIGH");
    let report = scan(&hello, std::slice::from_ref(&affecting), &Policy::default());
    let found = of_rule(&report, Rule::KnownVulnerability);
    assert_eq!(found.len(), 1, "{report:#?}");
    assert_eq!(found[0].severity, Severity::Error);
    assert!(found[0].message.contains("LORD-2026-0001"));
    assert!(found[0].message.contains("fixed in 99.0.0"));
    let fixed_before = advisory("hello", &version.to_string(), "CRITICAL");
    let other_plugin = advisory("notes", "99.0.0", "CRITICAL");
    let report = scan(&hello, &[fixed_before, other_plugin], &Policy::default());
    assert!(of_rule(&report, Rule::KnownVulnerability).is_empty());
}

#[test]
fn a_licence_needing_a_denied_licence_is_an_error_and_one_outside_the_allow_list_a_warning() {
    let hello = loaded("hello");
    let license = hello.manifest.plugin.license.clone().expect("a licence");
    assert_eq!(license, "MIT OR Apache-2.0");
    let policy = |allow: &[&str], deny: &[&str]| Policy {
        licence_allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        licence_deny: deny.iter().map(|s| (*s).to_owned()).collect(),
        ..Policy::default()
    };
    // One side of the OR is enough.
    let report = scan(&hello, &[], &policy(&[], &["MIT"]));
    assert!(of_rule(&report, Rule::LicenceDenied).is_empty());
    let report = scan(&hello, &[], &policy(&[], &["MIT", "Apache-2.0"]));
    let denied = of_rule(&report, Rule::LicenceDenied);
    assert_eq!(denied.len(), 1, "{report:#?}");
    assert_eq!(denied[0].severity, Severity::Error);
    let report = scan(&hello, &[], &policy(&["BSD-3-Clause"], &[]));
    assert_eq!(of_rule(&report, Rule::LicenceNotAllowed).len(), 1);
    let report = scan(&hello, &[], &policy(&["Apache-2.0"], &[]));
    assert!(of_rule(&report, Rule::LicenceNotAllowed).is_empty());
    let mut bad = hello.clone();
    bad.manifest.plugin.license = Some("MIT OR OR".to_owned());
    assert_eq!(
        of_rule(&scan(&bad, &[], &Policy::default()), Rule::LicenceInvalid).len(),
        1
    );
}

#[test]
fn a_package_scans_as_its_folder_does() {
    let out = tempfile::tempdir().expect("dir");
    let packed = lord_package::pack(&fixture("hostile/undeclared")).expect("pack");
    let path = out.path().join(packed.file_name());
    std::fs::write(&path, &packed.bytes).expect("write");
    let from_package = lord_scan::load::load(&path).expect("a package loads");
    let policy = Policy::default();
    assert_eq!(
        scan(&from_package, &[], &policy),
        scan(&loaded("hostile/undeclared"), &[], &policy)
    );
    let not_a_plugin = lord_scan::load::load(out.path()).expect_err("no plugin.toml");
    assert!(not_a_plugin.to_string().contains("plugin.toml"));
}

#[test]
fn bytes_that_are_not_a_component_are_critical() {
    let mut hello = loaded("hello");
    hello.component = b"\0asm\x01\0\0\0".to_vec();
    let report = scan(&hello, &[], &Policy::default());
    let unreadable = of_rule(&report, Rule::UnreadableComponent);
    assert_eq!(unreadable.len(), 1, "{report:#?}");
    assert!(unreadable[0].message.contains("not a component"));
    hello.component = b"not wasm".to_vec();
    assert_eq!(
        scan(&hello, &[], &Policy::default()).worst(),
        Some(Severity::Critical)
    );
}

#[test]
fn a_memory_over_the_manifest_budget_and_an_oversized_component_are_reported() {
    let mut hello = loaded("hello");
    // The smallest budget is 1 MiB; Rust guests start with more than
    // that (their stack alone is 1 MiB), so no instance could be made.
    hello.manifest.limits.max_memory_mib = 1;
    let policy = Policy {
        max_component_bytes: 1024,
        ..Policy::default()
    };
    let report = scan(&hello, &[], &policy);
    let over = of_rule(&report, Rule::MemoryOverBudget);
    assert_eq!(over.len(), 1, "{report:#?}");
    assert_eq!(over[0].severity, Severity::Error);
    assert_eq!(of_rule(&report, Rule::OversizedComponent).len(), 1);
}

#[test]
fn a_url_in_a_real_components_data_is_located_at_its_byte_offset() {
    // The workspace fixture's XML parser carries the XML namespace URL.
    let workspace = loaded("workspace");
    let report = scan(&workspace, &[], &Policy::default());
    let urls = of_rule(&report, Rule::EmbeddedUrl);
    assert!(!urls.is_empty(), "{report:#?}");
    for url in urls {
        let lord_scan::Location::File {
            offset: Some(offset),
            length: Some(length),
            ..
        } = url.location
        else {
            panic!("no byte range: {url:#?}");
        };
        let at = usize::try_from(offset).expect("offset");
        let bytes = &workspace.component[at..at + usize::try_from(length).expect("length")];
        assert!(
            bytes.starts_with(b"http"),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        assert!(url.message.contains(&*String::from_utf8_lossy(bytes)));
    }
}
