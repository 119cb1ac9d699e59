//! Python: `pyproject.toml` at the root. uv is named when `[tool.uv]` or
//! `uv.lock` is there, and a `[tool.uv.workspace]` makes it a workspace
//! (its `members` and `exclude` patterns); Poetry when `[tool.poetry]` is.
//! A member's name and version come from `[project]` (PEP 621; `dynamic`
//! versions shown as such) or `[tool.poetry]`; edges from PEP 508
//! requirement strings (`dependencies`, optional ones, PEP 735 groups),
//! Poetry's dependency tables and `[tool.uv.sources]`, names compared
//! normalised as PEP 503 says.

use toml::{Table, Value};

use crate::model::{Member, Project, exists, expand, read, shown, strings, under};

pub fn detect() -> Option<Project> {
    let text = read("pyproject.toml")?;
    let mut project = Project::new("python", "Python (pyproject)", "pyproject.toml");
    let root = match text.and_then(|t| parse("pyproject.toml", &t)) {
        Ok(root) => root,
        Err(problem) => {
            project.problems.push(problem);
            return Some(project);
        }
    };
    let tool = root.get("tool").and_then(Value::as_table);
    let uv = tool.and_then(|t| t.get("uv")).and_then(Value::as_table);
    if uv.is_some() || exists("uv.lock") {
        project.tools.push("uv");
    }
    if tool.is_some_and(|t| t.contains_key("poetry")) {
        project.tools.push("Poetry");
    }
    push_member(&mut project, ".", &root);
    if let Some(workspace) = uv
        .and_then(|u| u.get("workspace"))
        .and_then(Value::as_table)
    {
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
            &["pyproject.toml"],
            &mut project.problems,
        );
        for dir in dirs {
            let manifest = under(&dir, "pyproject.toml");
            match read(&manifest)
                .unwrap_or_else(|| Err(format!("{manifest}: missing")))
                .and_then(|t| parse(&manifest, &t))
            {
                Ok(table) => push_member(&mut project, &dir, &table),
                Err(problem) => project.problems.push(problem),
            }
        }
    }
    project.link(normalise);
    Some(project)
}

fn parse(path: &str, text: &str) -> Result<Table, String> {
    toml::from_str::<Table>(text)
        .map_err(|e| format!("{}: not valid TOML: {}", shown(path), e.message()))
}

/// PEP 503: lower case, runs of `-`, `_` and `.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// The distribution name a PEP 508 requirement starts with
/// (`requests[security]>=2; python_version<"3.8"` → `requests`).
fn requirement_name(requirement: &str) -> Option<String> {
    let name: String = requirement
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!name.is_empty()).then_some(name)
}

fn push_member(project: &mut Project, dir: &str, manifest: &Table) {
    let pep621 = manifest.get("project").and_then(Value::as_table);
    let poetry = manifest
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(Value::as_table);
    let name = pep621
        .and_then(|p| p.get("name"))
        .or_else(|| poetry.and_then(|p| p.get("name")))
        .and_then(Value::as_str);
    let Some(name) = name else {
        if dir != "." {
            project.problems.push(format!(
                "{}: neither [project] nor [tool.poetry] names it",
                under(dir, "pyproject.toml")
            ));
        }
        return;
    };
    let dynamic = pep621
        .and_then(|p| p.get("dynamic"))
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
    let version = pep621
        .and_then(|p| p.get("version"))
        .or_else(|| poetry.and_then(|p| p.get("version")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| dynamic.then(|| "dynamic".to_owned()));

    let mut declared = Vec::new();
    let mut requirements = |list: Option<&Value>| {
        for item in list.and_then(Value::as_array).into_iter().flatten() {
            declared.extend(item.as_str().and_then(requirement_name));
        }
    };
    if let Some(p) = pep621 {
        requirements(p.get("dependencies"));
        for extra in p
            .get("optional-dependencies")
            .and_then(Value::as_table)
            .into_iter()
            .flat_map(|t| t.values())
        {
            requirements(Some(extra));
        }
    }
    for group in manifest
        .get("dependency-groups")
        .and_then(Value::as_table)
        .into_iter()
        .flat_map(|t| t.values())
    {
        requirements(Some(group));
    }
    if let Some(poetry) = poetry {
        let mut tables: Vec<&Table> = Vec::new();
        tables.extend(poetry.get("dependencies").and_then(Value::as_table));
        tables.extend(poetry.get("dev-dependencies").and_then(Value::as_table));
        for group in poetry
            .get("group")
            .and_then(Value::as_table)
            .into_iter()
            .flat_map(|t| t.values())
        {
            tables.extend(group.get("dependencies").and_then(Value::as_table));
        }
        for table in tables {
            declared.extend(table.keys().filter(|k| *k != "python").cloned());
        }
    }
    if let Some(sources) = manifest
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(Value::as_table)
    {
        declared.extend(sources.keys().cloned());
    }
    project.members.push(Member::new(
        name.to_owned(),
        version,
        dir.to_owned(),
        declared,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_taken_from_requirements() {
        assert_eq!(normalise("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(
            requirement_name("requests[security]>=2; python_version<'3.8'").as_deref(),
            Some("requests")
        );
        assert_eq!(
            requirement_name(" core-lib == 1.0").as_deref(),
            Some("core-lib")
        );
    }
}
