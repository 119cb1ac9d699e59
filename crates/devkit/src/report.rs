//! `lord pdk validate` output: the seed's `PluginValidationResult` as text
//! for people, JSON for scripts, and SARIF 2.1.0 so CI systems (GitHub code
//! scanning, GitLab, Azure DevOps) show each finding inline on the file it
//! is about.

use std::path::Path;

use lord_host::{Category, Finding, Level, ValidationReport};
use serde_json::{Value, json};

/// The seed's shape: one list per category, plus what was measured.
pub fn to_json(report: &ValidationReport) -> Value {
    let list = |category: Category| -> Vec<Value> {
        report
            .of(category)
            .map(|f| {
                json!({
                    "code": f.code,
                    "level": f.level,
                    "message": f.message,
                    "file": f.file,
                })
            })
            .collect()
    };
    json!({
        "plugin": report.plugin.as_ref().map(|p| p.as_str()),
        "valid": report.is_ok(),
        "risk": report.risk.map(|r| r.to_string()),
        "errors": list(Category::Error),
        "warnings": list(Category::Warning),
        "security_issues": list(Category::Security),
        "performance_issues": list(Category::Performance),
        "suggestions": list(Category::Suggestion),
        "measurements": report.measurements,
        "findings": report.findings,
    })
}

/// Text for a terminal, grouped as the seed groups them.
pub fn to_text(report: &ValidationReport) -> String {
    let mut out = String::new();
    if let Some(id) = &report.plugin {
        out.push_str(&format!(
            "{id}: risk {}\n",
            report.risk.map(|r| r.to_string()).unwrap_or_default()
        ));
    }
    if let Some(m) = &report.measurements {
        #[allow(clippy::cast_precision_loss)]
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        out.push_str(&format!(
            "  component {:.2} MiB, compiles in {:.0} ms",
            mib(m.component_bytes),
            m.compile_ms
        ));
        if let (Some(start), Some(memory)) = (m.start_ms, m.start_memory_bytes) {
            out.push_str(&format!(
                ", starts in {start:.2} ms holding {:.1} MiB of {:.0} MiB allowed",
                mib(memory),
                mib(m.declared_memory_bytes)
            ));
        }
        out.push('\n');
    }
    for (category, heading) in [
        (Category::Error, "errors"),
        (Category::Security, "security issues"),
        (Category::Warning, "warnings"),
        (Category::Performance, "performance issues"),
        (Category::Suggestion, "suggestions"),
    ] {
        let found: Vec<&Finding> = report.of(category).collect();
        if found.is_empty() {
            continue;
        }
        out.push_str(&format!("{heading}:\n"));
        for f in found {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Note => "note",
            };
            // A finding quotes the manifest and the component (a key, a
            // name, the plugin's own error): shown, never obeyed.
            out.push_str(&format!(
                "  {level}[{}] {}: {}\n",
                foreign(f.code),
                foreign(&f.file),
                foreign(&f.message)
            ));
        }
    }
    out.push_str(if report.is_ok() {
        "valid: the plugin can be installed\n"
    } else {
        "not valid: fix the errors above\n"
    });
    out
}

/// Text from the plugin under validation or test, for a terminal: every
/// control and format character shown as a visible escape, as
/// `lord plugin validate` shows it.
pub(crate) fn foreign(text: &str) -> String {
    lord_terminal::escape_text(text, lord_terminal::Policy::Foreign)
}

/// What each finding code means, for SARIF's rule list.
fn rule_text(code: &str) -> &'static str {
    match code {
        "unreadable" => "The manifest or component cannot be read",
        "host-fit" => "The plugin does not fit this host (API version, reserved names)",
        "manifest" => "The manifest is valid but incomplete",
        "high-risk-permission" => "The plugin requests a high-risk permission",
        "undeclared-import" => {
            "The component imports a host interface its manifest does not request"
        }
        "unknown-import" => "The component imports an interface this host does not provide",
        "contract" => "The component does not meet the host contract",
        "unused-permission" => "The manifest requests a permission the component never uses",
        "missing-signature" => "The package is not signed",
        "bad-signature" => "The package signature does not verify",
        "bad-package" => "The package cannot be opened",
        "engine" => "The sandbox engine could not start",
        "start-up" => "The component fails to start",
        "large-component" => "The component is large to download and compile",
        "slow-start" => "The component is slow to start",
        "memory-budget-too-small" => "The memory budget is below what the component needs to start",
        "oversized-memory-budget" => "The memory budget is far above what the component needs",
        "no-test-cases" => "The plugin declares no test cases",
        "no-readme" => "The plugin has no README",
        "unexplained-permission" => "A requested permission has no reason in the manifest",
        _ => "A lord pdk validate finding",
    }
}

/// The line of `file` a finding points at: the permission or setting it
/// names, else line 1.
fn line_of(dir: &Path, finding: &Finding) -> u64 {
    let needle = match finding.code {
        "oversized-memory-budget" | "memory-budget-too-small" => Some("max-memory-mib".to_owned()),
        "unused-permission" | "high-risk-permission" => {
            finding.message.split('`').nth(1).map(str::to_owned)
        }
        _ => None,
    };
    let Some(needle) = needle else { return 1 };
    std::fs::read_to_string(dir.join(&finding.file))
        .ok()
        .and_then(|text| {
            text.lines()
                .position(|line| line.contains(needle.as_str()))
                .map(|i| u64::try_from(i).unwrap_or(0) + 1)
        })
        .unwrap_or(1)
}

/// A SARIF 2.1.0 log with one run: one rule per finding code, one result
/// per finding, located relative to the plugin folder `dir`.
pub fn to_sarif(report: &ValidationReport, dir: &Path) -> Value {
    let mut codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            let finding = report.findings.iter().find(|f| f.code == *code);
            let category = finding.map_or(Category::Warning, |f| f.category);
            let level = finding.map_or(Level::Warning, |f| f.level);
            let mut properties = json!({ "tags": [category_tag(category)] });
            if category == Category::Security {
                // GitHub ranks security alerts by this score (0-10).
                let score = match level {
                    Level::Error => "8.0",
                    Level::Warning => "5.0",
                    Level::Note => "2.0",
                };
                properties["security-severity"] = json!(score);
            }
            json!({
                "id": code,
                "shortDescription": { "text": rule_text(code) },
                "defaultConfiguration": { "level": sarif_level(level) },
                "properties": properties,
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": sarif_level(f.level),
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file, "uriBaseId": "PLUGINROOT" },
                        "region": { "startLine": line_of(dir, f) },
                    }
                }],
                "properties": { "category": category_tag(f.category) },
            })
        })
        .collect();
    let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let root_uri = url::Url::from_directory_path(&root)
        .map(String::from)
        .unwrap_or_else(|()| "file:///".to_owned());
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "lord pdk validate",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "originalUriBaseIds": { "PLUGINROOT": { "uri": root_uri } },
            "invocations": [{ "executionSuccessful": true }],
            "results": results,
        }]
    })
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "note",
    }
}

fn category_tag(category: Category) -> &'static str {
    match category {
        Category::Error => "error",
        Category::Warning => "warning",
        Category::Security => "security",
        Category::Performance => "performance",
        Category::Suggestion => "suggestion",
    }
}
