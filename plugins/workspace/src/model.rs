//! What the plugin reports: projects (one per ecosystem found at the
//! root), their members with versions, and the dependency graph between
//! members; plus the small helpers every ecosystem's reader shares
//! (reading a file under the project, expanding member patterns).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

/// Where the host preopens `$PROJECT` (the plugin's only grant).
pub const ROOT: &str = "/project";

/// One project or workspace recognised at the root.
#[derive(Debug, Serialize)]
pub struct Project {
    /// `cargo`, `npm`, `go`, `python`, `maven` or `gradle`.
    pub ecosystem: &'static str,
    /// The ecosystem in words, for people.
    pub kind: &'static str,
    /// The tools that shape it beyond the ecosystem's own (`pnpm`, `Yarn`,
    /// `Lerna`, `Nx`, `Turborepo`, `uv`, `Poetry`), in that order.
    pub tools: Vec<&'static str>,
    /// The file that says what the members are.
    pub manifest: String,
    /// Whether it is a workspace (several members) rather than one package.
    pub workspace: bool,
    pub members: Vec<Member>,
    /// Files that could not be read or parsed, each with the reason; the
    /// rest of the report stands.
    pub problems: Vec<String>,
}

/// One member: a package, module or project of the workspace.
#[derive(Debug, Serialize)]
pub struct Member {
    pub name: String,
    /// Left out when the manifest gives none (a Go module, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// From the project root, `.` for the root itself.
    pub path: String,
    /// The other members it depends on (the graph's edges), sorted.
    pub depends_on: Vec<String>,
    /// Every dependency name it declares, to be narrowed to members.
    #[serde(skip)]
    pub declared: Vec<String>,
}

impl Member {
    pub fn new(name: String, version: Option<String>, path: String, declared: Vec<String>) -> Self {
        Self {
            name,
            version,
            path,
            depends_on: Vec::new(),
            declared,
        }
    }
}

impl Project {
    pub fn new(ecosystem: &'static str, kind: &'static str, manifest: &str) -> Self {
        Self {
            ecosystem,
            kind,
            tools: Vec::new(),
            manifest: manifest.to_owned(),
            workspace: false,
            members: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Narrows each member's declared dependencies to the members (the
    /// graph), comparing names after `normalise`; sorts members by path.
    pub fn link(&mut self, normalise: fn(&str) -> String) {
        let names: BTreeSet<String> = self.members.iter().map(|m| normalise(&m.name)).collect();
        for member in &mut self.members {
            let own = normalise(&member.name);
            let mut edges: Vec<String> = member
                .declared
                .iter()
                .map(|d| normalise(d))
                .filter(|d| *d != own && names.contains(d))
                .collect();
            edges.sort();
            edges.dedup();
            member.depends_on = edges;
        }
        self.members.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

/// Names compared as written.
pub fn exact(name: &str) -> String {
    name.to_owned()
}

/// The text of `rel` under the project: `None` when it does not exist,
/// `Some(Err)` when it exists but cannot be read.
pub fn read(rel: &str) -> Option<Result<String, String>> {
    let path = Path::new(ROOT).join(rel);
    if !path.is_file() {
        return None;
    }
    Some(std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read it: {e}", shown(rel))))
}

/// Whether `rel` exists under the project (file or folder).
pub fn exists(rel: &str) -> bool {
    Path::new(ROOT).join(rel).exists()
}

/// `rel` as shown to the user: `./` dropped.
pub fn shown(rel: &str) -> String {
    rel.trim_start_matches("./").to_owned()
}

/// `rel` joined under `dir` (both relative to the project root).
pub fn under(dir: &str, rel: &str) -> String {
    if dir == "." || dir.is_empty() {
        rel.to_owned()
    } else {
        format!("{dir}/{rel}")
    }
}

/// The folders (relative to the root, sorted) that the workspace patterns
/// `include` name and that hold `marker`, less those `exclude` names. A
/// pattern starting with `!` excludes too (pnpm's way). A pattern leaving
/// the project (absolute, or through `..`) is reported and skipped.
pub fn expand(
    include: &[String],
    exclude: &[String],
    marker: &[&str],
    problems: &mut Vec<String>,
) -> Vec<String> {
    let mut found = BTreeSet::new();
    let mut dropped = BTreeSet::new();
    let all_excludes = exclude
        .iter()
        .map(|p| (p.as_str(), true))
        .chain(include.iter().map(|p| match p.strip_prefix('!') {
            Some(rest) => (rest, true),
            None => (p.as_str(), false),
        }));
    for (pattern, excluding) in all_excludes {
        let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
        if pattern.is_empty() {
            continue;
        }
        if pattern.starts_with('/') || pattern.split('/').any(|part| part == "..") {
            problems.push(format!(
                "member pattern `{pattern}` leaves the project; it is skipped"
            ));
            continue;
        }
        let full = format!("{ROOT}/{pattern}");
        let paths = match glob::glob(&full) {
            Ok(paths) => paths,
            Err(e) => {
                problems.push(format!("member pattern `{pattern}` is not valid: {e}"));
                continue;
            }
        };
        for path in paths.flatten() {
            if !path.is_dir() {
                continue;
            }
            let Ok(rel) = path.strip_prefix(ROOT) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if rel.is_empty()
                || rel
                    .split('/')
                    .any(|p| p == "node_modules" || p.starts_with('.'))
            {
                continue;
            }
            if excluding {
                dropped.insert(rel);
            } else if marker.iter().any(|m| path.join(m).is_file()) {
                found.insert(rel);
            }
        }
    }
    found.difference(&dropped).cloned().collect()
}

/// The strings in a JSON or TOML array value (others ignored).
pub fn strings<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    values.into_iter().flatten().map(str::to_owned).collect()
}
