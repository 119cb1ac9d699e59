//! How the shell shows rows: a table that fits the terminal's width (wide
//! cells cut with `…`), or one record per block with values whole (`\x`;
//! `\x auto` when the table would not fit), through a pager
//! when taller than the screen. Every cell and column name is a database's
//! text, escaped like any foreign text before it is measured, so a value
//! cannot drive the terminal and the width counts what is shown.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use lord_db_api::{Rows, Value};
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

use crate::render::{Output, foreign};

/// `\x`: rows as a table, as records, or as records only when the table
/// would not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expanded {
    Off,
    On,
    Auto,
}

impl Expanded {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Expanded::Off => "off",
            Expanded::On => "on",
            Expanded::Auto => "auto",
        }
    }
}

/// The narrowest a column is cut to (three characters and `…`).
const NARROWEST: usize = 4;

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Text(_) | Value::Bytes(_) => {
            foreign(&value.display()).to_string()
        }
    }
}

/// `text` cut to `width` columns, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

/// The rows shown for a screen `width` columns wide (`None`: not a
/// terminal, nothing is cut).
pub(crate) fn render(rows: &Rows, width: Option<usize>, expanded: Expanded) -> String {
    let header: Vec<String> = rows
        .columns
        .iter()
        .map(|c| foreign(c).to_string())
        .collect();
    let body: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut natural: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in &body {
        for (w, c) in natural.iter_mut().zip(row) {
            *w = (*w).max(c.width());
        }
    }
    let total = natural.iter().sum::<usize>() + 3 * natural.len().saturating_sub(1);
    let records = match expanded {
        Expanded::Off => false,
        Expanded::On => true,
        Expanded::Auto => width.is_some_and(|w| total > w),
    };
    if records {
        return vertical(&header, &body, width);
    }
    let widths = match width {
        Some(w) if total > w => shrink(
            &natural,
            w.saturating_sub(3 * natural.len().saturating_sub(1)),
        ),
        _ => natural,
    };
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(&fit(c, *w), *w))
            .collect();
        format!("{}\n", parts.join(" | ").trim_end())
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("-+-"));
    out.push('\n');
    for row in &body {
        out.push_str(&line(row));
    }
    out
}

/// Column widths within `room`: the widest columns are cut to one cap,
/// found by bisection, so narrow columns keep their full width.
fn shrink(natural: &[usize], room: usize) -> Vec<usize> {
    let capped = |cap: usize| -> usize { natural.iter().map(|w| (*w).min(cap)).sum() };
    let (mut low, mut high) = (
        NARROWEST,
        natural.iter().copied().max().unwrap_or(NARROWEST),
    );
    if capped(low) > room {
        // Too many columns to fit at all: each at its narrowest (the line
        // wraps; `\x` shows them whole).
        return natural.iter().map(|w| (*w).min(NARROWEST)).collect();
    }
    while low < high {
        let mid = (low + high).div_ceil(2);
        if capped(mid) <= room {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    natural.iter().map(|w| (*w).min(low)).collect()
}

/// One block per row: `-[ RECORD n ]` then `column | value` lines. Values
/// are shown whole (the terminal wraps them): records are how a row too
/// wide for a table is read in full.
fn vertical(header: &[String], body: &[Vec<String>], width: Option<usize>) -> String {
    let label = header.iter().map(|h| h.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (n, row) in body.iter().enumerate() {
        let title = format!("-[ RECORD {} ]", n + 1);
        let rule = width.map_or(0, |w| w.saturating_sub(title.width()).min(40));
        out.push_str(&format!("{title}{}\n", "-".repeat(rule)));
        for (name, value) in header.iter().zip(row) {
            out.push_str(format!("{} | {value}", pad(name, label)).trim_end());
            out.push('\n');
        }
    }
    out
}

/// Shows `text` on standard output: through the pager (`sh -c PAGER`) when
/// it is taller than the screen and a pager is set, else directly.
pub(crate) fn show(
    out: &Output,
    text: &str,
    height: Option<usize>,
    pager: Option<&str>,
) -> Result<()> {
    let tall = height.is_some_and(|h| text.lines().count() + 2 > h);
    if let (true, Some(pager)) = (tall, pager) {
        let child = Command::new("sh")
            .arg("-c")
            .arg(pager)
            .stdin(Stdio::piped())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                // The pager may quit before reading everything (`q`): a
                // broken pipe then is the user's choice, not an error.
                let _ = stdin.write_all(text.as_bytes());
            }
            child
                .wait()
                .with_context(|| format!("the pager `{pager}` did not finish"))?;
            return Ok(());
        }
    }
    out.text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows {
            columns: vec!["id".into(), "name".into(), "note".into()],
            rows: vec![
                vec![Value::Int(1), Value::Text("ada".into()), Value::Null],
                vec![
                    Value::Int(2),
                    Value::Text("\x1b[31mred\x1b[0m".into()),
                    Value::Text("x".repeat(200)),
                ],
            ],
            affected: None,
        }
    }

    #[test]
    fn a_wide_table_is_cut_to_the_width_with_an_ellipsis() {
        let text = render(&rows(), Some(60), Expanded::Off);
        for line in text.lines() {
            assert!(line.width() <= 60, "{line:?} is {} wide", line.width());
        }
        assert!(text.contains("xxx…"), "{text}");
        assert!(text.starts_with("id | name"), "{text}");
        assert!(text.contains("NULL"), "{text}");
    }

    #[test]
    fn cells_are_escaped_before_they_are_shown() {
        let text = render(&rows(), None, Expanded::Off);
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("\\u{1b}[31mred"), "{text}");
        assert!(
            text.contains(&"x".repeat(200)),
            "not cut when not a terminal"
        );
    }

    #[test]
    fn expanded_shows_one_record_per_block_and_auto_only_when_too_wide() {
        let text = render(&rows(), Some(80), Expanded::On);
        assert!(text.starts_with("-[ RECORD 1 ]"), "{text}");
        assert!(text.contains("\nname | ada\n"), "{text}");
        assert!(
            render(&rows(), Some(80), Expanded::Auto).starts_with("-[ RECORD 1 ]"),
            "too wide for 80 columns"
        );
        let narrow = Rows {
            rows: vec![vec![Value::Int(1), Value::Text("a".into()), Value::Null]],
            ..rows()
        };
        assert!(render(&narrow, Some(80), Expanded::Auto).starts_with("id | name"));
    }

    #[test]
    fn wide_characters_are_measured_by_their_columns() {
        assert_eq!(fit("日本語のテキスト", 7), "日本語…");
        assert_eq!(fit("short", 7), "short");
        assert_eq!(shrink(&[2, 50, 50], 40), vec![2, 19, 19]);
    }
}
