//! An install plan as the user sees it before granting anything: what the
//! plugin is, where it came from, its risk, each permission with what it
//! means and the author's reason, and its limits. And, for an update, how
//! the new build's requests differ from what was granted.

use std::fmt::Write as _;

use lord_host::{InstallPlan, InstallSource, PermissionDiff};

use super::{Paint, foreign};

/// The plan, line by line; `paint` colours the risk levels.
pub(crate) fn install_plan(plan: &InstallPlan, paint: bool) -> String {
    let mut out = String::new();
    let meta = &plan.manifest.plugin;
    let _ = writeln!(
        out,
        "{} {}: {}",
        meta.id,
        meta.version,
        foreign(&meta.description)
    );
    match &plan.source {
        InstallSource::Folder => {}
        InstallSource::Package { digest, provenance } => {
            let _ = writeln!(out, "  package: sha256 {digest}");
            let _ = writeln!(out, "  {provenance}");
        }
    }
    let risk = Paint::Risk(plan.risk).apply(paint, plan.risk.as_str());
    let _ = writeln!(out, "  risk: {risk}");
    if plan.permissions.is_empty() {
        out.push_str("  permissions: none (pure computation)\n");
    } else {
        out.push_str("  permissions:\n");
        for p in &plan.permissions {
            let risk = Paint::Risk(p.risk()).apply(paint, p.risk().as_str());
            // A permission's path is the manifest's text: escaped, so a
            // bidirectional override cannot make the line read otherwise.
            let _ = writeln!(
                out,
                "    {}  ({risk} risk): {}",
                foreign(&p.to_string()),
                foreign(&p.describe())
            );
            if let Some(why) = plan.manifest.reason_for(p) {
                let _ = writeln!(out, "      why: {}", foreign(why));
            }
        }
    }
    match &plan.project {
        None => {}
        Some(Some(folder)) => {
            let _ = writeln!(out, "  $PROJECT this run: {}", folder.display());
        }
        Some(None) => out.push_str(
            "  $PROJECT this run: none (no project here); its $PROJECT grants refuse to run \
             until lord runs inside a project\n",
        ),
    }
    let limits = &plan.manifest.limits;
    let _ = writeln!(
        out,
        "  limits: {} ms per call, {} MiB memory, {} KiB output, {} KiB data",
        limits.max_execution_ms, limits.max_memory_mib, limits.max_output_kib, limits.max_data_kib
    );
    out
}

/// Which file each `exec(PROGRAM)` grant runs, and that it runs with the
/// user's own authority: the sandbox stops at the program's door.
pub(crate) fn programs(programs: &[(String, Option<std::path::PathBuf>)]) -> String {
    let mut out = String::from("  programs it may run:\n");
    for (name, path) in programs {
        match path {
            Some(path) => {
                let _ = writeln!(out, "    exec({name}) runs {}", path.display());
            }
            None => {
                let _ = writeln!(
                    out,
                    "    exec({name}): no `{name}` on your PATH; running it will be refused"
                );
            }
        }
    }
    out.push_str(
        "    a program runs outside the sandbox with your own authority: it can read, change \
         and send anything you can, so grant exec only to plugins you trust (high risk)\n",
    );
    out
}

/// What an update no longer asks for, then what it asks for beyond what
/// was granted (the part that needs consent).
pub(crate) fn permission_changes(diff: &PermissionDiff) -> String {
    let mut out = String::new();
    if !diff.dropped.is_empty() {
        out.push_str("  the new version no longer asks for:\n");
        for p in &diff.dropped {
            let _ = writeln!(out, "    - {}", foreign(&p.to_string()));
        }
    }
    if !diff.added.is_empty() {
        out.push_str("  the new version asks for more than you granted:\n");
        for p in &diff.added {
            let _ = writeln!(out, "    + {}", foreign(&p.to_string()));
        }
    }
    out
}
