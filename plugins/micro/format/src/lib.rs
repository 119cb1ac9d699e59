//! Formatters: `format.json` (indented JSON text) and `format.table` (an
//! array of objects as an aligned table, columns in first-seen order).

use lord_pdk::serde_json::{self, Value, json};
use lord_pdk::{Json, Micro, MicroContext};

struct Format;

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn table(rows: &[Value]) -> Result<String, String> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        let object = row.as_object().ok_or("every row must be an object")?;
        for key in object.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let mut out = line(&header);
    for row in &cells {
        out.push('\n');
        out.push_str(&line(row));
    }
    out.push('\n');
    Ok(out)
}

impl Micro for Format {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        match ctx.id.as_str() {
            "format.json" => serde_json::to_string_pretty(&input)
                .map(|s| json!(s + "\n"))
                .map_err(|e| e.to_string()),
            "format.table" => {
                let rows = input.as_array().ok_or("expected an array of objects")?;
                table(rows).map(Value::String)
            }
            other => Err(format!("micro-format has no micro-plugin `{other}`")),
        }
    }
}

lord_pdk::export_micro!(Format);
