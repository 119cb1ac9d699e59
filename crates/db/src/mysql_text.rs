//! Where a MySQL/MariaDB text holds a second statement, read before it is
//! sent. lord's connections carry `CLIENT_MULTI_STATEMENTS` (the `mysql`
//! crate sets it and offers no way to turn it off), so the server runs
//! every `;`-separated statement of a text given to `query`; a caller that
//! checked one statement (the shell's confirmation before `DELETE`) would
//! otherwise have the rest run unchecked.

/// The byte offset of the second statement in `sql`, if it holds one.
///
/// Stricter than the server on purpose: the text is read twice, once with
/// backslash escapes in strings and once without (the session's
/// `NO_BACKSLASH_ESCAPES` and `ANSI_QUOTES` modes change which applies),
/// and a second statement found either way counts.
///
/// A routine, trigger or event (`CREATE … BEGIN …; …; END`) is one
/// statement whose body holds `;`s; defining it runs none of them.
pub(crate) fn second_statement(sql: &str) -> Option<usize> {
    let mut words = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let creates = words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("CREATE"));
    if creates && words.any(|w| w.eq_ignore_ascii_case("BEGIN")) {
        return None;
    }
    second_statement_as(sql, true).or_else(|| second_statement_as(sql, false))
}

fn second_statement_as(sql: &str, backslash_escapes: bool) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut ended = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let start = i;
        i = match b {
            b'\'' | b'"' | b'`' => quoted(bytes, i, backslash_escapes && b != b'`'),
            b'#' => line_end(bytes, i),
            b'-' if next == Some(b'-') && bytes.get(i + 2).is_none_or(|c| *c <= b' ') => {
                line_end(bytes, i)
            }
            // `/*!…*/` and `/*M!…*/` are run: their markers are skipped and
            // what they hold is read on; their `*/` is skipped below.
            b'/' if next == Some(b'*')
                && (bytes.get(i + 2) == Some(&b'!') || sql[i + 2..].starts_with("M!")) =>
            {
                let marker = if bytes[i + 2] == b'M' { i + 4 } else { i + 3 };
                marker
                    + bytes[marker.min(bytes.len())..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count()
            }
            b'/' if next == Some(b'*') => sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |at| i + 2 + at + 2),
            b'*' if next == Some(b'/') => i + 2,
            b';' => {
                ended = true;
                i + 1
            }
            _ if b.is_ascii_whitespace() => i + 1,
            _ if ended => return Some(start),
            _ => i + 1,
        };
    }
    None
}

/// The end of the string or quoted name opened at `i`.
fn quoted(bytes: &[u8], i: usize, backslash_escapes: bool) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if backslash_escapes => j += 2,
            b if b == quote && bytes.get(j + 1) == Some(&quote) => j += 2,
            b if b == quote => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |at| i + at + 1)
}

#[cfg(test)]
mod tests {
    use super::second_statement;

    #[test]
    fn a_second_statement_is_found_however_it_is_hidden() {
        for sql in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1; -- done",
            "SELECT 1; # done",
            "SELECT 1 ; /* done */ ;",
            "SELECT ';', \";\", `;`",
            "SELECT 'it''s; fine'",
            "SELECT 1--1",
            "SELECT 1 /*More; a comment*/",
            "CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); END",
        ] {
            assert_eq!(second_statement(sql), None, "{sql}");
        }
        for (sql, at) in [
            ("SELECT 1; SELECT 2", 10),
            ("CREATE TABLE t (a INT); SELECT 2", 24),
            ("SELECT \"\\\"\"; DELETE FROM item; SELECT \"\\\"\"", 13),
            ("SELECT 1;/*!DELETE*/ FROM item", 12),
            ("SELECT 1;/*M!100101 DELETE FROM item */", 20),
            ("SELECT 1 --x\n; DELETE FROM item", 15),
            // With `NO_BACKSLASH_ESCAPES` the string ends at the second quote.
            ("SELECT 'a\\'; DELETE FROM item; SELECT '", 13),
        ] {
            assert_eq!(second_statement(sql), Some(at), "{sql}");
        }
    }
}
