//! One file per command family.

pub(crate) mod plugin;
pub(crate) mod run;
