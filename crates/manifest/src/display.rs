//! Display fields (name, description, authors, keywords, command and
//! argument help, micro-plugin descriptions, permission reasons) are read
//! by people: in `lord plugin list`, in search results, in the permission
//! prompt. What they read must be what is there, so bidirectional controls
//! (the Trojan Source class: `Hello \u{202e}exe.txt` shows reversed),
//! zero-width and other invisible format characters are refused, with the
//! field, the character and where it is.
//!
//! Right-to-left scripts are text like any other and pass: it is the
//! override that is refused, not the script. A zero-width joiner or
//! non-joiner passes between two visible characters outside ASCII (Persian,
//! Indic scripts, emoji sequences), a variation selector once right after a
//! visible character (an emoji's form). The characters and those rules are
//! `lord-terminal`'s table, which the renderer uses too.

use lord_terminal::{Class, char_name, classify, joiner_fits, selector_fits};

/// A character a display field may not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    /// Its position among the value's characters, from 0.
    pub(crate) index: usize,
    pub(crate) message: String,
}

/// The first character of `text` that would not show as what it is, other
/// than control characters (refused before this, with their own message).
pub(crate) fn hidden(text: &str) -> Option<Hidden> {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().find_map(|(index, &c)| {
        let before = index.checked_sub(1).map(|i| chars[i]);
        let problem = match classify(c)? {
            Class::Control => return None,
            Class::Bidi => {
                "a bidirectional control makes text show in another order than it is written; \
                 right-to-left scripts are welcome, direction controls are not"
            }
            Class::Invisible | Class::Tag => {
                "an invisible character hides what the text holds; remove it"
            }
            Class::Joiner => {
                // After an emoji's variation selector, the emoji counts.
                let base = match before {
                    Some(b) if classify(b) == Some(Class::Selector) => {
                        index.checked_sub(2).map(|i| chars[i])
                    }
                    other => other,
                };
                if joiner_fits(base, chars.get(index + 1).copied()) {
                    return None;
                }
                "a joiner is allowed only between two visible characters outside ASCII (as in \
                 Persian, Indic scripts and emoji sequences)"
            }
            Class::Selector => {
                if selector_fits(before) {
                    return None;
                }
                "a variation selector is allowed only once, right after a visible character"
            }
        };
        let name = char_name(c).unwrap_or_default();
        Some(Hidden {
            index,
            message: format!(
                "contains U+{:04X} {name} at character {}: {problem}",
                u32::from(c),
                index + 1
            ),
        })
    })
}

