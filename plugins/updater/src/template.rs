//! The template repository, read through the user's git (`exec(git)`):
//! cloned bare into the plugin's scratch folder for the length of one
//! command (a path inside the project or a URL the plugin holds a `net`
//! grant for), then its tags, the commits and changed files between two
//! tags, and a file's bytes at a tag.

use lord_pdk::exec::Command as Exec;

use crate::version::Tag;

/// The plugin's scratch folder (`fs-write($TMP)`), as the sandbox shows it.
const SCRATCH: &str = "/tmp";

/// A bare clone of the template, removed when dropped.
pub(crate) struct Template {
    /// Its folder as the plugin names it.
    dir: String,
}

/// One commit between two tags.
#[derive(Debug, Clone)]
pub(crate) struct RawCommit {
    pub(crate) id: String,
    /// The whole message: subject, body and footers.
    pub(crate) message: String,
}

/// How a file changed between two tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    Added,
    Modified,
    Deleted,
}

impl Upstream {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Deleted => "deleted",
        }
    }
}

/// A file the template changed between two tags.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) path: String,
    pub(crate) upstream: Upstream,
}

/// Runs git in `cwd`; its standard output, or an error naming the git
/// command and what git said.
fn git(cwd: Option<&str>, args: &[&str]) -> Result<Vec<u8>, String> {
    let shown = format!("git {}", args.join(" "));
    let mut exec = Exec::new("git").args(args.iter().copied());
    if let Some(cwd) = cwd {
        exec = exec.cwd(cwd);
    }
    let out = exec
        .run()
        .map_err(|e| format!("`{shown}` could not run: {e}"))?;
    if !out.success() {
        let code = out
            .status
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
        return Err(format!(
            "`{shown}` failed ({code}): {}",
            out.stderr_text().trim()
        ));
    }
    Ok(out.stdout)
}

impl Template {
    /// Clones `repository` (relative paths are the project's).
    pub(crate) fn open(repository: &str) -> Result<Self, String> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = format!("{SCRATCH}/template-{stamp}");
        git(
            None,
            &["clone", "--quiet", "--bare", "--", repository, &dir],
        )
        .map_err(|e| {
            format!(
                "the template repository `{repository}` could not be read: {e} (a template \
                 on disk must be inside the project folder; a URL needs a `net` grant for its \
                 host)"
            )
        })?;
        Ok(Self { dir })
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        git(Some(&self.dir), args)
    }

    /// Its tags that are semantic versions, oldest first.
    pub(crate) fn tags(&self) -> Result<Vec<Tag>, String> {
        let out = self.git(&["for-each-ref", "--format=%(refname:short)", "refs/tags"])?;
        let mut tags: Vec<Tag> = String::from_utf8_lossy(&out)
            .lines()
            .filter_map(Tag::parse)
            .collect();
        tags.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(tags)
    }

    /// The tag named `name`, which must exist.
    pub(crate) fn tag(&self, name: &str) -> Result<Tag, String> {
        let wanted = crate::version::parse_arg(name)?;
        let tags = self.tags()?;
        tags.iter()
            .find(|t| t.name == name)
            .or_else(|| tags.iter().find(|t| t.version == wanted.version))
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
                format!(
                    "the template has no tag `{name}` (its versions: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            })
    }

    /// The commits reachable from `to` but not from `from`, oldest first.
    pub(crate) fn commits(&self, from: &Tag, to: &Tag) -> Result<Vec<RawCommit>, String> {
        let range = format!("{}..{}", from.name, to.name);
        let out = self.git(&["log", "--reverse", "--format=%H%x1f%B%x1e", &range])?;
        Ok(String::from_utf8_lossy(&out)
            .split('\u{1e}')
            .filter_map(|entry| {
                let (id, message) = entry.trim_start().split_once('\u{1f}')?;
                Some(RawCommit {
                    id: id.to_owned(),
                    message: message.trim().to_owned(),
                })
            })
            .collect())
    }

    /// The files that differ between the two tags, by path.
    pub(crate) fn changes(&self, from: &Tag, to: &Tag) -> Result<Vec<Change>, String> {
        let out = self.git(&[
            "diff",
            "--name-status",
            "--no-renames",
            "--no-ext-diff",
            "-z",
            &from.name,
            &to.name,
        ])?;
        let text = String::from_utf8_lossy(&out);
        let mut fields = text.split('\0').filter(|f| !f.is_empty());
        let mut changes = Vec::new();
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let upstream = match status.chars().next() {
                Some('A') => Upstream::Added,
                Some('D') => Upstream::Deleted,
                // Modified, or its type changed (a file became a link):
                // either way its content is new.
                Some(_) | None => Upstream::Modified,
            };
            changes.push(Change {
                path: path.to_owned(),
                upstream,
            });
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(changes)
    }

    /// The file's bytes at `tag`.
    pub(crate) fn file(&self, tag: &Tag, path: &str) -> Result<Vec<u8>, String> {
        self.git(&["cat-file", "blob", &format!("{}:{path}", tag.name)])
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        // The scratch folder is the plugin's own; a clone left behind
        // would only cost space until the next one.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
