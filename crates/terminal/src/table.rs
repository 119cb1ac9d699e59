//! The one table of characters that do not show as themselves: control
//! characters (C0, DEL, C1), bidirectional controls, invisible format
//! characters, joiners, variation selectors and tag characters. Sorted by
//! code point, so a lookup is a binary search over a few dozen ranges.

use std::borrow::Cow;

/// Why a character does not show as itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// C0 controls, DEL and C1 controls: they drive the terminal (ESC
    /// starts a sequence, CR returns to the line's start, U+009B is CSI).
    Control,
    /// Bidirectional controls: they make text show in another order than
    /// it is stored (the Trojan Source class).
    Bidi,
    /// Zero-width and other invisible format characters: they hide what
    /// the text holds.
    Invisible,
    /// Zero-width joiner and non-joiner: needed between letters of some
    /// scripts (Persian, Indic) and in emoji sequences, invisible anywhere
    /// else.
    Joiner,
    /// Variation selectors: choose a glyph's form (emoji or text) right
    /// after the character they modify, invisible anywhere else.
    Selector,
    /// Tag characters: invisible copies of ASCII.
    Tag,
}

/// One range of the table: first and last code point, class, and name (a
/// `{n}` in the name is replaced by the character's number in the range).
struct Entry {
    first: u32,
    last: u32,
    class: Class,
    name: &'static str,
    /// The number `{n}` stands for at `first`.
    base: u32,
}

const fn one(at: u32, class: Class, name: &'static str) -> Entry {
    Entry {
        first: at,
        last: at,
        class,
        name,
        base: 0,
    }
}

const fn range(first: u32, last: u32, class: Class, name: &'static str, base: u32) -> Entry {
    Entry {
        first,
        last,
        class,
        name,
        base,
    }
}

use Class::{Bidi, Control, Invisible, Joiner, Selector, Tag};

/// Sorted by `first`; ranges do not overlap (a test checks both).
const TABLE: &[Entry] = &[
    range(0x00, 0x1F, Control, "C0 CONTROL", 0),
    one(0x7F, Control, "DELETE"),
    range(0x80, 0x9F, Control, "C1 CONTROL", 0),
    one(0xAD, Invisible, "SOFT HYPHEN"),
    one(0x034F, Invisible, "COMBINING GRAPHEME JOINER"),
    one(0x061C, Bidi, "ARABIC LETTER MARK"),
    one(0x115F, Invisible, "HANGUL CHOSEONG FILLER"),
    one(0x1160, Invisible, "HANGUL JUNGSEONG FILLER"),
    one(0x17B4, Invisible, "KHMER VOWEL INHERENT AQ"),
    one(0x17B5, Invisible, "KHMER VOWEL INHERENT AA"),
    range(
        0x180B,
        0x180D,
        Selector,
        "MONGOLIAN FREE VARIATION SELECTOR {n}",
        1,
    ),
    one(0x180E, Invisible, "MONGOLIAN VOWEL SEPARATOR"),
    one(0x180F, Selector, "MONGOLIAN FREE VARIATION SELECTOR 4"),
    one(0x200B, Invisible, "ZERO WIDTH SPACE"),
    one(0x200C, Joiner, "ZERO WIDTH NON-JOINER"),
    one(0x200D, Joiner, "ZERO WIDTH JOINER"),
    one(0x200E, Bidi, "LEFT-TO-RIGHT MARK"),
    one(0x200F, Bidi, "RIGHT-TO-LEFT MARK"),
    one(0x2028, Invisible, "LINE SEPARATOR"),
    one(0x2029, Invisible, "PARAGRAPH SEPARATOR"),
    one(0x202A, Bidi, "LEFT-TO-RIGHT EMBEDDING"),
    one(0x202B, Bidi, "RIGHT-TO-LEFT EMBEDDING"),
    one(0x202C, Bidi, "POP DIRECTIONAL FORMATTING"),
    one(0x202D, Bidi, "LEFT-TO-RIGHT OVERRIDE"),
    one(0x202E, Bidi, "RIGHT-TO-LEFT OVERRIDE"),
    one(0x2060, Invisible, "WORD JOINER"),
    one(0x2061, Invisible, "FUNCTION APPLICATION"),
    one(0x2062, Invisible, "INVISIBLE TIMES"),
    one(0x2063, Invisible, "INVISIBLE SEPARATOR"),
    one(0x2064, Invisible, "INVISIBLE PLUS"),
    one(0x2066, Bidi, "LEFT-TO-RIGHT ISOLATE"),
    one(0x2067, Bidi, "RIGHT-TO-LEFT ISOLATE"),
    one(0x2068, Bidi, "FIRST STRONG ISOLATE"),
    one(0x2069, Bidi, "POP DIRECTIONAL ISOLATE"),
    range(0x206A, 0x206F, Invisible, "DEPRECATED FORMAT CHARACTER", 0),
    one(0x3164, Invisible, "HANGUL FILLER"),
    range(0xFE00, 0xFE0F, Selector, "VARIATION SELECTOR-{n}", 1),
    one(0xFEFF, Invisible, "ZERO WIDTH NO-BREAK SPACE"),
    one(0xFFA0, Invisible, "HALFWIDTH HANGUL FILLER"),
    one(0xFFF9, Invisible, "INTERLINEAR ANNOTATION ANCHOR"),
    one(0xFFFA, Invisible, "INTERLINEAR ANNOTATION SEPARATOR"),
    one(0xFFFB, Invisible, "INTERLINEAR ANNOTATION TERMINATOR"),
    range(
        0x1D173,
        0x1D17A,
        Invisible,
        "MUSICAL SYMBOL FORMAT CHARACTER",
        0,
    ),
    one(0xE0001, Tag, "LANGUAGE TAG"),
    range(0xE0020, 0xE007F, Tag, "TAG CHARACTER", 0),
    range(0xE0100, 0xE01EF, Selector, "VARIATION SELECTOR-{n}", 17),
];

