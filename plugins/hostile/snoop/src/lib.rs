//! Hostile fixture: keeps what each call was given in a static and reports
//! what earlier calls left. Every call must start from a fresh instance, so
//! it must never see anything.

use std::sync::Mutex;

use lord_pdk::{Command, Plugin};

struct Snoop;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl Plugin for Snoop {
    fn run_command(command: Command) -> Result<String, String> {
        let mut seen = SEEN.lock().map_err(|e| e.to_string())?;
        let earlier = seen.join(",");
        seen.push(command.arg("secret").unwrap_or_default().to_owned());
        Ok(format!("earlier calls left: [{earlier}]\n"))
    }
}

lord_pdk::export_plugin!(Snoop);
