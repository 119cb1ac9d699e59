//! Translation of Cargo-style `semver::VersionReq`s into PubGrub ranges over
//! release versions, and the reverse: describing a range the way a person
//! would write the requirement (`^1`, `~1.2`, `=1.0.0`).
//!
//! Pre-release candidates are never chosen by this crate, so a range only
//! has to be exact for release versions. That lets every comparator become
//! one half-open interval `[low, high)` whose bounds are plain release
//! versions, which keeps ranges small, comparable and easy to print back.

use std::ops::Bound;

use pubgrub::Ranges;
use semver::{Comparator, Op, Version, VersionReq};

/// The release versions a requirement accepts, as a PubGrub range.
///
/// Comparators of one requirement are intersected, as Cargo does. An empty
/// requirement (`*`) is the full range. Versions carrying build metadata
/// fall inside the range of their release (`1.2.3+abc` matches `=1.2.3`),
/// like `VersionReq::matches`, because every bound is a release version
/// without metadata.
///
/// Returns `None` when the requirement uses an operator newer than this
/// crate knows (`semver::Op` is non-exhaustive), so the caller can say so
/// instead of silently matching nothing.
pub fn range_of(req: &VersionReq) -> Option<Ranges<Version>> {
    req.comparators
        .iter()
        .try_fold(Ranges::full(), |acc, comparator| {
            Some(acc.intersection(&comparator_range(comparator)?))
        })
}

/// One comparator as a half-open interval over release versions.
fn comparator_range(c: &Comparator) -> Option<Ranges<Version>> {
    // A pre-release in a comparator only changes which *pre-release*
    // versions match; for releases `>=1.2.3-beta` is `>=1.2.3`, `<1.2.3-beta`
    // is `<1.2.3`, and `=1.2.3-beta` matches none.
    let has_pre = !c.pre.is_empty();
    let low = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
    // The first release past everything the stated components cover:
    // `1` → 2.0.0, `1.2` → 1.3.0, `1.2.3` → 1.2.4.
    let past_stated = match (c.minor, c.patch) {
        (None, _) => bump_major(c.major),
        (Some(minor), None) => bump_minor(c.major, minor),
        (Some(minor), Some(patch)) => bump_patch(c.major, minor, patch),
    };
    let range = match c.op {
        Op::Exact if has_pre => Ranges::empty(),
        Op::Exact | Op::Wildcard => half_open(Bound::Included(low), past_stated),
        Op::Greater if has_pre => half_open(Bound::Included(low), None),
        Op::Greater => match past_stated {
            Some(first) => half_open(Bound::Included(first), None),
            // Nothing is greater than the largest representable version.
            None => Ranges::empty(),
        },
        Op::GreaterEq => half_open(Bound::Included(low), None),
        Op::Less => half_open(Bound::Unbounded, Some(low)),
        Op::LessEq if has_pre => half_open(Bound::Unbounded, Some(low)),
        Op::LessEq => half_open(Bound::Unbounded, past_stated),
        Op::Tilde => {
            let high = match c.minor {
                Some(minor) => bump_minor(c.major, minor),
                None => bump_major(c.major),
            };
            half_open(Bound::Included(low), high)
        }
        Op::Caret => {
            // Everything right of the first non-zero stated component may grow.
            let high = match (c.minor, c.patch) {
                (None, _) => bump_major(c.major),
                (Some(minor), None) if c.major == 0 => bump_minor(0, minor),
                (Some(_), None) => bump_major(c.major),
                (Some(minor), Some(_)) if c.major > 0 || minor > 0 => caret_upper(&low),
                (Some(_), Some(patch)) => bump_patch(0, 0, patch),
            };
            half_open(Bound::Included(low), high)
        }
        // `semver::Op` is #[non_exhaustive], so the compiler demands this arm.
        // An operator added by a later semver release has rules we cannot
        // know; refusing it is safer than guessing a range.
        _ => return None,
    };
    Some(range)
}

/// `[low, high)`, or `[low, ∞)` when `high` is `None` (an upper bound that
/// overflowed `u64` excludes nothing representable).
fn half_open(low: Bound<Version>, high: Option<Version>) -> Ranges<Version> {
    let high = match high {
        Some(version) => Bound::Excluded(version),
        None => Bound::Unbounded,
    };
    Ranges::from_range_bounds((low, high))
}

fn bump_major(major: u64) -> Option<Version> {
    Some(Version::new(major.checked_add(1)?, 0, 0))
}

fn bump_minor(major: u64, minor: u64) -> Option<Version> {
    Some(Version::new(major, minor.checked_add(1)?, 0))
}

fn bump_patch(major: u64, minor: u64, patch: u64) -> Option<Version> {
    Some(Version::new(major, minor, patch.checked_add(1)?))
}

/// Upper bound of `^low` for a fully stated `low`.
fn caret_upper(low: &Version) -> Option<Version> {
    if low.major > 0 {
        bump_major(low.major)
    } else if low.minor > 0 {
        bump_minor(0, low.minor)
    } else {
        bump_patch(0, 0, low.patch)
    }
}

