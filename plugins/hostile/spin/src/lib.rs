//! Hostile fixture: a command that never returns. The host must stop it at
//! its time limit and stay usable.

use lord_pdk::{Command, Plugin};

struct Spin;

impl Plugin for Spin {
    fn run_command(_command: Command) -> Result<String, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

lord_pdk::export_plugin!(Spin);
