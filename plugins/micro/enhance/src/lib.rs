//! `enhance.json`: gives `--json` to a command that lacks it. Text whose
//! every non-empty line is `key: value` becomes an object; any other text
//! becomes an array of its lines.

use lord_pdk::serde_json::{Map, Value};
use lord_pdk::{Json, Micro, MicroContext};

struct Enhance;

impl Micro for Enhance {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        if ctx.id != "enhance.json" {
            return Err(format!("micro-enhance has no micro-plugin `{}`", ctx.id));
        }
        let text = input.as_str().ok_or("expected a JSON string")?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let pairs: Option<Vec<(&str, &str)>> = lines
            .iter()
            .map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.trim(), v.trim()))
                    .filter(|(k, _)| !k.is_empty() && !k.contains(' '))
            })
            .collect();
        match pairs {
            Some(pairs) if !pairs.is_empty() => {
                let mut object = Map::new();
                for (k, v) in pairs {
                    object.insert(k.to_owned(), Value::String(v.to_owned()));
                }
                Ok(Value::Object(object))
            }
            _ => Ok(Value::Array(
                lines
                    .iter()
                    .map(|l| Value::String((*l).to_owned()))
                    .collect(),
            )),
        }
    }
}

lord_pdk::export_micro!(Enhance);
