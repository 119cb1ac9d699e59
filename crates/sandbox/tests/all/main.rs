//! lord-sandbox's integration tests: real guest components from
//! `plugins/` (built by `cargo xtask plugins`) run against services the
//! tests link in place of the host's.

mod ai;
mod quota;
mod reset;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lord_manifest::{Permission, PluginId};
use lord_sandbox::{Compiled, Limits, Sandbox};

/// The folder of the fixture `name`, which must have been built.
fn fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(name);
    assert!(
        dir.join("plugin.wasm").is_file(),
        "{} has no plugin.wasm; run `cargo xtask plugins` first",
        dir.display()
    );
    dir
}

/// The fixture `name` compiled and checked against `requested`, with the
/// sandbox (and its compiled cache) it lives in.
fn compile(name: &str, requested: &[&str]) -> (tempfile::TempDir, Sandbox, Compiled) {
    let cache = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::new(cache.path()).expect("engine");
    let plugin: PluginId = name.parse().expect("plugin id");
    let requested: Vec<Permission> = requested
        .iter()
        .map(|p| p.parse().expect("permission"))
        .collect();
    let wasm = fixture(name).join("plugin.wasm");
    let (sha256, _) = sandbox
        .install_check(&plugin, &wasm, &requested)
        .expect("contract check");
    let compiled = sandbox
        .prepare(&plugin, &wasm, &sha256, &requested)
        .expect("prepared");
    (cache, sandbox, compiled)
}

/// Budgets for a test call: `time` to finish, room for everything else.
fn limits(time: Duration) -> Limits {
    Limits {
        time,
        memory_bytes: 64 << 20,
        output_bytes: 1 << 20,
        open_handles: 64,
    }
}
