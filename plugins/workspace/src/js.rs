//! JavaScript and TypeScript: `package.json` at the root (or a
//! `pnpm-workspace.yaml`). The package manager is pnpm, Yarn or npm (by
//! workspace file, lock file or the `packageManager` field); Lerna, Nx and
//! Turborepo are named when their files are there. Members come from
//! `pnpm-workspace.yaml`'s `packages`, else `package.json`'s `workspaces`
//! (a list, or Yarn's `{ packages = [...] }`), else `lerna.json`'s
//! `packages` (default `packages/*`), else, for Nx, the folders under
//! `apps/`, `libs/` and `packages/` holding a `project.json`. Edges come
//! from every dependency field and Nx's `implicitDependencies`.

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::Value;

use crate::model::{Member, Project, exact, exists, expand, read, shown, strings, under};

pub fn detect() -> Option<Project> {
    let pnpm_workspace = read("pnpm-workspace.yaml");
    let package = read("package.json");
    if pnpm_workspace.is_none() && package.is_none() {
        return None;
    }
    let mut project = Project::new("npm", "npm (JavaScript/TypeScript)", "package.json");
    let root = package.and_then(|text| match text.and_then(|t| json("package.json", &t)) {
        Ok(value) => Some(value),
        Err(problem) => {
            project.problems.push(problem);
            None
        }
    });
    let manager = root
        .as_ref()
        .and_then(|r| r.get("packageManager"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if pnpm_workspace.is_some() || exists("pnpm-lock.yaml") || manager.starts_with("pnpm@") {
        project.tools.push("pnpm");
    } else if exists("yarn.lock") || exists(".yarnrc.yml") || manager.starts_with("yarn@") {
        project.tools.push("Yarn");
    }
    let lerna = read("lerna.json").and_then(|t| match t.and_then(|t| json("lerna.json", &t)) {
        Ok(value) => Some(value),
        Err(problem) => {
            project.problems.push(problem);
            None
        }
    });
    if lerna.is_some() || exists("lerna.json") {
        project.tools.push("Lerna");
    }
    let nx = exists("nx.json");
    if nx {
        project.tools.push("Nx");
    }
    if exists("turbo.json") {
        project.tools.push("Turborepo");
    }

    let mut patterns: Option<(String, Vec<String>)> = None;
    if let Some(text) = pnpm_workspace {
        match text.and_then(|t| pnpm_packages(&t)) {
            Ok(list) => patterns = Some(("pnpm-workspace.yaml".to_owned(), list)),
            Err(problem) => project.problems.push(problem),
        }
    }
    if patterns.is_none()
        && let Some(list) = root.as_ref().and_then(workspaces)
    {
        patterns = Some(("package.json".to_owned(), list));
    }
    if patterns.is_none()
        && let Some(lerna) = &lerna
    {
        let list = lerna
            .get("packages")
            .and_then(Value::as_array)
            .map(|a| strings(a.iter().map(Value::as_str)))
            .unwrap_or_else(|| vec!["packages/*".to_owned()]);
        patterns = Some(("lerna.json".to_owned(), list));
    }
    if patterns.is_none() && nx {
        let list = ["apps/*", "libs/*", "packages/*"]
            .map(str::to_owned)
            .to_vec();
        patterns = Some(("nx.json".to_owned(), list));
    }

    match patterns {
        Some((manifest, list)) => {
            project.workspace = true;
            project.manifest = manifest;
            let dirs = expand(
                &list,
                &[],
                &["package.json", "project.json"],
                &mut project.problems,
            );
            for dir in dirs {
                match member(&dir) {
                    Ok(Some(m)) => project.members.push(m),
                    Ok(None) => {}
                    Err(problem) => project.problems.push(problem),
                }
            }
        }
        None => {
            if let Some(root) = &root {
                let name = root
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("(unnamed)");
                project
                    .members
                    .push(from_package(name, root, ".", Vec::new()));
            }
        }
    }
    project.link(exact);
    Some(project)
}

fn json(path: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{}: not valid JSON: {e}", shown(path)))
}

/// `packages:` of a pnpm-workspace.yaml.
fn pnpm_packages(text: &str) -> Result<Vec<String>, String> {
    let docs = Yaml::load_from_str(text)
        .map_err(|e| format!("pnpm-workspace.yaml: not valid YAML: {e}"))?;
    let Some(doc) = docs.first() else {
        return Ok(Vec::new());
    };
    let Some(list) = doc.as_mapping_get("packages") else {
        return Ok(Vec::new());
    };
    let Some(items) = list.as_sequence() else {
        return Err("pnpm-workspace.yaml: `packages` is not a list".to_owned());
    };
    Ok(strings(items.iter().map(Yaml::as_str)))
}

/// `workspaces` of a package.json: a list, or `{ "packages": [...] }`.
fn workspaces(root: &Value) -> Option<Vec<String>> {
    let field = root.get("workspaces")?;
    let list = field
        .as_array()
        .or_else(|| field.get("packages").and_then(Value::as_array))?;
    Some(strings(list.iter().map(Value::as_str)))
}

/// The member in `dir`: its package.json, or else its Nx project.json.
fn member(dir: &str) -> Result<Option<Member>, String> {
    let manifest = under(dir, "package.json");
    if let Some(text) = read(&manifest) {
        let value = text.and_then(|t| json(&manifest, &t))?;
        let Some(name) = value.get("name").and_then(Value::as_str) else {
            return Err(format!("{manifest}: no `name`"));
        };
        let implicit = nx_implicit(dir)?;
        return Ok(Some(from_package(name, &value, dir, implicit)));
    }
    let manifest = under(dir, "project.json");
    let Some(text) = read(&manifest) else {
        return Ok(None);
    };
    let value = text.and_then(|t| json(&manifest, &t))?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| dir.rsplit('/').next().unwrap_or(dir).to_owned());
    let declared = implicit_of(&value);
    Ok(Some(Member::new(name, None, dir.to_owned(), declared)))
}

/// Nx's `implicitDependencies` in `dir/project.json`, if there is one.
fn nx_implicit(dir: &str) -> Result<Vec<String>, String> {
    let manifest = under(dir, "project.json");
    match read(&manifest) {
        None => Ok(Vec::new()),
        Some(text) => Ok(implicit_of(&text.and_then(|t| json(&manifest, &t))?)),
    }
}

fn implicit_of(project: &Value) -> Vec<String> {
    project
        .get("implicitDependencies")
        .and_then(Value::as_array)
        .map(|a| strings(a.iter().map(Value::as_str)))
        .unwrap_or_default()
}

fn from_package(name: &str, package: &Value, dir: &str, mut declared: Vec<String>) -> Member {
    for field in [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
    ] {
        if let Some(deps) = package.get(field).and_then(Value::as_object) {
            declared.extend(deps.keys().cloned());
        }
    }
    let version = package
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Member::new(name.to_owned(), version, dir.to_owned(), declared)
}
