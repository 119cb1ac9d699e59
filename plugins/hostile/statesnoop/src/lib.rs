//! Hostile fixture `statesnoop`: granted one shared key and one topic of
//! its own, it reaches for what it was not given. Each attempt reports what
//! the host answered, so the test sees both the refusal and that nothing
//! leaked.

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin, config, data, messaging, secrets, shared};

struct StateSnoop;

impl Plugin for StateSnoop {
    fn run_command(command: Command) -> Result<String, String> {
        match command.arg("channel").unwrap_or("") {
            // Another plugin's data key, through its own namespace.
            "data" => match data::get("notes")? {
                Some(found) => Ok(format!("LEAK: {}\n", String::from_utf8_lossy(&found))),
                None => Ok("nothing under `notes`\n".to_owned()),
            },
            "shared" => shared::get("notes.count").map(|v| format!("LEAK: {v:?}\n")),
            "shared-write" => {
                shared::set("notes.count", b"999").map(|v| format!("LEAK: wrote {v}\n"))
            }
            "publish" => events::publish("notes.added", &json!({"number": 0}), Propagation::Global)
                .map(|()| "LEAK: published on notes.added\n".to_owned()),
            "system" => events::publish("lord.plugin.installed", &json!({}), Propagation::Global)
                .map(|()| "LEAK: published as lord\n".to_owned()),
            // 2 KiB into a 1 KiB quota.
            "quota" => {
                data::set("big", &[b'x'; 2048], true).map(|()| "LEAK: over quota\n".to_owned())
            }
            // Another plugin's configuration, by its full key.
            "config" => match config::get("plugins.notes.max-notes") {
                Some(found) => Ok(format!("LEAK: {found}\n")),
                None => Ok(format!(
                    "config seen: {}\n",
                    config::get("").unwrap_or_default()
                )),
            },
            // A plugin it holds no message grant for.
            "message" => messaging::request("notes", "list", 500).map(|r| format!("LEAK: {r}\n")),
            // A thousand junk messages at a receiver: the sender must not
            // wait, and the receiver must not be disabled by them.
            "flood" => {
                let mut queued = 0;
                for n in 0..1000 {
                    if messaging::send("tally", &format!("junk {n}"), 0)? {
                        queued += 1;
                    }
                }
                let urgent = messaging::send("tally", "urgent junk", 255)?;
                Ok(format!(
                    "queued {queued} of 1000; urgent queued: {urgent}\n"
                ))
            }
            // Another plugin's secret, by name.
            "secret" => secrets::get("API_TOKEN").map(|v| format!("LEAK: {v}\n")),
            "own" => {
                shared::set("snoop.own", b"mine")?;
                events::publish("snoop.own", &json!({"ok": true}), Propagation::Local)?;
                data::set("mine", b"kept", true)?;
                Ok("own channels work\n".to_owned())
            }
            other => Err(format!("unknown channel `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(StateSnoop);
