//! Removing a key from a configuration file, keeping the rest of the
//! file (comments, layout) as it was; by temp file and rename.

use std::path::Path;

use crate::error::ConfigError;
use crate::layers::{segments, write_atomic};

/// Removes `key` (a value or a whole table) from the TOML file at
/// `path`, keeping the rest as it was; writes by temp file and rename.
/// Returns the text the file held before, or `None` when the key was not
/// there (and nothing was written).
pub fn remove_in_file(path: &Path, key: &str) -> Result<Option<String>, ConfigError> {
    let parts = segments(key)?;
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut doc: toml_edit::DocumentMut =
        old.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_owned(),
            })?;
    let Some((last, tables)) = parts.split_last() else {
        return Ok(None);
    };
    let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for part in tables {
        match table
            .get_mut(part)
            .and_then(toml_edit::Item::as_table_like_mut)
        {
            Some(next) => table = next,
            None => return Ok(None),
        }
    }
    if table.remove(last).is_none() {
        return Ok(None);
    }
    write_atomic(path, doc.to_string().as_bytes())?;
    Ok(Some(old))
}
