//! Text micro-plugins: `trim`, `upper`, `lower`, `slug` (transformers) and
//! `text.count` (a utility). Strict isolation: pure computation.

use lord_pdk::serde_json::json;
use lord_pdk::{Json, Micro, MicroContext};

struct Text;

fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            gap = false;
        } else {
            gap = true;
        }
    }
    out
}

impl Micro for Text {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        let text = input.as_str().ok_or("expected a JSON string")?;
        Ok(match ctx.id.as_str() {
            "trim" => json!(text.trim()),
            "upper" => json!(text.to_uppercase()),
            "lower" => json!(text.to_lowercase()),
            "slug" => json!(slug(text)),
            "text.count" => json!({
                "chars": text.chars().count(),
                "words": text.split_whitespace().count(),
                "lines": text.lines().count(),
            }),
            other => return Err(format!("micro-text has no micro-plugin `{other}`")),
        })
    }
}

lord_pdk::export_micro!(Text);
