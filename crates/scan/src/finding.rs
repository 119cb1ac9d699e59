//! What a scan reports: [`Finding`]s, each under one [`Rule`] with a
//! [`Severity`] and a [`Location`], gathered in a [`Report`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Note,
    /// Probably wrong, or risky.
    Warning,
    /// Wrong: fix it before shipping.
    Error,
    /// Dangerous: a registry refuses to publish it.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Note, Self::Warning, Self::Error, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("`{text}` is not a severity; use note, warning, error or critical")
            })
    }
}

/// The rules a scan applies. Each finding names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The component imports an interface whose permission the manifest
    /// does not request.
    UndeclaredImport,
    /// The component imports an interface lord does not provide.
    UnknownImport,
    /// The manifest requests a permission whose interfaces the component
    /// never imports.
    UnusedPermission,
    /// The component exports something outside its world.
    SuspiciousExport,
    /// The component lacks its world's export.
    MissingExport,
    /// A URL in the component's data.
    EmbeddedUrl,
    /// A private key or a token of a known service in the component's data.
    EmbeddedSecret,
    /// A long random-looking string beside a word like `key` or `token`.
    PossibleSecret,
    /// A memory with no maximum.
    MemoryUnbounded,
    /// A memory whose maximum, or initial size, is over the manifest's
    /// `max-memory-mib`.
    MemoryOverBudget,
    /// A component bigger than the policy's limit.
    OversizedComponent,
    /// The component cannot be read as a component.
    UnreadableComponent,
    /// An advisory affects this version.
    KnownVulnerability,
    /// The licence expression cannot be met without a denied licence.
    LicenceDenied,
    /// The licence expression cannot be met with allowed licences only.
    LicenceNotAllowed,
    /// The licence is not an SPDX expression.
    LicenceInvalid,
    /// The manifest names no licence.
    LicenceMissing,
}

impl Rule {
    pub const ALL: [Rule; 17] = [
        Self::UndeclaredImport,
        Self::UnknownImport,
        Self::UnusedPermission,
        Self::SuspiciousExport,
        Self::MissingExport,
        Self::EmbeddedUrl,
        Self::EmbeddedSecret,
        Self::PossibleSecret,
        Self::MemoryUnbounded,
        Self::MemoryOverBudget,
        Self::OversizedComponent,
        Self::UnreadableComponent,
        Self::KnownVulnerability,
        Self::LicenceDenied,
        Self::LicenceNotAllowed,
        Self::LicenceInvalid,
        Self::LicenceMissing,
    ];

    /// The rule's id, as findings and SARIF name it.
    pub fn id(self) -> &'static str {
        match self {
            Self::UndeclaredImport => "undeclared-import",
            Self::UnknownImport => "unknown-import",
            Self::UnusedPermission => "unused-permission",
            Self::SuspiciousExport => "suspicious-export",
            Self::MissingExport => "missing-export",
            Self::EmbeddedUrl => "embedded-url",
            Self::EmbeddedSecret => "embedded-secret",
            Self::PossibleSecret => "possible-secret",
            Self::MemoryUnbounded => "memory-unbounded",
            Self::MemoryOverBudget => "memory-over-budget",
            Self::OversizedComponent => "oversized-component",
            Self::UnreadableComponent => "unreadable-component",
            Self::KnownVulnerability => "known-vulnerability",
            Self::LicenceDenied => "licence-denied",
            Self::LicenceNotAllowed => "licence-not-allowed",
            Self::LicenceInvalid => "licence-invalid",
            Self::LicenceMissing => "licence-missing",
        }
    }

    /// What the rule looks for, in a sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Self::UndeclaredImport => {
                "The component imports an interface whose permission plugin.toml does not request."
            }
            Self::UnknownImport => "The component imports an interface lord does not provide.",
            Self::UnusedPermission => {
                "plugin.toml requests a permission whose interfaces the component never imports."
            }
            Self::SuspiciousExport => "The component exports something outside its world.",
            Self::MissingExport => "The component lacks its world's export.",
            Self::EmbeddedUrl => "The component's data holds a URL.",
            Self::EmbeddedSecret => "The component's data holds a private key or a service token.",
            Self::PossibleSecret => {
                "The component's data holds a random-looking string beside a word like key or token."
            }
            Self::MemoryUnbounded => "A memory of the component declares no maximum.",
            Self::MemoryOverBudget => {
                "A memory of the component may grow past, or starts above, max-memory-mib."
            }
            Self::OversizedComponent => "The component is bigger than the scan policy allows.",
            Self::UnreadableComponent => "The component cannot be read as a component.",
            Self::KnownVulnerability => "A security advisory affects this version.",
            Self::LicenceDenied => "The licence cannot be met without a denied licence.",
            Self::LicenceNotAllowed => "The licence cannot be met with allowed licences only.",
            Self::LicenceInvalid => "The licence is not a valid SPDX expression.",
            Self::LicenceMissing => "plugin.toml names no licence.",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Location {
    /// Bytes of a file of the package (the component, usually).
    File {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        length: Option<u64>,
    },
    /// A field of plugin.toml (`plugin.license`, `permissions.request`).
    Manifest { field: String },
    /// An import of the component, by name.
    Import { name: String },
    /// An export of the component, by name.
    Export { name: String },
    /// An advisory, by id.
    Advisory { id: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File {
                path,
                offset: Some(offset),
                ..
            } => write!(f, "{path} at byte {offset}"),
            Self::File {
                path, offset: None, ..
            } => f.write_str(path),
            Self::Manifest { field } => write!(f, "plugin.toml `{field}`"),
            Self::Import { name } => write!(f, "import `{name}`"),
            Self::Export { name } => write!(f, "export `{name}`"),
            Self::Advisory { id } => write!(f, "advisory {id}"),
        }
    }
}

/// One thing a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// What was found and what to do; a secret appears only redacted.
    pub message: String,
    pub location: Location,
}

/// What one scan found about one plugin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub plugin: String,
    pub version: String,
    /// The component's path in the package.
    pub component: String,
    pub component_bytes: u64,
    /// Worst first, then by rule.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The worst severity found, if anything was.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The findings at `threshold` or worse.
    pub fn at_least(&self, threshold: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.severity >= threshold)
    }

    pub(crate) fn sort(&mut self) {
        self.findings
            .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    }
}
