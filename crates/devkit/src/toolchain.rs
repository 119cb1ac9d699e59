//! The JavaScript/TypeScript toolchain: pinned npm packages that `lord pdk
//! build` installs by itself, once per pin set, into lord's tools folder.
//! Pinning means every build of the same sources uses the same compiler,
//! and a project needs no `node_modules` of its own.
//!
//! Installs go to a scratch folder first and are moved into place in one
//! rename, so an interrupted install is never mistaken for a finished one.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::DevkitError;

/// Which JavaScript engine the component embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// QuickJS through `componentize-qjs`: about 1 MB, compiles in a second
    /// or two. The default.
    QuickJs,
    /// SpiderMonkey (Firefox's engine) through `componentize-js`: the
    /// fullest modern-JavaScript support, at about 12 MB, ten times the
    /// compile time and a slower call than QuickJS.
    SpiderMonkey,
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "quickjs" | "qjs" => Ok(Engine::QuickJs),
            "spidermonkey" | "sm" => Ok(Engine::SpiderMonkey),
            other => Err(format!(
                "`{other}` is not an engine; use quickjs or spidermonkey"
            )),
        }
    }
}

/// The packages every JavaScript or TypeScript build uses. TypeScript 5.9
/// (not 7, the native port, whose API differs); jco-transpile for typings
/// without the whole jco CLI.
pub const PINNED: &[(&str, &str)] = &[
    ("componentize-qjs", "0.4.5"),
    ("esbuild", "0.28.2"),
    ("typescript", "5.9.3"),
    ("@bytecodealliance/jco-transpile", "0.15.0"),
];

/// Installed only when a build asks for SpiderMonkey.
pub const SPIDERMONKEY: &[(&str, &str)] = &[("@bytecodealliance/componentize-js", "0.23.0")];

/// A small front end to jco-transpile: typings from a WIT file, and a
/// component's WIT. preview2-shim 0.26 starts its filesystem with no
/// preopens, so the bindgen component could not read the WIT path; it is
/// given `/` (it reads only the path it is handed).
const WIT_TOOL: &str = r#"// Written by lord pdk. Usage:
//   node wit-tool.mjs guest-types <file.wit> <world> <out-dir>
//   node wit-tool.mjs component-wit <component.wasm>
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const req = createRequire(import.meta.url);
const transpileDir = dirname(dirname(req.resolve('@bytecodealliance/jco-transpile')));
const shimFs = createRequire(join(transpileDir, 'package.json')).resolve('@bytecodealliance/preview2-shim/filesystem');
const fs = await import(pathToFileURL(shimFs).href);
if (fs.preopens.getDirectories().length === 0) fs._setPreopens({ '/': '/' });
const { generateGuestTypes, writeFiles } = await import('@bytecodealliance/jco-transpile');
const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'guest-types') {
  const [wit, world, outDir] = args;
  const files = await generateGuestTypes(resolve(wit), { worldName: world, outDir: outDir.endsWith('/') ? outDir : outDir + '/' });
  await writeFiles(files, false);
} else if (cmd === 'component-wit') {
  process.stdout.write(await componentWit(await readFile(args[0])));
} else {
  console.error('usage: guest-types WIT WORLD OUTDIR | component-wit FILE');
  process.exit(2);
}
"#;

/// Where the tools live and how to reach node and npm.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// lord's tools folder (`$LORD_HOME/tools` unless told otherwise).
    pub root: PathBuf,
    pub node: PathBuf,
    pub npm: PathBuf,
}

impl Toolchain {
    fn folder(&self, set: &[(&str, &str)]) -> PathBuf {
        let mut hash = Sha256::new();
        for (name, version) in set {
            hash.update(format!("{name}@{version}\n"));
        }
        hash.update(WIT_TOOL);
        let digest = hex::encode(hash.finalize());
        self.root.join(format!("js-{}", &digest[..12]))
    }

    /// The folder holding the packages for `engine`, installing them first
    /// when they are missing. `progress` hears what is happening.
    pub fn ensure(
        &self,
        engine: Engine,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PathBuf, DevkitError> {
        let base = self.install(PINNED, progress)?;
        match engine {
            Engine::QuickJs => {}
            Engine::SpiderMonkey => {
                self.install(SPIDERMONKEY, progress)?;
            }
        }
        Ok(base)
    }

    fn install(
        &self,
        set: &[(&str, &str)],
        progress: &mut dyn FnMut(&str),
    ) -> Result<PathBuf, DevkitError> {
        let folder = self.folder(set);
        if folder.join("node_modules").is_dir() {
            return Ok(folder);
        }
        std::fs::create_dir_all(&self.root).map_err(DevkitError::io("create", &self.root))?;
        let names: Vec<String> = set.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        progress(&format!("installing {} (once)", names.join(" ")));
        let scratch = tempfile::Builder::new()
            .prefix(".installing-")
            .tempdir_in(&self.root)
            .map_err(DevkitError::io("create a folder in", &self.root))?;
        let mut npm = Command::new(&self.npm);
        npm.arg("install")
            .arg("--prefix")
            .arg(scratch.path())
            .args([
                "--save-exact",
                "--no-audit",
                "--no-fund",
                "--no-update-notifier",
                "--loglevel=error",
            ])
            .args(&names);
        run(&mut npm, "npm install", scratch.path())?;
        let bin = scratch.path().join("bin");
        std::fs::create_dir_all(&bin).map_err(DevkitError::io("create", &bin))?;
        std::fs::write(bin.join("wit-tool.mjs"), WIT_TOOL)
            .map_err(DevkitError::io("write", &bin))?;
        let kept = scratch.keep();
        if let Err(e) = std::fs::rename(&kept, &folder) {
            let _ = std::fs::remove_dir_all(&kept);
            // Another build finished the same install first: use it.
            if !folder.join("node_modules").is_dir() {
                return Err(DevkitError::Io {
                    action: "move the installed tools to",
                    path: folder,
                    source: e,
                });
            }
        }
        Ok(folder)
    }

    /// A package binary of the pin set `set`.
    pub(crate) fn bin(&self, set: &[(&str, &str)], name: &str) -> PathBuf {
        self.folder(set)
            .join("node_modules")
            .join(".bin")
            .join(name)
    }

    pub(crate) fn wit_tool(&self) -> PathBuf {
        self.folder(PINNED).join("bin").join("wit-tool.mjs")
    }
}

/// Runs a tool to completion; a failure carries its last lines of output.
pub(crate) fn run(command: &mut Command, tool: &str, dir: &Path) -> Result<String, DevkitError> {
    let output = command.output().map_err(|e| DevkitError::Missing {
        tool: tool.to_owned(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{e}; JavaScript and TypeScript builds need Node.js 18 or newer with npm on PATH"
            )
        } else {
            e.to_string()
        },
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    let tail = all[all.len().saturating_sub(30)..].join("\n");
    Err(DevkitError::Tool {
        tool: tool.to_owned(),
        dir: dir.to_path_buf(),
        log: tail,
    })
}
