//! What a statement binds and returns, the same for every engine: a value
//! is null, a boolean, an integer, a float, text or bytes. Engine types
//! beyond these (dates, decimals, UUIDs, JSON) are read as their text, as
//! the engine writes them, so nothing is lost in rounding.

use serde::{Serialize, Serializer};

/// One bound parameter or one cell of a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// The cell as a table or CSV shows it: bytes as `\x` and hex, as
    /// PostgreSQL writes them; null as the empty string.
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(t) => t.clone(),
            Value::Bytes(b) => format!("\\x{}", hex::encode(b)),
        }
    }

    /// The integer in a value an engine may return as text (MariaDB's
    /// `COUNT(*)` in the text protocol, PostgreSQL's `bigint`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Text(t) => t.parse().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Null | Value::Float(_) | Value::Bytes(_) => None,
        }
    }

    /// The text in a value (bytes that are UTF-8 included).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Text(t) => Some(t.clone()),
            Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
            Value::Int(i) => Some(i.to_string()),
            Value::Null | Value::Bool(_) | Value::Float(_) => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            // JSON has no NaN or infinity; those go out as text.
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(f) => s.serialize_str(&f.to_string()),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(_) => s.serialize_str(&self.display()),
        }
    }
}

/// What one statement returned: its columns and rows, and for a statement
/// that changes rows, how many it changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted, when the statement returns none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<u64>,
}

impl Value {
    /// What the value weighs in a result, for bounds: its text or bytes,
    /// eight bytes for any other.
    pub fn weight(&self) -> usize {
        match self {
            Value::Text(t) => t.len(),
            Value::Bytes(b) => b.len(),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 8,
        }
    }
}

impl Rows {
    /// What the result weighs, for bounds: its column names and every
    /// cell's [`Value::weight`].
    pub fn weight(&self) -> usize {
        let names: usize = self.columns.iter().map(String::len).sum();
        self.rows
            .iter()
            .flatten()
            .fold(names, |sum, v| sum.saturating_add(v.weight()))
    }

    /// The rows as objects keyed by column name, in column order, for a
    /// serializer (`--json`): borrowed, so printing a result copies
    /// nothing into an intermediate tree.
    pub fn objects(&self) -> RowObjects<'_> {
        // A name given twice (`SELECT a, a`) keeps its first place and its
        // last value, as a JSON object holds each key once.
        let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(self.columns.len());
        for (i, name) in self.columns.iter().enumerate() {
            match pairs.iter_mut().find(|(n, _)| self.columns[*n] == *name) {
                Some(pair) => pair.1 = i,
                None => pairs.push((i, i)),
            }
        }
        RowObjects { rows: self, pairs }
    }
}

/// [`Rows::objects`]: a sequence of maps, one per row.
#[derive(Debug, Clone)]
pub struct RowObjects<'a> {
    rows: &'a Rows,
    /// Each key's column and the column its value comes from.
    pairs: Vec<(usize, usize)>,
}

/// One row as a map of its columns.
struct RowObject<'a> {
    columns: &'a [String],
    pairs: &'a [(usize, usize)],
    row: &'a [Value],
}

impl Serialize for RowObjects<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.rows.rows.iter().map(|row| RowObject {
            columns: &self.rows.columns,
            pairs: &self.pairs,
            row,
        }))
    }
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.pairs
                .iter()
                .filter_map(|&(name, value)| Some((&self.columns[name], self.row.get(value)?))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> Rows {
        Rows {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows,
            affected: None,
        }
    }

    #[test]
    fn objects_are_keyed_by_column_in_column_order() {
        let r = rows(
            &["z", "a"],
            vec![
                vec![Value::Int(1), Value::Text("x".into())],
                vec![Value::Null, Value::Bool(true)],
            ],
        );
        let text = serde_json::to_string(&r.objects()).expect("serializes");
        assert_eq!(text, r#"[{"z":1,"a":"x"},{"z":null,"a":true}]"#);
    }

    #[test]
    fn a_column_named_twice_is_one_key_with_its_last_value() {
        let r = rows(
            &["a", "b", "a"],
            vec![vec![Value::Int(1), Value::Int(2), Value::Int(3)]],
        );
        let text = serde_json::to_string(&r.objects()).expect("serializes");
        assert_eq!(text, r#"[{"a":3,"b":2}]"#);
        let none = rows(&["a"], Vec::new());
        assert_eq!(serde_json::to_string(&none.objects()).expect("json"), "[]");
    }
}
