//! `lord registry serve --tls-cert --tls-key`: the registry over HTTPS
//! with a certificate for 127.0.0.1 issued by the test's own CA (made with
//! the `openssl` program). A user's lord refuses it until that CA is
//! pinned for the registry (`lord registry pin --ca-file`), then publishes
//! and installs over it.

use std::path::Path;
use std::process::Command;

use crate::registry::{flavour, listening, publish_to, trusting, version_of};
use crate::support::Lord;

/// `ca.crt`, and `server.crt` and `server.key` for 127.0.0.1, in `dir`.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run openssl (Debian's `openssl` package)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=lord test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    ]
    .concat());
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}

#[test]
fn a_registry_served_over_https_is_used_once_its_ca_is_pinned() {
    let certs = tempfile::tempdir().expect("certificates");
    certificates(certs.path());
    let file = |name: &str| certs.path().join(name).to_str().expect("utf-8").to_owned();
    let author = Lord::new();
    let data = tempfile::tempdir().expect("data");
    let data_arg = data.path().to_str().expect("utf-8").to_owned();
    let (mut child, url, _stderr) = listening(author.command(&[
        "registry",
        "serve",
        "--data",
        &data_arg,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &file("server.crt"),
        "--tls-key",
        &file("server.key"),
    ]));
    assert!(url.starts_with("https://"), "{url}");
    let token = author.run(&[
        "registry",
        "token",
        "create",
        "--scope",
        "publish:*",
        "--data",
        &data_arg,
    ]);
    token.assert_ok();
    let token = token.stdout().trim().to_owned();
    author
        .run(&[
            "registry",
            "pin",
            "--registry",
            &url,
            "--ca-file",
            &file("ca.crt"),
        ])
        .assert_ok();
    let v1 = flavour("base", "1.0.0", "^0.2", &[]);
    publish_to(&author, v1.path(), &url, &token).assert_ok();

    let user = trusting(&author);
    let install = [
        "plugin",
        "install",
        "base@=1.0.0",
        "--registry",
        &url,
        "--yes",
    ];
    user.run(&install)
        .assert_stderr_contains("TLS certificate is not trusted");
    // A root that does not match pins nothing, the CA given with it
    // included: the next install is refused exactly as before.
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &url,
        "--ca-file",
        &file("ca.crt"),
        "--root-sha256",
        &"0".repeat(64),
    ])
    .assert_code(2)
    .assert_stderr_contains("nothing was pinned");
    user.run(&install)
        .assert_stderr_contains("TLS certificate is not trusted");
    user.run(&[
        "registry",
        "pin",
        "--registry",
        &url,
        "--ca-file",
        &file("ca.crt"),
    ])
    .assert_ok();
    user.run(&install).assert_ok();
    assert_eq!(version_of(&user, "base"), "1.0.0");

    let _ = child.kill();
    let _ = child.wait();
}
