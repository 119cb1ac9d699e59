//! Installed plugins and first-party providers as `plugin list`, `plugin
//! info` and `plugin validate` show them: human text, or JSON for scripts.

use std::path::Path;

use lord_host::{AuditEntry, InstalledPlugin, NativePlugin, PluginState, ValidationReport};
use serde_json::{Value, json};

use super::{Paint, foreign};

pub(crate) fn plugin_json(p: &InstalledPlugin) -> Value {
    let m = &p.manifest;
    json!({
        "id": m.plugin.id.as_str(),
        "kind": "wasm",
        "name": m.plugin.name,
        "version": m.plugin.version.to_string(),
        "description": m.plugin.description,
        "category": m.plugin.category.as_str(),
        "state": p.state.as_str(),
        "reason": p.reason,
        "risk": m.risk_level().as_str(),
        "permissions_requested": m.permissions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "permissions_granted": p.granted.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "programs": granted_programs(p)
            .iter()
            .map(|(name, path)| json!({ "name": name, "path": path.map(|f| f.display().to_string()) }))
            .collect::<Vec<_>>(),
        "limits": {
            "max_execution_ms": m.limits.max_execution_ms,
            "max_memory_mib": m.limits.max_memory_mib,
            "max_output_kib": m.limits.max_output_kib,
            "max_data_kib": m.limits.max_data_kib,
        },
        "commands": m.commands.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        "consecutive_failures": p.consecutive_failures,
        "last_error": p.last_error,
        "wasm_sha256": p.wasm_sha256,
        // The package this build came from: `null` for a folder's build.
        "package_sha256": p.package_digest,
        "signer": p.signer,
        "installed_at": p.installed_at,
        "updated_at": p.updated_at,
    })
}

/// A first-party provider as `plugin list --json` shows it.
pub(crate) fn native_json(n: &NativePlugin) -> Value {
    json!({
        "id": n.id.as_str(),
        "kind": "native",
        "name": n.id.as_str(),
        "version": n.version.to_string(),
        "description": n.description,
        "state": n.state.as_str(),
        "reason": n.reason,
        "commands": n.commands.iter().map(|c| c.name).collect::<Vec<_>>(),
        "interfaces": n.interfaces,
        "micro": n.micro,
        "config_schema": n.config_schema,
    })
}

