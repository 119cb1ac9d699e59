//! Removing a key from a configuration file, keeping the rest of the
//! file (comments, layout) as it was; by temp file and rename. And the
//! settings a machine's file can lock on.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::ConfigError;
use crate::layers::{Origin, read_document, segments, write_atomic};

/// Settings the machine's file can turn on for good: a `true` there holds
/// whatever a user's file, a project, the environment or a flag says.
const MACHINE_LOCKED: &[&str] = &["registry.require-pinned-root"];

/// The locked settings the machine's file turned on, with their origin,
/// as they stand after the system layer was read.
pub(crate) fn machine_locks(
    values: &BTreeMap<String, (Value, Origin)>,
) -> Vec<(String, (Value, Origin))> {
    MACHINE_LOCKED
        .iter()
        .filter_map(|key| {
            values
                .get(*key)
                .filter(|(value, origin)| {
                    value.as_bool() == Some(true) && origin.layer == crate::Layer::System
                })
                .map(|locked| ((*key).to_owned(), locked.clone()))
        })
        .collect()
}

/// Removes `key` (a value or a whole table) from the TOML file at
/// `path`, keeping the rest as it was; writes by temp file and rename.
/// Returns the text the file held before, or `None` when the key was not
/// there (and nothing was written).
pub fn remove_in_file(path: &Path, key: &str) -> Result<Option<String>, ConfigError> {
    let parts = segments(key)?;
    let _lock = crate::layers::lock_file(path)?;
    let (Some(old), mut doc) = read_document(path)? else {
        return Ok(None);
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_lock_holds_against_the_user_the_environment_and_flags() {
        let dir = tempfile::tempdir().expect("temp dir");
        let system = dir.path().join("system.toml");
        let user = dir.path().join("user.toml");
        std::fs::write(&system, "[registry]\nrequire-pinned-root = true\n").expect("system");
        std::fs::write(&user, "[registry]\nrequire-pinned-root = false\n").expect("user");
        let sources = crate::Sources {
            system: Some(system),
            user: Some(user.clone()),
            project: None,
            env: vec![("LORD_REGISTRY__REQUIRE_PINNED_ROOT".into(), "false".into())],
            flags: vec!["registry.require-pinned-root=false".into()],
            profile: None,
        };
        let config = crate::Config::load(&sources).expect("loads");
        assert_eq!(
            config.get("registry.require-pinned-root"),
            Some(Value::from(true))
        );
        assert_eq!(
            config
                .origin("registry.require-pinned-root")
                .map(|o| o.layer),
            Some(crate::Layer::System)
        );
        // Without the machine's word, the user decides.
        let sources = crate::Sources {
            system: None,
            user: Some(user),
            project: None,
            env: Vec::new(),
            flags: Vec::new(),
            profile: None,
        };
        let config = crate::Config::load(&sources).expect("loads");
        assert_eq!(
            config.get("registry.require-pinned-root"),
            Some(Value::from(false))
        );
    }

    #[test]
    fn a_whole_table_goes_and_the_rest_of_the_file_stays_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        // A comment above a table belongs to it (toml_edit's decor), so
        // the kept table's comments stay and the removed one's go.
        let text = "[ai.profiles.a]\nkind = \"openai\"\n\n# the local one\n[ai.profiles.b]\nkind = \"ollama\" # local\n";
        std::fs::write(&path, text).expect("write");
        assert_eq!(
            remove_in_file(&path, "ai.profiles.a")
                .expect("remove")
                .as_deref(),
            Some(text)
        );
        let left = std::fs::read_to_string(&path).expect("read");
        assert!(left.contains("# the local one"), "{left}");
        assert!(left.contains("kind = \"ollama\" # local"), "{left}");
        assert!(!left.contains("openai"), "{left}");
        assert_eq!(remove_in_file(&path, "ai.profiles.a").expect("again"), None);
        assert_eq!(
            remove_in_file(&dir.path().join("none.toml"), "x").expect("no file"),
            None
        );
    }
}
