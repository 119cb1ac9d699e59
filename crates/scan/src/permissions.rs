//! Imports against permissions, and exports against the world: the same
//! table the host's contract check reads (`lord_manifest`'s
//! `WASI_BASELINE` and `PermissionFamily::meaning`), so what a scan
//! reports is what an install would refuse, before anyone installs it.

use lord_manifest::{Manifest, PermissionFamily, WASI_BASELINE};

use crate::finding::{Finding, Location, Rule, Severity};

/// The exports of each world a plugin may be built for: a full plugin
/// exports `lord:plugin/guest`, a micro-plugin `lord:plugin/micro`.
const WORLD_EXPORTS: &[&str] = &["lord:plugin/guest", "lord:plugin/micro"];

/// An import's or export's name without its `@version`.
fn path(name: &str) -> &str {
    name.split_once('@').map_or(name, |(path, _)| path)
}

/// Judges each import against the requested permissions, and each
/// requested family that shows in imports against what was imported.
pub(crate) fn imports(manifest: &Manifest, imports: &[String], out: &mut Vec<Finding>) {
    let requested: Vec<PermissionFamily> =
        manifest.permissions.iter().map(|p| p.family()).collect();
    let mut used: Vec<PermissionFamily> = Vec::new();
    for name in imports {
        let interface = path(name);
        if WASI_BASELINE.iter().any(|p| interface.starts_with(p)) {
            continue;
        }
        if let Some(family) = PermissionFamily::unlocking(interface) {
            used.push(family);
            if !requested.contains(&family) {
                out.push(Finding {
                    rule: Rule::UndeclaredImport,
                    severity: Severity::Critical,
                    message: format!(
                        "the component imports `{name}`, which needs a `{family}` permission \
                         that plugin.toml does not request ({}); add it to [permissions] \
                         request, or remove the import",
                        family.meaning().summary
                    ),
                    location: Location::Import { name: name.clone() },
                });
            }
            continue;
        }
        // lord's own interfaces that need no permission (log, data, config,
        // delivery, types); the host's contract check holds their versions.
        if interface.starts_with("lord:plugin/") {
            continue;
        }
        out.push(Finding {
            rule: Rule::UnknownImport,
            severity: Severity::Error,
            message: format!(
                "the component imports `{name}`, an interface lord does not provide to \
                 plugins; install will refuse it"
            ),
            location: Location::Import { name: name.clone() },
        });
    }
    let mut noted: Vec<PermissionFamily> = Vec::new();
    for permission in &manifest.permissions {
        let family = permission.family();
        if family.meaning().visible_in_imports()
            && !used.contains(&family)
            && !noted.contains(&family)
        {
            noted.push(family);
            out.push(Finding {
                rule: Rule::UnusedPermission,
                severity: Severity::Note,
                message: format!(
                    "plugin.toml requests `{permission}` but the component imports none of \
                     its interfaces ({}); drop it so users are not asked for it",
                    family.meaning().interfaces.join(", ")
                ),
                location: Location::Manifest {
                    field: "permissions.request".to_owned(),
                },
            });
        }
    }
}

/// Exports outside the plugin worlds, and a missing world export.
pub(crate) fn exports(exports: &[String], out: &mut Vec<Finding>) {
    let mut has_world = false;
    for name in exports {
        if WORLD_EXPORTS.contains(&path(name)) {
            has_world = true;
            continue;
        }
        out.push(Finding {
            rule: Rule::SuspiciousExport,
            severity: Severity::Warning,
            message: format!(
                "the component exports `{name}`, which no lord plugin world exports; lord \
                 never calls it, so find out what it is for"
            ),
            location: Location::Export { name: name.clone() },
        });
    }
    if !has_world {
        out.push(Finding {
            rule: Rule::MissingExport,
            severity: Severity::Error,
            message: "the component exports neither `lord:plugin/guest` nor \
                      `lord:plugin/micro`; build it against lord's WIT (the lord-pdk crate)"
                .to_owned(),
            location: Location::Export {
                name: "lord:plugin/guest".to_owned(),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(names: &[&str]) -> Vec<Finding> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut out = Vec::new();
        exports(&names, &mut out);
        out
    }

    #[test]
    fn an_export_outside_the_worlds_is_suspicious_and_a_missing_world_export_an_error() {
        assert!(exported(&["lord:plugin/guest@0.2.1"]).is_empty());
        assert!(exported(&["lord:plugin/micro@0.2.0"]).is_empty());
        let found = exported(&["lord:plugin/guest@0.2.1", "wasi:cli/run@0.2.6"]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].rule, Rule::SuspiciousExport);
        assert_eq!(
            found[0].location,
            Location::Export {
                name: "wasi:cli/run@0.2.6".to_owned()
            }
        );
        let found = exported(&[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, Rule::MissingExport);
        assert_eq!(found[0].severity, Severity::Error);
    }
}
