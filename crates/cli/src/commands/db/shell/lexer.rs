//! A small SQL tokenizer for the shell: enough to know where a statement
//! ends (a `;` outside strings, quoted names and comments), which words are
//! keywords (highlighting), and what a statement is about to do (the
//! confirmation before `DELETE`/`UPDATE` without `WHERE`, `DROP` and
//! `TRUNCATE`). It never rewrites a statement: the engine parses what the
//! user typed, and this only reads it.

use lord_db_api::Engine;

/// What differs between the engines' lexical rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    /// `\'` escapes a quote inside '...' (MySQL).
    backslash_escapes: bool,
    /// `#` starts a comment to the end of the line (MySQL).
    hash_comments: bool,
    /// `$tag$ ... $tag$` strings (PostgreSQL).
    dollar_quotes: bool,
    /// `/* /* */ */` nests (PostgreSQL).
    nested_comments: bool,
    /// `[name]` quotes a name (SQLite).
    bracket_names: bool,
    /// MySQL's rules: `"…"` is a string with backslash escapes (not a
    /// quoted name), `--` starts a comment only before a space or the end,
    /// and what `/*!…*/` and `/*M!…*/` hold is run as SQL.
    mysql: bool,
    /// The server whose rules decide which of those comments run; `None`
    /// reads every one's text as SQL (splitting, highlighting).
    server: Option<Server>,
}

/// A MySQL or MariaDB server, as far as its executable comments go:
/// `/*!NNNNN …*/` runs on a server of version NNNNN or later, `/*M!NNNNN
/// …*/` on MariaDB only, and either without a number everywhere it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Server {
    mariadb: bool,
    /// As the comments write it: 100611 for 10.6.11.
    version: u64,
}

impl Server {
    fn runs(self, mariadb_only: bool, version: Option<u64>) -> bool {
        (self.mariadb || !mariadb_only) && version.is_none_or(|v| v <= self.version)
    }
}

impl Dialect {
    pub(crate) fn of(engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => Self {
                backslash_escapes: false,
                hash_comments: false,
                dollar_quotes: false,
                nested_comments: false,
                bracket_names: true,
                mysql: false,
                server: None,
            },
            Engine::Postgres => Self {
                backslash_escapes: false,
                hash_comments: false,
                dollar_quotes: true,
                nested_comments: true,
                bracket_names: false,
                mysql: false,
                server: None,
            },
            Engine::Mysql => Self {
                backslash_escapes: true,
                hash_comments: true,
                dollar_quotes: false,
                nested_comments: false,
                bracket_names: false,
                mysql: true,
                server: None,
            },
            // The shell opens SQL profiles only (the pool refuses the
            // others a SQL session); CQL's quoting stands for them.
            Engine::Redis | Engine::MongoDb | Engine::Cassandra => Self {
                backslash_escapes: false,
                hash_comments: false,
                dollar_quotes: true,
                nested_comments: false,
                bracket_names: false,
                mysql: false,
                server: None,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Number,
    /// A string literal, quotes included.
    String,
    /// A quoted name: "x", `x`, [x].
    Name,
    Comment,
    Space,
    Semicolon,
    /// Any other character: operators, parentheses, commas.
    Punct,
}

/// One token: its kind and where it lies in the text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    pub(crate) fn text<'t>(&self, sql: &'t str) -> &'t str {
        &sql[self.start..self.end]
    }

    fn significant(&self) -> bool {
        !matches!(self.kind, Kind::Space | Kind::Comment)
    }
}

/// The tokens of `sql`, and whether it ends inside a string, a quoted name
/// or a block comment (then the statement is not finished whatever follows).
pub(crate) fn tokens(sql: &str, dialect: Dialect) -> (Vec<Token>, bool) {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut open = false;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let (kind, end, unterminated) = token_at(sql, i, dialect);
        open = unterminated;
        i = end.max(start + 1).min(bytes.len());
        // Keep offsets on character boundaries.
        while !sql.is_char_boundary(i) {
            i += 1;
        }
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    (out, open)
}

