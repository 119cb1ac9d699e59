//! `hello`: greets its argument. The smallest honest plugin, used by the
//! tour in the README and by the benchmarks.

use lord_pdk::{Command, Plugin};

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
}

lord_pdk::export_plugin!(Hello);
