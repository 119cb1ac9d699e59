//! Where text from outside lord meets the terminal: [`foreign`] for text
//! placed in a result, [`one_line`] for lord's own one-line messages, and
//! [`plugin_stream`] for what a plugin wrote.

use std::fmt;

use lord_terminal::{Policy, Report};

/// SGR reset: after a plugin's coloured output, lord's own text starts
/// plain.
const RESET: &[u8] = b"\x1b[0m";

/// Text that came from outside lord (a plugin, a manifest, a registry, an
/// event), placed in a result: every control and format character in it
/// shows as a visible escape, line breaks included, on any output. Not for
/// status lines, warnings and errors, which escape themselves whole (the
/// text would be escaped twice).
pub(crate) fn foreign(text: &str) -> Foreign<'_> {
    Foreign(text)
}

/// See [`foreign`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Foreign<'a>(&'a str);

impl fmt::Display for Foreign<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so a width in the format string (a table column) holds.
        f.pad(&lord_terminal::escape_text(self.0, Policy::Foreign))
    }
}

/// A message lord writes as one line (status, note, warning, error,
/// prompt), escaped whole: whatever it quotes (an error from a plugin or a
/// registry) cannot break it, move the cursor or draw lines of its own.
pub(super) fn one_line(line: impl fmt::Display) -> String {
    lord_terminal::escape_text(&line.to_string(), Policy::Foreign)
}

/// Bytes a plugin wrote, appended to `out`: on a terminal (`neutralise`)
/// with every control sequence but colour escaped and the colour reset
/// after; otherwise exactly as written (the sandbox already capped their
/// size). Returns what was escaped.
pub(super) fn plugin_stream(bytes: &[u8], neutralise: bool, out: &mut Vec<u8>) -> Report {
    if !neutralise {
        out.extend_from_slice(bytes);
        return Report::default();
    }
    let report = lord_terminal::escape(bytes, Policy::PluginOutput, out);
    if report.kept_colour() {
        out.extend_from_slice(RESET);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_text_keeps_its_column_width() {
        assert_eq!(format!("[{:<6}]", foreign("a\tb")), "[a\\u{9}b]");
        assert_eq!(format!("[{:<6}]", foreign("ab")), "[ab    ]");
    }

    #[test]
    fn one_line_stays_one_line() {
        assert_eq!(
            one_line("failed: \u{1b}[1A\u{1b}[2K\nrisk: low"),
            "failed: \\u{1b}[1A\\u{1b}[2K\\u{a}risk: low"
        );
    }

    #[test]
    fn plugin_streams_reset_colour_on_a_terminal_and_pass_when_piped() {
        let input = b"\x1b[32mok\x1b]0;t\x07\n";
        let mut out = Vec::new();
        let report = plugin_stream(input, true, &mut out);
        assert_eq!(out, b"\x1b[32mok\\u{1b}]0;t\\u{7}\n\x1b[0m");
        assert_eq!(report.summary(), "OSC 0 (window title), BEL (bell)");
        let mut out = Vec::new();
        assert!(plugin_stream(input, false, &mut out).is_clean());
        assert_eq!(out, input);
    }
}
