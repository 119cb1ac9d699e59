//! The seed's `PluginValidationResult`: errors, warnings and security issues
//! found in a plugin folder before anything is installed.

use lord_manifest::{PermissionFamily, PluginId, RiskLevel};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The plugin cannot be installed.
    Error,
    /// Worth fixing; does not block installation.
    Warning,
    /// Bears on what the plugin could do to the user.
    Security,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable, short name for scripts (e.g. `undeclared-import`).
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    pub plugin: Option<PluginId>,
    pub risk: Option<RiskLevel>,
    pub findings: Vec<Finding>,
}

impl ValidationReport {
    pub fn is_ok(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub(crate) fn push(&mut self, severity: Severity, code: &'static str, message: String) {
        self.findings.push(Finding {
            severity,
            code,
            message,
        });
    }

    pub fn of(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity == severity)
    }
}

/// Families whose use shows in a component's imports; for the others (files,
/// variables, the terminal) the imports are the same whether or not the
/// permission is used, so "unused" cannot be told from the component alone.
pub(crate) fn use_is_visible_in_imports(family: PermissionFamily) -> bool {
    match family {
        PermissionFamily::Net => true,
        PermissionFamily::FsRead
        | PermissionFamily::FsWrite
        | PermissionFamily::Env
        | PermissionFamily::Tty
        | PermissionFamily::Secret
        | PermissionFamily::Exec
        | PermissionFamily::Db
        | PermissionFamily::Ai
        | PermissionFamily::SysMetrics
        | PermissionFamily::StateShared
        | PermissionFamily::EventsPublish
        | PermissionFamily::EventsSubscribe
        | PermissionFamily::Message => false,
    }
}