/// The token starting at byte `i`: its kind, end, and whether it runs to
/// the end of the text unterminated.
fn token_at(sql: &str, i: usize, dialect: Dialect) -> (Kind, usize, bool) {
    let bytes = sql.as_bytes();
    let rest = &sql[i..];
    let c = rest.chars().next().unwrap_or(' ');
    let next = bytes.get(i + 1).copied();
    if c.is_whitespace() {
        let len = rest
            .find(|ch: char| !ch.is_whitespace())
            .unwrap_or(rest.len());
        return (Kind::Space, i + len, false);
    }
    // MySQL reads `--x` as two minus signs: a comment needs a space (or
    // any control character) after the dashes, or the end of the text.
    let dashes = c == '-'
        && next == Some(b'-')
        && (!dialect.mysql || bytes.get(i + 2).is_none_or(|b| *b <= b' '));
    if dashes || (c == '#' && dialect.hash_comments) {
        let len = rest.find('\n').unwrap_or(rest.len());
        return (Kind::Comment, i + len, false);
    }
    if dialect.mysql {
        // `/*!50001 …*/` and `/*M!100101 …*/` are run by a server of that
        // version (and kind): only their markers are comments, what they
        // hold is read as SQL, unless the server judged would not run it.
        let executable = match rest.strip_prefix("/*M!") {
            Some(marker) => Some((marker, true)),
            None => rest.strip_prefix("/*!").map(|marker| (marker, false)),
        };
        if let Some((marker, mariadb_only)) = executable {
            let digits = marker.bytes().take_while(u8::is_ascii_digit).count();
            let version = marker[..digits].parse().ok();
            if dialect
                .server
                .is_none_or(|server| server.runs(mariadb_only, version))
            {
                return (Kind::Comment, i + rest.len() - marker.len() + digits, false);
            }
            let (end, open) = block_comment(bytes, i, false);
            return (Kind::Comment, end, open);
        }
        if rest.starts_with("*/") {
            return (Kind::Comment, i + 2, false);
        }
    }
    if c == '/' && next == Some(b'*') {
        let (end, open) = block_comment(bytes, i, dialect.nested_comments);
        return (Kind::Comment, end, open);
    }
    match c {
        '\'' => {
            let (end, open) = quoted(bytes, i, b'\'', dialect.backslash_escapes);
            (Kind::String, end, open)
        }
        '"' if dialect.mysql => {
            let (end, open) = quoted(bytes, i, b'"', true);
            (Kind::String, end, open)
        }
        '"' => {
            let (end, open) = quoted(bytes, i, b'"', false);
            (Kind::Name, end, open)
        }
        '`' => {
            let (end, open) = quoted(bytes, i, b'`', false);
            (Kind::Name, end, open)
        }
        '[' if dialect.bracket_names => match rest.find(']') {
            Some(len) => (Kind::Name, i + len + 1, false),
            None => (Kind::Name, sql.len(), true),
        },
        ';' => (Kind::Semicolon, i + 1, false),
        '$' if dialect.dollar_quotes => match dollar_tag(rest) {
            Some(tag) => match rest[tag.len()..].find(tag) {
                Some(len) => (Kind::String, i + tag.len() + len + tag.len(), false),
                None => (Kind::String, sql.len(), true),
            },
            None => (Kind::Punct, i + 1, false),
        },
        '0'..='9' => (Kind::Number, number_end(bytes, i), false),
        '.' if next.is_some_and(|b| b.is_ascii_digit()) => {
            (Kind::Number, number_end(bytes, i), false)
        }
        c if c.is_alphabetic() || c == '_' => {
            let len = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(rest.len());
            // PostgreSQL's E'...' strings take backslash escapes.
            if len == 1 && (c == 'e' || c == 'E') && next == Some(b'\'') {
                let (end, open) = quoted(bytes, i + 1, b'\'', true);
                return (Kind::String, end, open);
            }
            (Kind::Word, i + len, false)
        }
        _ => (Kind::Punct, i + c.len_utf8(), false),
    }
}

/// The end of a literal opened by `quote` at `i` (a doubled quote stands
/// for itself), and whether it is unterminated.
fn quoted(bytes: &[u8], i: usize, quote: u8, backslash: bool) -> (usize, bool) {
    let mut j = i + 1;
    while j < bytes.len() {
        let b = bytes[j];
        if backslash && b == b'\\' {
            j += 2;
            continue;
        }
        if b == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return (j + 1, false);
        }
        j += 1;
    }
    (bytes.len(), true)
}

fn block_comment(bytes: &[u8], i: usize, nested: bool) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < bytes.len() {
        match (bytes[j], bytes[j + 1]) {
            (b'/', b'*') if depth == 0 || nested => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return (j, false);
                }
            }
            _ => j += 1,
        }
    }
    (bytes.len(), true)
}

