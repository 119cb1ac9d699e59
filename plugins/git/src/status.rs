//! `git status --porcelain=v2 --branch` read into branch, upstream,
//! ahead/behind and the staged, unstaged and untracked paths.

use lord_pdk::serde_json::{Value, json};

/// A repository's state.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) branch: Option<String>,
    pub(crate) commit: Option<String>,
    pub(crate) upstream: Option<String>,
    pub(crate) ahead: u64,
    pub(crate) behind: u64,
    pub(crate) staged: Vec<Change>,
    pub(crate) unstaged: Vec<Change>,
    pub(crate) untracked: Vec<String>,
    pub(crate) conflicted: Vec<String>,
}

/// One changed path and how (`M`, `A`, `D`, `R`, ...).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) path: String,
    pub(crate) kind: char,
}

impl Status {
    pub(crate) fn parse(porcelain: &str) -> Self {
        let mut status = Self::default();
        for line in porcelain.lines() {
            if let Some(header) = line.strip_prefix("# ") {
                status.header(header);
            } else if let Some(rest) = line.strip_prefix("1 ") {
                status.changed(rest, 7);
            } else if let Some(rest) = line.strip_prefix("2 ") {
                status.changed(rest, 8);
            } else if let Some(rest) = line.strip_prefix("u ") {
                status.conflicted.push(path_after(rest, 9));
            } else if let Some(path) = line.strip_prefix("? ") {
                status.untracked.push(path.to_owned());
            }
        }
        status
    }

    fn header(&mut self, header: &str) {
        let (key, value) = header.split_once(' ').unwrap_or((header, ""));
        match key {
            "branch.oid" if value != "(initial)" => self.commit = Some(value.to_owned()),
            "branch.head" if value != "(detached)" => self.branch = Some(value.to_owned()),
            "branch.upstream" => self.upstream = Some(value.to_owned()),
            "branch.ab" => {
                for part in value.split(' ') {
                    if let Some(n) = part.strip_prefix('+') {
                        self.ahead = n.parse().unwrap_or(0);
                    } else if let Some(n) = part.strip_prefix('-') {
                        self.behind = n.parse().unwrap_or(0);
                    }
                }
            }
            _ => {}
        }
    }

    /// `XY sub mH mI mW hH hI [score] path[\tpath]`: X is the index (staged),
    /// Y the work tree (unstaged); `fields` counts what precedes the path.
    fn changed(&mut self, rest: &str, fields: usize) {
        let mut xy = rest.chars();
        let staged = xy.next().unwrap_or('.');
        let unstaged = xy.next().unwrap_or('.');
        let path = path_after(rest, fields);
        let path = path.split('\t').next().unwrap_or(&path).to_owned();
        if staged != '.' {
            self.staged.push(Change {
                path: path.clone(),
                kind: staged,
            });
        }
        if unstaged != '.' {
            self.unstaged.push(Change {
                path,
                kind: unstaged,
            });
        }
    }

    pub(crate) fn clean(&self) -> bool {
        self.staged.is_empty()
            && self.unstaged.is_empty()
            && self.untracked.is_empty()
            && self.conflicted.is_empty()
    }

    pub(crate) fn json(&self) -> Value {
        let changes = |list: &[Change]| -> Value {
            list.iter()
                .map(|c| json!({"path": c.path, "change": c.kind.to_string()}))
                .collect()
        };
        json!({
            "branch": self.branch,
            "commit": self.commit,
            "upstream": self.upstream,
            "ahead": self.ahead,
            "behind": self.behind,
            "staged": changes(&self.staged),
            "unstaged": changes(&self.unstaged),
            "untracked": self.untracked,
            "conflicted": self.conflicted,
            "clean": self.clean(),
        })
    }

    pub(crate) fn text(&self) -> String {
        let mut out = format!("on {}", self.branch.as_deref().unwrap_or("a detached HEAD"));
        if let Some(upstream) = &self.upstream {
            out.push_str(&format!(
                " (tracking {upstream}: {} ahead, {} behind)",
                self.ahead, self.behind
            ));
        }
        out.push('\n');
        let mut list = |title: &str, paths: Vec<String>| {
            if !paths.is_empty() {
                out.push_str(&format!("{title}:\n"));
                for path in paths {
                    out.push_str(&format!("  {path}\n"));
                }
            }
        };
        let show = |l: &[Change]| l.iter().map(|c| format!("{} {}", c.kind, c.path)).collect();
        list("staged", show(&self.staged));
        list("unstaged", show(&self.unstaged));
        list("untracked", self.untracked.clone());
        list("conflicted", self.conflicted.clone());
        if self.clean() {
            out.push_str("clean\n");
        }
        out
    }
}

/// The text after the first `fields` space-separated fields.
fn path_after(rest: &str, fields: usize) -> String {
    rest.splitn(fields + 1, ' ')
        .nth(fields)
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_branch_counts_and_each_kind_of_change() {
        let porcelain = "# branch.oid abc\n# branch.head main\n# branch.upstream origin/main\n\
# branch.ab +2 -1\n1 M. N... 100644 100644 100644 h1 h2 staged.txt\n\
1 .M N... 100644 100644 100644 h1 h2 edited file.txt\n2 R. N... 100644 100644 100644 h1 h2 R100 new.txt\told.txt\n\
? new dir/x.txt\n";
        let s = Status::parse(porcelain);
        assert_eq!(s.branch.as_deref(), Some("main"));
        assert_eq!((s.ahead, s.behind), (2, 1));
        assert_eq!(s.staged.len(), 2);
        assert_eq!(s.staged[1].path, "new.txt");
        assert_eq!(s.unstaged[0].path, "edited file.txt");
        assert_eq!(s.untracked, vec!["new dir/x.txt"]);
        assert!(!s.clean());
    }
}
