//! What may reach a terminal. Text from outside lord (a plugin, a manifest,
//! a registry) can hold characters that drive the terminal instead of being
//! shown: escape sequences that set the clipboard or the window title, move
//! the cursor or erase lines, and format characters that reorder or hide
//! text. This crate knows them, in one table ([`classify`]), and has one
//! pass over bytes ([`escape`]) that shows them as visible escapes
//! (`\u{1b}`, or `\x{ff}` for a byte that is not UTF-8) under a [`Policy`],
//! reporting what it escaped.
//!
//! The manifest's rules for display fields ([`joiner_fits`],
//! [`selector_fits`]) read the same table, so what a manifest may hold and
//! what the renderer lets through cannot drift apart.
//!
//! No dependencies and no I/O: the caller writes the bytes.

mod escape;
mod json;
mod table;

pub use escape::{Policy, Report, escape, escape_text};
pub use json::escape_json;
pub use table::{Class, char_name, classify, is_visible, joiner_fits, selector_fits};
