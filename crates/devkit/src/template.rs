//! `lord pdk new`: a plugin project that builds, validates and passes its
//! tests with no edits, in Rust, TypeScript or JavaScript, for a full
//! plugin (a command, or an event handler) or any micro-plugin kind.
//!
//! Templates are Jinja files compiled into lord (see `templates/`), so a
//! project always matches the host API of the lord that made it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use lord_manifest::{MicroKind, PluginId};
use minijinja::{Environment, context};
use serde::Serialize;

use crate::DevkitError;

/// The language a project is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    TypeScript,
    JavaScript,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::TypeScript, Lang::JavaScript];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::TypeScript => "typescript",
            Lang::JavaScript => "javascript",
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::TypeScript => "TypeScript",
            Lang::JavaScript => "JavaScript",
        }
    }

    /// Which language a project folder is in, from the files it has.
    pub fn detect(dir: &Path) -> Option<Lang> {
        if dir.join("Cargo.toml").is_file() {
            Some(Lang::Rust)
        } else if dir.join("tsconfig.json").is_file() || dir.join("src/plugin.ts").is_file() {
            Some(Lang::TypeScript)
        } else if dir.join("src/plugin.js").is_file() {
            Some(Lang::JavaScript)
        } else {
            None
        }
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "rust" | "rs" => Ok(Lang::Rust),
            "typescript" | "ts" => Ok(Lang::TypeScript),
            "javascript" | "js" => Ok(Lang::JavaScript),
            other => Err(format!(
                "`{other}` is not a language lord builds plugins in; use rust, typescript or \
                 javascript"
            )),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of plugin a project is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A full plugin serving a command.
    Command,
    /// A full plugin reacting to events.
    EventHandler,
    /// A micro-plugin of one kind.
    Micro(MicroKind),
}

impl Kind {
    /// Every kind `lord pdk new --type` accepts.
    pub fn all() -> Vec<Kind> {
        let mut all = vec![Kind::Command, Kind::EventHandler];
        all.extend(MicroKind::ALL.into_iter().map(Kind::Micro));
        all
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::EventHandler => "event-handler",
            Kind::Micro(kind) => kind.as_str(),
        }
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Kind::all()
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::all().into_iter().map(Kind::as_str).collect();
                format!(
                    "`{text}` is not a plugin type; use one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `lord pdk new` was asked for.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: PluginId,
    pub kind: Kind,
    pub lang: Lang,
    /// Mark the first case as a documented example.
    pub examples: bool,
    /// Write `tests/cases.toml`.
    pub tests: bool,
    /// Write `README.md`.
    pub docs: bool,
}

// Files every project gets, whatever its language.
const PLUGIN_TOML: &str = include_str!("../templates/project/plugin.toml");
const CASES_TOML: &str = include_str!("../templates/project/cases.toml");
const README_MD: &str = include_str!("../templates/project/README.md");
const GITIGNORE: &str = include_str!("../templates/project/gitignore");
const CARGO_TOML: &str = include_str!("../templates/rust/Cargo.toml");
const LIB_RS: &str = include_str!("../templates/rust/lib.rs");
const PLUGIN_JS: &str = include_str!("../templates/javascript/plugin.js");
const PACKAGE_JSON: &str = include_str!("../templates/javascript/package.json");
const TSCONFIG_JSON: &str = include_str!("../templates/typescript/tsconfig.json");

/// What each micro-plugin kind's example does to `hello   world 42` (or,
/// for a command enhancer, to `ls -l`): the case input and output, as TOML.
fn example(kind: Kind) -> (toml::Value, toml::Value) {
    let text = |s: &str| toml::Value::String(s.to_owned());
    let input = "hello   world 42";
    match kind {
        Kind::Micro(MicroKind::Transformer) => (text(input), text("HELLO   WORLD 42")),
        Kind::Micro(MicroKind::Validator) => (text(input), text(input)),
        Kind::Micro(MicroKind::Formatter) => (text(input), text("hello world 42")),
        Kind::Micro(MicroKind::Hook) => (text(input), text("hello   world ##")),
        Kind::Micro(MicroKind::CommandEnhancer) => (text("ls -l"), text("ls -l --color=auto")),
        Kind::Micro(MicroKind::Utility) => {
            let mut table = toml::Table::new();
            table.insert("words".to_owned(), toml::Value::Integer(3));
            (text(input), toml::Value::Table(table))
        }
        Kind::Command | Kind::EventHandler => (text(""), text("")),
    }
}

fn description(kind: Kind) -> &'static str {
    match kind {
        Kind::Command => "Greets whoever you name.",
        Kind::EventHandler => "Counts the lord commands that finish while it listens.",
        Kind::Micro(MicroKind::Transformer) => "Turns text into upper case.",
        Kind::Micro(MicroKind::Validator) => "Accepts text of 1 to 280 characters.",
        Kind::Micro(MicroKind::Formatter) => "Collapses runs of white space into one space.",
        Kind::Micro(MicroKind::Hook) => "Masks every digit in text with #.",
        Kind::Micro(MicroKind::CommandEnhancer) => "Adds --color=auto to a command line.",
        Kind::Micro(MicroKind::Utility) => "Counts the words in text.",
    }
}

