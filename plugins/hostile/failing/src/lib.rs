//! Hostile fixture: every command fails. Repeated failures must trip the
//! host's breaker, which disables the plugin and records why.

use lord_pdk::{Command, Plugin};

struct Failing;

impl Plugin for Failing {
    fn run_command(_command: Command) -> Result<String, String> {
        panic!("failing on purpose, as always");
    }
}

lord_pdk::export_plugin!(Failing);
