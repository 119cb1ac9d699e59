//! Editing a configuration file: setting a key ([`set_in_file`], and
//! [`set_checked`] for a change the whole configuration must hold with)
//! or removing one, keeping the rest of the file (comments, layout) as it
//! was; by temp file and rename, under [`lock_file`]. And the settings a
//! machine's file can lock on.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::ConfigError;
use crate::layers::{Config, Origin, Sources, read_document, segments, write_atomic};

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
    let _lock = lock_file(path)?;
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

/// Sets `key` to `value` (TOML, or plain text) in the TOML file at `path`,
/// keeping its comments and layout; writes by temp file and rename.
/// Returns the text the file held before (to restore it if the result is
/// then found invalid).
pub fn set_in_file(path: &Path, key: &str, value: &str) -> Result<Option<String>, ConfigError> {
    let (old, text) = edited(path, key, value)?;
    write_atomic(path, text.as_bytes())?;
    Ok(old)
}

/// Sets `key` to `value` in the configuration file `path` (one of
/// `sources`' files), but only if the whole configuration it then makes
/// loads and passes `check` (the host's check of plugin tables, say);
/// otherwise `Ok(Err(problem))`, and the file is as it was. The edit is
/// made under [`lock_file`], so two at once each keep the other's change;
/// the new text is loaded from a temporary file beside the old one and
/// only then renamed over it, so a crash at any point leaves the old file
/// or the new, checked one.
pub fn set_checked(
    sources: &Sources,
    path: &Path,
    key: &str,
    value: &str,
    check: impl FnOnce(&Config) -> Result<(), String>,
) -> Result<Result<Config, String>, ConfigError> {
    use std::io::Write as _;
    let _lock = lock_file(path)?;
    let (_, text) = edited(path, key, value)?;
    let io = |action: &'static str, at: &Path| {
        let path = at.to_path_buf();
        move |source| ConfigError::Io {
            action,
            path,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create the folder of", path))?;
    let mut candidate = tempfile::Builder::new()
        .prefix(".lord-config-")
        .suffix(".toml")
        .tempfile_in(dir)
        .map_err(io("write", path))?;
    candidate
        .write_all(text.as_bytes())
        .map_err(io("write", path))?;
    candidate.as_file().sync_all().map_err(io("sync", path))?;
    let mut trial = sources.clone();
    for file in [&mut trial.system, &mut trial.user, &mut trial.project] {
        if file.as_deref() == Some(path) {
            *file = Some(candidate.path().to_path_buf());
        }
    }
    // Problems name the file the user knows, not the candidate.
    let named = |problem: String| {
        problem.replace(
            &candidate.path().display().to_string(),
            &path.display().to_string(),
        )
    };
    let config = match Config::load(&trial) {
        Ok(config) => config,
        Err(e) => return Ok(Err(named(e.to_string()))),
    };
    if let Err(problem) = check(&config) {
        return Ok(Err(named(problem)));
    }
    candidate
        .persist(path)
        .map_err(|e| io("replace", path)(e.error))?;
    std::fs::File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(io("sync the folder of", path))?;
    Ok(Ok(config))
}

/// An exclusive lock on editing the configuration file `path`, held
/// until the file it returns is dropped: an edit reads, changes and writes
/// the file under it, so another edit cannot write in between and have
/// its change lost. The lock is on the file's folder (an advisory `flock`,
/// which Linux takes on a folder too), since the file itself is replaced
/// by rename and a lock file would litter a project folder.
pub fn lock_file(path: &Path) -> Result<std::fs::File, ConfigError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |action: &'static str| {
        let path = dir.to_path_buf();
        move |source| ConfigError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io("create"))?;
    let folder = std::fs::File::open(dir).map_err(io("open"))?;
    folder.lock().map_err(io("lock"))?;
    Ok(folder)
}

/// The file's text before (`None` when there was no file) and after
/// setting `key` to `value`, comments and layout kept.
fn edited(path: &Path, key: &str, value: &str) -> Result<(Option<String>, String), ConfigError> {
    let parts = segments(key)?;
    let (old, mut doc) = read_document(path)?;
    let new_value: toml_edit::Value = value
        .parse()
        .unwrap_or_else(|_| toml_edit::Value::from(value));
    let (last, tables) = parts.split_last().ok_or_else(|| ConfigError::BadKey {
        key: key.to_owned(),
        problem: "empty key".to_owned(),
    })?;
    let mut table = doc.as_table_mut();
    for part in tables {
        let entry = table
            .entry(part)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| ConfigError::BadKey {
            key: key.to_owned(),
            problem: format!("`{part}` holds a value, not a table"),
        })?;
    }
    table.insert(last, toml_edit::value(new_value));
    Ok((old, doc.to_string()))
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
