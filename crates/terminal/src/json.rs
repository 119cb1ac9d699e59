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
    let hidden =
        |c: char| !c.is_ascii_graphic() && !c.is_ascii_whitespace() && classify(c).is_some();
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
}
