//! `cargo xtask tidy`: the code map and the house rules, checked by machine.
//!
//! - **Layers.** ARCHITECTURE.md's `layer-rules` block says which workspace
//!   crates each crate may depend on, which external crates only some
//!   crates may name, and which crates a crate must not reach even
//!   indirectly. The workspace's dependencies (from `cargo metadata`, and
//!   `cargo tree` for what is reached indirectly) are checked against it;
//!   each break names the crate, the dependency and the rule.
//! - **Size.** No source file under `crates/` over [`MAX_FILE_LINES`] lines
//!   before its `#[cfg(test)]` module, no function over
//!   [`MAX_FN_LINES`] lines; the largest of each are reported.
//! - **Docs.** Every Rust file under `crates/` and `xtask/` starts with a
//!   `//!` comment saying what it is for.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Longest source file, in lines before its tests.
pub(crate) const MAX_FILE_LINES: usize = 800;
/// Longest function, in lines.
pub(crate) const MAX_FN_LINES: usize = 120;

/// The rules read from ARCHITECTURE.md.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Workspace crate -> the workspace crates it may depend on directly.
    pub(crate) layers: BTreeMap<String, Vec<String>>,
    /// External crate -> the only workspace crates that may depend on it.
    pub(crate) only: BTreeMap<String, Vec<String>>,
    /// Workspace crate -> crates it must not reach, even indirectly.
    pub(crate) never: BTreeMap<String, Vec<String>>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Break {
    pub(crate) krate: String,
    pub(crate) dependency: String,
    pub(crate) rule: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` depends on `{}`, which the rule `{}` forbids",
            self.krate, self.dependency, self.rule
        )
    }
}

/// Reads the fenced block after the line `<!-- layer-rules -->`:
///
/// ```text
/// lord-host: lord-manifest lord-sandbox ...   (may depend on these)
/// only wasmtime: lord-sandbox lord-bench       (only these may name it)
/// never lord-host: axum postgres object_store  (not even indirectly)
/// ```
pub(crate) fn parse_rules(architecture: &str) -> Result<Rules> {
    let start = architecture
        .find("<!-- layer-rules -->")
        .context("ARCHITECTURE.md has no `<!-- layer-rules -->` block")?;
    let block = architecture[start..]
        .split("```")
        .nth(1)
        .context("the layer-rules marker is not followed by a fenced block")?;
    let mut rules = Rules::default();
    for (number, line) in block.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line == "text" {
            continue;
        }
        let Some((head, tail)) = line.split_once(':') else {
            bail!(
                "layer-rules line {}: expected `CRATE: ...`: {line}",
                number + 1
            );
        };
        let names: Vec<String> = tail.split_whitespace().map(str::to_owned).collect();
        let head: Vec<&str> = head.split_whitespace().collect();
        match head.as_slice() {
            ["only", name] => rules.only.insert((*name).to_owned(), names),
            ["never", name] => rules.never.insert((*name).to_owned(), names),
            [name] => rules.layers.insert((*name).to_owned(), names),
            _ => bail!("layer-rules line {}: cannot read `{line}`", number + 1),
        };
    }
    Ok(rules)
}

/// The workspace's crates and their direct normal dependencies, from
/// `cargo metadata` JSON.
pub(crate) fn direct_dependencies(metadata: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let deps = package["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            // Normal dependencies only: dev- and build-dependencies do not
            // ship in the crate.
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        out.insert(name, deps);
    }
    out
}

/// Checks direct dependencies against the layer and `only` rules. Every
/// workspace crate must have a layer rule, so a new crate is placed on the
/// map before it lands.
pub(crate) fn check_layers(rules: &Rules, workspace: &BTreeMap<String, Vec<String>>) -> Vec<Break> {
    let mut breaks = Vec::new();
    for (krate, deps) in workspace {
        let Some(allowed) = rules.layers.get(krate) else {
            breaks.push(Break {
                krate: krate.clone(),
                dependency: "(anything)".to_owned(),
                rule: format!("{krate} is on no layer: add `{krate}: ...` to the layer rules"),
            });
            continue;
        };
        for dep in deps {
            if workspace.contains_key(dep) && !allowed.contains(dep) {
                breaks.push(Break {
                    krate: krate.clone(),
                    dependency: dep.clone(),
                    rule: format!("{krate}: {}", allowed.join(" ")),
                });
            }
            if let Some(only) = rules.only.get(dep)
                && !only.contains(krate)
            {
                breaks.push(Break {
                    krate: krate.clone(),
                    dependency: dep.clone(),
                    rule: format!("only {dep}: {}", only.join(" ")),
                });
            }
        }
    }
    breaks
}

