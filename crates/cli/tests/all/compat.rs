//! Plugins built against an earlier contract keep working: every folder of
//! `tests/compat/` holds plugins compiled once against a released
//! `lord:plugin` version (never rebuilt) and what they must answer; each is
//! installed and run on this host, and the answers compared exactly.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;

use crate::support::{Lord, repo};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    install: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    step: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    args: Vec<String>,
    #[serde(default)]
    stdin: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Exact standard output; not compared when absent.
    stdout: Option<String>,
    #[serde(default)]
    code: i32,
    /// A fragment standard error must hold.
    stderr: Option<String>,
}

/// Every released contract's folder.
fn released() -> Vec<PathBuf> {
    let root = repo().join("tests").join("compat");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/compat")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn replay(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("expect.toml")).expect("expect.toml");
    let expect: Expect = toml::from_str(&text).expect("expect.toml parses");
    let lord = Lord::new();
    for (name, content) in &expect.files {
        std::fs::write(lord.project.path().join(name), content).expect("project file");
    }
    for name in &expect.install {
        let plugin = dir.join("plugins").join(name);
        let run = lord.run(&[
            "plugin",
            "install",
            plugin.to_str().expect("utf-8"),
            "--yes",
        ]);
        run.assert_ok();
    }
    for (n, step) in expect.step.iter().enumerate() {
        let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
        let mut cmd = lord.command(&args);
        cmd.envs(&step.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("lord runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(step.stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("lord ends");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let at = format!(
            "{} step {} (`lord {}`)",
            dir.display(),
            n + 1,
            step.args.join(" ")
        );
        assert_eq!(
            out.status.code(),
            Some(step.code),
            "{at}\nstdout: {stdout}\nstderr: {stderr}"
        );
        if let Some(expected) = &step.stdout {
            assert_eq!(&stdout, expected, "{at}\nstderr: {stderr}");
        }
        if let Some(fragment) = &step.stderr {
            assert!(
                stderr.contains(fragment.as_str()),
                "{at}: stderr lacks {fragment:?}\n{stderr}"
            );
        }
    }
}

#[test]
fn plugins_built_against_every_released_contract_still_give_the_same_answers() {
    let dirs = released();
    assert!(!dirs.is_empty(), "no released contract under tests/compat");
    for dir in dirs {
        replay(&dir);
    }
}
