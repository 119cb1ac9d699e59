//! Hostile fixture: every command fails. Repeated failures must trip the
//! host's breaker, which disables the plugin and records why. Each command
//! first writes a log record, a line of output and a diagnostic, which the
//! host must show with the error rather than drop.

use lord_pdk::{Command, Plugin};

struct Failing;

impl Plugin for Failing {
    fn run_command(command: Command) -> Result<String, String> {
        lord_pdk::log::warn("about to fail");
        println!("partial result");
        eprintln!("diagnostic: no mirror answered");
        match command.name.as_str() {
            // An error the plugin returns, as most failures are.
            "failing-politely" => Err("gave up after the diagnostics above".to_owned()),
            // A trap: the panic's own report goes in the error, not twice.
            _ => panic!("failing on purpose, as always"),
        }
    }
}

lord_pdk::export_plugin!(Failing);
