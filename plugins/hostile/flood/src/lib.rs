//! Hostile fixture: writes to stdout without end. The host's output budget
//! must stop it; nothing it writes reaches the terminal directly.

use std::io::Write;

use lord_pdk::{Command, Plugin};

struct Flood;

impl Plugin for Flood {
    fn run_command(_command: Command) -> Result<String, String> {
        let line = "flood ".repeat(170);
        let mut out = std::io::stdout();
        loop {
            if let Err(e) = writeln!(out, "{line}") {
                return Err(format!("stdout refused: {e}"));
            }
        }
    }
}

lord_pdk::export_plugin!(Flood);
