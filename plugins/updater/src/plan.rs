//! What an update does to each file the template changed, decided from
//! three versions of it: base (the `FROM` tag), theirs (`TO`) and ours
//! (the working copy). With `merge`, a file changed on one side takes
//! that side, one changed on both is merged line by line (diffy's
//! three-way merge) and overlapping changes become a conflict written with
//! git's markers; `overwrite` takes the template's version everywhere;
//! `selective` merges only the files chosen.

use lord_pdk::serde_json::{Value, json};

use crate::diff::Diff;
use crate::files;
use crate::template::{Template, Upstream};

/// How local changes meet the template's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    Overwrite,
    Merge,
    /// Merge these files only; leave the others as they are.
    Selective(Vec<String>),
}

impl Strategy {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::Merge => "merge",
            Self::Selective(_) => "selective",
        }
    }
}

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// New in the template, absent here: written.
    Add,
    /// Replaced by the template's version (untouched here, or overwrite).
    Update,
    /// Changed on both sides, merged without overlap.
    Merge,
    /// Changed on both sides where they overlap: written with markers, or
    /// (for a file that is not text, or removed on one side) left alone.
    Conflict,
    /// Removed from the template and untouched here: removed.
    Delete,
    /// Already the template's version, or already gone: nothing to do.
    Unchanged,
    /// Not chosen for a selective update: left alone.
    Skip,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Update => "update",
            Self::Merge => "merge",
            Self::Conflict => "conflict",
            Self::Delete => "delete",
            Self::Unchanged => "unchanged",
            Self::Skip => "skip",
        }
    }
}

/// What the update writes to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    Nothing,
    Bytes(Vec<u8>),
    Remove,
}

/// One file's step.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) path: String,
    pub(crate) upstream: Upstream,
    pub(crate) action: Action,
    /// Why, for a conflict or an overwrite of local changes.
    pub(crate) note: Option<String>,
    pub(crate) write: Write,
}

/// The plan: the diff, and a step per changed file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) diff: Diff,
    pub(crate) strategy: Strategy,
    pub(crate) steps: Vec<Step>,
}

impl Plan {
    pub(crate) fn make(
        template: &Template,
        diff: Diff,
        strategy: Strategy,
    ) -> Result<Self, String> {
        if let Strategy::Selective(chosen) = &strategy
            && let Some(stray) = chosen
                .iter()
                .find(|c| !diff.files.iter().any(|f| &f.path == *c))
        {
            return Err(format!(
                "`{stray}` is not a file the template changed between {} and {}",
                diff.from.name, diff.to.name
            ));
        }
        let mut steps = Vec::new();
        for change in &diff.files {
            // The record and the backup are the updater's own files.
            if change.path == crate::record::FILE
                || change
                    .path
                    .starts_with(&format!("{}/", crate::apply::BACKUP))
            {
                continue;
            }
            let chosen = match &strategy {
                Strategy::Selective(chosen) => chosen.contains(&change.path),
                Strategy::Overwrite | Strategy::Merge => true,
            };
            let base = match change.upstream {
                Upstream::Added => None,
                Upstream::Modified | Upstream::Deleted => {
                    Some(template.file(&diff.from, &change.path)?)
                }
            };
            let theirs = match change.upstream {
                Upstream::Deleted => None,
                Upstream::Added | Upstream::Modified => {
                    Some(template.file(&diff.to, &change.path)?)
                }
            };
            let ours = files::read(&change.path)?;
            let (action, note, write) = if chosen {
                decide(&strategy, base.as_deref(), theirs, ours.as_deref())
            } else {
                (Action::Skip, None, Write::Nothing)
            };
            steps.push(Step {
                path: change.path.clone(),
                upstream: change.upstream,
                action,
                note,
                write,
            });
        }
        Ok(Self {
            diff,
            strategy,
            steps,
        })
    }