/// `$$` or `$tag$` at the start of `rest` (a `$1` placeholder is none).
fn dollar_tag(rest: &str) -> Option<&str> {
    let close = rest[1..].find('$')? + 1;
    let tag = &rest[1..close];
    let starts_well = tag
        .chars()
        .next()
        .is_none_or(|c| c.is_alphabetic() || c == '_');
    (starts_well && tag.chars().all(|c| c.is_alphanumeric() || c == '_')).then(|| &rest[..=close])
}

fn number_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < bytes.len() {
        let b = bytes[j];
        let exponent_sign =
            (b == b'+' || b == b'-') && j > i && matches!(bytes[j - 1], b'e' | b'E');
        if b.is_ascii_alphanumeric() || b == b'.' || exponent_sign {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// The statements in `input` that a `;` ends, and what follows the last
/// one (an unfinished statement, or only spaces and comments).
pub(crate) fn split(input: &str, dialect: Dialect) -> (Vec<String>, String) {
    let (tokens, _) = tokens(input, dialect);
    let mut statements = Vec::new();
    let mut from = 0;
    for token in &tokens {
        if token.kind == Kind::Semicolon {
            let statement = input[from..token.start].trim();
            if has_code(statement, dialect) {
                statements.push(statement.to_owned());
            }
            from = token.end;
        }
    }
    (statements, input[from..].to_owned())
}

/// A backslash command on the last line of `input`, outside any string,
/// quoted name or comment: what comes before it, and the command.
pub(crate) fn trailing_command(input: &str, dialect: Dialect) -> Option<(&str, &str)> {
    let input = input.trim_end();
    let (before, last) = match input.rsplit_once('\n') {
        Some((before, last)) => (before, last),
        None => ("", input),
    };
    let last = last.trim_start();
    (last.starts_with('\\') && !tokens(before, dialect).1).then_some((before, last))
}

/// Whether `text` holds anything but spaces and comments.
pub(crate) fn has_code(text: &str, dialect: Dialect) -> bool {
    tokens(text, dialect).0.iter().any(Token::significant)
}

/// Whether `input` is finished: every statement in it ends with `;`, and
/// nothing but spaces and comments follows the last one.
pub(crate) fn complete(input: &str, dialect: Dialect) -> bool {
    let (tokens, open) = tokens(input, dialect);
    if open {
        return false;
    }
    match tokens.iter().rev().find(|t| t.significant()) {
        Some(last) => last.kind == Kind::Semicolon,
        None => true,
    }
}

/// A statement's words outside parentheses, upper-cased, in order (the
/// shape the checks below read), with each one's token index.
fn top_words(sql: &str, tokens: &[Token]) -> Vec<(usize, String)> {
    let mut depth = 0usize;
    let mut words = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        match (token.kind, token.text(sql)) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => depth = depth.saturating_sub(1),
            (Kind::Word, word) if depth == 0 => words.push((index, word.to_ascii_uppercase())),
            _ => {}
        }
    }
    words
}

/// What a statement is about to do that asks for a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Danger {
    /// `DELETE` without `WHERE`: every row of the table.
    DeleteAll {
        table: String,
    },
    /// `UPDATE` without `WHERE`.
    UpdateAll {
        table: String,
    },
    /// `DROP ...` or `ALTER ... DROP ...`: what follows the verb.
    Drop {
        what: String,
    },
    Truncate {
        what: String,
    },
}

/// The confirmation `statement` needs, if any. Only words outside strings,
/// quoted names, comments and parentheses count: a `WHERE` in a string or
/// in a subquery does not restrict the rows the statement changes.
///
/// On MySQL and MariaDB, which executable comments run depends on the
/// server (`DELETE FROM t /*M!100000 WHERE id = 1 */` deletes every row on
/// MySQL), so the statement is judged as each kind and version of server
/// the comments tell apart would read it, and asks if any would be
/// dangerous.
pub(crate) fn danger(statement: &str, dialect: Dialect) -> Option<Danger> {
    if !dialect.mysql || dialect.server.is_some() {
        return danger_as(statement, dialect);
    }
    servers(statement, dialect).into_iter().find_map(|server| {
        danger_as(
            statement,
            Dialect {
                server: Some(server),
                ..dialect
            },
        )
    })
}

