//! Cargo: `Cargo.toml` at the root, a `[workspace]` with `members` and
//! `exclude` patterns (the root package a member too when it has one), each
//! member's `[package]` name and version (`version.workspace = true` read
//! from `[workspace.package]`), and edges from every dependency table
//! (normal, dev, build, and per target), `package = "..."` renames
//! followed.

use toml::{Table, Value};

use crate::model::{Member, Project, exact, expand, read, shown, strings, under};

pub fn detect() -> Option<Project> {
    let text = read("Cargo.toml")?;
    let mut project = Project::new("cargo", "Cargo (Rust)", "Cargo.toml");
    let root = match text.and_then(|t| parse("Cargo.toml", &t)) {
        Ok(root) => root,
        Err(problem) => {
            project.problems.push(problem);
            return Some(project);
        }
    };
    let workspace = root.get("workspace").and_then(Value::as_table);
    let shared_version = workspace
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(Value::as_str);
    if root.contains_key("package") {
        push_member(&mut project, ".", &root, shared_version);
    }
    if let Some(workspace) = workspace {
        project.workspace = true;
        let list = |key: &str| {
            strings(
                workspace
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(Value::as_str),
            )
        };
        let dirs = expand(
            &list("members"),
            &list("exclude"),
            &["Cargo.toml"],
            &mut project.problems,
        );
        for dir in dirs {
            let manifest = under(&dir, "Cargo.toml");
            match read(&manifest)
                .unwrap_or_else(|| Err(format!("{manifest}: missing")))
                .and_then(|t| parse(&manifest, &t))
            {
                Ok(table) => push_member(&mut project, &dir, &table, shared_version),
                Err(problem) => project.problems.push(problem),
            }
        }
    }
    project.link(exact);
    Some(project)
}

fn parse(path: &str, text: &str) -> Result<Table, String> {
    toml::from_str::<Table>(text)
        .map_err(|e| format!("{}: not valid TOML: {}", shown(path), e.message()))
}

fn push_member(project: &mut Project, dir: &str, manifest: &Table, shared_version: Option<&str>) {
    let Some(package) = manifest.get("package").and_then(Value::as_table) else {
        // A virtual manifest: the workspace root only.
        return;
    };
    let Some(name) = package.get("name").and_then(Value::as_str) else {
        project.problems.push(format!(
            "{}: [package] has no `name`",
            under(dir, "Cargo.toml")
        ));
        return;
    };
    let version = match package.get("version") {
        Some(Value::String(v)) => Some(v.clone()),
        Some(Value::Table(t)) if t.get("workspace").and_then(Value::as_bool) == Some(true) => {
            shared_version.map(str::to_owned)
        }
        Some(_) | None => None,
    };
    let mut declared = Vec::new();
    collect_deps(manifest, &mut declared);
    if let Some(targets) = manifest.get("target").and_then(Value::as_table) {
        for target in targets.values().filter_map(Value::as_table) {
            collect_deps(target, &mut declared);
        }
    }
    project.members.push(Member::new(
        name.to_owned(),
        version,
        dir.to_owned(),
        declared,
    ));
}

/// The crate names of `[dependencies]`, `[dev-dependencies]` and
/// `[build-dependencies]` in `table` (a manifest or one of its targets).
fn collect_deps(table: &Table, out: &mut Vec<String>) {
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = table.get(key).and_then(Value::as_table) else {
            continue;
        };
        for (name, spec) in deps {
            let real = spec
                .get("package")
                .and_then(Value::as_str)
                .unwrap_or(name.as_str());
            out.push(real.to_owned());
        }
    }
}
