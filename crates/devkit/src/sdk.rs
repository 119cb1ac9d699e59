//! The Rust guest SDK (`lord-pdk`) and the WIT, as this build of lord knows
//! them. A Rust project made by `lord pdk new` depends on `lord-pdk` by
//! path at `.lord/lord-pdk`; `new` and every `build` write it there, so a
//! project always builds against the contract of the lord that builds it,
//! with no registry and no absolute paths in its `Cargo.toml`.
//!
//! A JavaScript or TypeScript project gets `lord:fetch` (the Fetch API over
//! `wasi:http`) the same way: every build writes it into `.lord/sdk/`, and
//! the bundler resolves the specifier there.

use std::path::{Path, PathBuf};

use crate::DevkitError;

/// The WIT contract, as the host implements it.
pub const WIT: &str = include_str!("../../../wit/lord-plugin.wit");
/// Its file name inside a project's `.lord/wit/`.
pub const WIT_FILE: &str = "lord-plugin.wit";

/// Where, inside a project, lord keeps what it generates.
pub const LORD_DIR: &str = ".lord";

const LIB_RS: &str = include_str!("../../pdk/src/lib.rs");
const MICRO_RS: &str = include_str!("../../pdk/src/micro.rs");
const EXEC_RS: &str = include_str!("../../pdk/src/exec.rs");
const HTTP_RS: &str = include_str!("../../pdk/src/http.rs");
const METRICS_RS: &str = include_str!("../../pdk/src/metrics.rs");
const AI_RS: &str = include_str!("../../pdk/src/ai.rs");
const SQL_RS: &str = include_str!("../../pdk/src/sql.rs");
const KV_RS: &str = include_str!("../../pdk/src/kv.rs");
const DOCUMENT_RS: &str = include_str!("../../pdk/src/document.rs");
/// The WIT of `wasi:http` the SDK's HTTP client binds (beside the crate in
/// both places, so its path needs no rewriting).
const HTTP_WIT: [(&str, &str); 4] = [
    (
        "wit-http/world.wit",
        include_str!("../../pdk/wit-http/world.wit"),
    ),
    (
        "wit-http/deps/http.wit",
        include_str!("../../pdk/wit-http/deps/http.wit"),
    ),
    (
        "wit-http/deps/io.wit",
        include_str!("../../pdk/wit-http/deps/io.wit"),
    ),
    (
        "wit-http/deps/clocks.wit",
        include_str!("../../pdk/wit-http/deps/clocks.wit"),
    ),
];

/// `lord:fetch` for JavaScript and TypeScript plugins, and its typings.
const FETCH_JS: &str = include_str!("../sdk-js/fetch.js");
const FETCH_D_TS: &str = include_str!("../sdk-js/fetch.d.ts");
/// The specifier plugin code imports `fetch` by.
pub const FETCH_MODULE: &str = "lord:fetch";
/// Where, inside a project, the bundler finds `lord:fetch`.
pub const FETCH_PATH: &str = ".lord/sdk/fetch.js";
/// The interface a component that sends HTTP requests imports (the others
/// of wasi:http, io and clocks come with it).
pub const HTTP_IMPORT: &str = "wasi:http/outgoing-handler@0.2.12";

/// The SDK's `Cargo.toml` outside lord's workspace. Its versions must stay
/// those of the workspace (a test compares them).
const CARGO_TOML: &str = r#"# Written by `lord pdk`: the guest SDK matching this lord. Do not edit;
# `lord pdk build` writes it again.
[package]
name = "lord-pdk"
version = "0.1.0"
edition = "2024"
license = "MIT OR Apache-2.0"
publish = false

[dependencies]
serde_json = "1"
wit-bindgen = "0.61"
"#;

/// In lord's workspace the SDK finds the WIT at the repository root; in a
/// project's copy the WIT sits beside it.
const WIT_PATH_IN_REPO: &str = "path: \"../../wit\"";
const WIT_PATH_IN_COPY: &str = "path: \"wit\"";

/// The files of the SDK copy, relative to its folder.
pub fn files() -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("Cargo.toml", CARGO_TOML.to_owned()),
        (
            "src/lib.rs",
            LIB_RS.replace(WIT_PATH_IN_REPO, WIT_PATH_IN_COPY),
        ),
        ("src/micro.rs", MICRO_RS.to_owned()),
        ("src/exec.rs", EXEC_RS.to_owned()),
        ("src/http.rs", HTTP_RS.to_owned()),
        ("src/metrics.rs", METRICS_RS.to_owned()),
        ("src/ai.rs", AI_RS.to_owned()),
        ("src/sql.rs", SQL_RS.to_owned()),
        ("src/kv.rs", KV_RS.to_owned()),
        ("src/document.rs", DOCUMENT_RS.to_owned()),
        ("wit/lord-plugin.wit", WIT.to_owned()),
    ];
    files.extend(HTTP_WIT.map(|(name, text)| (name, text.to_owned())));
    files
}

