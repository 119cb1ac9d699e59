//! `workspace`: reads the project directory (its only grant is
//! `fs-read($PROJECT)`, seen by the guest as `/project`) and reports which
//! ecosystems it belongs to.

use std::path::Path;

use lord_pdk::{Command, Plugin};

struct Workspace;

/// Marker files and what they say about a project, in report order.
const MARKERS: &[(&str, &str)] = &[
    ("Cargo.toml", "Cargo (Rust)"),
    ("package.json", "npm (JavaScript/TypeScript)"),
    ("pyproject.toml", "Python (pyproject)"),
    ("setup.py", "Python (setuptools)"),
    ("requirements.txt", "Python (requirements)"),
    ("go.mod", "Go module"),
    ("pom.xml", "Maven (Java)"),
    ("build.gradle", "Gradle"),
    ("Gemfile", "Ruby (Bundler)"),
    ("composer.json", "PHP (Composer)"),
    ("CMakeLists.txt", "CMake"),
    ("Makefile", "Make"),
    ("lord.toml", "lord project"),
    (".git", "git repository"),
];

const PROJECT: &str = "/project";

impl Plugin for Workspace {
    fn run_command(command: Command) -> Result<String, String> {
        if command.name != "workspace" {
            return Err(format!("workspace has no command `{}`", command.name));
        }
        let root = Path::new(PROJECT);
        std::fs::read_dir(root).map_err(|e| {
            format!("cannot read the project directory ({e}); is fs-read($PROJECT) granted?")
        })?;
        let found: Vec<&str> = MARKERS
            .iter()
            .filter(|(file, _)| root.join(file).exists())
            .map(|(_, kind)| *kind)
            .collect();
        if found.is_empty() {
            return Ok("no known project markers here\n".to_owned());
        }
        let mut out = String::new();
        for kind in found {
            out.push_str(kind);
            out.push('\n');
        }
        Ok(out)
    }
}

lord_pdk::export_plugin!(Workspace);
