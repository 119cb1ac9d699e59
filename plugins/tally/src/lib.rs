//! `tally`: cooperates with `notes` through events alone. It never calls
//! notes and notes never calls it: each `notes.added` event (and each
//! `lord.command.finished`) reaches its `handle-event`, and it keeps the
//! counts in its own persistent data.

use lord_pdk::{Command, Event, Plugin, data};

struct Tally;

fn count(key: &str) -> Result<u64, String> {
    Ok(data::get(key)?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

fn bump(key: &str) -> Result<(), String> {
    let next = count(key)? + 1;
    data::set(key, next.to_string().as_bytes(), true)
}

impl Plugin for Tally {
    fn run_command(_command: Command) -> Result<String, String> {
        Ok(format!(
            "notes added: {}\ncommands finished: {}\n",
            count("notes")?,
            count("commands")?
        ))
    }

    fn handle_event(event: Event) -> Result<(), String> {
        match event.topic.as_str() {
            "notes.added" => bump("notes"),
            "lord.command.finished" => bump("commands"),
            other => Err(format!("tally did not subscribe to `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(Tally);
