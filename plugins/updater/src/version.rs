//! Semantic versions as template tags: `v1.2.0` or `1.2.0`, compared by
//! semver's rules (a pre-release sorts before its release), and how big a
//! step from one to another is.

use semver::Version;

/// A tag of the template repository that is a semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    /// The tag as git names it: `v1.2.0`.
    pub(crate) name: String,
    pub(crate) version: Version,
}

impl Tag {
    /// `None` when `name` is not a semantic version (with or without a
    /// leading `v`), so other tags are left out rather than misread.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let bare = name
            .strip_prefix('v')
            .or_else(|| name.strip_prefix('V'))
            .unwrap_or(name);
        Version::parse(bare).ok().map(|version| Self {
            name: name.to_owned(),
            version,
        })
    }
}

/// The size of the step from one version to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bump {
    Major,
    Minor,
    Patch,
    Prerelease,
    None,
    Downgrade,
}

impl Bump {
    pub(crate) fn between(from: &Version, to: &Version) -> Self {
        if to < from {
            Self::Downgrade
        } else if to.major != from.major {
            Self::Major
        } else if to.minor != from.minor {
            Self::Minor
        } else if to.patch != from.patch {
            Self::Patch
        } else if to.pre != from.pre {
            Self::Prerelease
        } else {
            Self::None
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::Prerelease => "prerelease",
            Self::None => "none",
            Self::Downgrade => "downgrade",
        }
    }
}

/// Whether semver itself calls the step breaking: a new major version, or
/// below 1.0.0 a new minor one (0.x promises nothing across minors).
pub(crate) fn breaking_by_version(from: &Version, to: &Version) -> bool {
    match Bump::between(from, to) {
        Bump::Major => true,
        Bump::Minor => to.major == 0,
        Bump::Patch | Bump::Prerelease | Bump::None | Bump::Downgrade => false,
    }
}

/// Parses a version given on the command line, naming what was wrong.
pub(crate) fn parse_arg(text: &str) -> Result<Tag, String> {
    Tag::parse(text)
        .ok_or_else(|| format!("`{text}` is not a semantic version (write it as 1.2.0 or v1.2.0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_and_without_v_parse_and_others_do_not() {
        assert_eq!(Tag::parse("v1.2.3").map(|t| t.version.minor), Some(2));
        assert_eq!(
            Tag::parse("1.2.3-rc.1").map(|t| t.version.pre.is_empty()),
            Some(false)
        );
        assert!(Tag::parse("release-1").is_none());
        assert!(Tag::parse("v1.2").is_none());
    }

    #[test]
    fn steps_are_sized_and_judged() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Bump::between(&v("1.0.0"), &v("2.0.0")), Bump::Major);
        assert_eq!(Bump::between(&v("1.0.0"), &v("1.1.0")), Bump::Minor);
        assert_eq!(Bump::between(&v("1.1.0"), &v("1.0.0")), Bump::Downgrade);
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(breaking_by_version(&v("1.4.0"), &v("2.0.0")));
        assert!(!breaking_by_version(&v("1.0.0"), &v("1.9.0")));
        assert!(breaking_by_version(&v("0.3.0"), &v("0.4.0")));
    }
}
