//! `lord-policy`: governance policies in Cedar.
//!
//! Administrators say which plugins may be installed, updated, enabled,
//! granted a permission, run or published, by whom and where, in Cedar
//! (<https://www.cedarpolicy.com>). Principals are users (`Lord::User`)
//! in groups (`Lord::Group`), on machines (`Lord::Machine`, in
//! `context.machine`); resources are plugins (`Lord::Plugin`) with their
//! licence, risk, permissions and, when the package is in hand, its
//! signature, publisher, source, approval and advisories. Policies are
//! checked against [`SCHEMA`] when loaded.
//!
//! Layers and enforcement: see [`set`](crate::Policies).
//!
//! Invariant: no I/O. The host reads the files and hands them over.

mod error;
mod request;
mod set;

pub use error::PolicyError;
pub use request::{Action, Groups, Members, PluginFacts, Principal, Provenance, Request, Source};
pub use set::{Decision, Enforcement, LayerSource, Policies, PolicyRef, SCHEMA, Scope, Verdict};
