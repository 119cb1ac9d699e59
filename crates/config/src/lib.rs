//! `lord-config`: lord's layered configuration.
//!
//! Layers, lowest first: built-in defaults, the system file
//! (`/etc/lord/config.toml`), the user file (`$LORD_HOME/config.toml`), the
//! project's `lord.toml`, `LORD_*` environment variables, and `--set`
//! flags. Each file may hold `[profile.NAME]` tables that overlay that
//! file's own values when the profile is chosen (`--profile`,
//! `LORD_PROFILE`). Every value remembers the layer (and file, variable or
//! flag) it came from, for `lord config show --origin`.
//!
//! A plugin's configuration is the `[plugins.<id>]` table, validated
//! against the JSON Schema its manifest declares (`[config] schema`).
//!
//! [`Watcher`] re-reads the files when they change: a valid change replaces
//! the configuration and wakes subscribers; an invalid one is rejected with
//! the reason, and the previous configuration stays in force.
//!
//! Invariant: no I/O except reading the configured files, and writing one
//! file in [`set_in_file`], [`set_checked`] and [`remove_in_file`] (temp
//! file and rename: the old file or the new one, never a mix;
//! `set_checked` renames only a file whose whole configuration loaded and
//! passed its check, and edits under [`lock_file`]).

mod ai;
mod db;
mod edit;
mod error;
mod kept;
mod layers;
mod scan;
mod watch;

pub use edit::{lock_file, remove_in_file, set_checked, set_in_file};
pub use error::ConfigError;
pub use layers::{Config, Layer, Origin, Problem, Sources};
pub use watch::{Reload, Watcher};
