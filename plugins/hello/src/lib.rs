//! `hello`: greets its argument. The smallest honest plugin, used by the
//! tour in the README and by the benchmarks. It also serves one
//! micro-plugin, `greet`, to show a full plugin can.

use lord_pdk::serde_json::json;
use lord_pdk::{Command, Json, MicroContext, Plugin};

struct Hello;

impl Plugin for Hello {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "hello" => {
                let name = command.arg("name").unwrap_or("world");
                Ok(format!("Hello, {name}!\n"))
            }
            other => Err(format!("hello has no command `{other}`")),
        }
    }

    fn micro(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        match ctx.id.as_str() {
            "greet" => {
                let name = input.as_str().ok_or("expected a name as a JSON string")?;
                Ok(json!(format!("Hello, {name}!")))
            }
            other => Err(format!("hello has no micro-plugin `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(Hello);
