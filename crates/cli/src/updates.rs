//! Update notices: at most once a day, and never on a command's path.
//!
//! After a command, if a registry is configured and the last check is more
//! than a day old, lord stamps the check and starts a detached
//! `lord plugin outdated --record` in the background (the command does not
//! wait for it); that child writes `$LORD_HOME/updates.json`. Before a
//! command, if that file lists updates and stderr is a terminal, lord
//! prints one line about them. `LORD_NO_UPDATE_CHECK=1` turns both off.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::context::Context;
use crate::render::Output;

/// How often the background check may run.
const EVERY: Duration = Duration::from_secs(24 * 3600);

fn stamp(home: &Path) -> PathBuf {
    home.join("update-check")
}

/// The file the background check writes.
pub(crate) fn record_path(home: &Path) -> PathBuf {
    home.join("updates.json")
}

fn disabled(ctx: &Context) -> bool {
    ctx.env
        .iter()
        .any(|(k, v)| k == "LORD_NO_UPDATE_CHECK" && !v.is_empty() && v != "0")
}

/// Prints one line if the last background check found updates.
pub(crate) fn notice(ctx: &Context, out: &Output) {
    if disabled(ctx) || !ctx.terminal.stderr {
        return;
    }
    let Ok(text) = std::fs::read_to_string(record_path(&ctx.home)) else {
        return;
    };
    let updates: Vec<String> = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["updates"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    if !updates.is_empty() {
        out.note(format_args!(
            "updates available for {} (see `lord plugin outdated`)",
            updates.join(", ")
        ));
    }
}

/// Starts the background check if a registry is configured and the last
/// check is a day old. Never fails the command: a check that cannot start
/// is skipped until tomorrow.
pub(crate) fn maybe_check(ctx: &Context, registry_configured: impl FnOnce() -> bool) {
    if disabled(ctx) {
        return;
    }
    let stamp = stamp(&ctx.home);
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < EVERY);
    if fresh || !registry_configured() {
        return;
    }
    // Stamp first, so commands started meanwhile do not start more checks.
    if std::fs::write(&stamp, b"").is_err() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = Command::new(exe)
        .args(["plugin", "outdated", "--record"])
        .env("LORD_HOME", &ctx.home)
        .env("LORD_NO_UPDATE_CHECK", "1")
        .current_dir(&ctx.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
