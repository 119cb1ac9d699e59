//! Sharing use with the registry, only when the user opted in with
//! `registry.share-usage = true`, and never on a command's path.
//!
//! Counting happens in `lord-host` as commands run (only while sharing is
//! on). After a command, if sharing is on, a registry is configured, the
//! last report is more than an hour old and today's counts hold
//! something, lord stamps the time and
//! starts a detached `lord registry share-usage` that sends today's totals
//! (`Framework::share_usage`); the command does not wait for it. So a day
//! of use costs a report an hour at most, and a command none.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use lord_host::Framework;

use crate::context::Context;

/// How often reports may be sent: batched, so many commands make one.
const EVERY: Duration = Duration::from_secs(3600);

/// The file whose time says when the last report was started.
pub(crate) fn stamp(home: &Path) -> PathBuf {
    home.join("usage-report")
}

/// Starts a background report if the user shares use, a registry is
/// configured, the last report is an hour old and there is use to report.
/// Never fails the command: a report that cannot start waits for the
/// next hour.
pub(crate) fn maybe_send(ctx: &Context, framework: &Framework) {
    let Ok(settings) = framework.settings() else {
        return;
    };
    if settings.get("registry.url").is_none() {
        return;
    }
    let stamp = stamp(&ctx.home);
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < EVERY);
    // Checked last: it reads the store (and says no when sharing is off).
    if fresh || !framework.has_use_to_share() {
        return;
    }
    // Stamp first, so commands started meanwhile do not start more reports.
    if std::fs::write(&stamp, b"").is_err() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = Command::new(exe)
        .args(["registry", "share-usage"])
        .env("LORD_HOME", &ctx.home)
        .env("LORD_NO_UPDATE_CHECK", "1")
        .current_dir(&ctx.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