fn entry(c: char) -> Option<&'static Entry> {
    let code = u32::from(c);
    // Most text is printable ASCII or in blocks the table never touches.
    if (0x20..0x7F).contains(&code) {
        return None;
    }
    let at = TABLE.partition_point(|e| e.last < code);
    TABLE.get(at).filter(|e| e.first <= code)
}

/// The class of a character that does not show as itself; `None` for one
/// that does (including line breaks' neighbours: space is visible text).
pub fn classify(c: char) -> Option<Class> {
    entry(c).map(|e| e.class)
}

/// The character's Unicode name for the characters in the table (ranges
/// named by what they are), and `None` for the rest.
pub fn char_name(c: char) -> Option<Cow<'static, str>> {
    let e = entry(c)?;
    Some(if e.name.contains("{n}") {
        let n = u32::from(c) - e.first + e.base;
        Cow::Owned(e.name.replace("{n}", &n.to_string()))
    } else {
        Cow::Borrowed(e.name)
    })
}

/// Text a person sees: not white space and not in the table.
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace() && classify(c).is_none()
}

/// Whether a zero-width joiner or non-joiner between `before` and `after`
/// does the job it exists for: joining (or keeping apart) two visible
/// characters outside ASCII, as in Persian, Indic scripts and emoji
/// sequences. `before` may be followed by one variation selector first
/// (an emoji in its emoji form, then the joiner): pass the character
/// before the selector. Next to ASCII, at an edge or beside another
/// joiner it only hides something.
pub fn joiner_fits(before: Option<char>, after: Option<char>) -> bool {
    let fits = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && is_visible(c));
    fits(before) && fits(after)
}

/// Whether a variation selector after `before` selects a form of it: only
/// right after a visible character, so never twice in a row.
pub fn selector_fits(before: Option<char>) -> bool {
    before.is_some_and(is_visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_ranges_do_not_overlap() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].first <= pair[0].last, "{:X}", pair[0].first);
            assert!(pair[0].last < pair[1].first, "{:X}", pair[1].first);
        }
    }

    #[test]
    fn classes_and_names() {
        let cases: &[(char, Option<Class>, Option<&str>)] = &[
            ('a', None, None),
            (' ', None, None),
            ('é', None, None),
            ('ب', None, None),
            ('\u{1b}', Some(Control), Some("C0 CONTROL")),
            ('\u{7f}', Some(Control), Some("DELETE")),
            ('\u{9b}', Some(Control), Some("C1 CONTROL")),
            ('\u{202e}', Some(Bidi), Some("RIGHT-TO-LEFT OVERRIDE")),
            ('\u{2066}', Some(Bidi), Some("LEFT-TO-RIGHT ISOLATE")),
            ('\u{2069}', Some(Bidi), Some("POP DIRECTIONAL ISOLATE")),
            ('\u{200b}', Some(Invisible), Some("ZERO WIDTH SPACE")),
            (
                '\u{feff}',
                Some(Invisible),
                Some("ZERO WIDTH NO-BREAK SPACE"),
            ),
            ('\u{200d}', Some(Joiner), Some("ZERO WIDTH JOINER")),
            ('\u{fe0f}', Some(Selector), Some("VARIATION SELECTOR-16")),
            ('\u{e0100}', Some(Selector), Some("VARIATION SELECTOR-17")),
            ('\u{e0041}', Some(Tag), Some("TAG CHARACTER")),
        ];
        for &(c, class, name) in cases {
            assert_eq!(classify(c), class, "{c:?}");
            assert_eq!(char_name(c).as_deref(), name, "{c:?}");
        }
    }

    #[test]
    fn joiners_and_selectors_only_where_they_do_their_job() {
        // Persian: ZWNJ between two letters; emoji: ZWJ between two.
        assert!(joiner_fits(Some('ی'), Some('ه')));
        assert!(joiner_fits(Some('👨'), Some('👩')));
        assert!(!joiner_fits(Some('a'), Some('ه')));
        assert!(!joiner_fits(Some('ی'), Some('b')));
        assert!(!joiner_fits(None, Some('ه')));
        assert!(!joiner_fits(Some('ی'), Some('\u{200d}')));
        assert!(selector_fits(Some('❤')));
        assert!(selector_fits(Some('1')));
        assert!(!selector_fits(Some('\u{fe0f}')));
        assert!(!selector_fits(Some(' ')));
        assert!(!selector_fits(None));
    }
}
