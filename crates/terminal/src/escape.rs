//! One pass over bytes that shows what would drive the terminal as visible
//! escapes, under a [`Policy`], and reports what it escaped.
//!
//! An escape reads `\u{1b}` (the code point, in hex), or `\x{ff}` for a
//! byte that is not part of valid UTF-8. A run of backslashes in the text is
//! doubled where it could be read as part of an escape: before `u{` or
//! `x{`, and right before an escape. So every escape starts with an odd
//! number of backslashes and every literal `\u{` with an even number.
//!
//! Printable ASCII (the bulk of any output) is copied in runs; only the
//! bytes around it are looked at one by one.

use std::borrow::Cow;

use crate::table::{Class, classify, joiner_fits, selector_fits};

/// What may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Text lord shows inside its own lines (a log record, an error, a
    /// table cell, a registry's answer): every control and format
    /// character is escaped, line breaks and tabs included, so the text
    /// stays on its line and shows what it holds. Joiners and variation
    /// selectors pass only where a manifest may hold them.
    Foreign,
    /// A plugin's own output on its way to a terminal: printable text
    /// (format characters included), line breaks, tabs, CR before LF and
    /// colour (SGR, `ESC [ ... m`) pass; every other control is escaped:
    /// OSC, DCS, APC, PM, SOS, cursor movement, erasing, mode changes, C1
    /// controls, a lone CR that would overwrite the line.
    PluginOutput,
}

/// The most kinds a report keeps; more would not help anyone reading it.
const MAX_KINDS: usize = 12;

/// What a pass escaped, each kind once, in the order first met (like
/// `OSC 52 (clipboard)`), and whether it let colour through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    kinds: Vec<Cow<'static, str>>,
    colour: bool,
}

impl Report {
    /// Nothing was escaped.
    pub fn is_clean(&self) -> bool {
        self.kinds.is_empty()
    }

    /// What was escaped, each kind once.
    pub fn kinds(&self) -> &[Cow<'static, str>] {
        &self.kinds
    }

    /// Whether colour (SGR) passed, so the caller may reset it after.
    pub fn kept_colour(&self) -> bool {
        self.colour
    }

    /// The kinds on one line, comma-separated.
    pub fn summary(&self) -> String {
        self.kinds.join(", ")
    }

    /// Adds what `other` found.
    pub fn merge(&mut self, other: Report) {
        self.colour |= other.colour;
        for kind in other.kinds {
            self.note(kind);
        }
    }

    fn note(&mut self, kind: Cow<'static, str>) {
        if self.kinds.len() < MAX_KINDS && !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
    }
}

/// Bytes that pass under either policy without a look: printable ASCII
/// except the backslash.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0x20;
    while b < 0x7F {
        plain[b] = b != b'\\' as usize;
        b += 1;
    }
    plain
};

/// Escapes `input` under `policy`, appending to `out`.
pub fn escape(input: &[u8], policy: Policy, out: &mut Vec<u8>) -> Report {
    let mut pass = Pass {
        input,
        out,
        policy,
        report: Report::default(),
        copied: 0,
        backslashes: None,
    };
    pass.run();
    pass.report
}

/// `text` escaped under `policy`, as a string (what the pass writes is
/// always UTF-8).
pub fn escape_text(text: &str, policy: Policy) -> String {
    let mut out = Vec::with_capacity(text.len());
    escape(text.as_bytes(), policy, &mut out);
    // The pass copies whole characters of valid UTF-8 and writes ASCII.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

struct Pass<'a> {
    input: &'a [u8],
    out: &'a mut Vec<u8>,
    policy: Policy,
    report: Report,
    /// Input before this index is already in `out`.
    copied: usize,
    /// The last run of literal backslashes: the input index right after
    /// it, and its length. An escape starting there doubles it.
    backslashes: Option<(usize, usize)>,
}

