//! Checks of the CLI's sources that the compiler cannot make: every file
//! says what it is for, output goes only through the renderer, and the
//! CLI's clippy.toml (which replaces the workspace's for this crate) still
//! carries every workspace rule.

use std::path::{Path, PathBuf};

use crate::support::repo;

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn cli_sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    sources(&repo().join("crates/cli/src"), &mut found);
    assert!(!found.is_empty());
    found
}

#[test]
fn every_cli_source_file_starts_with_a_module_comment() {
    for path in cli_sources() {
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(
            text.starts_with("//!"),
            "{} does not start with a `//!` comment",
            path.display()
        );
    }
}

#[test]
fn only_the_renderer_prints() {
    let render = repo().join("crates/cli/src/render");
    for path in cli_sources() {
        if path.starts_with(&render) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for name in ["print!(", "println!(", "eprint!(", "eprintln!(", "dbg!("] {
                let hit = code.match_indices(name).any(|(at, _)| {
                    !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                assert!(
                    !hit,
                    "{}:{}: `{name}` outside crates/cli/src/render; write through Output",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn the_cli_clippy_config_keeps_every_workspace_rule() {
    let paths = |file: &Path| -> Vec<String> {
        std::fs::read_to_string(file)
            .expect("read clippy.toml")
            .lines()
            .filter_map(|l| l.split("path = \"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect()
    };
    let workspace = paths(&repo().join("clippy.toml"));
    let cli = paths(&repo().join("crates/cli/clippy.toml"));
    assert!(!workspace.is_empty());
    for path in &workspace {
        assert!(
            cli.contains(path),
            "crates/cli/clippy.toml lacks the workspace's rule for `{path}`"
        );
    }
}