/// A range in requirement notation, the way a plugin author would write it:
/// `^1`, `^0.2`, `~1.2.3`, `=1.0.0`, `>=1.0.0, <1.5.0`; several intervals are
/// joined with ` or `. Used for error messages only.
pub(crate) fn describe(range: &Ranges<Version>) -> String {
    if range.is_empty() {
        return "(no version)".to_owned();
    }
    range
        .iter()
        .map(|(low, high)| describe_interval(low, high))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn describe_interval(low: &Bound<Version>, high: &Bound<Version>) -> String {
    match (low, high) {
        (Bound::Unbounded, Bound::Unbounded) => "*".to_owned(),
        (Bound::Included(low), Bound::Excluded(high)) if is_release(low) && is_release(high) => {
            shorthand(low, high).unwrap_or_else(|| format!(">={low}, <{high}"))
        }
        (Bound::Included(low), Bound::Included(high)) if low == high => format!("={low}"),
        (Bound::Included(low), Bound::Excluded(high)) => format!(">={low}, <{high}"),
        (Bound::Included(low), Bound::Included(high)) => format!(">={low}, <={high}"),
        (Bound::Excluded(low), Bound::Excluded(high)) => format!(">{low}, <{high}"),
        (Bound::Excluded(low), Bound::Included(high)) => format!(">{low}, <={high}"),
        (Bound::Included(low), Bound::Unbounded) => format!(">={low}"),
        (Bound::Excluded(low), Bound::Unbounded) => format!(">{low}"),
        (Bound::Unbounded, Bound::Excluded(high)) => format!("<{high}"),
        (Bound::Unbounded, Bound::Included(high)) => format!("<={high}"),
    }
}

fn is_release(version: &Version) -> bool {
    version.pre.is_empty() && version.build.is_empty()
}

/// The caret, tilde or exact requirement that spells `[low, high)`, if one
/// does. The checks go from the most to the least specific so the shortest
/// faithful spelling wins (`^1` rather than `^1.0.0`).
fn shorthand(low: &Version, high: &Version) -> Option<String> {
    let (major, minor, patch) = (low.major, low.minor, low.patch);
    if minor == 0 && patch == 0 && bump_major(major).as_ref() == Some(high) {
        return Some(format!("^{major}"));
    }
    if patch == 0 && bump_minor(major, minor).as_ref() == Some(high) {
        // `^0.2` and `~0.2` are the same set; the caret is what people write.
        return Some(if major == 0 {
            format!("^0.{minor}")
        } else {
            format!("~{major}.{minor}")
        });
    }
    if bump_patch(major, minor, patch).as_ref() == Some(high) {
        return Some(format!("={low}"));
    }
    if caret_upper(low).as_ref() == Some(high) {
        let short = if patch == 0 {
            format!("{major}.{minor}")
        } else {
            low.to_string()
        };
        return Some(format!("^{short}"));
    }
    if bump_minor(major, minor).as_ref() == Some(high) {
        return Some(format!("~{low}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> VersionReq {
        // Test input is a literal written to parse.
        VersionReq::parse(text).expect("test requirement parses")
    }

    #[test]
    fn describe_round_trips_common_spellings() {
        for (text, printed) in [
            ("^1", "^1"),
            ("^1.0.0", "^1"),
            ("^1.2", "^1.2"),
            ("^1.2.3", "^1.2.3"),
            ("^0.2", "^0.2"),
            ("^0.2.3", "^0.2.3"),
            ("^0.0.3", "=0.0.3"),
            ("^0.0", "^0.0"),
            ("^0", "^0"),
            ("~1.2", "~1.2"),
            ("~1.2.3", "~1.2.3"),
            ("=1.0.0", "=1.0.0"),
            ("1.*", "^1"),
            (">=1.0.0, <1.5.0", ">=1.0.0, <1.5.0"),
            (">=1.0.0", ">=1.0.0"),
            ("<2", "<2.0.0"),
            ("*", "*"),
            (">2, <1", "(no version)"),
        ] {
            let range = range_of(&req(text)).expect("known operators");
            assert_eq!(describe(&range), printed, "describing {text}");
        }
    }

    #[test]
    fn a_range_from_pubgrub_with_inclusive_bounds_is_described() {
        let one = Ranges::singleton(Version::new(1, 0, 0));
        assert_eq!(describe(&one), "=1.0.0");
        let two = one.union(&Ranges::singleton(Version::new(2, 0, 0)));
        assert_eq!(describe(&two), "=1.0.0 or =2.0.0");
    }

    #[test]
    fn overflowing_upper_bounds_are_open() {
        let top = u64::MAX;
        let range = range_of(&req(&format!("^{top}"))).expect("known operators");
        assert!(range.contains(&Version::new(top, 5, 0)));
        let above = range_of(&req(&format!(">{top}.{top}.{top}"))).expect("known operators");
        assert!(above.is_empty());
    }
}