impl Pass<'_> {
    fn run(&mut self) {
        let input = self.input;
        let mut i = 0;
        while i < input.len() {
            if PLAIN[usize::from(input[i])] {
                i += 1;
                continue;
            }
            i = self.look(i);
        }
        self.flush(input.len());
    }

    /// Handles the byte at `i` that is not plain; returns where to go on.
    fn look(&mut self, i: usize) -> usize {
        let input = self.input;
        let b = input[i];
        let foreign = self.policy == Policy::Foreign;
        match b {
            b'\\' => self.backslash(i),
            b'\n' if !foreign => i + 1,
            b'\t' if !foreign => i + 1,
            b'\r' if !foreign && input.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' if !foreign => self.escape_char(
                i,
                1,
                '\r',
                "CR (carriage return that would overwrite the line)",
            ),
            0x1B => {
                if !foreign && let Some(len) = sgr(&input[i..]) {
                    self.report.colour = true;
                    return i + len;
                }
                let kind = describe_escape(&input[i..]);
                self.escape_char(i, 1, '\u{1b}', kind)
            }
            0x00..=0x1F | 0x7F => {
                let kind: Cow<'static, str> = match b {
                    b'\n' | b'\r' => "line break".into(),
                    b'\t' => "tab".into(),
                    0x07 => "BEL (bell)".into(),
                    0x08 => "BS (backspace)".into(),
                    0x7F => "DEL".into(),
                    _ => format!("control U+{b:04X}").into(),
                };
                self.escape_char(i, 1, char::from(b), kind)
            }
            0x20..=0x7E => i + 1,
            0x80..=0xFF => self.non_ascii(i),
        }
    }

    /// A character outside ASCII, or a byte that is not UTF-8.
    fn non_ascii(&mut self, i: usize) -> usize {
        let Some((c, width)) = decode(&self.input[i..]) else {
            self.flush(i);
            self.double_backslashes(i);
            self.out
                .extend_from_slice(format!("\\x{{{:02x}}}", self.input[i]).as_bytes());
            self.report.note("bytes that are not UTF-8".into());
            self.copied = i + 1;
            return i + 1;
        };
        let Some(class) = classify(c) else {
            return i + width;
        };
        let code = u32::from(c);
        let kind: Cow<'static, str> = match class {
            Class::Control => format!("C1 control U+{code:04X}").into(),
            // A plugin's own output may be any script's text: format
            // characters do not drive the terminal.
            Class::Bidi | Class::Invisible | Class::Tag | Class::Joiner | Class::Selector
                if self.policy == Policy::PluginOutput =>
            {
                return i + width;
            }
            Class::Joiner
                if joiner_fits(self.before_selector(i), next_char(self.input, i + width)) =>
            {
                return i + width;
            }
            Class::Selector if selector_fits(prev_char(self.input, i)) => return i + width,
            Class::Bidi => format!("bidirectional control U+{code:04X}").into(),
            Class::Invisible | Class::Tag | Class::Joiner | Class::Selector => {
                format!("invisible character U+{code:04X}").into()
            }
        };
        self.escape_char(i, width, c, kind)
    }

    /// The character before `i`, or the one before that when it is a
    /// variation selector (an emoji in emoji form, then a joiner).
    fn before_selector(&self, i: usize) -> Option<char> {
        let before = prev_char(self.input, i)?;
        if classify(before) == Some(Class::Selector) {
            prev_char(self.input, i - before.len_utf8())
        } else {
            Some(before)
        }
    }

    /// A run of backslashes: doubled before `u{` or `x{`, which it would
    /// otherwise turn into something that reads as an escape.
    fn backslash(&mut self, i: usize) -> usize {
        let input = self.input;
        let len = input[i..].iter().take_while(|b| **b == b'\\').count();
        let end = i + len;
        let rest = &input[end..];
        if rest.starts_with(b"u{") || rest.starts_with(b"x{") {
            self.flush(end);
            self.out.extend(std::iter::repeat_n(b'\\', len));
        } else {
            self.backslashes = Some((end, len));
        }
        end
    }

    /// Copies the input not yet copied, up to `to`.
    fn flush(&mut self, to: usize) {
        if self.copied < to {
            self.out.extend_from_slice(&self.input[self.copied..to]);
        }
        self.copied = to;
    }

    /// Before an escape at `i`: doubles a run of backslashes just before.
    fn double_backslashes(&mut self, i: usize) {
        if let Some((end, len)) = self.backslashes
            && end == i
        {
            self.out.extend(std::iter::repeat_n(b'\\', len));
        }
    }

    /// Writes `c` (at `i`, `width` bytes) as `\u{..}` and notes `kind`.
    fn escape_char(
        &mut self,
        i: usize,
        width: usize,
        c: char,
        kind: impl Into<Cow<'static, str>>,
    ) -> usize {
        self.flush(i);
        self.double_backslashes(i);
        self.out
            .extend_from_slice(format!("\\u{{{:x}}}", u32::from(c)).as_bytes());
        self.report.note(kind.into());
        self.copied = i + width;
        i + width
    }
}