    pub(crate) fn conflicts(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.action == Action::Conflict)
            .collect()
    }

    pub(crate) fn json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "path": s.path,
                    "upstream": s.upstream.as_str(),
                    "action": s.action.as_str(),
                    "note": s.note,
                })
            })
            .collect();
        json!({
            "from": self.diff.from.name,
            "to": self.diff.to.name,
            "strategy": self.strategy.name(),
            "diff": self.diff.json(),
            "files": steps,
            "conflicts": self.conflicts().iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn text(&self) -> String {
        let mut out = self.diff.text();
        out.push_str(&format!("plan ({}):\n", self.strategy.name()));
        for s in &self.steps {
            out.push_str(&format!("  {:<9} {}", s.action.as_str(), s.path));
            if let Some(note) = &s.note {
                out.push_str(&format!("  ({note})"));
            }
            out.push('\n');
        }
        let conflicts = self.conflicts();
        if conflicts.is_empty() {
            out.push_str("no conflicts\n");
        } else {
            out.push_str(&format!("conflicts ({}):\n", conflicts.len()));
            for c in conflicts {
                out.push_str(&format!("  {}\n", c.path));
            }
        }
        out
    }
}

/// One file's action from its three versions (`None`: absent there).
fn decide(
    strategy: &Strategy,
    base: Option<&[u8]>,
    theirs: Option<Vec<u8>>,
    ours: Option<&[u8]>,
) -> (Action, Option<String>, Write) {
    let nothing = |action| (action, None, Write::Nothing);
    if ours == theirs.as_deref() {
        return nothing(Action::Unchanged);
    }
    let touched = ours != base;
    match (theirs, ours) {
        (None, None) => nothing(Action::Unchanged),
        (Some(theirs), None) if base.is_none() => (Action::Add, None, Write::Bytes(theirs)),
        (None, Some(_)) if !touched => (Action::Delete, None, Write::Remove),
        (Some(theirs), _) if !touched => (Action::Update, None, Write::Bytes(theirs)),
        // Changed here too: overwrite takes the template's side anyway.
        (Some(theirs), _) if *strategy == Strategy::Overwrite => (
            Action::Update,
            Some("local changes replaced".to_owned()),
            Write::Bytes(theirs),
        ),
        (None, Some(_)) if *strategy == Strategy::Overwrite => (
            Action::Delete,
            Some("local changes removed".to_owned()),
            Write::Remove,
        ),
        (None, Some(_)) => (
            Action::Conflict,
            Some("changed here, removed from the template; kept".to_owned()),
            Write::Nothing,
        ),
        (Some(_), None) => (
            Action::Conflict,
            Some("removed here, changed in the template; left removed".to_owned()),
            Write::Nothing,
        ),
        (Some(theirs), Some(ours)) => merge(base.unwrap_or_default(), ours, &theirs),
    }
}

/// The three-way merge of text; a file that is not text cannot be merged.
fn merge(base: &[u8], ours: &[u8], theirs: &[u8]) -> (Action, Option<String>, Write) {
    let texts = (
        std::str::from_utf8(base),
        std::str::from_utf8(ours),
        std::str::from_utf8(theirs),
    );
    let (Ok(base), Ok(ours), Ok(theirs)) = texts else {
        return (
            Action::Conflict,
            Some("not text, changed on both sides; kept".to_owned()),
            Write::Nothing,
        );
    };
    let mut options = diffy::MergeOptions::new();
    // Markers always start a line, as `git merge-file` writes them.
    options.set_incomplete_hunk_style(diffy::IncompleteHunkStyle::Git);
    match options.merge(base, ours, theirs) {
        Ok(merged) => (Action::Merge, None, Write::Bytes(merged.into_bytes())),
        Err(marked) => (
            Action::Conflict,
            Some("overlapping changes, written with conflict markers".to_owned()),
            Write::Bytes(marked.into_bytes()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(base: Option<&str>, theirs: Option<&str>, ours: Option<&str>) -> (Action, Write) {
        let (action, _, write) = decide(
            &Strategy::Merge,
            base.map(str::as_bytes),
            theirs.map(|t| t.as_bytes().to_vec()),
            ours.map(str::as_bytes),
        );
        (action, write)
    }

    #[test]
    fn each_side_alone_and_both_sides() {
        assert_eq!(run(None, Some("new\n"), None).0, Action::Add);
        assert_eq!(run(Some("a\n"), Some("b\n"), Some("a\n")).0, Action::Update);
        assert_eq!(
            run(Some("a\n"), Some("b\n"), Some("b\n")).0,
            Action::Unchanged
        );
        assert_eq!(run(Some("a\n"), None, Some("a\n")).0, Action::Delete);
        assert_eq!(run(Some("a\n"), None, Some("mine\n")).0, Action::Conflict);
        let (action, write) = run(
            Some("one\ntwo\nthree\n"),
            Some("one\ntwo\nthree\nfour\n"),
            Some("zero\none\ntwo\nthree\n"),
        );
        assert_eq!(action, Action::Merge);
        assert_eq!(
            write,
            Write::Bytes(b"zero\none\ntwo\nthree\nfour\n".to_vec())
        );
        let (action, write) = run(Some("x = 1\n"), Some("x = 2\n"), Some("x = 3\n"));
        assert_eq!(action, Action::Conflict);
        let Write::Bytes(marked) = write else {
            panic!("a text conflict is written");
        };
        let marked = String::from_utf8_lossy(&marked);
        assert!(marked.starts_with("<<<<<<< ours\nx = 3\n"), "{marked}");
        assert!(
            marked.contains("=======\nx = 2\n>>>>>>> theirs\n"),
            "{marked}"
        );
    }

    #[test]
    fn overwrite_takes_the_template_side() {
        let (action, note, write) = decide(
            &Strategy::Overwrite,
            Some(b"x = 1\n"),
            Some(b"x = 2\n".to_vec()),
            Some(b"x = 3\n"),
        );
        assert_eq!(action, Action::Update);
        assert!(note.is_some());
        assert_eq!(write, Write::Bytes(b"x = 2\n".to_vec()));
    }
}
