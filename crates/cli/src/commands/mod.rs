//! One file per command family.

pub(crate) mod config;
pub(crate) mod dev;
pub(crate) mod events;
pub(crate) mod install;
pub(crate) mod key;
pub(crate) mod micro;
pub(crate) mod pdk;
pub(crate) mod pipe;
pub(crate) mod plugin;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod secret;
pub(crate) mod state;