/// The character starting `bytes`, if they start with valid UTF-8 outside
/// ASCII, and its width.
fn decode(bytes: &[u8]) -> Option<(char, usize)> {
    let width = match bytes.first()? {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(bytes.get(..width)?).ok()?;
    text.chars().next().map(|c| (c, width))
}

/// The character ending at `end`, if valid UTF-8 ends there.
fn prev_char(bytes: &[u8], end: usize) -> Option<char> {
    (1..=4.min(end)).find_map(|width| {
        let text = std::str::from_utf8(&bytes[end - width..end]).ok()?;
        let mut chars = text.chars();
        let c = chars.next()?;
        chars.next().is_none().then_some(c)
    })
}

/// The character starting at `at`, if any.
fn next_char(bytes: &[u8], at: usize) -> Option<char> {
    let first = *bytes.get(at)?;
    if first.is_ascii() {
        return Some(char::from(first));
    }
    decode(&bytes[at..]).map(|(c, _)| c)
}

/// The longest sequence worth parsing: longer ones are escaped.
const MAX_SEQUENCE: usize = 256;

/// A control sequence (`ESC [`): parameter bytes, intermediate bytes, and
/// the final byte with the sequence's length, if it is complete.
fn csi(bytes: &[u8]) -> Option<(&[u8], &[u8], u8, usize)> {
    let body = bytes.strip_prefix(b"\x1b[")?;
    let params = body
        .iter()
        .take_while(|b| (0x30..=0x3F).contains(*b))
        .count();
    let inter = body[params..]
        .iter()
        .take_while(|b| (0x20..=0x2F).contains(*b))
        .count();
    let last = *body.get(params + inter)?;
    let len = 2 + params + inter + 1;
    ((0x40..=0x7E).contains(&last) && len <= MAX_SEQUENCE)
        .then(|| (&body[..params], &body[params..params + inter], last, len))
}

/// The length of the colour sequence (`ESC [ digits ; : m`) at the start
/// of `bytes`, if there is one.
fn sgr(bytes: &[u8]) -> Option<usize> {
    let (params, inter, last, len) = csi(bytes)?;
    let colour = last == b'm'
        && inter.is_empty()
        && params
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b';' || *b == b':');
    colour.then_some(len)
}