/// The byte offset in `source` of character `index` (from 0) of the TOML
/// string whose literal starts at byte `start`, so an error can point at
/// the character itself rather than at the opening quote. `None` when the
/// literal cannot be followed (the caller points at its start instead).
pub(crate) fn char_offset(source: &str, start: usize, index: usize) -> Option<usize> {
    let rest = source.get(start..)?;
    let (quote, multi) = if rest.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if rest.starts_with("'''") {
        ("'''", true)
    } else if rest.starts_with('"') {
        ("\"", false)
    } else if rest.starts_with('\'') {
        ("'", false)
    } else {
        return None;
    };
    let basic = quote.starts_with('"');
    let mut at = start + quote.len();
    // A line break right after a multi-line string's opening is not part
    // of the value.
    if multi {
        if source[at..].starts_with("\r\n") {
            at += 2;
        } else if source[at..].starts_with('\n') {
            at += 1;
        }
    }
    let mut seen = 0;
    loop {
        let text = &source[at..];
        if text.starts_with(quote) {
            return None;
        }
        let c = text.chars().next()?;
        let width = if basic && c == '\\' {
            match text[1..].chars().next()? {
                'u' => 6,
                'U' => 10,
                'b' | 't' | 'n' | 'f' | 'r' | 'e' | '"' | '\\' => 2,
                // A line-ending backslash: the break and the white space
                // after it are not part of the value.
                ' ' | '\t' | '\r' | '\n' if multi => {
                    let skipped = text[1..]
                        .find(|c: char| !c.is_whitespace())
                        .map_or(text.len(), |n| n + 1);
                    at += skipped;
                    continue;
                }
                _ => return None,
            }
        } else {
            c.len_utf8()
        };
        if seen == index {
            return Some(at);
        }
        seen += 1;
        at += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::MINIMAL;

    #[track_caller]
    fn check(input: &str, expected: Result<(), &str>) {
        let got = crate::parse("plugin.toml", input)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "input:\n{input}");
    }

    #[test]
    fn direction_controls_and_invisible_characters_are_refused_where_they_are() {
        let name = |value: &str| MINIMAL.replace("name = \"Hello\"", &format!("name = {value}"));
        let cases: Vec<(String, &str)> = vec![
            (
                name("\"Hello \u{202e}exe.txt\""),
                "plugin.toml:3:15: `name` contains U+202E RIGHT-TO-LEFT OVERRIDE at character 7: a bidirectional control makes text show in another order than it is written; right-to-left scripts are welcome, direction controls are not",
            ),
            // Written as a TOML escape: the column is the escape's.
            (
                name("\"Hello \\u202Eexe.txt\""),
                "plugin.toml:3:15: `name` contains U+202E RIGHT-TO-LEFT OVERRIDE at character 7: a bidirectional control makes text show in another order than it is written; right-to-left scripts are welcome, direction controls are not",
            ),
            (
                name("'a\u{2066}b'"),
                "plugin.toml:3:10: `name` contains U+2066 LEFT-TO-RIGHT ISOLATE at character 2: a bidirectional control makes text show in another order than it is written; right-to-left scripts are welcome, direction controls are not",
            ),
            (
                name("\"\\t\\\"x\u{200b}\""),
                "plugin.toml:3:8: `name` contains the control character U+0009; only printable text on one line is allowed",
            ),
            (
                name("\"\\\"x\u{200b}\""),
                "plugin.toml:3:12: `name` contains U+200B ZERO WIDTH SPACE at character 3: an invisible character hides what the text holds; remove it",
            ),
            (
                name("\"pay\u{200d}pal\""),
                "plugin.toml:3:12: `name` contains U+200D ZERO WIDTH JOINER at character 4: a joiner is allowed only between two visible characters outside ASCII (as in Persian, Indic scripts and emoji sequences)",
            ),
            (
                name("\"❤\u{fe0f}\u{fe0f}\""),
                "plugin.toml:3:11: `name` contains U+FE0F VARIATION SELECTOR-16 at character 3: a variation selector is allowed only once, right after a visible character",
            ),
            (
                name("\"flag\u{e0067}\""),
                "plugin.toml:3:13: `name` contains U+E0067 TAG CHARACTER at character 5: an invisible character hides what the text holds; remove it",
            ),
        ];
        for (input, expected) in &cases {
            check(input, Err(expected));
        }
    }

    #[test]
    fn every_display_field_is_checked() {
        let bidi = "\u{202e}";
        let with = |extra: &str| format!("{MINIMAL}{extra}");
        let cases: Vec<(String, &str)> = vec![
            (
                MINIMAL.replace(
                    "[plugin]\n",
                    &format!("[plugin]\ndescription = \"\"\"\nline\nbad {bidi}\"\"\"\n"),
                ),
                "plugin.toml:4:5: `description` contains U+202E",
            ),
            (
                MINIMAL.replace(
                    "[plugin]\n",
                    &format!("[plugin]\nauthors = [\"Ada {bidi}\"]\n"),
                ),
                "plugin.toml:2:17: an `authors` entry contains U+202E",
            ),
            (
                MINIMAL.replace(
                    "[plugin]\n",
                    &format!("[plugin]\nkeywords = [\"ok\", \"x{bidi}\"]\n"),
                ),
                "plugin.toml:2:21: a keyword contains U+202E",
            ),
            (
                with(&format!(
                    "[[commands]]\nname = \"go\"\nabout = \"Go {bidi}\"\n"
                )),
                "plugin.toml:9:13: `about` contains U+202E",
            ),
            (
                with(&format!(
                    "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"a\"\nhelp = \"{bidi}\"\n"
                )),
                "plugin.toml:12:9: `help` contains U+202E",
            ),
            (
                with(&format!(
                    "[[micro]]\nid = \"m\"\nkind = \"transformer\"\ndescription = \"m{bidi}\"\n"
                )),
                "plugin.toml:10:17: `description` contains U+202E",
            ),
            (
                with(&format!(
                    "[permissions]\nrequest = [\"env(HOME)\"]\n[permissions.reasons]\n\"env(HOME)\" = \"to greet {bidi}you\"\n"
                )),
                "plugin.toml:10:25: the reason for `env(HOME)` contains U+202E",
            ),
            (
                with(
                    "[permissions]\nrequest = [\"env(HOME)\"]\n[permissions.reasons]\n\"env(HOME)\" = \"a\\u001b[2Jb\"\n",
                ),
                "plugin.toml:10:15: the reason for `env(HOME)` contains the control character U+001B",
            ),
        ];
        for (input, expected) in &cases {
            let got = crate::parse("plugin.toml", input)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                got.as_ref().is_err_and(|e| e.starts_with(expected)),
                "input:\n{input}\ngot {got:?}\nexpected {expected}"
            );
        }
    }

    #[test]
    fn scripts_joiners_and_emoji_pass() {
        for value in [
            "\"مرحبا بالعالم\"",
            "\"שלום\"",
            "\"می\u{200c}خواهم\"",
            "\"क्\u{200d}ष\"",
            "\"👨\u{200d}👩\u{200d}👧\"",
            "\"🏳\u{fe0f}\u{200d}🌈\"",
            "\"❤\u{fe0f} 1\u{fe0f}\u{20e3}\"",
        ] {
            check(
                &MINIMAL.replace("name = \"Hello\"", &format!("name = {value}")),
                Ok(()),
            );
        }
    }

    #[test]
    fn offsets_follow_toml_escapes() {
        let cases: &[(&str, usize, Option<usize>)] = &[
            ("\"abc\"", 2, Some(3)),
            ("\"\\u00e9bc\"", 1, Some(7)),
            ("\"\\U0001F600x\"", 1, Some(11)),
            ("'a\\b'", 1, Some(2)),
            ("\"\"\"\nab\"\"\"", 1, Some(5)),
            ("\"\"\"a\\\n   b\"\"\"", 1, Some(9)),
            ("\"ab\"", 2, None),
            ("\"é!\"", 1, Some(3)),
        ];
        for &(source, index, expected) in cases {
            assert_eq!(char_offset(source, 0, index), expected, "{source}");
        }
    }
}
