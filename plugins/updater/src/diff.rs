//! The difference between two tags of the template: its commits (read as
//! Conventional Commits where they are), the files added, changed and
//! removed, and a verdict on whether the step breaks things, from the
//! commits (`feat!:`, a `BREAKING CHANGE:` footer) and the major version.

use lord_pdk::serde_json::{Value, json};

use crate::template::{Change, RawCommit, Template};
use crate::version::{self, Bump, Tag};

/// One commit as the diff shows it.
#[derive(Debug, Clone)]
pub(crate) struct Commit {
    pub(crate) id: String,
    pub(crate) subject: String,
    /// The Conventional Commits type (`feat`, `fix`), when it is one.
    pub(crate) kind: Option<String>,
    pub(crate) breaking: bool,
    /// What the commit says breaks (its `BREAKING CHANGE:` text, or its
    /// description for `type!:`).
    pub(crate) breaks: Option<String>,
}

impl Commit {
    pub(crate) fn read(raw: &RawCommit) -> Self {
        let subject = raw.message.lines().next().unwrap_or("").to_owned();
        match git_conventional::Commit::parse(&raw.message) {
            Ok(parsed) => Self {
                id: raw.id.clone(),
                subject,
                kind: Some(parsed.type_().as_str().to_ascii_lowercase()),
                breaking: parsed.breaking(),
                breaks: parsed
                    .breaking()
                    .then(|| parsed.breaking_description().unwrap_or("").to_owned()),
            },
            // Not a Conventional Commit: nothing is known of its kind.
            Err(_) => Self {
                id: raw.id.clone(),
                subject,
                kind: None,
                breaking: false,
                breaks: None,
            },
        }
    }

    fn json(&self) -> Value {
        json!({
            "commit": self.id,
            "subject": self.subject,
            "type": self.kind,
            "breaking": self.breaking,
            "breaks": self.breaks,
        })
    }
}

/// The diff between two tags.
#[derive(Debug, Clone)]
pub(crate) struct Diff {
    pub(crate) from: Tag,
    pub(crate) to: Tag,
    pub(crate) commits: Vec<Commit>,
    pub(crate) files: Vec<Change>,
    pub(crate) breaking: bool,
    /// Why the verdict is what it is, one line each.
    pub(crate) reasons: Vec<String>,
}

impl Diff {
    pub(crate) fn read(template: &Template, from: Tag, to: Tag) -> Result<Self, String> {
        let commits: Vec<Commit> = template
            .commits(&from, &to)?
            .iter()
            .map(Commit::read)
            .collect();
        let files = template.changes(&from, &to)?;
        let (breaking, reasons) = verdict(&from, &to, &commits);
        Ok(Self {
            from,
            to,
            commits,
            files,
            breaking,
            reasons,
        })
    }

    pub(crate) fn json(&self) -> Value {
        let of = |kind: crate::template::Upstream| -> Vec<&str> {
            self.files
                .iter()
                .filter(|c| c.upstream == kind)
                .map(|c| c.path.as_str())
                .collect()
        };
        json!({
            "from": self.from.name,
            "to": self.to.name,
            "bump": Bump::between(&self.from.version, &self.to.version).as_str(),
            "breaking": self.breaking,
            "reasons": self.reasons,
            "commits": self.commits.iter().map(Commit::json).collect::<Vec<_>>(),
            "files": {
                "added": of(crate::template::Upstream::Added),
                "modified": of(crate::template::Upstream::Modified),
                "deleted": of(crate::template::Upstream::Deleted),
            },
        })
    }

    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "{} → {} ({} step): {}\n",
            self.from.name,
            self.to.name,
            Bump::between(&self.from.version, &self.to.version).as_str(),
            if self.breaking {
                "BREAKING"
            } else {
                "not breaking"
            }
        );
        for reason in &self.reasons {
            out.push_str(&format!("  - {reason}\n"));
        }
        out.push_str(&format!("commits ({}):\n", self.commits.len()));
        for c in &self.commits {
            let mark = if c.breaking { "!" } else { " " };
            out.push_str(&format!(
                " {mark} {} {}\n",
                c.id.get(..12).unwrap_or(&c.id),
                c.subject
            ));
        }
        out.push_str(&format!("files ({}):\n", self.files.len()));
        for f in &self.files {
            out.push_str(&format!("  {:<8} {}\n", f.upstream.as_str(), f.path));
        }
        out
    }
}

/// Breaking when a commit says so or semver says the step is; each reason
/// named.
fn verdict(from: &Tag, to: &Tag, commits: &[Commit]) -> (bool, Vec<String>) {
    let mut reasons = Vec::new();
    if version::breaking_by_version(&from.version, &to.version) {
        reasons.push(format!(
            "the major version changes ({} → {})",
            from.version, to.version
        ));
    }
    for c in commits.iter().filter(|c| c.breaking) {
        let what = c
            .breaks
            .as_deref()
            .filter(|b| !b.is_empty())
            .unwrap_or(&c.subject);
        reasons.push(format!(
            "commit {} is marked breaking: {what}",
            c.id.get(..12).unwrap_or(&c.id)
        ));
    }
    (!reasons.is_empty(), reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(message: &str) -> Commit {
        Commit::read(&RawCommit {
            id: "0123456789abcdef".to_owned(),
            message: message.to_owned(),
        })
    }

    #[test]
    fn conventional_commits_say_what_breaks() {
        let bang = commit("feat!: drop the old config file");
        assert!(bang.breaking);
        assert_eq!(bang.kind.as_deref(), Some("feat"));
        let footer = commit("refactor(api): rename\n\nBREAKING CHANGE: `run` is now `start`");
        assert!(footer.breaking);
        assert_eq!(footer.breaks.as_deref(), Some("`run` is now `start`"));
        let plain = commit("fix: typo");
        assert!(!plain.breaking);
        let other = commit("Tidy things up");
        assert_eq!((other.kind, other.breaking), (None, false));
    }

    #[test]
    fn the_verdict_weighs_commits_and_the_major_version() {
        let tag = |s: &str| Tag::parse(s).unwrap_or_else(|| panic!("{s}"));
        let (breaking, reasons) = verdict(&tag("v1.0.0"), &tag("v1.1.0"), &[commit("feat: x")]);
        assert!(!breaking && reasons.is_empty());
        let (breaking, reasons) = verdict(&tag("v1.1.0"), &tag("v2.0.0"), &[commit("feat: x")]);
        assert!(breaking, "{reasons:?}");
        let (breaking, _) = verdict(&tag("v1.0.0"), &tag("v1.1.0"), &[commit("feat!: x")]);
        assert!(breaking);
    }
}