/// The servers that read `statement`'s executable comments differently:
/// MySQL and MariaDB, each older than every version the comments name and
/// at each of those versions. The first runs them all.
fn servers(statement: &str, dialect: Dialect) -> Vec<Server> {
    let (tokens, _) = tokens(statement, dialect);
    let mut versions: Vec<u64> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Comment)
        .filter_map(|t| {
            let text = t.text(statement);
            let marker = text
                .strip_prefix("/*M!")
                .or_else(|| text.strip_prefix("/*!"))?;
            marker.parse().ok()
        })
        .collect();
    versions.push(0);
    versions.sort_unstable();
    versions.dedup();
    let mut servers = Vec::with_capacity(versions.len() * 2);
    for mariadb in [true, false] {
        servers.extend(
            versions
                .iter()
                .rev()
                .map(|&version| Server { mariadb, version }),
        );
    }
    servers
}

fn danger_as(statement: &str, dialect: Dialect) -> Option<Danger> {
    let (tokens, _) = tokens(statement, dialect);
    let words = top_words(statement, &tokens);
    let mut verbs = words.iter().map(|(_, w)| w.as_str());
    let mut first = verbs.next()?;
    // `EXPLAIN ANALYZE` and `EXPLAIN (ANALYZE)` run the statement they
    // explain; `EXPLAIN` alone does not. MariaDB's `ANALYZE DELETE …`
    // runs it too.
    // Options may stand between them and the statement (`FORMAT=JSON`,
    // MySQL's `FOR SCHEMA s`, PostgreSQL's `VERBOSE`), so the statement
    // they run starts at the first word that starts a statement.
    let mut position = 0;
    if matches!(first, "EXPLAIN" | "DESCRIBE" | "DESC") {
        let analyzes = tokens.iter().any(|t| {
            t.kind == Kind::Word
                && matches!(
                    t.text(statement).to_ascii_uppercase().as_str(),
                    "ANALYZE" | "ANALYSE"
                )
        });
        if !analyzes {
            return None;
        }
        position = words.iter().position(|(_, w)| starts_statement(w))?;
        first = &words[position].1;
    } else if first == "ANALYZE" && words.len() > 1 {
        position = words
            .iter()
            .skip(1)
            .position(|(_, w)| starts_statement(w))?
            + 1;
        first = &words[position].1;
    }
    // A `WITH` clause's queries are in parentheses, and one of them may
    // change rows itself (`WITH d AS (DELETE FROM t RETURNING 1) …`); the
    // statement's own verb is the first word of these outside them.
    if first == "WITH" {
        if let Some(inner) = changing_subquery(statement, &tokens, dialect) {
            return Some(inner);
        }
        position = words
            .iter()
            .position(|(_, w)| matches!(w.as_str(), "DELETE" | "UPDATE" | "INSERT" | "SELECT"))?;
        first = &words[position].1;
    }
    let after = &words[position..];
    let has_where = after.iter().any(|(_, w)| w == "WHERE");
    // The text of the statement from the token after `index`.
    let rest_from = |index: usize| -> String {
        tokens
            .get(index + 1)
            .map(|t| statement[t.start..].trim().to_owned())
            .unwrap_or_default()
    };
    let target_after = |keyword: &str| -> String {
        let start = after
            .iter()
            .find(|(_, w)| w == keyword)
            .map_or(after[0].0, |(i, _)| *i);
        next_name(statement, &tokens, start)
    };
    match first {
        "DELETE" if !has_where => Some(Danger::DeleteAll {
            table: target_after("FROM"),
        }),
        "UPDATE" if !has_where => Some(Danger::UpdateAll {
            table: next_name(statement, &tokens, after[0].0),
        }),
        "DROP" => Some(Danger::Drop {
            what: rest_from(after[0].0),
        }),
        "TRUNCATE" => Some(Danger::Truncate {
            what: rest_from(after[0].0),
        }),
        "ALTER" => after
            .iter()
            .find(|(_, w)| w == "DROP")
            .map(|(i, _)| Danger::Drop {
                what: rest_from(*i),
            }),
        _ => None,
    }
}

