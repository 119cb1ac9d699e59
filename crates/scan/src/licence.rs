//! The licence policy: the manifest's licence as an SPDX expression,
//! evaluated against allow and deny lists of licence ids. An expression
//! passes when some way of meeting it uses only allowed licences (any
//! licence not denied, when the allow list is empty).

use lord_manifest::Manifest;

use crate::finding::{Finding, Location, Rule, Severity};

fn named(req: &spdx::LicenseReq, list: &[String]) -> bool {
    let id = match &req.license {
        spdx::LicenseItem::Spdx { id, .. } => id.name.to_owned(),
        spdx::LicenseItem::Other(other) => other.to_string(),
    };
    list.iter().any(|entry| entry.eq_ignore_ascii_case(&id))
}

pub(crate) fn check(
    manifest: &Manifest,
    allow: &[String],
    deny: &[String],
    out: &mut Vec<Finding>,
) {
    let at = || Location::Manifest {
        field: "plugin.license".to_owned(),
    };
    let Some(text) = manifest.plugin.license.as_deref() else {
        out.push(Finding {
            rule: Rule::LicenceMissing,
            severity: if allow.is_empty() {
                Severity::Note
            } else {
                Severity::Warning
            },
            message: "plugin.toml names no licence; add `license = \"SPDX-EXPRESSION\"` to \
                      [plugin] so users know the terms"
                .to_owned(),
            location: at(),
        });
        return;
    };
    let expression = match spdx::Expression::parse(text) {
        Ok(expression) => expression,
        Err(e) => {
            out.push(Finding {
                rule: Rule::LicenceInvalid,
                severity: Severity::Error,
                message: format!(
                    "the licence `{text}` is not an SPDX expression ({}); write one like \
                     \"MIT OR Apache-2.0\"",
                    e.reason
                ),
                location: at(),
            });
            return;
        }
    };
    let usable =
        |req: &spdx::LicenseReq| !named(req, deny) && (allow.is_empty() || named(req, allow));
    if expression.evaluate(usable) {
        return;
    }
    let denied: Vec<String> = expression
        .requirements()
        .filter(|r| named(&r.req, deny))
        .map(|r| r.req.to_string())
        .collect();
    if !expression.evaluate(|req| !named(req, deny)) {
        out.push(Finding {
            rule: Rule::LicenceDenied,
            severity: Severity::Error,
            message: format!(
                "the licence `{text}` cannot be met without {}, which the licence policy \
                 denies (`scan.licence-deny`)",
                denied.join(" or ")
            ),
            location: at(),
        });
    } else {
        out.push(Finding {
            rule: Rule::LicenceNotAllowed,
            severity: Severity::Warning,
            message: format!(
                "the licence `{text}` cannot be met with the licences the policy allows \
                 (`scan.licence-allow`: {})",
                allow.join(", ")
            ),
            location: at(),
        });
    }
}
