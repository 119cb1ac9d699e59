//! Event topics for the `events-publish` and `events-subscribe` permissions:
//! dotted segments such as `build.done`, where subscriptions may also use
//! `*` (exactly one segment) and `**` (any number of segments, even none).

use std::fmt;

/// A validated topic, or a topic pattern when it came from
/// `events-subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(String);

/// Longest topic, in bytes (all characters are ASCII).
const MAX_LEN: usize = 128;

impl Topic {
    /// The topic text, e.g. `build.done` or `build.*`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dot-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// Whether this is a pattern (contains `*` or `**`) rather than a topic.
    pub fn is_pattern(&self) -> bool {
        // A valid topic has `*` only as a whole `*` or `**` segment.
        self.0.contains('*')
    }

    /// Whether the concrete `topic` (no wildcards) is covered by this topic
    /// or pattern.
    ///
    /// The host checks published topics with this, and filters delivered
    /// events with it rather than comparing patterns, which keeps the check
    /// exact. A `topic` that is not itself a valid concrete topic never
    /// matches, so a guest cannot smuggle wildcards through it.
    pub fn matches(&self, topic: &str) -> bool {
        if Self::parse(topic, false).is_err() {
            return false;
        }
        let pattern: Vec<&str> = self.segments().collect();
        let topic: Vec<&str> = topic.split('.').collect();
        match_segments(&pattern, &topic)
    }

    /// Whether a pattern's segments cover a concrete topic's segments, for
    /// callers that split both once and match many times (the event bus).
    pub fn segments_match<P: AsRef<str>>(pattern: &[P], topic: &[&str]) -> bool {
        match_segments(pattern, topic)
    }

    /// A concrete topic (no wildcards), as an event is published on.
    pub fn concrete(text: &str) -> Result<Self, String> {
        Self::parse(text, false)
    }

    /// A subscription pattern: a topic, or one with `*` (one segment) and
    /// `**` (any number of segments).
    pub fn pattern(text: &str) -> Result<Self, String> {
        Self::parse(text, true)
    }

    /// Parses a topic; wildcards only when `allow_wildcards` (subscriptions).
    /// The error is the problem only, the caller adds which permission it was
    /// for.
    pub(crate) fn parse(text: &str, allow_wildcards: bool) -> Result<Self, String> {
        if text.len() > MAX_LEN {
            return Err(format!(
                "the topic is {} characters long; allowed at most {MAX_LEN}",
                text.len()
            ));
        }
        for segment in text.split('.') {
            if segment.is_empty() {
                return Err(
                    "empty topic segments are not allowed; separate segments with single dots"
                        .to_owned(),
                );
            }
            if segment == "*" || segment == "**" {
                if allow_wildcards {
                    continue;
                }
                return Err("wildcards are only allowed in `events-subscribe`".to_owned());
            }
            if let Some(bad) = segment
                .chars()
                .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
            {
                return Err(format!(
                    "character `{bad}` is not allowed in a topic segment"
                ));
            }
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Matches segment lists bottom-up (`next[j]`: the remaining pattern matches
/// `topic[j..]`) rather than by backtracking, so a pattern full of `**`
/// cannot make a hostile topic take exponential time.
fn match_segments<P: AsRef<str>>(pattern: &[P], topic: &[&str]) -> bool {
    // Without `**` a pattern matches segment for segment: no table needed
    // (the common case, checked on every event delivered).
    if !pattern.iter().any(|p| p.as_ref() == "**") {
        return pattern.len() == topic.len()
            && pattern
                .iter()
                .zip(topic)
                .all(|(p, t)| p.as_ref() == "*" || p.as_ref() == *t);
    }
    let mut next = vec![false; topic.len() + 1];
    next[topic.len()] = true;
    for head in pattern.iter().rev() {
        let mut current = vec![false; topic.len() + 1];
        for j in (0..=topic.len()).rev() {
            let segment = topic.get(j);
            current[j] = match head.as_ref() {
                "**" => next[j] || (segment.is_some() && current[j + 1]),
                "*" => segment.is_some() && next[j + 1],
                literal => segment == Some(&literal) && next[j + 1],
            };
        }
        next = current;
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let cases: &[(&str, bool, Result<&str, &str>)] = &[
            ("build.done", false, Ok("build.done")),
            ("a_b-c.d1", false, Ok("a_b-c.d1")),
            ("build.*", true, Ok("build.*")),
            ("**", true, Ok("**")),
            (
                "build.*",
                false,
                Err("wildcards are only allowed in `events-subscribe`"),
            ),
            (
                "",
                false,
                Err("empty topic segments are not allowed; separate segments with single dots"),
            ),
            (
                "a..b",
                true,
                Err("empty topic segments are not allowed; separate segments with single dots"),
            ),
            (
                "Build",
                false,
                Err("character `B` is not allowed in a topic segment"),
            ),
            (
                "a.b*",
                true,
                Err("character `*` is not allowed in a topic segment"),
            ),
        ];
        for (input, wildcards, expected) in cases {
            let got = Topic::parse(input, *wildcards).map(|t| t.to_string());
            assert_eq!(
                got,
                expected.map(str::to_owned).map_err(str::to_owned),
                "input {input:?}"
            );
        }
        assert!(Topic::parse(&"a".repeat(129), false).is_err());
    }

    #[test]
    fn matching() {
        let cases = [
            ("build.done", "build.done", true),
            ("build.done", "build.failed", false),
            ("build.*", "build.done", true),
            ("build.*", "build", false),
            ("build.*", "build.done.late", false),
            ("build.**", "build", true),
            ("build.**", "build.done.late", true),
            ("**.done", "build.step.done", true),
            ("**.done", "done", true),
            ("**.done", "build.failed", false),
            ("a.*.c", "a.b.c", true),
            ("a.*.c", "a.c", false),
            ("**", "anything.at.all", true),
            // Concrete topics with wildcards or bad characters never match.
            ("**", "a.*", false),
            ("**", "A", false),
            ("**", "", false),
        ];
        for (pattern, topic, expected) in cases {
            let pattern_topic = Topic::parse(pattern, true).unwrap();
            assert_eq!(
                pattern_topic.matches(topic),
                expected,
                "{pattern} vs {topic}"
            );
        }
        assert!(Topic::parse("a.**", true).unwrap().is_pattern());
        assert!(!Topic::parse("a.b", true).unwrap().is_pattern());
    }
}