/// Writes the SDK into `project/.lord/lord-pdk`, changing only files whose
/// content differs (so cargo does not rebuild it for nothing). Returns the
/// folder.
pub fn install_rust_sdk(project: &Path) -> Result<PathBuf, DevkitError> {
    let root = project.join(LORD_DIR).join("lord-pdk");
    for (name, content) in files() {
        write_if_changed(&root.join(name), content.as_bytes())?;
    }
    Ok(root)
}

/// Writes the WIT into `project/.lord/wit/` for tools that read it from a
/// folder (componentize, typings). Returns the folder.
pub fn install_wit(project: &Path) -> Result<PathBuf, DevkitError> {
    let dir = project.join(LORD_DIR).join("wit");
    write_if_changed(&dir.join(WIT_FILE), WIT.as_bytes())?;
    Ok(dir)
}

/// Writes `lord:fetch` into `project/.lord/sdk/`. Returns the file.
pub fn install_js_sdk(project: &Path) -> Result<PathBuf, DevkitError> {
    let path = project.join(FETCH_PATH);
    write_if_changed(&path, FETCH_JS.as_bytes())?;
    Ok(path)
}

/// Writes the typings of `lord:fetch` into a folder `tsc` reads.
pub fn install_fetch_types(types: &Path) -> Result<(), DevkitError> {
    write_if_changed(&types.join("lord-fetch.d.ts"), FETCH_D_TS.as_bytes())
}

/// The WIT packages a world importing [`HTTP_IMPORT`] needs beside it, as
/// (file name inside `deps/`, text).
pub fn http_wit_deps() -> impl Iterator<Item = (&'static str, &'static str)> {
    HTTP_WIT
        .into_iter()
        .filter_map(|(name, text)| Some((name.strip_prefix("wit-http/deps/")?, text)))
}

pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), DevkitError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DevkitError::io("create", parent))?;
    }
    Ok(lord_file::write_atomic(path, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_points_its_bindings_at_its_own_wit() {
        assert_eq!(LIB_RS.matches(WIT_PATH_IN_REPO).count(), 2, "both worlds");
        let (_, lib) = files()
            .into_iter()
            .find(|(name, _)| *name == "src/lib.rs")
            .expect("lib.rs");
        assert!(!lib.contains(WIT_PATH_IN_REPO));
        assert_eq!(lib.matches(WIT_PATH_IN_COPY).count(), 2);
    }

    /// Every module the PDK declares travels with the copy: a module added
    /// to the crate but not here breaks every project `lord pdk new` makes.
    #[test]
    fn the_copy_holds_every_module_the_pdk_declares() {
        let names: Vec<&str> = files().iter().map(|(name, _)| *name).collect();
        for line in LIB_RS.lines() {
            let Some(module) = line
                .trim()
                .strip_prefix("pub mod ")
                .or_else(|| line.trim().strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            let file = format!("src/{module}.rs");
            assert!(names.contains(&file.as_str()), "{file} is not copied");
        }
    }

    #[test]
    fn the_fetch_module_imports_the_wasi_http_version_the_deps_carry() {
        assert!(FETCH_JS.contains(&format!("'{HTTP_IMPORT}'")));
        let http = http_wit_deps()
            .find(|(name, _)| *name == "http.wit")
            .expect("http.wit");
        let version = HTTP_IMPORT.rsplit('@').next().expect("version");
        assert!(http.1.contains(&format!("package wasi:http@{version};")));
        assert_eq!(http_wit_deps().count(), 3, "http, io, clocks");
    }

    #[test]
    fn the_copy_depends_on_what_the_workspace_pins() {
        let workspace: toml::Table =
            toml::from_str(include_str!("../../../Cargo.toml")).expect("toml");
        let copy: toml::Table = toml::from_str(CARGO_TOML).expect("toml");
        let pinned = &workspace["workspace"]["dependencies"];
        for name in ["serde_json", "wit-bindgen"] {
            let entry = &pinned[name];
            let version = entry
                .as_str()
                .or_else(|| entry.get("version").and_then(toml::Value::as_str))
                .expect("version")
                .to_owned();
            assert_eq!(
                copy["dependencies"][name].as_str(),
                Some(version.as_str()),
                "{name}"
            );
        }
    }
}
