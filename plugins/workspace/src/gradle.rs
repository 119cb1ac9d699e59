//! Gradle: `settings.gradle(.kts)` names the root project
//! (`rootProject.name`) and includes the others (`include(":a", "b:c")`,
//! Groovy or Kotlin), or a lone `build.gradle(.kts)` is one project.
//! Versions come from each project's build file (`version = "1.2"`), else
//! the root's, else `gradle.properties`; edges from `project(":x")` and
//! type-safe `projects.x` references in build files.
//!
//! Gradle's files are programs; this reads the declarative forms nearly
//! every build uses and says nothing of what code computes.

use crate::model::{Member, Project, exact, read, under};

const SETTINGS: [&str; 2] = ["settings.gradle.kts", "settings.gradle"];
const BUILD: [&str; 2] = ["build.gradle.kts", "build.gradle"];

pub fn detect() -> Option<Project> {
    let settings = SETTINGS.iter().find_map(|f| read(f).map(|t| (*f, t)));
    let has_build = BUILD.iter().any(|f| read(f).is_some());
    if settings.is_none() && !has_build {
        return None;
    }
    let manifest = settings.as_ref().map_or(BUILD[0], |(f, _)| *f);
    let mut project = Project::new("gradle", "Gradle (JVM)", manifest);
    let mut root_name = None;
    let mut included = Vec::new();
    if let Some((_, text)) = settings {
        match text {
            Ok(text) => {
                let text = strip_comments(&text);
                root_name = assigned(&text, "rootProject.name");
                included = includes(&text);
            }
            Err(problem) => project.problems.push(problem),
        }
    }
    let properties_version = read("gradle.properties")
        .and_then(Result::ok)
        .and_then(|t| property(&t, "version"));
    let root_build = build_file(".");
    let root_version = root_build
        .as_deref()
        .and_then(|t| assigned(t, "version"))
        .or(properties_version);
    let root_name = root_name.unwrap_or_else(|| "(root)".to_owned());
    project.members.push(Member::new(
        root_name,
        root_version.clone(),
        ".".to_owned(),
        root_build.as_deref().map(references).unwrap_or_default(),
    ));
    for path in included {
        if path.split('/').any(|p| p == ".." || p.is_empty()) {
            project.problems.push(format!(
                "{manifest}: project `{path}` is not a plain path; skipped"
            ));
            continue;
        }
        let build = build_file(&path);
        let version = build
            .as_deref()
            .and_then(|t| assigned(t, "version"))
            .or_else(|| root_version.clone());
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        let declared = build.as_deref().map(references).unwrap_or_default();
        project
            .members
            .push(Member::new(name, version, path.clone(), declared));
    }
    project.workspace = project.members.len() > 1;
    project.link(exact);
    Some(project)
}

/// The build file of the project in `dir`, comments stripped.
fn build_file(dir: &str) -> Option<String> {
    BUILD
        .iter()
        .find_map(|f| read(&under(dir, f)))
        .and_then(Result::ok)
        .map(|t| strip_comments(&t))
}

/// `// ...` and `/* ... */` removed (outside of strings).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) => {
                out.push(c);
                if c == '\\' {
                    out.extend(chars.next());
                } else if c == q {
                    quote = None;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '/') if chars.peek() == Some(&'/') => {
                for x in chars.by_ref() {
                    if x == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            (None, '/') if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for x in chars.by_ref() {
                    if last == '*' && x == '/' {
                        break;
                    }
                    last = x;
                }
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// The quoted strings in `text`, in order.
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            out.push(chars.by_ref().take_while(|&x| x != c).collect());
        }
    }
    out
}

/// The value of `key = "value"` or `key "value"` at the start of a line.
fn assigned(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(key)?;
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        quoted(rest).into_iter().next()
    })
}

/// The projects `include` statements name, as folders (`:a:b` → `a/b`).
/// An include's arguments run to the end of its line, or of its
/// parentheses when they span lines.
fn includes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("include") {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '.');
        let after = &rest[at + "include".len()..];
        let after_ok = after
            .chars()
            .next()
            .is_some_and(|c| c == '(' || c == ' ' || c == '\t');
        rest = after;
        if !(before_ok && after_ok) {
            continue;
        }
        let args = if after.trim_start().starts_with('(') {
            after.split_once(')').map_or(after, |(inside, _)| inside)
        } else {
            after.split('\n').next().unwrap_or("")
        };
        for name in quoted(args) {
            let path = name.trim_start_matches(':').replace(':', "/");
            if !path.is_empty() && !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// The project names a build file refers to: `project(":core")` (the last
/// segment) and type-safe accessors `projects.core`.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("project(") {
        rest = &rest[at + "project(".len()..];
        let inside = rest.split_once(')').map_or(rest, |(i, _)| i);
        if let Some(path) = quoted(inside).into_iter().next() {
            out.extend(path.rsplit(':').next().map(str::to_owned));
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("projects.") {
        rest = &rest[at + "projects.".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        // `projects.app.core` is the nested project core; kebab-case names
        // are camelCase accessors (`projects.myLib` for `my-lib`).
        if let Some(last) = name.rsplit('.').next() {
            out.push(last.to_owned());
            out.push(kebab(last));
        }
    }
    out
}

fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_uppercase() {
            out.push('-');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `key=value` in a `.properties` file.
fn property(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(['=', ':'])?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_in_both_dialects() {
        let groovy = "rootProject.name = 'shop'\ninclude 'api', ':core'\n// include 'old'\ninclude(\n  \":tools:cli\"\n)\n";
        let text = strip_comments(groovy);
        assert_eq!(assigned(&text, "rootProject.name").as_deref(), Some("shop"));
        assert_eq!(includes(&text), vec!["api", "core", "tools/cli"]);
        let build = "dependencies {\n implementation(project(\":core\"))\n api(projects.myLib)\n}\nversion = \"2.0\"\n";
        assert_eq!(assigned(build, "version").as_deref(), Some("2.0"));
        let refs = references(build);
        assert!(
            refs.contains(&"core".to_owned()) && refs.contains(&"my-lib".to_owned()),
            "{refs:?}"
        );
    }
}
