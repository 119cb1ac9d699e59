//! `workspace`: reads the project folder (its only grant is
//! `fs-read($PROJECT)`, seen by the guest as `/project`) and reports each
//! project or monorepo found at its root: Cargo, npm (with pnpm, Yarn,
//! Lerna, Nx, Turborepo), Go (go.work), Python (pyproject, uv, Poetry),
//! Maven and Gradle; their members with versions and the dependency graph
//! between members; as text, or JSON with `--json`.

mod cargo;
mod go;
mod gradle;
mod js;
mod maven;
mod model;
mod python;

use std::fmt::Write as _;
use std::path::Path;

use lord_pdk::{Command, Plugin};
use serde::Serialize;

use model::{Project, ROOT};

struct Workspace;

/// Markers that say something about the folder without members to list.
const OTHER_MARKERS: &[(&str, &str)] = &[
    ("setup.py", "Python (setuptools)"),
    ("requirements.txt", "Python (requirements)"),
    ("Gemfile", "Ruby (Bundler)"),
    ("composer.json", "PHP (Composer)"),
    ("CMakeLists.txt", "CMake"),
    ("Makefile", "Make"),
    ("lord.toml", "lord project"),
    (".git", "git repository"),
];

/// The whole report, as `--json` prints it.
#[derive(Serialize)]
struct Report {
    projects: Vec<Project>,
    /// Other things the root holds (`git repository`, `Make`, ...).
    also: Vec<&'static str>,
}

impl Plugin for Workspace {
    fn run_command(command: Command) -> Result<String, String> {
        if command.name != "workspace" {
            return Err(format!("workspace has no command `{}`", command.name));
        }
        std::fs::read_dir(ROOT).map_err(|e| {
            format!("cannot read the project folder ({e}); is fs-read($PROJECT) granted?")
        })?;
        let report = survey();
        if command.arg("json").is_some() {
            let mut text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            text.push('\n');
            return Ok(text);
        }
        Ok(render(&report))
    }
}

fn survey() -> Report {
    let projects = [
        cargo::detect(),
        js::detect(),
        go::detect(),
        python::detect(),
        maven::detect(),
        gradle::detect(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let also = OTHER_MARKERS
        .iter()
        .filter(|(file, _)| Path::new(ROOT).join(file).exists())
        .map(|(_, kind)| *kind)
        .collect();
    Report { projects, also }
}

/// People's form: a heading per project, a line per member with its
/// version, folder and the members it depends on.
fn render(report: &Report) -> String {
    let mut out = String::new();
    if report.projects.is_empty() && report.also.is_empty() {
        return "no known project here\n".to_owned();
    }
    for project in &report.projects {
        let what = if project.workspace {
            "workspace"
        } else {
            "project"
        };
        let tools = if project.tools.is_empty() {
            String::new()
        } else {
            format!(" with {}", project.tools.join(", "))
        };
        let count = project.members.len();
        let plural = if count == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{} {what}{tools} ({}): {count} member{plural}",
            project.kind, project.manifest
        );
        let width = project
            .members
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(0);
        for member in &project.members {
            let version = member.version.as_deref().unwrap_or("-");
            let _ = write!(
                out,
                "  {:width$}  {version:10}  {}",
                member.name, member.path
            );
            if !member.depends_on.is_empty() {
                let _ = write!(out, "  -> {}", member.depends_on.join(", "));
            }
            out.push('\n');
        }
        for problem in &project.problems {
            let _ = writeln!(out, "  problem: {problem}");
        }
    }
    if !report.also.is_empty() {
        let _ = writeln!(out, "also: {}", report.also.join(", "));
    }
    out
}

lord_pdk::export_plugin!(Workspace);
