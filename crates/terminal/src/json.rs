//! JSON for scripts: a string may hold any character, but a person may
//! still read the JSON on a terminal. Every character in the table that a
//! JSON serialiser writes as it is (DEL, C1 controls, bidirectional and
//! invisible format characters) is written as a `\uXXXX` escape instead,
//! which any JSON reader turns back into the same character.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::table::classify;

/// `json` (serialised JSON text) with every hidden character escaped.
/// Such characters can only sit inside strings, where `\uXXXX` means the
/// same; the JSON's value does not change.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    // Most JSON is printable ASCII, which holds nothing to escape: one pass
    // over the bytes settles it before any character is decoded.
    if json.bytes().all(plain_ascii) {
        return Cow::Borrowed(json);
    }
    let hidden = |c: char| !plain_char(c) && classify(c).is_some();
    if !json.chars().any(hidden) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A byte that is a whole ASCII character needing no escape: printable, or
/// white space.
fn plain_ascii(b: u8) -> bool {
    plain_char(char::from(b))
}

fn plain_char(c: char) -> bool {
    c.is_ascii_graphic() || c.is_ascii_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_become_unicode_escapes() {
        let json = "{\"s\":\"a\u{7f}\u{9b}\u{202e}\u{200b}\u{e0041}é\\n\"}";
        assert_eq!(
            escape_json(json),
            "{\"s\":\"a\\u007f\\u009b\\u202e\\u200b\\udb40\\udc41é\\n\"}"
        );
        assert!(matches!(escape_json("{\"ok\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_ascii_character_is_judged_as_the_full_check_judges_it() {
        for b in 0u8..=0x7f {
            let text = format!("\"{}\"", char::from(b));
            let by_table = classify(char::from(b)).is_some() && !plain_char(char::from(b));
            let escaped = matches!(escape_json(&text), Cow::Owned(_));
            assert_eq!(escaped, by_table, "byte {b:#04x}");
        }
        assert!(matches!(escape_json("\"\u{7f}\""), Cow::Owned(_)));
        assert!(matches!(escape_json("\"caf\u{e9}\""), Cow::Borrowed(_)));
    }
}
