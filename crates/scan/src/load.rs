//! The crate's only I/O: reading what a scan judges from a package file
//! (`.lordpkg`, unpacked under the package limits into a temporary folder
//! that is removed after) or from a plugin folder (a project, or an
//! installed version's folder).

use std::path::{Path, PathBuf};

use lord_manifest::Manifest;

/// Why something could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a package lord can open: {source}", path.display())]
    Package {
        source: lord_package::PackageError,
        path: PathBuf,
    },
    #[error("{0}")]
    Manifest(String),
    #[error(
        "{} is neither a package (.{}) nor a folder with a plugin.toml",
        .0.display(),
        lord_package::EXTENSION
    )]
    NotAPlugin(PathBuf),
}

/// A manifest and its component, read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub manifest: Manifest,
    pub component: Vec<u8>,
}

impl Loaded {
    pub fn subject(&self) -> crate::Subject<'_> {
        crate::Subject {
            manifest: &self.manifest,
            component: &self.component,
        }
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ScanError + 'a {
    move |source| ScanError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the package file or plugin folder at `path`. A package's
/// signature is not checked: a scan trusts nothing in it anyway.
pub fn load(path: &Path) -> Result<Loaded, ScanError> {
    if path.is_dir() {
        return folder(path);
    }
    if path
        .extension()
        .is_some_and(|e| e == lord_package::EXTENSION)
    {
        let bytes = std::fs::read(path).map_err(io("read", path))?;
        let dir = tempfile::tempdir().map_err(io("make a temporary folder for", path))?;
        lord_package::unpack(&bytes, dir.path(), &lord_package::Limits::default()).map_err(
            |source| ScanError::Package {
                source,
                path: path.to_path_buf(),
            },
        )?;
        return folder(dir.path());
    }
    Err(ScanError::NotAPlugin(path.to_path_buf()))
}

/// Reads `dir/plugin.toml` and the component it names.
pub fn folder(dir: &Path) -> Result<Loaded, ScanError> {
    let manifest_path = dir.join(lord_manifest::MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Err(ScanError::NotAPlugin(dir.to_path_buf()));
    }
    let text = std::fs::read_to_string(&manifest_path).map_err(io("read", &manifest_path))?;
    let manifest = lord_manifest::parse(lord_manifest::MANIFEST_FILE, &text)
        .map_err(|e| ScanError::Manifest(e.to_string()))?;
    let component_path = dir.join(&manifest.plugin.component);
    let component = std::fs::read(&component_path).map_err(io("read", &component_path))?;
    Ok(Loaded {
        manifest,
        component,
    })
}
