//! The plugin development kit behind `lord pdk`: everything an author
//! needs between an empty folder and a signed package.
//!
//! - [`template`]: `lord pdk new`, projects in Rust, TypeScript or
//!   JavaScript for each plugin type, that build and pass their tests
//!   unedited.
//! - [`builder`]: `lord pdk build`, cargo for Rust; for JavaScript and
//!   TypeScript a pinned npm toolchain ([`toolchain`]) that installs itself,
//!   with TypeScript typings generated from the WIT.
//! - [`report`]: `lord pdk validate` output as text, JSON or SARIF 2.1.0.
//! - [`harness`]: `lord pdk test`, declared and generated cases run through
//!   the real host, reported as text and JUnit XML. Rust authors can drive
//!   the same harness from `cargo test`.
//! - [`docs`]: `lord pdk docs`, Markdown or a static HTML site.
//! - [`record`]: `lord pdk record`, the minimal permission list a plugin
//!   needs, learned by running it with everything denied.
//!
//! Boundary: nothing here reads the process environment; the CLI passes in
//! paths and tool locations.

mod error;

pub mod builder;
pub mod dev;
pub mod docs;
pub mod harness;
pub mod junit;
mod probe;
pub mod record;
pub mod report;
pub mod sdk;
pub mod template;
pub mod toolchain;

pub use error::DevkitError;

use std::path::Path;

use lord_manifest::Manifest;

/// The manifest of the plugin folder `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, DevkitError> {
    let path = dir.join(lord_manifest::MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(DevkitError::io("read", &path))?;
    lord_manifest::parse(&path.display().to_string(), &text)
        .map_err(|e| DevkitError::Host(e.into()))
}

/// The manifest of a built plugin folder: one whose component exists.
pub fn read_built(dir: &Path) -> Result<Manifest, DevkitError> {
    let manifest = read_manifest(dir)?;
    let component = dir.join(&manifest.plugin.component);
    if !component.is_file() {
        return Err(DevkitError::Usage(format!(
            "`{}` is not built yet; run `lord pdk build` first",
            component.display()
        )));
    }
    Ok(manifest)
}
