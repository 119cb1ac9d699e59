//! Test fixture: fills its data folder from its handlers. Every
//! `lord.command.finished` event, every message it is handed and every
//! call of its micro-plugin `datahog-fill` adds a 2 MiB file to
//! `$PLUGIN_DATA` (mounted at `/data`). Its commands, run from a copy of
//! the fixture under another id, send `datahog` two messages (`*-send`)
//! or ask it a request (`*-ask`).

use lord_pdk::{Command, Event, Json, MicroContext, Plugin, messaging};

struct DataHog;

/// What each handler writes: over a quota of 1 MiB at the first call.
const FILL: usize = 2 * 1024 * 1024;

/// Adds one file of [`FILL`] bytes, named after what caused it and how
/// many files the folder held.
fn fill(cause: &str) -> Result<(), String> {
    let held = std::fs::read_dir("/data")
        .map_err(|e| format!("cannot read /data: {e}"))?
        .count();
    std::fs::write(format!("/data/{cause}-{held}.bin"), vec![0u8; FILL])
        .map_err(|e| format!("cannot write into /data: {e}"))
}

impl Plugin for DataHog {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            name if name.ends_with("-send") => {
                messaging::send("datahog", "fill", 0)?;
                messaging::send("datahog", "fill", 0)?;
                Ok("sent\n".to_owned())
            }
            name if name.ends_with("-ask") => {
                let reply = messaging::request("datahog", "fill", 2000)?;
                Ok(format!("{reply}\n"))
            }
            other => Err(format!("unknown command {other}")),
        }
    }

    fn handle_event(event: Event) -> Result<(), String> {
        fill(&format!("event-{}", event.topic))
    }

    fn handle_message(_sender: &str, _payload: &str) -> Result<String, String> {
        fill("message")?;
        Ok("filled".to_owned())
    }

    fn micro(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        fill(&format!("micro-{}", ctx.id))?;
        Ok(input)
    }
}

lord_pdk::export_plugin!(DataHog);
