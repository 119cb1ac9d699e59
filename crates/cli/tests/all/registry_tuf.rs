//! Interoperability of the registry's signed index: the TUF conformance
//! suite's reference client (python-tuf) refreshes from a running `lord
//! registry serve` and downloads a published package from its TUF target
//! path (consistent snapshots, `plugins/ID/SHA256.VERSION.lordpkg`),
//! through the hashed bin that holds it, so any
//! TUF client, or a static mirror of the same files, can serve lord users.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::registry::Served;
use crate::support::{Lord, fixture, repo};

/// The rule against reading the environment directly is for the CLI's own
/// code; a test harness asks where CI put its tools.
#[expect(clippy::disallowed_methods, reason = "a test harness, not lord's code")]
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A Python that can import python-tuf, and the suite's reference client.
fn reference_client() -> Option<(String, PathBuf)> {
    let python = env("LORD_TUF_PYTHON").unwrap_or_else(|| "python3".to_owned());
    let suite = env("LORD_TUF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/tuf-conformance"));
    let client = suite.join("clients/python-tuf/python_tuf.py");
    let has_tuf = Command::new(&python)
        .args(["-c", "import tuf.ngclient"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (has_tuf && client.is_file()).then_some((python, client))
}

#[test]
fn python_tuf_refreshes_and_downloads_a_published_package() {
    let Some((python, client)) = reference_client() else {
        assert!(
            env("CI").is_none(),
            "CI must provide python-tuf (pip install tuf==7.0.0) and the TUF conformance suite \
             (../shared/tuf-conformance or LORD_TUF_CONFORMANCE)"
        );
        eprintln!("skipping: python-tuf or the TUF conformance suite is missing");
        return;
    };
    let lord = Lord::new();
    let served = Served::start(&lord);
    let token = served.token(&lord, "publish:*");
    served.publish(&lord, &fixture("hello"), &token).assert_ok();

    let work = tempfile::tempdir().expect("work");
    let (metadata, targets) = (work.path().join("metadata"), work.path().join("targets"));
    std::fs::create_dir_all(&metadata).expect("metadata");
    std::fs::create_dir_all(&targets).expect("targets");
    let root = served.data.path().join("tuf/metadata/1.root.json");
    let run = |args: &[&str]| {
        let output = Command::new(&python)
            .arg(&client)
            .arg("--metadata-dir")
            .arg(&metadata)
            .args(args)
            .output()
            .expect("python-tuf runs");
        assert!(
            output.status.success(),
            "python-tuf {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let metadata_url = format!("{}/api/v1/tuf/", served.url);
    let targets_url = format!("{}/api/v1/tuf/targets/", served.url);
    run(&["init", root.to_str().expect("utf-8")]);
    run(&["--metadata-url", &metadata_url, "refresh"]);
    let name = "plugins/hello/0.1.0.lordpkg";
    run(&[
        "--metadata-url",
        &metadata_url,
        "--target-name",
        name,
        "--target-base-url",
        &targets_url,
        "--target-dir",
        targets.to_str().expect("utf-8"),
        "download",
    ]);

    // What it downloaded is what the signed index lists: in the bin the
    // top-level targets delegate `hello` to, the one bin python-tuf
    // fetched.
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(metadata.join(file)).expect(file)).expect("json")
    };
    let top = read("targets.json");
    assert!(
        top["signed"]["targets"].get(name).is_none(),
        "plugins are listed in bins, not at the top"
    );
    let bin = top["signed"]["delegations"]["roles"]
        .as_array()
        .expect("delegations")
        .iter()
        .find(|role| {
            role["paths"]
                .as_array()
                .is_some_and(|p| p.contains(&"plugins/hello/*".into()))
        })
        .and_then(|role| role["name"].as_str())
        .expect("a bin delegated `hello`")
        .to_owned();
    let fetched: Vec<String> = std::fs::read_dir(&metadata)
        .expect("metadata")
        .filter_map(|e| e.expect("entry").file_name().into_string().ok())
        .filter(|n| n.starts_with("bins-"))
        .collect();
    assert_eq!(fetched, [format!("{bin}.json")]);
    let listed = read(&format!("{bin}.json"))["signed"]["targets"][name]["hashes"]["sha256"]
        .as_str()
        .expect("a sha256 for the package")
        .to_owned();
    let downloaded = std::fs::read_dir(&targets)
        .expect("targets")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect::<Vec<_>>();
    assert_eq!(downloaded.len(), 1, "one package downloaded");
    use sha2::Digest as _;
    assert_eq!(hex::encode(sha2::Sha256::digest(&downloaded[0])), listed);
}
