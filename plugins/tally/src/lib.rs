//! `tally`: cooperates with `notes` through events alone. It never calls
//! notes and notes never calls it: each `notes.added` event (and each
//! `lord.command.finished`) reaches its `handle-event`, and it keeps the
//! counts in its own persistent data, counting a failed command only when
//! the host vouches that lord published it. It also answers `counts` requests
//! (`[messages] accept = true`).

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
            "notes added: {}\ncommands failed: {}\n",
            count("notes")?,
            count("failed")?
        ))
    }

    fn handle_message(sender: &str, payload: &str) -> Result<String, String> {
        match payload {
            "counts" => Ok(format!(
                "{{\"notes\": {}, \"failed\": {}, \"asked_by\": \"{sender}\"}}",
                count("notes")?,
                count("failed")?
            )),
            other => Err(format!("tally answers `counts`, not `{other}`")),
        }
    }

    fn handle_event(event: Event) -> Result<(), String> {
        match event.topic.as_str() {
            "notes.added" => bump("notes"),
            // Only lord's own word counts: the host vouches for it, since
            // `source` and the payload are just text.
            "lord.command.finished" if event.from_lord() && event.payload["status"] == "failed" => {
                bump("failed")
            }
            "lord.command.finished" => Ok(()),
            other => Err(format!(
                "tally was not to receive `{other}` ({})",
                event.payload
            )),
        }
    }
}

lord_pdk::export_plugin!(Tally);
