//! Secrets: stored encrypted, read by a plugin only with its grant, and a
//! planted value found nowhere afterwards: not in any output of any run,
//! any `--json`, the event log, the audit log, or any file under
//! `$LORD_HOME`.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use crate::support::{Lord, Run};

const PLANTED: &str = "tok-PLANTED-7c1e9a55d0b24f6e";

fn set_secret(lord: &Lord, name: &str, value: &str) -> Run {
    let mut cmd = lord.command(&["secret", "set", name]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("lord runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{value}\n").as_bytes())
        .expect("write the secret");
    let output = child.wait_with_output().expect("lord ends");
    Run {
        output,
        elapsed: std::time::Duration::ZERO,
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_planted_secret_is_used_by_its_grantee_and_found_nowhere_else() {
    let lord = Lord::new();
    let mut outputs = Vec::new();
    let mut keep = |run: Run| {
        outputs.push(format!("{}{}", run.stdout(), run.stderr()));
        run
    };

    keep(lord.install("vault"));
    keep(lord.install("hostile/statesnoop"));
    // Not set yet: the plugin fails and says how to set it.
    keep(lord.run(&["vault"]))
        .assert_code(3)
        .assert_stderr_contains("lord secret set API_TOKEN");

    keep(set_secret(&lord, "API_TOKEN", PLANTED)).assert_ok();
    let listed = keep(lord.run(&["secret", "list", "--json"]));
    listed.assert_ok();
    assert_eq!(listed.stdout().trim(), r#"["API_TOKEN"]"#);

    let used = keep(lord.run(&["vault"]));
    used.assert_ok();
    assert_eq!(
        used.stdout(),
        format!(
            "API_TOKEN is set: {} characters, 3 of 3 character classes\n",
            PLANTED.len()
        )
    );

    // A plugin without the grant is refused, and told only the name.
    keep(lord.run(&["statesnoop", "secret"]))
        .assert_code(3)
        .assert_stderr_contains("the secret `API_TOKEN`");

    for args in [
        &["plugin", "info", "vault", "--json"][..],
        &["plugin", "info", "statesnoop", "--json"],
        &["plugin", "list", "--json"],
        &["events", "replay", "--since", "1h", "--json"],
        &["events", "tail", "-n", "100"],
    ] {
        keep(lord.run(args)).assert_ok();
    }

    for (i, output) in outputs.iter().enumerate() {
        assert!(
            !output.contains(PLANTED),
            "output #{i} shows the secret:\n{output}"
        );
    }
    assert_eq!(
        files_containing(lord.home.path(), PLANTED.as_bytes()),
        Vec::<String>::new(),
        "the secret is stored in the clear"
    );

    // Only the user can read the store and its key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = lord.home.path().join("secrets");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("store.enc")), 0o600);
        assert_eq!(mode(&dir.join("key")), 0o600);
    }

    lord.run(&["secret", "remove", "API_TOKEN"]).assert_ok();
    lord.run(&["vault"]).assert_code(3);
    lord.run(&["secret", "remove", "API_TOKEN"])
        .assert_code(2)
        .assert_stderr_contains("no secret named `API_TOKEN`");
}

#[test]
fn a_tampered_secret_store_is_refused_not_misread() {
    let lord = Lord::new();
    set_secret(&lord, "API_TOKEN", PLANTED).assert_ok();
    let store = lord.home.path().join("secrets/store.enc");
    let mut bytes = std::fs::read(&store).expect("store");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&store, bytes).expect("tamper");
    let run = lord.run(&["secret", "list"]);
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("does not decrypt");
    assert!(!run.stderr().contains(PLANTED));
}
