//! Packages end to end: `lord pdk pack` is reproducible, `lord pdk sign`
//! and `lord key` make signatures another home can trust, and `lord plugin
//! install PACKAGE` verifies before anything is stored: every refused
//! package leaves the store as it was.

use std::path::{Path, PathBuf};

use crate::support::{Lord, fixture};

/// Packs `dir` into `out` with `lord pdk pack --json` and returns the
/// package path and digest.
fn pack(lord: &Lord, dir: &Path, out: &Path) -> (PathBuf, String) {
    let run = lord.run(&[
        "pdk",
        "pack",
        dir.to_str().expect("utf-8"),
        "-o",
        out.to_str().expect("utf-8"),
        "--json",
    ]);
    run.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("pack --json");
    (
        PathBuf::from(report["path"].as_str().expect("path")),
        report["sha256"].as_str().expect("sha256").to_owned(),
    )
}

fn install(lord: &Lord, package: &Path, extra: &[&str]) -> crate::support::Run {
    let mut args = vec![
        "plugin",
        "install",
        package.to_str().expect("utf-8"),
        "--yes",
    ];
    args.extend_from_slice(extra);
    lord.run(&args)
}

/// Every file under the home's `plugins/`, and the installed list: what a
/// refused install must not change.
fn store_state(lord: &Lord) -> (Vec<String>, usize) {
    let mut files = Vec::new();
    let mut stack = vec![lord.home.path().join("plugins")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    (files, lord.list().len())
}

#[test]
fn a_signed_package_installs_runs_and_records_its_signer() {
    let lord = Lord::new();
    let out = tempfile::tempdir().expect("out");
    lord.run(&["key", "generate", "alice"]).assert_ok();
    let (package, digest) = pack(&lord, &fixture("hello"), out.path());
    assert!(package.ends_with("hello-0.1.0.lordpkg"));

    // The same folder packs to the same bytes.
    let again = tempfile::tempdir().expect("again");
    let (second, second_digest) = pack(&lord, &fixture("hello"), again.path());
    assert_eq!(digest, second_digest);
    assert_eq!(
        std::fs::read(&package).expect("first"),
        std::fs::read(&second).expect("second")
    );

    lord.run(&[
        "pdk",
        "sign",
        package.to_str().expect("utf-8"),
        "--key",
        "alice",
    ])
    .assert_ok();
    let run = install(&lord, &package, &[]);
    run.assert_ok()
        .assert_stderr_contains(&format!("package: sha256 {digest}"))
        .assert_stderr_contains("signed by key")
        .assert_stderr_contains("no plugin code ran");
    // Installing a package ran no plugin code: no hook has run yet.
    assert_eq!(lord.info("hello")["state"], "installed");
    assert!(
        !lord.info("hello")["history"]
            .to_string()
            .contains("\"enabled\"")
    );
    // Its first use runs its hooks, then the command.
    lord.assert_hello_works();
    assert_eq!(lord.info("hello")["state"], "enabled");
    let history = lord.info("hello")["history"].to_string();
    assert!(
        history.contains(&format!("package sha256 {digest}")) && history.contains("(alice)"),
        "{history}"
    );
    // Nothing of the unpacked package is left behind.
    let unpacking = lord.home.path().join("unpacking");
    assert_eq!(std::fs::read_dir(&unpacking).expect("unpacking").count(), 0);
}

#[test]
fn another_home_installs_only_after_trusting_the_key() {
    let author = Lord::new();
    let user = Lord::new();
    let out = tempfile::tempdir().expect("out");
    author.run(&["key", "generate"]).assert_ok();
    let (package, _) = pack(&author, &fixture("hello"), out.path());
    author
        .run(&["pdk", "sign", package.to_str().expect("utf-8")])
        .assert_ok();

    let before = store_state(&user);
    install(&user, &package, &["--allow-unsigned"])
        .assert_code(2)
        .assert_stderr_contains("which you do not trust")
        .assert_stderr_contains("lord key trust");
    assert_eq!(store_state(&user), before);

    let exported = author.run(&["key", "export"]);
    exported.assert_ok();
    let key_file = out.path().join("author.pub");
    std::fs::write(&key_file, exported.stdout()).expect("key file");
    user.run(&["key", "trust", key_file.to_str().expect("utf-8")])
        .assert_ok();
    let listed = user.run(&["key", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_str(&listed.stdout()).expect("list --json");
    assert_eq!(keys[0]["trusted"], true);
    assert_eq!(keys[0]["can_sign"], false);

    install(&user, &package, &[]).assert_ok();
    user.assert_hello_works();
}

#[test]
fn unsigned_tampered_and_hostile_packages_leave_the_store_untouched() {
    let lord = Lord::new();
    let out = tempfile::tempdir().expect("out");
    lord.run(&["key", "generate"]).assert_ok();
    let (package, _) = pack(&lord, &fixture("hello"), out.path());
    let before = store_state(&lord);

    // Unsigned: refused, and told how to proceed.
    install(&lord, &package, &[])
        .assert_code(2)
        .assert_stderr_contains("it is not signed")
        .assert_stderr_contains("--allow-unsigned");
    assert_eq!(store_state(&lord), before);

    // Signed, then changed: refused even with --allow-unsigned.
    lord.run(&["pdk", "sign", package.to_str().expect("utf-8")])
        .assert_ok();
    let mut bytes = std::fs::read(&package).expect("package");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = out.path().join("tampered.lordpkg");
    std::fs::write(&tampered, &bytes).expect("tampered");
    std::fs::copy(lord_package_sig(&package), lord_package_sig(&tampered)).expect("signature");
    install(&lord, &tampered, &["--allow-unsigned"])
        .assert_code(2)
        .assert_stderr_contains("changed after it was signed");
    assert_eq!(store_state(&lord), before);

    // A package whose archive climbs out of its folder, signed by a
    // trusted key: the signature does not make it safe.
    let hostile = out.path().join("hostile.lordpkg");
    std::fs::write(&hostile, climbing_archive()).expect("hostile");
    lord.run(&["pdk", "sign", hostile.to_str().expect("utf-8")])
        .assert_ok();
    install(&lord, &hostile, &[])
        .assert_code(2)
        .assert_stderr_contains("`..` segment");
    assert_eq!(store_state(&lord), before);
    assert!(!out.path().join("escaped").exists());

    // Allowed unsigned: installed, and the audit log says so.
    let plain = out.path().join("plain");
    std::fs::create_dir(&plain).expect("plain");
    let (unsigned, _) = pack(&lord, &fixture("hello"), &plain);
    install(&lord, &unsigned, &["--allow-unsigned"]).assert_ok();
    let history = lord.info("hello")["history"].to_string();
    assert!(
        history.contains("unsigned, allowed by --allow-unsigned"),
        "{history}"
    );

    // --allow-unsigned means nothing for a folder.
    lord.run(&[
        "plugin",
        "install",
        fixture("tally").to_str().expect("utf-8"),
        "--yes",
        "--allow-unsigned",
    ])
    .assert_code(2);
}

fn lord_package_sig(package: &Path) -> PathBuf {
    let mut name = package.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// A gzip tar holding hello's manifest and an entry `../escaped`, its
/// header written by hand (tar writers refuse such names).
fn climbing_archive() -> Vec<u8> {
    use std::io::Write as _;
    let manifest = std::fs::read(fixture("hello").join("plugin.toml")).expect("manifest");
    let mut tar = Vec::new();
    for (name, data) in [
        ("plugin.toml", manifest.as_slice()),
        ("../escaped", b"x".as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

/// A gzip tar of `entries` (name, type flag, link target, data), headers
/// written by hand so they can say anything.
fn archive(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut tar = Vec::new();
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::new(*kind));
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn every_hostile_archive_is_refused_by_install_and_leaves_the_store_untouched() {
    let lord = Lord::new();
    let out = tempfile::tempdir().expect("out");
    lord.run(&["key", "generate"]).assert_ok();
    let manifest = std::fs::read(fixture("hello").join("plugin.toml")).expect("manifest");
    let component = std::fs::read(fixture("hello").join("plugin.wasm")).expect("component");
    let (good, _) = pack(&lord, &fixture("hello"), out.path());
    let good = std::fs::read(good).expect("package");
    let zeros = vec![0u8; 64 << 20];
    let big_manifest = vec![b'#'; 100 << 10];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            archive(&[
                ("plugin.toml", b'0', "", &manifest),
                ("../escaped", b'0', "", b"x"),
            ]),
            "`..` segment",
        ),
        (
            "absolute",
            archive(&[
                ("plugin.toml", b'0', "", &manifest),
                ("/tmp/lord-escaped", b'0', "", b"x"),
            ]),
            "absolute path",
        ),
        (
            "symlink",
            archive(&[
                ("plugin.toml", b'0', "", &manifest),
                ("plugin.wasm", b'2', "/etc/passwd", b""),
            ]),
            "symbolic link",
        ),
        (
            "hardlink",
            archive(&[
                ("plugin.toml", b'0', "", &manifest),
                ("plugin.wasm", b'1', "/etc/passwd", b""),
            ]),
            "hard link",
        ),
        (
            "bomb",
            archive(&[
                ("plugin.toml", b'0', "", &manifest),
                ("plugin.wasm", b'0', "", &component),
                ("docs/zeros", b'0', "", &zeros),
            ]),
            "compression bomb",
        ),
        (
            "oversized-manifest",
            archive(&[("plugin.toml", b'0', "", &big_manifest)]),
            "over the 65536-byte limit",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "truncated or damaged",
        ),
    ];
    let before = store_state(&lord);
    for (name, bytes, expected) in cases {
        let package = out.path().join(format!("{name}.lordpkg"));
        std::fs::write(&package, &bytes).expect("write");
        // Signed by a trusted key: the archive checks alone must refuse it.
        lord.run(&["pdk", "sign", package.to_str().expect("utf-8")])
            .assert_ok();
        install(&lord, &package, &[])
            .assert_code(2)
            .assert_stderr_contains(expected);
        assert_eq!(store_state(&lord), before, "{name} changed the store");
        assert!(!Path::new("/tmp/lord-escaped").exists(), "{name} escaped");
        assert!(!out.path().join("escaped").exists(), "{name} escaped");
        let unpacking = lord.home.path().join("unpacking");
        assert_eq!(
            std::fs::read_dir(&unpacking).map_or(0, |d| d.count()),
            0,
            "{name} left unpacked files"
        );
    }
    assert!(lord.list().is_empty());
}

/// `--allow-unsigned` has no meaning for a plugin from a registry, which
/// is always verified: it is refused rather than silently dropped.
#[test]
fn allow_unsigned_is_refused_for_a_registry_install() {
    let lord = Lord::new();
    lord.run(&["plugin", "install", "hello@^1", "--allow-unsigned", "--yes"])
        .assert_code(2)
        .assert_stderr_contains("--allow-unsigned is for package files");
}

/// `hello` at `version`, packed and signed by `author` into `out`.
fn signed_hello(author: &Lord, version: &str, out: &Path) -> PathBuf {
    let dir = tempfile::tempdir().expect("variant");
    let src = fixture("hello");
    for entry in std::fs::read_dir(&src).expect("fixture") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(
        dir.path().join("plugin.toml"),
        manifest.replace("version = \"0.1.0\"", &format!("version = \"{version}\"")),
    )
    .expect("manifest");
    let (package, _) = pack(author, dir.path(), out);
    author
        .run(&["pdk", "sign", package.to_str().expect("utf-8")])
        .assert_ok();
    package
}

/// The id of `lord`'s own signing key.
fn own_key_id(lord: &Lord) -> String {
    let listed = lord.run(&["key", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_str(&listed.stdout()).expect("list --json");
    keys[0]["id"].as_str().expect("id").to_owned()
}

/// The signer of the installed build is recorded, and an update signed by
/// another key the user trusts (for another plugin, say) is flagged for
/// consent where the same key's is not.
#[test]
fn an_update_signed_by_another_trusted_key_is_flagged() {
    let (first, second, user) = (Lord::new(), Lord::new(), Lord::new());
    let out = tempfile::tempdir().expect("out");
    for (n, author) in [&first, &second].into_iter().enumerate() {
        author.run(&["key", "generate"]).assert_ok();
        let exported = author.run(&["key", "export"]);
        exported.assert_ok();
        let key_file = out.path().join(format!("author-{n}.pub"));
        std::fs::write(&key_file, exported.stdout()).expect("key file");
        user.run(&["key", "trust", key_file.to_str().expect("utf-8")])
            .assert_ok();
    }
    let (first_key, second_key) = (own_key_id(&first), own_key_id(&second));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("out")).collect();
    let installed = signed_hello(&first, "0.1.0", dirs[0].path());
    install(&user, &installed, &[]).assert_ok();
    let info = user.run(&["plugin", "info", "hello", "--json"]);
    info.assert_ok();
    let info: serde_json::Value = serde_json::from_str(&info.stdout()).expect("info --json");
    assert_eq!(info["signer"], first_key.as_str(), "{info:#}");

    let framework = lord_host::Framework::open(lord_host::HostConfig::new(
        user.home.path().to_path_buf(),
        user.project.path().to_path_buf(),
    ))
    .expect("opens");
    let same = signed_hello(&first, "0.1.1", dirs[1].path());
    let plan = framework.plan_update_package(&same).expect("plan");
    assert_eq!(plan.signer_change(), None);
    let other = signed_hello(&second, "0.1.1", dirs[2].path());
    let plan = framework.plan_update_package(&other).expect("plan");
    assert_eq!(plan.signer_change(), Some((first_key, second_key)));
}
