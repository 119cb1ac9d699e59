//! Hostile fixture: granted only `fs-read($PROJECT)`, it tries to read
//! `/etc/passwd` three ways: through `..`, by absolute path, and through a
//! symlink inside the project that points out. Every attempt must fail.

use lord_pdk::{Command, Plugin};

struct Escape;

const ATTEMPTS: &[&str] = &[
    "/project/../etc/passwd",
    "/project/../../../../etc/passwd",
    "/etc/passwd",
    "/project/escape-link",
    "/project/escape-dir/passwd",
];

impl Plugin for Escape {
    fn run_command(_command: Command) -> Result<String, String> {
        let mut refused = Vec::new();
        for path in ATTEMPTS {
            match std::fs::read_to_string(path) {
                // Escaped: show what leaked, so a test can see it.
                Ok(content) => return Ok(format!("ESCAPED via {path}:\n{content}")),
                Err(e) => refused.push(format!("{path}: {e}")),
            }
        }
        Err(format!(
            "every read outside the grant was refused: {}",
            refused.join("; ")
        ))
    }
}

lord_pdk::export_plugin!(Escape);