fn category(kind: Kind) -> &'static str {
    match kind {
        Kind::Command | Kind::EventHandler => "utility",
        Kind::Micro(MicroKind::Hook | MicroKind::Validator) => "security",
        Kind::Micro(
            MicroKind::Transformer
            | MicroKind::Formatter
            | MicroKind::CommandEnhancer
            | MicroKind::Utility,
        ) => "utility",
    }
}

/// `my-tool` → `MyTool`, the Rust type the template names.
fn type_name(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<String>()
}

/// `my-tool` → `My tool`.
fn title(id: &str) -> String {
    let spaced = id.replace(['-', '_', '.'], " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

impl NewProject {
    /// The files of the project, relative to its folder.
    pub fn render(&self) -> Result<Vec<(PathBuf, String)>, DevkitError> {
        let id = self.id.as_str();
        if lord_host::RESERVED_COMMANDS.contains(&id) {
            return Err(DevkitError::Usage(format!(
                "`{id}` is one of lord's own commands; pick another name"
            )));
        }
        let (example_input, example_output) = example(self.kind);
        let api = lord_manifest::host_api_version();
        let memory_mib = match self.lang {
            Lang::Rust => 16,
            Lang::TypeScript | Lang::JavaScript => 32,
        };
        // QuickJS interprets: the generated 1 MiB input case takes a
        // JavaScript plugin some hundreds of milliseconds on a quiet
        // machine, and a busy one must not turn a template's own tests red.
        let max_execution_ms = match self.lang {
            Lang::Rust => 1000,
            Lang::TypeScript | Lang::JavaScript => 3000,
        };
        let build_note = match self.lang {
            Lang::Rust => "cargo, for wasm32-wasip2".to_owned(),
            Lang::TypeScript => {
                "typings from the WIT, tsc, esbuild, then QuickJS (componentize-qjs)".to_owned()
            }
            Lang::JavaScript => "esbuild, then QuickJS (componentize-qjs)".to_owned(),
        };
        let ctx = context! {
            id,
            title => title(id),
            type_name => type_name(id),
            kind => self.kind.as_str(),
            lang => self.lang.as_str(),
            lang_name => self.lang.display_name(),
            description => description(self.kind),
            category => category(self.kind),
            host_api => format!("^{}.{}", api.major, api.minor),
            api => api.to_string(),
            memory_mib,
            max_execution_ms,
            examples => self.examples,
            example_input => example_input.to_string(),
            example_output => example_output.to_string(),
            build_note,
        };
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        let render = |name: &str, source: &str| -> Result<String, DevkitError> {
            env.render_str(source, &ctx)
                .map_err(|source| DevkitError::Template {
                    name: name.to_owned(),
                    source,
                })
        };
        let mut files = vec![
            (
                PathBuf::from("plugin.toml"),
                render("plugin.toml", PLUGIN_TOML)?,
            ),
            (PathBuf::from(".gitignore"), render("gitignore", GITIGNORE)?),
        ];
        if self.tests {
            files.push((
                PathBuf::from("tests/cases.toml"),
                render("cases.toml", CASES_TOML)?,
            ));
        }
        if self.docs {
            files.push((PathBuf::from("README.md"), render("README.md", README_MD)?));
        }
        match self.lang {
            Lang::Rust => {
                files.push((
                    PathBuf::from("Cargo.toml"),
                    render("Cargo.toml", CARGO_TOML)?,
                ));
                files.push((PathBuf::from("src/lib.rs"), render("lib.rs", LIB_RS)?));
            }
            Lang::JavaScript => {
                files.push((
                    PathBuf::from("package.json"),
                    render("package.json", PACKAGE_JSON)?,
                ));
                files.push((
                    PathBuf::from("src/plugin.js"),
                    render("plugin.js", PLUGIN_JS)?,
                ));
            }
            Lang::TypeScript => {
                files.push((
                    PathBuf::from("package.json"),
                    render("package.json", PACKAGE_JSON)?,
                ));
                files.push((
                    PathBuf::from("tsconfig.json"),
                    render("tsconfig.json", TSCONFIG_JSON)?,
                ));
                files.push((
                    PathBuf::from("src/plugin.ts"),
                    render("plugin.ts", PLUGIN_JS)?,
                ));
            }
        }
        Ok(files)
    }

    /// Writes the project into `dir`, which must not exist or be empty. The
    /// files are written into a scratch folder beside it first, synced, and
    /// moved into place in one rename, so a failure or a power cut leaves
    /// no half project.
    pub fn create(&self, dir: &Path) -> Result<(), DevkitError> {
        if dir.exists() {
            let empty = std::fs::read_dir(dir)
                .map_err(DevkitError::io("read", dir))?
                .next()
                .is_none();
            if !empty {
                return Err(DevkitError::Usage(format!(
                    "`{}` already exists and is not empty; pick a new folder",
                    dir.display()
                )));
            }
        }
        let files = self.render()?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            Some(_) | None => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(DevkitError::io("create", &parent))?;
        let scratch = tempfile::Builder::new()
            .prefix(".lord-new-")
            .tempdir_in(&parent)
            .map_err(DevkitError::io("create a folder in", &parent))?;
        for (name, content) in &files {
            let path = scratch.path().join(name);
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder).map_err(DevkitError::io("create", folder))?;
            }
            std::fs::write(&path, content).map_err(DevkitError::io("write", &path))?;
        }
        if self.lang == Lang::Rust {
            crate::sdk::install_rust_sdk(scratch.path())?;
        }
        // Every file synced while still in the scratch folder: a power cut
        // after the rename cannot leave the project with empty files, and
        // a sync that fails leaves the user's empty folder as it was.
        lord_file::sync_tree(scratch.path())?;
        // On unix the rename replaces an empty folder in one step; where it
        // cannot, the folder is removed first, and made again if the
        // rename then fails, so the user is left with what they had.
        let emptied = !cfg!(unix) && dir.exists();
        if emptied {
            std::fs::remove_dir(dir).map_err(DevkitError::io("replace", dir))?;
        }
        let kept = scratch.keep();
        if let Err(source) = std::fs::rename(&kept, dir) {
            let _ = std::fs::remove_dir_all(&kept);
            if emptied {
                let _ = std::fs::create_dir(dir);
            }
            return Err(DevkitError::Io {
                action: "move the new project to",
                path: dir.to_path_buf(),
                source,
            });
        }
        // The project is in place; only the rename's own record is left to
        // make durable, and a failure says so rather than hiding that.
        lord_file::sync_folder(&parent).map_err(|e| DevkitError::Io {
            action: "make the new project's place durable (it is there, but a power cut \
                     could still undo it) in",
            path: e.path,
            source: e.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_language_renders_a_valid_manifest_and_cases() {
        for lang in Lang::ALL {
            for kind in Kind::all() {
                let project = NewProject {
                    id: "my-tool".parse().expect("id"),
                    kind,
                    lang,
                    examples: true,
                    tests: true,
                    docs: true,
                };
                let files = project.render().expect("renders");
                let manifest = &files
                    .iter()
                    .find(|(p, _)| p == Path::new("plugin.toml"))
                    .expect("manifest")
                    .1;
                lord_manifest::parse("plugin.toml", manifest)
                    .unwrap_or_else(|e| panic!("{lang} {kind}: {e}\n{manifest}"));
                let dir = tempfile::tempdir().expect("tempdir");
                for (name, content) in &files {
                    let path = dir.path().join(name);
                    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                    std::fs::write(path, content).expect("write");
                }
                let cases = lord_host::read_cases(dir.path())
                    .unwrap_or_else(|e| panic!("{lang} {kind}: {e}"));
                assert!(!cases.is_empty(), "{lang} {kind}");
                assert_eq!(Lang::detect(dir.path()), Some(lang));
            }
        }
    }

    #[test]
    fn the_no_flags_leave_out_tests_docs_and_examples() {
        let project = |examples, tests, docs| NewProject {
            id: "quiet".parse().expect("id"),
            kind: Kind::Command,
            lang: Lang::JavaScript,
            examples,
            tests,
            docs,
        };
        let names = |p: NewProject| -> Vec<PathBuf> {
            p.render()
                .expect("renders")
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        let bare = names(project(true, false, false));
        assert!(
            !bare.contains(&PathBuf::from("tests/cases.toml")),
            "{bare:?}"
        );
        assert!(!bare.contains(&PathBuf::from("README.md")), "{bare:?}");
        let files = project(false, true, true).render().expect("renders");
        let cases = &files
            .iter()
            .find(|(n, _)| n == Path::new("tests/cases.toml"))
            .expect("cases")
            .1;
        assert!(
            cases.contains("example = false") && !cases.contains("example = true"),
            "{cases}"
        );
    }

    #[test]
    fn names_become_rust_types_and_titles() {
        assert_eq!(type_name("my-tool"), "MyTool");
        assert_eq!(type_name("x"), "X");
        assert_eq!(title("my-tool"), "My tool");
    }

    #[test]
    fn a_reserved_command_name_is_refused() {
        let project = NewProject {
            id: "plugin".parse().expect("id"),
            kind: Kind::Command,
            lang: Lang::Rust,
            examples: true,
            tests: true,
            docs: true,
        };
        assert!(project.render().is_err());
    }
}