/// The confirmation the first statement in parentheses that deletes or
/// updates rows needs (a `WITH` query's `(DELETE FROM t RETURNING 1)`).
fn changing_subquery(statement: &str, tokens: &[Token], dialect: Dialect) -> Option<Danger> {
    let mut depth = 0usize;
    let mut previous = "";
    for (index, token) in tokens.iter().enumerate() {
        let text = token.text(statement);
        let punct = token.kind == Kind::Punct;
        let changes = token.kind == Kind::Word
            && depth > 0
            && ["DELETE", "UPDATE"]
                .iter()
                .any(|v| v.eq_ignore_ascii_case(text))
            && !previous.eq_ignore_ascii_case("FOR");
        if punct && text == "(" {
            depth += 1;
        } else if punct && text == ")" {
            depth = depth.saturating_sub(1);
        } else if changes {
            // The text from the verb to the parenthesis closing it.
            let mut inner = 0usize;
            let end = tokens[index..]
                .iter()
                .find(|t| match (t.kind, t.text(statement)) {
                    (Kind::Punct, "(") => {
                        inner += 1;
                        false
                    }
                    (Kind::Punct, ")") if inner == 0 => true,
                    (Kind::Punct, ")") => {
                        inner -= 1;
                        false
                    }
                    _ => false,
                })
                .map_or(statement.len(), |t| t.start);
            if let Some(found) = danger(&statement[token.start..end], dialect) {
                return Some(found);
            }
        }
        if token.significant() {
            previous = text;
        }
    }
    None
}

/// Whether an upper-cased word starts a statement `EXPLAIN ANALYZE` or
/// `ANALYZE` may run. Whatever stands before it is an option: a format's
/// name, a schema's, or an option word this list does not know.
fn starts_statement(word: &str) -> bool {
    matches!(
        word,
        "SELECT"
            | "INSERT"
            | "UPDATE"
            | "DELETE"
            | "REPLACE"
            | "MERGE"
            | "WITH"
            | "TABLE"
            | "VALUES"
            | "DROP"
            | "TRUNCATE"
            | "ALTER"
            | "CREATE"
            | "EXECUTE"
            | "DECLARE"
    )
}

/// The name after token `index` (a word or quoted name, with any
/// `schema.` prefix), skipping spaces, comments and `ONLY`.
fn next_name(sql: &str, tokens: &[Token], index: usize) -> String {
    let mut name = String::new();
    for token in tokens.iter().skip(index + 1).filter(|t| t.significant()) {
        let text = token.text(sql);
        match token.kind {
            Kind::Word if name.is_empty() && text.eq_ignore_ascii_case("ONLY") => {}
            Kind::Word | Kind::Name => name.push_str(text),
            Kind::Punct if text == "." && !name.is_empty() => name.push('.'),
            Kind::Punct
            | Kind::Number
            | Kind::String
            | Kind::Comment
            | Kind::Space
            | Kind::Semicolon => break,
        }
        if !name.is_empty() && !name.ends_with('.') && token.kind != Kind::Punct {
            // A name is complete unless a `.` follows.
            let follows = tokens
                .iter()
                .skip_while(|t| t.start < token.end)
                .find(|t| t.significant());
            if follows.is_none_or(|t| t.text(sql) != ".") {
                break;
            }
        }
    }
    name
}

/// The statement's first word, upper-cased (`SELECT`, `CREATE`).
pub(crate) fn verb(statement: &str, dialect: Dialect) -> Option<String> {
    let (tokens, _) = tokens(statement, dialect);
    top_words(statement, &tokens)
        .into_iter()
        .next()
        .map(|(_, w)| w)
}

/// Whether a statement may change the catalogue, so completion reads it
/// again.
pub(crate) fn changes_catalogue(statement: &str, dialect: Dialect) -> bool {
    verb(statement, dialect)
        .is_some_and(|v| matches!(v.as_str(), "CREATE" | "ALTER" | "DROP" | "RENAME"))
}

/// Whether a statement carries a password: a word holding `PASSWORD`
/// (`ALTER ROLE … PASSWORD`, `MASTER_PASSWORD=`, `SOURCE_PASSWORD=`) or
/// `IDENTIFIED`, or a string holding `password=` (a connection string:
/// `CREATE SUBSCRIPTION … CONNECTION '… password=…'`, `dblink_connect`).
/// Such a statement is not written to history.
pub(crate) fn holds_password(statement: &str, dialect: Dialect) -> bool {
    let (tokens, _) = tokens(statement, dialect);
    tokens.iter().any(|t| {
        let text = t.text(statement).to_ascii_uppercase();
        match t.kind {
            Kind::Word | Kind::Name => text.contains("PASSWORD") || text == "IDENTIFIED",
            Kind::String => text
                .match_indices("PASSWORD")
                .any(|(at, word)| text[at + word.len()..].trim_start().starts_with('=')),
            Kind::Number | Kind::Comment | Kind::Space | Kind::Semicolon | Kind::Punct => false,
        }
    })
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