/// What the escape sequence at the start of `bytes` would do.
fn describe_escape(bytes: &[u8]) -> Cow<'static, str> {
    match bytes.get(1) {
        Some(b'[') => match csi(bytes) {
            Some((params, _, last, _)) => {
                let what = match last {
                    b'A' => "cursor up",
                    b'B' => "cursor down",
                    b'C' => "cursor forward",
                    b'D' => "cursor back",
                    b'E' => "cursor to next line",
                    b'F' => "cursor to previous line",
                    b'G' | b'`' => "cursor to column",
                    b'H' | b'f' => "cursor position",
                    b'J' => "erase in display",
                    b'K' => "erase in line",
                    b'L' | b'M' => "insert or delete lines",
                    b'P' | b'@' | b'X' => "delete or insert characters",
                    b'S' | b'T' => "scroll",
                    b'h' | b'l' => "mode change",
                    b'm' => "colour",
                    b'n' => "device status report",
                    b'r' => "scroll region",
                    b's' | b'u' => "save or restore cursor",
                    b't' => "window manipulation",
                    b'q' => "cursor style",
                    b'c' => "device attributes",
                    _ => "control sequence",
                };
                let private = match params.first() {
                    Some(p @ (b'<' | b'=' | b'>' | b'?')) => char::from(*p).to_string(),
                    _ => String::new(),
                };
                format!("CSI {private}{} ({what})", char::from(last)).into()
            }
            None => "CSI (unfinished control sequence)".into(),
        },
        Some(b']') => {
            let digits: String = bytes[2..]
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_digit())
                .map(|b| char::from(*b))
                .collect();
            let what = match digits.as_str() {
                "0" | "2" => "window title",
                "1" => "icon name",
                "4" | "10" | "11" | "12" | "104" | "110" | "111" | "112" => "terminal colours",
                "7" => "working directory",
                "8" => "hyperlink",
                "9" | "777" => "notification",
                "52" => "clipboard",
                _ => "operating system command",
            };
            if digits.is_empty() {
                format!("OSC ({what})").into()
            } else {
                format!("OSC {digits} ({what})").into()
            }
        }
        Some(b'P') => "DCS (device control string)".into(),
        Some(b'_') => "APC (application program command)".into(),
        Some(b'^') => "PM (privacy message)".into(),
        Some(b'X') => "SOS (start of string)".into(),
        Some(b'c') => "ESC c (reset the terminal)".into(),
        Some(b'7' | b'8') => "ESC 7/8 (save or restore cursor)".into(),
        Some(&b) if (0x20..0x7F).contains(&b) => format!("ESC {}", char::from(b)).into(),
        Some(_) | None => "ESC".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes `input` under `policy` and compares the text and the kinds.
    #[track_caller]
    fn check(policy: Policy, input: &[u8], expected: &str, kinds: &[&str]) {
        let mut out = Vec::new();
        let report = escape(input, policy, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected, "input {input:?}");
        assert_eq!(report.kinds(), kinds, "input {input:?}");
    }

    #[test]
    fn plugin_output_keeps_text_line_breaks_tabs_and_colour() {
        check(
            Policy::PluginOutput,
            b"plain\ttext\r\n\x1b[1;31mred\x1b[0m \xc3\xa9 \xd8\xa8\n",
            "plain\ttext\r\n\x1b[1;31mred\x1b[0m é ب\n",
            &[],
        );
        let mut out = Vec::new();
        assert!(escape(b"\x1b[32mok", Policy::PluginOutput, &mut out).kept_colour());
    }

    #[test]
    fn plugin_output_escapes_what_drives_the_terminal() {
        check(
            Policy::PluginOutput,
            b"\x1b]52;c;cm0=\x07\x1b]0;pwned\x07\x1b[1A\x1b[2Kgone\n",
            "\\u{1b}]52;c;cm0=\\u{7}\\u{1b}]0;pwned\\u{7}\\u{1b}[1A\\u{1b}[2Kgone\n",
            &[
                "OSC 52 (clipboard)",
                "BEL (bell)",
                "OSC 0 (window title)",
                "CSI A (cursor up)",
                "CSI K (erase in line)",
            ],
        );
        check(
            Policy::PluginOutput,
            b"50%\rdone\x1b[?25l\x1bP1$q\x1b\\\xc2\x9b2J\x1b_x\x1b",
            "50%\\u{d}done\\u{1b}[?25l\\u{1b}P1$q\\u{1b}\\\\\\u{9b}2J\\u{1b}_x\\u{1b}",
            &[
                "CR (carriage return that would overwrite the line)",
                "CSI ?l (mode change)",
                "DCS (device control string)",
                "ESC \\",
                "C1 control U+009B",
                "APC (application program command)",
                "ESC",
            ],
        );
        // Colour with something else in it is not colour.
        check(
            Policy::PluginOutput,
            b"\x1b[38;5;1m\x1b[31 m\x1b[>4m",
            "\x1b[38;5;1m\\u{1b}[31 m\\u{1b}[>4m",
            &["CSI m (colour)", "CSI >m (colour)"],
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_hex() {
        check(
            Policy::PluginOutput,
            b"a\xffb\xe2\x80",
            "a\\x{ff}b\\x{e2}\\x{80}",
            &["bytes that are not UTF-8"],
        );
    }

    #[test]
    fn foreign_text_stays_on_its_line_and_shows_what_it_holds() {
        check(
            Policy::Foreign,
            "one\ntwo\tthree\x1b[31mred \u{202e}txt.exe \u{200b}!".as_bytes(),
            "one\\u{a}two\\u{9}three\\u{1b}[31mred \\u{202e}txt.exe \\u{200b}!",
            &[
                "line break",
                "tab",
                "CSI m (colour)",
                "bidirectional control U+202E",
                "invisible character U+200B",
            ],
        );
        // Right-to-left script, Persian's non-joiner, emoji sequences.
        check(
            Policy::Foreign,
            "سلام می\u{200c}خواهم 👨\u{200d}👩 🏳\u{fe0f}\u{200d}🌈 ❤\u{fe0f}".as_bytes(),
            "سلام می\u{200c}خواهم 👨\u{200d}👩 🏳\u{fe0f}\u{200d}🌈 ❤\u{fe0f}",
            &[],
        );
        // Joiners next to ASCII, runs of selectors.
        check(
            Policy::Foreign,
            "a\u{200d}b ❤\u{fe0f}\u{fe0f}".as_bytes(),
            "a\\u{200d}b ❤\u{fe0f}\\u{fe0f}",
            &["invisible character U+200D", "invisible character U+FE0F"],
        );
    }

    #[test]
    fn backslashes_that_could_read_as_escapes_are_doubled() {
        let cases: &[(&[u8], &str)] = &[
            (br"C:\dir\file", r"C:\dir\file"),
            (br"\u{1b}", r"\\u{1b}"),
            (br"\\u{1b}", r"\\\\u{1b}"),
            (br"\x{ff}", r"\\x{ff}"),
            (b"\\\x1b", r"\\\u{1b}"),
            (b"\\\\\xff", r"\\\\\x{ff}"),
            (br"\u1b \x", r"\u1b \x"),
        ];
        for (input, expected) in cases {
            check(
                Policy::PluginOutput,
                input,
                expected,
                if input.ends_with(b"\x1b") {
                    &["ESC"]
                } else if input.ends_with(b"\xff") {
                    &["bytes that are not UTF-8"]
                } else {
                    &[]
                },
            );
        }
    }

    #[test]
    fn escape_text_writes_utf8() {
        assert_eq!(
            escape_text("é\x1b]8;;x\x07", Policy::Foreign),
            "é\\u{1b}]8;;x\\u{7}"
        );
    }
}
