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

/// Adds one by compare-and-swap: the events of commands run at once are
/// delivered in their own processes, at once.
fn bump(key: &str) -> Result<(), String> {
    data::update(key, |current| {
        let n: u64 = current
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((n + 1).to_string().into_bytes())
    })
    .map(drop)
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
