//! The project's record of where it came from: `.lord-template.toml` at
//! the project's root, holding the template repository (a path inside
//! the project, or a URL) and the tag the project now matches. `lord
//! update init` writes it; a full `apply` moves `version` to the tag it
//! applied.

use serde::{Deserialize, Serialize};

use crate::files;

/// The record's file name, at the project's root.
pub(crate) const FILE: &str = ".lord-template.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Record {
    /// Where the template repository is: a path (relative to the
    /// project, and inside it) or a URL.
    pub(crate) repository: String,
    /// The tag whose files the project was made from or last updated to.
    pub(crate) version: String,
}

impl Record {
    pub(crate) fn read() -> Result<Self, String> {
        let bytes = files::read(FILE)?.ok_or_else(|| {
            format!(
                "the project has no `{FILE}` saying which template it came from; run \
                 `lord update init REPOSITORY TAG` first"
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| format!("`{FILE}` is not UTF-8 text"))?;
        toml::from_str(&text).map_err(|e| format!("`{FILE}` is not a valid record: {e}"))
    }

    pub(crate) fn write(&self) -> Result<(), String> {
        let body = toml::to_string(self).map_err(|e| format!("could not write `{FILE}`: {e}"))?;
        let text = format!(
            "# Written by `lord update`: the template this project was made from, and the\n\
             # tag it matches. `lord update apply` moves `version` forward.\n{body}"
        );
        files::write(FILE, text.as_bytes())
    }
}