/// Checks what `krate` reaches (the package names `cargo tree` printed)
/// against its `never` rule.
pub(crate) fn check_never(rules: &Rules, krate: &str, reached: &[String]) -> Vec<Break> {
    let Some(never) = rules.never.get(krate) else {
        return Vec::new();
    };
    never
        .iter()
        .filter(|name| reached.iter().any(|r| r == *name))
        .map(|name| Break {
            krate: krate.to_owned(),
            dependency: name.clone(),
            rule: format!("never {krate}: {}", never.join(" ")),
        })
        .collect()
}

/// A function or file over its limit, or the largest seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) file: PathBuf,
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) lines: usize,
}

/// The functions in `source`, each with its first line and length. A
/// scanner, not a parser: it skips comments, strings, raw strings and
/// character literals, and matches braces.
pub(crate) fn functions(source: &str) -> Vec<(String, usize, usize)> {
    let code = blank_out(source);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        // The body starts at the first `{` from here; a `;` first means a
        // declaration without a body (a trait method).
        let mut depth = 0usize;
        let mut opened = false;
        'scan: for (offset, text) in lines[index..].iter().enumerate() {
            for c in text.chars() {
                match c {
                    ';' if !opened => break 'scan,
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' if opened => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            out.push((name.clone(), index + 1, offset + 1));
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// The name of the function a line declares, if it declares one.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "pub" | "pub(crate)" | "pub(super)" | "async" | "const" | "unsafe" | "extern"
            | "\"C\"" | "default" => {}
            "fn" => {
                let rest = words.next()?;
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then_some(name);
            }
            _ => return None,
        }
    }
    None
}

