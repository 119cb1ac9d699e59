//! The shell's line editor (rustyline): a statement goes on over lines
//! until a `;` ends it, keywords, strings and numbers are coloured as they
//! are typed, and Tab completes keywords and the tables and columns of the
//! live catalogue (read once, and again after a statement that changes it).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper, Hinter};

use super::lexer::{self, Dialect, Kind};

/// Words coloured as keywords and offered by completion.
pub(crate) const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLUMN",
    "COMMIT",
    "CONSTRAINT",
    "COUNT",
    "CREATE",
    "CROSS",
    "DATABASE",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FOREIGN",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IF",
    "IN",
    "INDEX",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PRIMARY",
    "REFERENCES",
    "RENAME",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "SELECT",
    "SET",
    "TABLE",
    "THEN",
    "TO",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WITH",
];

/// The shell's own commands, completed after `\`.
const COMMANDS: &[&str] = &["\\?", "\\d", "\\dt", "\\q", "\\timing", "\\watch", "\\x"];

/// Tables and their columns, as completion offers them.
#[derive(Debug, Default)]
pub(crate) struct Catalogue {
    pub(crate) tables: Vec<String>,
    pub(crate) columns: BTreeSet<String>,
}

/// The editor's helper: one per shell.
#[derive(Hinter)]
pub(crate) struct SqlHelper {
    pub(crate) dialect: Dialect,
    pub(crate) catalogue: Arc<Mutex<Catalogue>>,
    /// Colour allowed (a terminal, and no `NO_COLOR`).
    pub(crate) colour: bool,
    /// False while a y/N question is asked: one line is the answer.
    pub(crate) statements: bool,
}

impl Helper for SqlHelper {}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        let trimmed = input.trim();
        // A command on the last line ends the input too (`\q` in the
        // middle of a statement must not leave the user stuck).
        let done = !self.statements
            || lexer::trailing_command(input, self.dialect).is_some()
            || matches!(trimmed, "exit" | "quit")
            || lexer::complete(input, self.dialect);
        Ok(if done {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.colour || !self.statements || line.trim_start().starts_with('\\') {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight(line, self.dialect))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Any edit may open or close a string: colour the line again.
        self.colour && kind != CmdKind::MoveCursor
    }
}

/// `line` with SGR colours: keywords bold blue, strings green, numbers
/// yellow, comments dim. Only colour is added, so the width is unchanged.
pub(crate) fn highlight(line: &str, dialect: Dialect) -> String {
    let (tokens, _) = lexer::tokens(line, dialect);
    let mut out = String::with_capacity(line.len() + 16);
    for token in tokens {
        let text = token.text(line);
        let colour = match token.kind {
            Kind::Word if is_keyword(text) => Some("1;34"),
            Kind::String => Some("32"),
            Kind::Number => Some("33"),
            Kind::Comment => Some("2"),
            Kind::Word | Kind::Name | Kind::Space | Kind::Semicolon | Kind::Punct => None,
        };
        match colour {
            Some(sgr) => out.push_str(&format!("\x1b[{sgr}m{text}\x1b[0m")),
            None => out.push_str(text),
        }
    }
    out
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\\'))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let word = &before[start..];
        if word.starts_with('\\') {
            return Ok((start, candidates(COMMANDS.iter().copied(), word, false)));
        }
        if word.is_empty() {
            return Ok((start, Vec::new()));
        }
        let catalogue = self.catalogue.lock().map_err(|_| {
            rustyline::error::ReadlineError::Io(std::io::Error::other("catalogue poisoned"))
        })?;
        let lower = word.chars().all(|c| !c.is_uppercase());
        let mut found = candidates(KEYWORDS.iter().copied(), word, lower);
        found.extend(candidates(
            catalogue
                .tables
                .iter()
                .chain(&catalogue.columns)
                .map(String::as_str),
            word,
            false,
        ));
        found.sort_by(|a, b| a.replacement.cmp(&b.replacement));
        found.dedup_by(|a, b| a.replacement == b.replacement);
        Ok((start, found))
    }
}

/// The names in `names` that start with `word` (ignoring case); keywords
/// in lower case when the user types in lower case. A catalogue name that
/// holds a control or format character is never offered: completion would
/// put it in the line, which the editor draws as it is.
fn candidates<'a>(names: impl Iterator<Item = &'a str>, word: &str, lower: bool) -> Vec<Pair> {
    names
        .filter(|n| lord_terminal::escape_text(n, lord_terminal::Policy::Foreign) == *n)
        .filter(|n| {
            n.len() >= word.len()
                && n.is_char_boundary(word.len())
                && n[..word.len()].eq_ignore_ascii_case(word)
        })
        .map(|n| {
            let shown = if lower {
                n.to_ascii_lowercase()
            } else {
                n.to_owned()
            };
            Pair {
                display: shown.clone(),
                replacement: shown,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use lord_db_api::Engine;
    use rustyline::history::DefaultHistory;

    use super::*;

    fn helper() -> SqlHelper {
        let catalogue = Catalogue {
            tables: vec!["items".into(), "invoices".into(), "it\x1b[2Jems".into()],
            columns: ["id", "item_name"].into_iter().map(String::from).collect(),
        };
        SqlHelper {
            dialect: Dialect::of(Engine::Sqlite),
            catalogue: Arc::new(Mutex::new(catalogue)),
            colour: true,
            statements: true,
        }
    }

    fn complete(line: &str) -> Vec<String> {
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        let (_, found) = helper()
            .complete(line, line.len(), &ctx)
            .expect("completes");
        found.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn completion_offers_keywords_tables_and_columns() {
        assert_eq!(complete("sel"), ["select"]);
        assert_eq!(complete("SEL"), ["SELECT"]);
        assert_eq!(complete("SELECT * FROM inv"), ["invoices"]);
        assert_eq!(complete("select * from i")[..3], ["id", "if", "in"]);
        assert_eq!(complete("SELECT item"), ["item_name", "items"]);
        // A table whose name would drive the terminal is not offered.
        assert_eq!(complete("SELECT it"), ["item_name", "items"]);
        assert_eq!(complete("\\ti"), ["\\timing"]);
    }

    #[test]
    fn highlighting_colours_keywords_strings_and_numbers_only() {
        let line = "select 'a' , 42 from t -- c";
        let coloured = highlight(line, Dialect::of(Engine::Sqlite));
        assert_eq!(
            coloured,
            "\x1b[1;34mselect\x1b[0m \x1b[32m'a'\x1b[0m , \x1b[33m42\x1b[0m \
             \x1b[1;34mfrom\x1b[0m t \x1b[2m-- c\x1b[0m"
        );
    }
}
