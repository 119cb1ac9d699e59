//! Hostile fixture: its on-enable hook panics (a trap). The host must mark it
//! failed with the reason, tell its on-error hook, and carry on.

use lord_pdk::{Command, Plugin};

struct TrapHook;

impl Plugin for TrapHook {
    fn on_enable() -> Result<(), String> {
        panic!("trap in on-enable");
    }

    fn on_error(message: &str) {
        lord_pdk::log::warn(&format!("on-error received: {message}"));
    }

    fn run_command(_command: Command) -> Result<String, String> {
        Ok("traphook ran\n".to_owned())
    }
}

lord_pdk::export_plugin!(TrapHook);