/// `source` with every comment, string and character literal replaced by
/// spaces (line breaks kept), so braces inside them do not count.
fn blank_out(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && is_raw_start(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            let end: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            i += 2 + hashes;
            out.push_str(&" ".repeat(2 + hashes));
            while i < chars.len() && !chars[i..].starts_with(&end.chars().collect::<Vec<_>>()) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str(&" ".repeat(end.len()));
            i += end.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the `r` at `i` starts a raw string (`r"`, `r#"`), not an
/// identifier ending in `r`.
fn is_raw_start(chars: &[char], i: usize) -> bool {
    let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    !after_ident && chars.get(i + 1 + hashes) == Some(&'"')
}

/// Whether the `'` at `i` opens a character literal rather than a lifetime.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// Lines of `source` before its first `#[cfg(test)]`.
pub(crate) fn lines_before_tests(source: &str) -> usize {
    source
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .count()
}

/// The `.rs` files under `dir`, skipping build output and test folders'
/// fixtures.
pub(crate) fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && name != "node_modules" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a path is test code (integration tests and their support).
fn is_test_code(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests")
}

/// What the size check found.
#[derive(Debug, Default)]
pub(crate) struct Sizes {
    pub(crate) long_files: Vec<Span>,
    pub(crate) long_functions: Vec<Span>,
    pub(crate) largest_files: Vec<Span>,
    pub(crate) largest_functions: Vec<Span>,
    pub(crate) undocumented: Vec<PathBuf>,
}

/// Measures every source file under `root/crates` (and documents-checks
/// `root/xtask` too).
pub(crate) fn measure(root: &Path) -> Result<Sizes> {
    let mut sizes = Sizes::default();
    let mut files = Vec::new();
    let mut functions_seen = Vec::new();
    let mut all = rust_files(&root.join("crates"))?;
    all.extend(rust_files(&root.join("xtask"))?);
    for path in all {
        let source = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if !source.trim_start().starts_with("//!") {
            sizes.undocumented.push(relative.clone());
        }
        if is_test_code(&path) || relative.starts_with("xtask") {
            continue;
        }
        // Templates for new plugin projects are the author's code, not ours.
        if relative.components().any(|c| c.as_os_str() == "templates") {
            continue;
        }
        let lines = lines_before_tests(&source);
        files.push(Span {
            file: relative.clone(),
            name: String::new(),
            line: 1,
            lines,
        });
        let tested_from = lines;
        for (name, line, length) in functions(&source) {
            if line > tested_from {
                continue;
            }
            functions_seen.push(Span {
                file: relative.clone(),
                name,
                line,
                lines: length,
            });
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.lines));
    functions_seen.sort_by_key(|f| std::cmp::Reverse(f.lines));
    sizes.long_files = files
        .iter()
        .filter(|f| f.lines > MAX_FILE_LINES)
        .cloned()
        .collect();
    sizes.long_functions = functions_seen
        .iter()
        .filter(|f| f.lines > MAX_FN_LINES)
        .cloned()
        .collect();
    sizes.largest_files = files.into_iter().take(5).collect();
    sizes.largest_functions = functions_seen.into_iter().take(5).collect();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "intro\n<!-- layer-rules -->\n```text\n# comment\nlord-manifest:\nlord-host: lord-manifest   # may\nonly wasmtime: lord-sandbox\nnever lord-host: axum postgres\n```\n";

    fn workspace(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn rules_are_read_from_the_fenced_block() {
        let rules = parse_rules(RULES).expect("rules");
        assert_eq!(rules.layers["lord-host"], ["lord-manifest"]);
        assert!(rules.layers["lord-manifest"].is_empty());
        assert_eq!(rules.only["wasmtime"], ["lord-sandbox"]);
        assert_eq!(rules.never["lord-host"], ["axum", "postgres"]);
    }

    #[test]
    fn a_planted_forbidden_dependency_is_named_with_its_rule() {
        let rules = parse_rules(RULES).expect("rules");
        let clean = workspace(&[
            ("lord-manifest", &["serde"]),
            ("lord-host", &["lord-manifest"]),
        ]);
        assert!(check_layers(&rules, &clean).is_empty());
        // The manifest crate reaching up to the host breaks its layer.
        let planted = workspace(&[
            ("lord-manifest", &["lord-host"]),
            ("lord-host", &["lord-manifest", "wasmtime"]),
        ]);
        let breaks = check_layers(&rules, &planted);
        assert_eq!(breaks.len(), 2, "{breaks:?}");
        assert_eq!(breaks[0].krate, "lord-host");
        assert_eq!(breaks[0].dependency, "wasmtime");
        assert!(breaks[0].rule.starts_with("only wasmtime"));
        assert_eq!(breaks[1].dependency, "lord-host");
        assert_eq!(
            breaks[1].to_string(),
            "`lord-manifest` depends on `lord-host`, which the rule `lord-manifest: ` forbids"
        );
        // A crate the map does not place is a break of its own.
        let unplaced = workspace(&[("lord-new", &[])]);
        assert_eq!(check_layers(&rules, &unplaced).len(), 1);
        let reached = vec!["tokio".to_owned(), "postgres".to_owned()];
        let never = check_never(&rules, "lord-host", &reached);
        assert_eq!(never.len(), 1);
        assert_eq!(never[0].dependency, "postgres");
    }

    #[test]
    fn functions_are_measured_across_strings_comments_and_lifetimes() {
        let source = r##"//! doc
fn short() {}

pub(crate) async fn long<'a>(x: &'a str) -> String {
    // a } in a comment
    let s = "a { in a string }";
    let c = '{';
    let r = r#"raw } "# ;
    format!("{s}{c}{r}{x}")
}

trait T {
    fn declared(&self);
}

#[cfg(test)]
mod tests {}
"##;
        let found = functions(source);
        assert_eq!(found[0], ("short".to_owned(), 2, 1));
        assert_eq!(found[1], ("long".to_owned(), 4, 7));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(lines_before_tests(source), 15);
    }
}