pub(crate) fn plugin_table(plugins: &[InstalledPlugin], natives: &[NativePlugin]) -> String {
    let mut out = String::new();
    if plugins.is_empty() {
        out.push_str("no plugins installed; install one with `lord plugin install PATH`\n");
    }
    let mut rows: Vec<[String; 6]> = plugins
        .iter()
        .map(|p| {
            [
                p.manifest.plugin.id.to_string(),
                "wasm".to_owned(),
                p.manifest.plugin.version.to_string(),
                p.state.to_string(),
                p.manifest.risk_level().to_string(),
                p.manifest
                    .commands
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    rows.extend(natives.iter().map(|n| {
        [
            n.id.to_string(),
            "native".to_owned(),
            n.version.to_string(),
            n.state.to_string(),
            "-".to_owned(),
            n.commands
                .iter()
                .map(|c| c.name)
                .chain(n.micro.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(", "),
        ]
    }));
    if rows.is_empty() {
        return out;
    }
    let header = ["ID", "KIND", "VERSION", "STATE", "RISK", "COMMANDS"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The newest record of lord neutralising the plugin's output, if any.
pub(crate) fn last_neutralised(history: &[AuditEntry]) -> Option<&AuditEntry> {
    history
        .iter()
        .rev()
        .find(|e| e.action == lord_host::OUTPUT_NEUTRALISED)
}

/// One plugin in full; `project` is what its `$PROJECT` grants give it
/// this run, if it has any; `neutralised` is [`last_neutralised`] of its
/// history.
pub(crate) fn plugin_info(
    p: &InstalledPlugin,
    project: Option<Option<&Path>>,
    neutralised: Option<&AuditEntry>,
) -> String {
    let m = &p.manifest;
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    let mut out = format!(
        "{} {} ({})\n  {}\n  state:       {}{}\n  risk:        {}\n  granted:     {}\n  limits:      {} ms, {} MiB memory, {} KiB output, {} KiB data\n  commands:    {}\n  failures:    {} in a row\n",
        m.plugin.id,
        m.plugin.version,
        foreign(&m.plugin.name),
        foreign(&m.plugin.description),
        p.state,
        p.reason
            .as_deref()
            .map(|r| format!(" ({})", foreign(r)))
            .unwrap_or_default(),
        m.risk_level(),
        list(
            p.granted
                .iter()
                .map(|g| foreign(&g.to_string()).to_string())
                .collect()
        ),
        m.limits.max_execution_ms,
        m.limits.max_memory_mib,
        m.limits.max_output_kib,
        m.limits.max_data_kib,
        list(m.commands.iter().map(|c| c.name.to_string()).collect()),
        p.consecutive_failures,
    );
    for (name, path) in granted_programs(p) {
        match path {
            Some(path) => out.push_str(&format!(
                "  program:     exec({name}) runs {} (recorded when granted)\n",
                foreign(&path.display().to_string())
            )),
            None => out.push_str(&format!(
                "  program:     exec({name}) has no file recorded; runs are refused until \
                 `lord plugin regrant {}`\n",
                m.plugin.id
            )),
        }
    }
    match project {
        None => {}
        Some(Some(folder)) => out.push_str(&format!("  $PROJECT:    {} (this run)\n", folder.display())),
        Some(None) => out.push_str(
            "  $PROJECT:    none here; its $PROJECT grants refuse to run until lord runs inside a project\n",
        ),
    }
    if let Some(last) = &p.last_error {
        out.push_str(&format!("  last error:  {}\n", foreign(last)));
    }
    match neutralised {
        Some(entry) => out.push_str(&format!(
            "  output:      neutralised on a terminal (control sequences shown escaped: {}); \
             --raw or output.raw-plugins shows it as written\n",
            foreign(&entry.detail)
        )),
        None => out.push_str("  output:      never neutralised\n"),
    }
    out.push_str(&format!("  sha256:      {}\n", p.wasm_sha256));
    if let Some(digest) = &p.package_digest {
        out.push_str(&format!("  package:     sha256 {digest}\n"));
    }
    if let Some(signer) = &p.signer {
        out.push_str(&format!("  signed by:   key {signer}\n"));
    }
    out
}

/// Each granted `exec(NAME)` with the file recorded for it, if any.
fn granted_programs(p: &InstalledPlugin) -> Vec<(&str, Option<&Path>)> {
    p.granted
        .iter()
        .filter_map(|g| {
            let lord_manifest::Permission::Exec(name) = g else {
                return None;
            };
            let recorded = p.programs.iter().find(|r| &r.name == name);
            Some((name.as_str(), recorded.map(|r| r.path.as_path())))
        })
        .collect()
}

/// Every finding, one a line; `paint` colours the risk and the error and
/// warning labels.
pub(crate) fn validation(report: &ValidationReport, paint: bool) -> String {
    let mut out = String::new();
    if let Some(id) = &report.plugin {
        let risk = report
            .risk
            .map(|r| Paint::Risk(r).apply(paint, r.as_str()))
            .unwrap_or_default();
        out.push_str(&format!("{id}: risk {risk}\n"));
    }
    for f in &report.findings {
        let label = match f.category {
            lord_host::Category::Error => Paint::Error.apply(paint, "error"),
            lord_host::Category::Warning => Paint::Warning.apply(paint, "warning"),
            lord_host::Category::Security => "security".to_owned(),
            lord_host::Category::Performance => "performance".to_owned(),
            lord_host::Category::Suggestion => "suggestion".to_owned(),
        };
        out.push_str(&format!("{label}[{}]: {}\n", f.code, foreign(&f.message)));
    }
    if report.is_ok() {
        out.push_str("ok: the plugin can be installed\n");
    }
    out
}

/// One first-party provider, as `plugin info` shows it.
pub(crate) fn native_info(n: &NativePlugin) -> String {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    format!(
        "{} {} (native: built into lord)\n  {}\n  state:       {}{}\n  commands:    {}\n  interfaces:  {}\n  micro:       {}\n",
        n.id,
        n.version,
        n.description,
        n.state,
        n.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        list(n.commands.iter().map(|c| c.name.to_owned()).collect()),
        list(n.interfaces.clone()),
        list(n.micro.clone()),
    )
}

/// The last few audit entries, newest last.
pub(crate) fn history(entries: &[AuditEntry]) -> String {
    const SHOWN: usize = 8;
    let mut out = String::from("  history:\n");
    let skip = entries.len().saturating_sub(SHOWN);
    for e in &entries[skip..] {
        out.push_str(&format!(
            "    #{} {}: {}\n",
            e.seq,
            e.action,
            foreign(&e.detail)
        ));
    }
    out
}

/// How a fresh install was left: enabled, or waiting for its first use to
/// run its hooks (a package install runs no plugin code).
pub(crate) fn state_note(plugin: &InstalledPlugin) -> &'static str {
    match plugin.state {
        PluginState::Enabled => "enabled",
        PluginState::Installed => "no plugin code ran; its on-enable hook runs at first use",
        PluginState::Disabled | PluginState::Failed => "not enabled",
    }
}
