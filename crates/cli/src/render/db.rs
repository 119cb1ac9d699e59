//! How `lord db` shows rows, catalogues and migrations. Cells are a
//! database's text, which anyone who could write to it chose: in a table
//! they are escaped like any foreign text, so a value cannot drive the
//! terminal. CSV and JSON carry them unchanged, for scripts.

use lord_db::migrate::{State, Status};
use lord_db_api::{Rows, Table};

use super::foreign;
use super::perf::table as columns;

/// Rows under their column names, padded to the widest cell; NULL shown
/// as `NULL`.
pub(crate) fn table(rows: &Rows) -> String {
    let header: Vec<String> = rows
        .columns
        .iter()
        .map(|c| foreign(c).to_string())
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let body: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    if *v == lord_db_api::Value::Null {
                        "NULL".to_owned()
                    } else {
                        foreign(&v.display()).to_string()
                    }
                })
                .collect()
        })
        .collect();
    columns(&header, &body)
}

/// Rows as CSV (RFC 4180: CRLF line endings) with a header line, as
/// PostgreSQL's `COPY ... (FORMAT csv)` writes them: NULL as an empty
/// field, an empty text as `""`, so the two read back apart (but for a
/// lone NULL, written `""` too, since an empty line is no record); a
/// field holding a comma, a quote or a line break quoted, its quotes
/// doubled.
pub(crate) fn csv(rows: &Rows) -> String {
    let mut out = String::new();
    let line = |out: &mut String, fields: &mut dyn Iterator<Item = Option<String>>| {
        let start = out.len();
        for (i, field) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(text) = field {
                csv_field(out, &text);
            }
        }
        // A record that would be an empty line (a lone NULL, or no
        // columns) is written `""`: readers skip empty lines, and the row
        // would be lost.
        if out.len() == start {
            out.push_str("\"\"");
        }
        out.push_str("\r\n");
    };
    line(&mut out, &mut rows.columns.iter().cloned().map(Some));
    for row in &rows.rows {
        line(
            &mut out,
            &mut row
                .iter()
                .map(|value| (*value != lord_db_api::Value::Null).then(|| value.display())),
        );
    }
    out
}

/// One text field: quoted when it is empty or holds what would end it.
fn csv_field(out: &mut String, text: &str) {
    if text.is_empty() || text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Each table: its columns with type, nullability and default, then its
/// keys and indexes.
pub(crate) fn schema(tables: &[Table]) -> String {
    let mut out = String::new();
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("table {}\n", foreign(&table.name)));
        let body: Vec<Vec<String>> = table
            .columns
            .iter()
            .map(|c| {
                vec![
                    format!("  {}", foreign(&c.name)),
                    foreign(&c.data_type).to_string(),
                    if c.nullable { "null" } else { "not null" }.to_owned(),
                    c.default
                        .as_deref()
                        .map(|d| format!("default {}", foreign(d)))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&columns(&["  column", "type", "null", "default"], &body));
        let names = |list: &[String]| {
            list.iter()
                .map(|c| foreign(c).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !table.primary_key.is_empty() {
            out.push_str(&format!("  primary key ({})\n", names(&table.primary_key)));
        }
        for index in &table.indexes {
            out.push_str(&format!(
                "  {}index {} ({})\n",
                if index.unique { "unique " } else { "" },
                foreign(&index.name),
                names(&index.columns)
            ));
        }
        for fk in &table.foreign_keys {
            out.push_str(&format!(
                "  foreign key ({}) references {} ({})\n",
                names(&fk.columns),
                foreign(&fk.references_table),
                names(&fk.references_columns)
            ));
        }
    }
    out
}

/// One line per migration.
pub(crate) fn migrations(statuses: &[Status]) -> String {
    if statuses.is_empty() {
        return "no migrations; write one with `lord db migrate new NAME`\n".to_owned();
    }
    let body: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            let state = match s.state {
                State::Pending => "pending",
                State::Applied => "applied",
                State::Changed => "CHANGED since applied",
                State::Missing => "applied, file missing",
                State::Started => "STARTED, not finished",
            };
            vec![
                format!("{:04}", s.version),
                foreign(s.file.as_deref().unwrap_or(&s.name)).to_string(),
                state.to_owned(),
                s.applied_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    columns(&["version", "file", "state", "applied"], &body)
}
