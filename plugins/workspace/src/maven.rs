//! Maven: `pom.xml` at the root; `<modules>` make it a multi-module build,
//! followed down into each module's own `<modules>`. A member is named by
//! its `artifactId`, versioned by its `version` (else its parent's), with
//! `${...}` filled from the `<properties>` of the member or the root (and
//! `${project.version}`, `${revision}`); edges from `<dependencies>`.

use std::collections::BTreeMap;

use roxmltree::{Document, Node};

use crate::model::{Member, Project, exact, read, shown, under};

/// How deep `<modules>` are followed (a cycle of modules ends here too).
const MAX_DEPTH: usize = 8;

pub fn detect() -> Option<Project> {
    if !crate::model::exists("pom.xml") {
        return None;
    }
    let mut project = Project::new("maven", "Maven (Java)", "pom.xml");
    let mut root_properties = BTreeMap::new();
    visit(&mut project, ".", 0, &mut root_properties);
    project.workspace = project.members.len() > 1;
    project.link(exact);
    Some(project)
}

/// Reads the POM in `dir`, adds it as a member and visits its modules.
fn visit(project: &mut Project, dir: &str, depth: usize, root: &mut BTreeMap<String, String>) {
    let manifest = under(dir, "pom.xml");
    let text = match read(&manifest) {
        Some(Ok(text)) => text,
        Some(Err(problem)) => return project.problems.push(problem),
        None => {
            return project.problems.push(format!(
                "{}: missing (named in <modules>)",
                shown(&manifest)
            ));
        }
    };
    let doc = match Document::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            return project
                .problems
                .push(format!("{}: not valid XML: {e}", shown(&manifest)));
        }
    };
    let pom = doc.root_element();
    let mut properties = root.clone();
    if let Some(own) = child(pom, "properties") {
        for p in own.children().filter(Node::is_element) {
            properties.insert(p.tag_name().name().to_owned(), text_of(p));
        }
    }
    let parent = child(pom, "parent");
    let version = child(pom, "version")
        .or_else(|| parent.and_then(|p| child(p, "version")))
        .map(text_of);
    if let Some(version) = &version {
        // Each POM's own: `${project.version}` in a module is the module's.
        properties.insert("project.version".to_owned(), version.clone());
    }
    if depth == 0 {
        *root = properties.clone();
    }
    let version = version.map(|v| fill(&v, &properties));
    let Some(artifact) = child(pom, "artifactId").map(text_of) else {
        return project
            .problems
            .push(format!("{}: no <artifactId>", shown(&manifest)));
    };
    let declared = child(pom, "dependencies")
        .into_iter()
        .flat_map(|deps| {
            deps.children()
                .filter(|n| n.has_tag_name_local("dependency"))
        })
        .filter_map(|dep| child(dep, "artifactId").map(text_of))
        .collect();
    project
        .members
        .push(Member::new(artifact, version, dir.to_owned(), declared));
    if depth >= MAX_DEPTH {
        return project.problems.push(format!(
            "{}: modules nested deeper than {MAX_DEPTH}; stopped",
            shown(&manifest)
        ));
    }
    let modules: Vec<String> = child(pom, "modules")
        .into_iter()
        .flat_map(|m| m.children().filter(|n| n.has_tag_name_local("module")))
        .map(text_of)
        .collect();
    for module in modules {
        let module = module.trim_start_matches("./").trim_end_matches('/');
        if module.starts_with('/') || module.split('/').any(|p| p == "..") {
            project.problems.push(format!(
                "{}: module `{module}` leaves the project; skipped",
                shown(&manifest)
            ));
            continue;
        }
        // A module may name its POM file rather than its folder.
        let folder = module.strip_suffix("/pom.xml").unwrap_or(module);
        visit(project, &under(dir, folder), depth + 1, root);
    }
}

/// The first child element of `node` named `name` (any namespace: POMs
/// put everything in Maven's).
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name_local(name))
}

fn text_of(node: Node<'_, '_>) -> String {
    node.text().unwrap_or("").trim().to_owned()
}

/// `${name}` references replaced by their property, unknown ones kept.
fn fill(value: &str, properties: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let key = &after[..end];
                match properties.get(key) {
                    // One level: a property naming itself cannot loop.
                    Some(v) if !v.contains("${") => out.push_str(v),
                    Some(_) | None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Tag names compared by their local part.
trait LocalName {
    fn has_tag_name_local(&self, name: &str) -> bool;
}

impl LocalName for Node<'_, '_> {
    fn has_tag_name_local(&self, name: &str) -> bool {
        self.is_element() && self.tag_name().name() == name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_fill_versions() {
        let props = BTreeMap::from([("revision".to_owned(), "1.4.0".to_owned())]);
        assert_eq!(fill("${revision}-SNAPSHOT", &props), "1.4.0-SNAPSHOT");
        assert_eq!(fill("${unknown}", &props), "${unknown}");
    }
}
