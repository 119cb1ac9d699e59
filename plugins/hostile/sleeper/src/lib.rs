//! Hostile fixture: blocks in a host call (a one-minute sleep). The time
//! limit must cover time spent waiting in the host, not only guest code.

use lord_pdk::{Command, Plugin};

struct Sleeper;

impl Plugin for Sleeper {
    fn run_command(_command: Command) -> Result<String, String> {
        std::thread::sleep(std::time::Duration::from_secs(60));
        Ok("woke up\n".to_owned())
    }
}

lord_pdk::export_plugin!(Sleeper);
