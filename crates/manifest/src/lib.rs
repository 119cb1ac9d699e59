//! The contract between lord and its plugins: the `plugin.toml` manifest,
//! typed ids, permissions with their risk levels, resource limits and the
//! host API version.
//!
//! This crate does no I/O at all (no files, no environment) so that every
//! other crate can depend on it and tests can exercise it on plain strings.
//! Parse a manifest with [`parse`]; everything it returns is validated,
//! display fields included: they hold no control, bidirectional or
//! invisible characters (`lord-terminal`'s table).

mod display;
mod error;
#[cfg(test)]
mod fixtures;
mod fs;
mod host_api;
mod ids;
mod manifest;
mod meaning;
mod micro;
mod net;
mod permission;
mod raw;
mod reserved;
mod risk;
mod route;
mod topic;
mod validate;

// The whole public API, in one place on purpose: anything not listed here is
// an implementation detail.
pub use error::{ManifestError, SerializeError};
pub use fs::{FsPath, FsRoot};
pub use host_api::{HostApiVersion, host_api_satisfied_by, host_api_supports, host_api_version};
pub use ids::{CommandName, EnvName, IdError, MicroId, PluginId};
pub use manifest::{
    ArgSpec, Category, CategoryError, CommandSpec, EventFilter, Limits, MANIFEST_FILE, Manifest,
    PluginMeta,
};
pub use meaning::{FamilyMeaning, WASI_BASELINE, Wiring};
pub use micro::{Isolation, MicroKind, MicroSpec};
pub use net::{NetHost, NetTarget};
pub use permission::{Permission, PermissionError, PermissionFamily};
pub use reserved::{LORD, is_lords};
pub use risk::{RiskLevel, RiskLevelError, derive_risk};
pub use route::{RolloutSpec, RouteSpec, VariantSpec};
pub use semver::{Version, VersionReq};
pub use topic::Topic;
pub use validate::parse;
