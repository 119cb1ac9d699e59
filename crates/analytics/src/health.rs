//! Ecosystem health: what is wrong with the installed plugins as a whole.
//! The host finds these (it knows what is installed and granted); this
//! crate only names them, so reports and pages show them alike.

use serde::Serialize;

/// Which check a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The plugin's `host-api` requirement is not met by this lord.
    HostApi,
    /// Grants that work against each other: two plugins free to write the
    /// same files, or a grant the plugin's manifest no longer asks for.
    ConflictingGrants,
    /// Not updated for a long time.
    Stale,
    /// A dependency missing, of the wrong version, disabled or failed.
    FailingDependency,
}

impl Check {
    pub const fn name(self) -> &'static str {
        match self {
            Check::HostApi => "host-api",
            Check::ConflictingGrants => "conflicting-grants",
            Check::Stale => "stale",
            Check::FailingDependency => "failing-dependency",
        }
    }
}

/// One problem with one installed plugin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub plugin: String,
    pub check: Check,
    /// What is wrong, and what to do about it.
    pub detail: String,
}
