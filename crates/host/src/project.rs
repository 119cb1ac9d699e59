//! What `$PROJECT` means for a run: the project the user is working in, not
//! wherever lord happened to be started. And which folders no grant may
//! reach: lord's own state, its binary, its keys and its configuration.
//!
//! Invariant: `$PROJECT` is never `/` or the user's home folder: a grant
//! of `fs-write($PROJECT)` given to a formatter must not become the whole
//! home (where lord's state lives) because lord ran from there.
//! Invariant: no folder a plugin is granted equals or contains a protected
//! folder (checked with real paths, after symlinks, before any guest code
//! runs); the preopen's own sandbox (cap-std) keeps symlinks inside a
//! granted folder from leading out of it.

use std::path::{Path, PathBuf};

/// Files or folders whose presence makes a folder a project root.
pub const PROJECT_MARKERS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "lord.toml",
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.py",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Gemfile",
    "composer.json",
    "deno.json",
    "mix.exs",
    "CMakeLists.txt",
];

/// The project `$PROJECT` is for this run: the nearest folder from `cwd`
/// upward that holds a project marker, stopping before the home folder
/// and the root (never projects); failing that `cwd` itself, unless it is
/// the home folder or the root. `None`: there is no project here.
pub fn find_project(cwd: &Path, home_dir: Option<&Path>) -> Option<PathBuf> {
    let never = |dir: &Path| dir.parent().is_none() || home_dir.is_some_and(|home| same(dir, home));
    for dir in cwd.ancestors() {
        if never(dir) {
            break;
        }
        if PROJECT_MARKERS.iter().any(|m| dir.join(m).exists()) {
            return Some(dir.to_path_buf());
        }
    }
    (!never(cwd)).then(|| cwd.to_path_buf())
}

/// A folder no grant may reach, and what it holds (for the refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub path: PathBuf,
    /// What is inside, in words: "lord's state (LORD_HOME)".
    pub what: String,
    /// Whether only a grant that can write is refused (lord's binary:
    /// reading it harms nothing, replacing it would run a plugin's code
    /// outside the sandbox).
    pub writes_only: bool,
}

impl Protected {
    /// A folder no grant may reach, to read or to write.
    pub fn new(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            what: what.into(),
            writes_only: false,
        }
    }

    /// A folder no grant may reach to write.
    pub fn from_writes(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self {
            writes_only: true,
            ..Self::new(path, what)
        }
    }
}

/// The first protected folder that `granted` (a folder a plugin would be
/// given, `writable` or not) equals or contains, compared as real paths.
pub(crate) fn reaching<'p>(
    granted: &Path,
    writable: bool,
    protected: &'p [Protected],
) -> Option<&'p Protected> {
    let granted = real(granted);
    protected
        .iter()
        .filter(|p| writable || !p.writes_only)
        .find(|p| real(&p.path).starts_with(&granted))
}

/// A path with symlinks resolved as far as it exists: a protected folder
/// may not exist yet, and its parent's real path still decides.
fn real(path: &Path) -> PathBuf {
    if let Ok(resolved) = path.canonicalize() {
        return resolved;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if parent != path => real(parent).join(name),
        _ => path.to_path_buf(),
    }
}

fn same(a: &Path, b: &Path) -> bool {
    a == b || real(a) == real(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_the_nearest_marked_folder_never_home_or_root() {
        let home = tempfile::tempdir().expect("home");
        let home = home.path();
        let project = home.join("code/app");
        let deep = project.join("src/bin");
        std::fs::create_dir_all(&deep).expect("dirs");
        std::fs::write(project.join("Cargo.toml"), "").expect("marker");
        assert_eq!(find_project(&deep, Some(home)), Some(project.clone()));
        // A home kept in git is not a project: from a folder under it with
        // no marker of its own, the folder itself is.
        std::fs::create_dir_all(home.join(".git")).expect("dotfiles");
        let loose = home.join("notes");
        std::fs::create_dir_all(&loose).expect("dir");
        assert_eq!(find_project(&loose, Some(home)), Some(loose.clone()));
        assert_eq!(find_project(home, Some(home)), None);
        assert_eq!(find_project(Path::new("/"), Some(home)), None);
    }

    #[test]
    fn a_grant_that_contains_a_protected_folder_is_named() {
        let root = tempfile::tempdir().expect("root");
        let lord_home = root.path().join("share/lord");
        std::fs::create_dir_all(&lord_home).expect("home");
        let bin = root.path().join("bin");
        let protected = [
            Protected::new(&lord_home, "lord's state"),
            Protected::from_writes(&bin, "lord's binary"),
        ];
        assert!(reaching(root.path(), false, &protected).is_some());
        assert!(reaching(&lord_home, false, &protected).is_some());
        assert!(reaching(&lord_home.join("data/notes"), true, &protected).is_none());
        let elsewhere = root.path().join("project");
        std::fs::create_dir_all(&elsewhere).expect("project");
        assert!(reaching(&elsewhere, true, &protected).is_none());
        // Through a symlink to an ancestor, the real path decides.
        let link = root.path().join("link");
        std::os::unix::fs::symlink(root.path().join("share"), &link).expect("link");
        assert!(reaching(&link, false, &protected).is_some());
        // The binary's folder may be read, not written.
        assert!(reaching(&bin, false, &protected[1..]).is_none());
        assert!(reaching(&bin, true, &protected[1..]).is_some());
    }
}
