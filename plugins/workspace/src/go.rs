//! Go: a `go.work` (its `use` directives are the members) or a lone
//! `go.mod`. A member is named by its `module` path and has no version of
//! its own (Go versions modules by tags); edges come from `require` and
//! from `replace` directives that point at a member's folder.
//!
//! The go.mod and go.work grammar is line-based (`keyword args` or
//! `keyword ( ... )` blocks, `//` comments), small enough to read exactly
//! as `golang.org/x/mod/modfile` does for the directives used here, with
//! quoted paths unquoted.

use crate::model::{Member, Project, exact, read, shown, under};

pub fn detect() -> Option<Project> {
    if let Some(text) = read("go.work") {
        let mut project = Project::new("go", "Go", "go.work");
        project.workspace = true;
        match text {
            Ok(text) => {
                let mut dirs: Vec<String> = directives(&text)
                    .into_iter()
                    .filter(|(keyword, _)| keyword == "use")
                    .filter_map(|(_, args)| args.into_iter().next())
                    .map(|dir| clean(&dir))
                    .collect();
                dirs.sort();
                dirs.dedup();
                for dir in dirs {
                    if dir.starts_with('/') || dir.split('/').any(|p| p == "..") {
                        project
                            .problems
                            .push(format!("go.work: `use {dir}` leaves the project; skipped"));
                        continue;
                    }
                    push_module(&mut project, &dir);
                }
            }
            Err(problem) => project.problems.push(problem),
        }
        resolve_replaces(&mut project);
        project.link(exact);
        return Some(project);
    }
    if !crate::model::exists("go.mod") {
        return None;
    }
    let mut project = Project::new("go", "Go", "go.mod");
    push_module(&mut project, ".");
    project.link(exact);
    Some(project)
}

/// `./a/b/` → `a/b`, `.` stays.
fn clean(dir: &str) -> String {
    let trimmed = dir.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        ".".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn push_module(project: &mut Project, dir: &str) {
    let manifest = under(dir, "go.mod");
    let text = match read(&manifest) {
        Some(Ok(text)) => text,
        Some(Err(problem)) => {
            project.problems.push(problem);
            return;
        }
        None => {
            project
                .problems
                .push(format!("{}: missing (named by go.work)", shown(&manifest)));
            return;
        }
    };
    let mut name = None;
    let mut declared = Vec::new();
    for (keyword, args) in directives(&text) {
        match keyword.as_str() {
            "module" => name = args.into_iter().next(),
            "require" => declared.extend(args.into_iter().next()),
            // `replace old => ./path`: kept as `=>path` and resolved to the
            // member living there once every member is known.
            "replace" => {
                if let Some(arrow) = args.iter().position(|a| a == "=>")
                    && let Some(target) = args.get(arrow + 1)
                    && (target.starts_with("./") || target.starts_with("../"))
                {
                    declared.push(format!("=>{}", join(dir, target)));
                }
            }
            _ => {}
        }
    }
    let Some(name) = name else {
        project
            .problems
            .push(format!("{}: no `module` directive", shown(&manifest)));
        return;
    };
    project
        .members
        .push(Member::new(name, None, dir.to_owned(), declared));
}

/// Turns each `=>path` a member declared into the module name of the
/// member at that path.
fn resolve_replaces(project: &mut Project) {
    let by_path: Vec<(String, String)> = project
        .members
        .iter()
        .map(|m| (m.path.clone(), m.name.clone()))
        .collect();
    for member in &mut project.members {
        for dep in &mut member.declared {
            if let Some(path) = dep.strip_prefix("=>")
                && let Some((_, name)) = by_path.iter().find(|(p, _)| p == path)
            {
                *dep = name.clone();
            }
        }
    }
}

/// `dir/rel` with `.` and `..` folded, relative to the project root.
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir == "." {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Every directive as (keyword, arguments), blocks flattened: `require (
/// a v1 \n b v2 )` gives `("require", [a, v1])` and `("require", [b, v2])`.
fn directives(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        let words = words(line);
        let Some(first) = words.first() else {
            continue;
        };
        if let Some(keyword) = &block {
            if first == ")" {
                block = None;
            } else {
                out.push((keyword.clone(), words));
            }
            continue;
        }
        if words.len() == 2 && words[1] == "(" {
            block = Some(first.clone());
            continue;
        }
        out.push((first.clone(), words[1..].to_vec()));
    }
    out
}

/// The words of one line, a `//` comment dropped, quoted words unquoted.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '/' && line_rest_starts_comment(&mut chars.clone()) {
            break;
        } else if c == '"' || c == '`' {
            chars.next();
            let word: String = chars.by_ref().take_while(|&x| x != c).collect();
            out.push(word);
        } else {
            let mut word = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                word.push(x);
                chars.next();
            }
            out.push(word);
        }
    }
    out
}

fn line_rest_starts_comment(chars: &mut impl Iterator<Item = char>) -> bool {
    chars.next() == Some('/') && chars.next() == Some('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_comments_and_quotes() {
        let text = "module example.com/a // the module\n\ngo 1.22\nrequire (\n\t\"example.com/b\" v0.0.0\n\texample.com/c v1.2.3 // indirect\n)\nreplace example.com/b => ../b\n";
        let d = directives(text);
        assert_eq!(d[0], ("module".into(), vec!["example.com/a".into()]));
        assert_eq!(d[2].1[0], "example.com/b");
        assert_eq!(
            d[3].1,
            vec!["example.com/c".to_owned(), "v1.2.3".to_owned()]
        );
        assert_eq!(join("svc/a", "../b"), "svc/b");
    }
}
