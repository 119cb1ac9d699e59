//! Errors that point at the exact place in `plugin.toml` that is wrong, so
//! editors and terminals can jump straight to it.

use std::ops::Range;

/// A manifest that cannot be accepted, located as `file:line:column`.
///
/// `line` and `column` are 1-based; the column counts characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A manifest that could not be written back as TOML.
///
/// The types in this crate always serialize, so seeing this is a bug; it is
/// still reported rather than panicking because callers may be long-lived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write the manifest as TOML: {0}")]
pub struct SerializeError(pub(crate) String);

/// Keys someone might use to declare a risk level, which is always derived.
const RISK_KEYS: [&str; 3] = ["risk", "risk-level", "risk_level"];

/// Turns byte offsets into `ManifestError`s for one file.
pub(crate) struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Self { file, text }
    }

    /// An error at byte `offset` of the text.
    pub(crate) fn at(&self, offset: usize, message: impl Into<String>) -> ManifestError {
        let (line, column) = line_column(self.text, offset);
        ManifestError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The text errors are located in.
    pub(crate) fn source(&self) -> &'a str {
        self.text
    }

    /// An error at the start of `span`.
    pub(crate) fn span(&self, span: Range<usize>, message: impl Into<String>) -> ManifestError {
        self.at(span.start, message)
    }

    /// The 1-based line of byte `offset`, for "first declared at line N".
    pub(crate) fn line(&self, offset: usize) -> usize {
        line_column(self.text, offset).0
    }

    /// Converts a syntax or type error from the TOML parser.
    pub(crate) fn toml(&self, error: &toml::de::Error) -> ManifestError {
        let offset = error.span().map_or(0, |span| span.start);
        self.at(offset, rewrite_toml_message(error.message()))
    }
}

/// Computes the 1-based line and character column of a byte offset, clamped
/// into the text so a stray span can never panic.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Adapts the parser's wording to this crate's: serde says "field" where a
/// manifest author thinks "key", a declared risk deserves an explanation
/// rather than "unknown", and multi-line messages must fit on one line after
/// `file:line:column:`.
fn rewrite_toml_message(message: &str) -> String {
    let one_line = message.trim().replace('\n', "; ");
    if let Some(rest) = one_line.strip_prefix("missing field `") {
        return format!("missing required key `{rest}");
    }
    let Some(rest) = one_line.strip_prefix("unknown field `") else {
        return one_line;
    };
    let Some((key, expected)) = rest.split_once('`') else {
        return one_line;
    };
    if RISK_KEYS.contains(&key) {
        return format!(
            "`{key}` cannot be declared: the risk level is derived from the requested permissions; remove this key"
        );
    }
    let expected = expected.trim_start_matches([',', ' ']);
    let allowed = expected
        .strip_prefix("expected one of ")
        .or_else(|| expected.strip_prefix("expected "));
    match allowed {
        Some(allowed) => format!("unknown key `{key}`; allowed keys are {allowed}"),
        None => format!("unknown key `{key}`; {expected}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let text = "ab\ncdé\nf";
        let cases = [
            (0, (1, 1)),
            (2, (1, 3)),
            (3, (2, 1)),
            (5, (2, 3)),
            (6, (2, 3)), // inside `é`: clamped back to its start
            (7, (2, 4)),
            (8, (3, 1)),
            (100, (3, 2)),
        ];
        for (offset, expected) in cases {
            assert_eq!(line_column(text, offset), expected, "offset {offset}");
        }
    }

    #[test]
    fn rewrites() {
        let cases = [
            (
                "unknown field `nmae`, expected one of `id`, `name`",
                "unknown key `nmae`; allowed keys are `id`, `name`",
            ),
            (
                "unknown field `x`, expected `request`",
                "unknown key `x`; allowed keys are `request`",
            ),
            (
                "unknown field `x`, there are no fields",
                "unknown key `x`; there are no fields",
            ),
            (
                "unknown field `risk`, expected one of `id`",
                "`risk` cannot be declared: the risk level is derived from the requested permissions; remove this key",
            ),
            (
                "invalid string\nexpected `\"`",
                "invalid string; expected `\"`",
            ),
            ("missing field `id`", "missing required key `id`"),
        ];
        for (input, expected) in cases {
            assert_eq!(rewrite_toml_message(input), expected);
        }
    }

    #[test]
    fn display() {
        let error = Locator::new("plugin.toml", "a\nbc").at(3, "something is wrong");
        assert_eq!(error.to_string(), "plugin.toml:2:2: something is wrong");
    }
}
