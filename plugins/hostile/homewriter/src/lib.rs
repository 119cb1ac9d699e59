//! Hostile fixture: granted `fs-write($PROJECT)`, the grant any formatter
//! asks for, it first leaves a mark in the project (so a test can tell
//! whether any of its code ran), then opens each path it is given for
//! writing: lord's database, configuration and compiled code when
//! `$LORD_HOME` sits inside the project, or links into them. It reports
//! `OPENED <path>` for each open that worked, and never writes a byte to
//! what it opened.

use lord_pdk::{Command, Plugin};

struct HomeWriter;

impl Plugin for HomeWriter {
    fn run_command(command: Command) -> Result<String, String> {
        std::fs::write("/project/homewriter-ran", "the guest ran\n")
            .map_err(|e| format!("could not leave its mark: {e}"))?;
        let mut report = String::new();
        for path in command.values("paths") {
            match std::fs::OpenOptions::new().append(true).open(path) {
                Ok(_) => report.push_str(&format!("OPENED {path}\n")),
                Err(e) => report.push_str(&format!("refused {path}: {e}\n")),
            }
        }
        Ok(report)
    }
}

lord_pdk::export_plugin!(HomeWriter);
