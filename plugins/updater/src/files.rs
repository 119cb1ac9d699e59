//! The project's files as the plugin sees them (under `/project`, its
//! granted folder): read, written atomically (a scratch file beside the
//! target, then a rename), removed. Paths are relative to the project's
//! root and never climb out of it.

use std::io::ErrorKind;
use std::path::PathBuf;

/// The project's root as the sandbox shows it.
const ROOT: &str = "/project";

/// The real place of a project-relative path, refusing any that would
/// leave the project (a template's file names come from its repository).
pub(crate) fn place(path: &str) -> Result<PathBuf, String> {
    let fine = !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|part| !matches!(part, "" | "." | ".."));
    if !fine {
        return Err(format!(
            "the path `{path}` does not stay inside the project"
        ));
    }
    Ok(PathBuf::from(ROOT).join(path))
}

/// The file's bytes, or `None` when there is no such file.
pub(crate) fn read(path: &str) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(place(path)?) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("could not read `{path}` in the project: {e}")),
    }
}

/// Replaces (or creates) the file in one rename, making its folders.
pub(crate) fn write(path: &str, bytes: &[u8]) -> Result<(), String> {
    let target = place(path)?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("could not make the folder for `{path}`: {e}"))?;
    }
    let mut scratch = target.clone().into_os_string();
    scratch.push(".lord-update-tmp");
    let scratch = PathBuf::from(scratch);
    std::fs::write(&scratch, bytes).map_err(|e| format!("could not write `{path}`: {e}"))?;
    std::fs::rename(&scratch, &target).map_err(|e| {
        // The scratch file must not stay behind as a stray file.
        let _ = std::fs::remove_file(&scratch);
        format!("could not write `{path}`: {e}")
    })
}

/// Removes the file; one already gone is fine.
pub(crate) fn remove(path: &str) -> Result<(), String> {
    match std::fs::remove_file(place(path)?) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("could not remove `{path}`: {e}")),
    }
}

/// Removes a folder of the project and everything in it, if it is there.
pub(crate) fn remove_tree(path: &str) -> Result<(), String> {
    match std::fs::remove_dir_all(place(path)?) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("could not remove `{path}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_project_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
            assert!(place(bad).is_err(), "{bad}");
        }
        assert_eq!(
            place("src/main.rs").ok(),
            Some(PathBuf::from("/project/src/main.rs"))
        );
    }
}
