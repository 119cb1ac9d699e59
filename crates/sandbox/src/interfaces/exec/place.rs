//! Where a program may work: the plugin's granted folders, as the guest
//! names them (`/project/sub`) and as they really are on the host. Every
//! path a run touches (its working folder, a path argument of a program
//! known to take paths) is placed here: normalised without touching the
//! disk, mapped to the host, then resolved through any links and checked
//! to still be inside the folder it started in, so neither `..` nor a link
//! inside the project leads out.

use std::path::{Component, Path, PathBuf};

use crate::capability::Preopen;

/// One granted folder.
#[derive(Debug, Clone)]
pub(super) struct Folder {
    /// Where the guest sees it: `/project`.
    pub(super) guest: String,
    /// The folder as granted.
    host: PathBuf,
    /// The same folder with every link resolved, what paths are checked
    /// against; `None` when it cannot be resolved (gone since the grant).
    real: Option<PathBuf>,
    pub(super) writable: bool,
}

/// A path placed inside a granted folder.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    /// The host path, links resolved as far as the path exists.
    pub(super) host: PathBuf,
    /// The folder it is in.
    pub(super) folder: usize,
}

/// The plugin's granted folders.
#[derive(Debug, Clone, Default)]
pub(super) struct Folders {
    list: Vec<Folder>,
}

impl Folders {
    pub(super) fn new(preopens: &[Preopen]) -> Self {
        Self {
            list: preopens
                .iter()
                .map(|p| Folder {
                    guest: p.guest.clone(),
                    host: p.host.clone(),
                    // A resolved grant's path is already its real one, as
                    // granted: resolving it again here could follow a link
                    // the plugin put on it since (`Preopen::resolved`).
                    real: if p.resolved {
                        Some(p.host.clone())
                    } else {
                        p.host.canonicalize().ok()
                    },
                    writable: p.writable,
                })
                .collect(),
        }
    }

    pub(super) fn get(&self, index: usize) -> &Folder {
        &self.list[index]
    }

    /// Places `path`, a guest path (absolute, or relative to `base`).
    pub(super) fn place(&self, path: &str, base: Option<&str>) -> Result<Placed, String> {
        let joined = match (path.starts_with('/'), base) {
            (true, _) => path.to_owned(),
            (false, Some(base)) => format!("{base}/{path}"),
            (false, None) => {
                return Err(format!(
                    "`{path}` is relative and the plugin has no working folder"
                ));
            }
        };
        let guest = normalise(&joined);
        let (index, rest) = self
            .list
            .iter()
            .enumerate()
            .filter_map(|(i, f)| within(&guest, &f.guest).map(|rest| (i, rest)))
            .max_by_key(|(i, _)| self.list[*i].guest.len())
            .ok_or_else(|| format!("`{path}` is outside the plugin's granted folders"))?;
        let folder = &self.list[index];
        let host = folder.host.join(rest);
        let real = resolve(&host);
        match &folder.real {
            Some(root) if real.starts_with(root) => Ok(Placed {
                host: real,
                folder: index,
            }),
            Some(_) | None => Err(format!(
                "`{path}` leads outside the plugin's granted folders (through a link)"
            )),
        }
    }

    /// Checks a host path (one a program's own configuration holds, like a
    /// remote's location) is inside a granted folder.
    pub(super) fn contains_host(&self, path: &Path) -> bool {
        let real = resolve(&normalise_host(path));
        self.list
            .iter()
            .filter_map(|f| f.real.as_ref())
            .any(|root| real.starts_with(root))
    }

    /// The resolved host folder of folder `index`.
    pub(super) fn real(&self, index: usize) -> Option<&Path> {
        self.list[index].real.as_deref()
    }
}

/// `path` below `folder` (component-wise), as the relative rest.
fn within<'a>(path: &'a str, folder: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(folder)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// Lexical normalisation of an absolute guest path: `.` dropped, `..` takes
/// one component off (never above `/`), repeated slashes merged.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

fn normalise_host(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `path` with links resolved as far as it exists; the part that does not
/// exist yet (a folder a clone will make) is appended as written, and it
/// holds no `..` since the path was normalised first.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return tail.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(dir: &Path) -> Folders {
        Folders::new(&[Preopen {
            host: dir.to_path_buf(),
            guest: "/project".to_owned(),
            writable: true,
            resolved: false,
        }])
    }

    #[test]
    fn paths_inside_are_placed_and_every_way_out_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().canonicalize().expect("real");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).expect("symlink");
        let f = folders(dir.path());
        let placed = f.place("sub", Some("/project")).expect("inside");
        assert_eq!(placed.host, real.join("sub"));
        let placed = f.place("/project/sub/../new/x", None).expect("inside");
        assert_eq!(placed.host, real.join("new/x"));
        for path in ["/etc", "/project/../etc", "../../etc"] {
            let refused = f.place(path, Some("/project/sub")).expect_err(path);
            assert!(refused.contains("outside"), "{path}: {refused}");
        }
        let refused = f.place("out/passwd", Some("/project")).expect_err("link");
        assert!(refused.contains("through a link"), "{refused}");
        assert!(f.contains_host(&real.join("sub/../x")));
        assert!(!f.contains_host(Path::new("/etc/passwd")));
        assert!(!f.contains_host(&real.join("out/passwd")));
    }
}
