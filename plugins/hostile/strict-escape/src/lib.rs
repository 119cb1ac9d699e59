//! Hostile fixture: declared `strict`, it tries the host anyway: the log
//! interface, an environment variable, the project folder. Each attempt
//! must trap (every import of a strict micro-plugin is linked to a trap),
//! while `escape.limited`, declared `limited`, shows the grant is real.

use lord_pdk::serde_json::json;
use lord_pdk::{Json, Micro, MicroContext};

struct StrictEscape;

impl Micro for StrictEscape {
    fn execute(ctx: &MicroContext, _input: Json) -> Result<Json, String> {
        match ctx.id.as_str() {
            "escape.log" => {
                lord_pdk::log::info("a strict micro-plugin reached the host");
                Ok(json!("ESCAPED: logged"))
            }
            "escape.env" => Ok(json!(format!(
                "ESCAPED: HOME={}",
                std::env::var("HOME").unwrap_or_default()
            ))),
            "escape.files" | "escape.limited" => {
                let names: Vec<String> = std::fs::read_dir("/project")
                    .map_err(|e| format!("read_dir failed: {e}"))?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                Ok(json!(names))
            }
            other => Err(format!("no micro-plugin `{other}`")),
        }
    }
}

lord_pdk::export_micro!(StrictEscape);
