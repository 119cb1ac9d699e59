//! Filesystem scopes for the `fs-read` and `fs-write` permissions.
//!
//! A plugin never names a host path: it names one of three roots that the
//! host maps to real directories, plus a relative sub-path below it. That
//! keeps manifests portable and makes escaping the root impossible to write.

use std::fmt;

/// One of the directories a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FsRoot {
    /// The project the user is working in (`$PROJECT`).
    Project,
    /// The plugin's own persistent data directory (`$PLUGIN_DATA`).
    PluginData,
    /// A scratch directory that is emptied after each run (`$TMP`).
    Tmp,
}

impl FsRoot {
    /// Every root, in manifest order.
    pub const ALL: [FsRoot; 3] = [Self::Project, Self::PluginData, Self::Tmp];

    /// The manifest spelling: `$PROJECT`, `$PLUGIN_DATA` or `$TMP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "$PROJECT",
            Self::PluginData => "$PLUGIN_DATA",
            Self::Tmp => "$TMP",
        }
    }

    /// Where the root is mounted inside the sandbox, as the guest sees it.
    pub fn guest_dir(self) -> &'static str {
        match self {
            Self::Project => "/project",
            Self::PluginData => "/data",
            Self::Tmp => "/tmp",
        }
    }

    fn from_token(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|root| root.as_str() == token)
    }
}

impl fmt::Display for FsRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A root plus a relative sub-path, e.g. `$PROJECT/src/generated`.
///
/// Sub-path segments are never empty, `.` or `..` and contain no `/` or `\`
/// when parsed; the sandbox relies on that to join them safely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FsPath {
    pub root: FsRoot,
    pub sub: Vec<String>,
}

impl FsPath {
    /// The whole of `root`.
    pub fn root(root: FsRoot) -> Self {
        Self {
            root,
            sub: Vec::new(),
        }
    }

    /// The path as the guest sees it, e.g. `/project/src/generated`.
    pub fn guest_path(&self) -> String {
        let mut path = self.root.guest_dir().to_owned();
        for segment in &self.sub {
            path.push('/');
            path.push_str(segment);
        }
        path
    }

    /// Whether `other` lies at or below this path (same root, and this
    /// sub-path is a prefix of the other's), e.g. to tell that a grant on
    /// `$PROJECT` already covers `$PROJECT/src`.
    pub fn contains(&self, other: &FsPath) -> bool {
        self.root == other.root && other.sub.starts_with(&self.sub)
    }

    /// Parses `ROOT` or `ROOT/sub/path`; the error is the problem only, the
    /// caller adds which permission it was for.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        const USE_ROOTS: &str = "use one of the roots $PROJECT, $PLUGIN_DATA or $TMP";
        if text.contains('\\') {
            return Err(format!(
                "backslashes are not allowed; separate segments with `/` and {USE_ROOTS}"
            ));
        }
        if text.starts_with('/') || text.starts_with('~') || text.get(1..2) == Some(":") {
            return Err(format!("absolute paths are not allowed; {USE_ROOTS}"));
        }
        let (token, rest) = match text.split_once('/') {
            Some((token, rest)) => (token, Some(rest)),
            None => (text, None),
        };
        let root = FsRoot::from_token(token)
            .ok_or_else(|| format!("`{token}` is not a known root; {USE_ROOTS}"))?;
        let mut sub = Vec::new();
        for segment in rest.into_iter().flat_map(|rest| rest.split('/')) {
            match segment {
                "" => {
                    return Err(
                        "empty path segments (`//` or a trailing `/`) are not allowed".to_owned(),
                    );
                }
                "." => return Err("`.` segments are not allowed".to_owned()),
                ".." => {
                    return Err(
                        "`..` segments are not allowed; the path must stay inside its root"
                            .to_owned(),
                    );
                }
                segment => {
                    // Control characters in file names are a classic way to
                    // spoof what a prompt shows the user.
                    if segment.chars().any(char::is_control) {
                        return Err("control characters are not allowed in paths".to_owned());
                    }
                    sub.push(segment.to_owned());
                }
            }
        }
        Ok(Self { root, sub })
    }
}

impl fmt::Display for FsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.root.as_str())?;
        for segment in &self.sub {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, &str>) {
        let got = FsPath::parse(input).map(|p| p.to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned).map_err(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn parse_and_display() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("$PROJECT", Ok("$PROJECT")),
            ("$PLUGIN_DATA/cache", Ok("$PLUGIN_DATA/cache")),
            ("$TMP/a/b c/d.txt", Ok("$TMP/a/b c/d.txt")),
            (
                "$PROJECT/",
                Err("empty path segments (`//` or a trailing `/`) are not allowed"),
            ),
            (
                "$PROJECT/a//b",
                Err("empty path segments (`//` or a trailing `/`) are not allowed"),
            ),
            ("$PROJECT/./b", Err("`.` segments are not allowed")),
            (
                "$PROJECT/../etc",
                Err("`..` segments are not allowed; the path must stay inside its root"),
            ),
            (
                "/etc",
                Err(
                    "absolute paths are not allowed; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "~/x",
                Err(
                    "absolute paths are not allowed; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "C:/x",
                Err(
                    "absolute paths are not allowed; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "$PROJECT\\a",
                Err(
                    "backslashes are not allowed; separate segments with `/` and use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "$HOME/x",
                Err(
                    "`$HOME` is not a known root; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "src",
                Err(
                    "`src` is not a known root; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP",
                ),
            ),
            (
                "$TMP/a\u{1b}b",
                Err("control characters are not allowed in paths"),
            ),
        ];
        for (input, expected) in cases {
            check(input, *expected);
        }
    }

    #[test]
    fn guest_paths_and_containment() {
        let cases = [
            ("$PROJECT", "/project"),
            ("$PLUGIN_DATA/db", "/data/db"),
            ("$TMP/x/y", "/tmp/x/y"),
        ];
        for (input, guest) in cases {
            assert_eq!(FsPath::parse(input).unwrap().guest_path(), guest);
        }
        let project = FsPath::root(FsRoot::Project);
        let src = FsPath::parse("$PROJECT/src").unwrap();
        assert!(project.contains(&src));
        assert!(src.contains(&src));
        assert!(!src.contains(&project));
        assert!(!FsPath::root(FsRoot::Tmp).contains(&src));
    }
}
