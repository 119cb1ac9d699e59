//! Plugin development: build a Rust guest for `wasm32-wasip2` into the file
//! its manifest names (the Rust step of [`crate::builder::build`], which
//! builds every language), and notice when a project's sources change.
//! `lord dev` loops over these and `lord_host::Framework::plan_replace`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::error::DevkitError;

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Build {
    pub component: PathBuf,
    pub took: Duration,
}

/// Builds the Rust plugin in `dir` (a folder with `Cargo.toml` and
/// `plugin.toml`) with `cargo`, and copies the component where the manifest
/// says it lives. A folder without `Cargo.toml` is taken as built already.
pub fn build(dir: &Path, cargo: &Path) -> Result<Build, DevkitError> {
    let started = Instant::now();
    let manifest = crate::read_manifest(dir)?;
    let component = dir.join(&manifest.plugin.component);
    if !dir.join("Cargo.toml").is_file() {
        return Ok(Build {
            component,
            took: started.elapsed(),
        });
    }
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| DevkitError::Missing {
            tool: cargo.display().to_string(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(DevkitError::Tool {
            tool: "cargo build".to_owned(),
            dir: dir.to_path_buf(),
            log: String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    let own_manifest = dir
        .join("Cargo.toml")
        .canonicalize()
        .unwrap_or_else(|_| dir.join("Cargo.toml"));
    let built = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p) == own_manifest)
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| DevkitError::Tool {
            tool: "cargo build".to_owned(),
            dir: dir.to_path_buf(),
            log: "cargo built no .wasm file; is the crate a cdylib?".to_owned(),
        })?;
    // Replaced in one rename: a running `lord dev` or an interrupted build
    // never sees half a component.
    let bytes =
        std::fs::read(&built).map_err(DevkitError::io("read the built component", &built))?;
    lord_file::write_atomic(&component, &bytes)?;
    Ok(Build {
        component,
        took: started.elapsed(),
    })
}

/// The newest modification time among a plugin's sources (`src/`,
/// `plugin.toml`, `Cargo.toml` or `package.json` and `tsconfig.json`, and
/// `wit/` if it has one), ignoring build output (`target/`, `.lord/`).
pub fn sources_stamp(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = [
        "src",
        "wit",
        "Cargo.toml",
        "plugin.toml",
        "package.json",
        "tsconfig.json",
    ]
    .iter()
    .map(|p| dir.join(p))
    .collect();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    newest
}
