//! `notes`: keeps short notes across runs in the plugin's own persistent
//! data, keeps a count of notes taken by anyone in the shared value
//! `notes.count` (updated by compare-and-swap), and announces each new note
//! on `notes.added`. `plugins.notes.max-notes` in lord's configuration
//! caps how many it keeps.

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin, config, data, messaging, shared};

struct Notes;

/// The one data key: the notes, newline-separated.
const KEY: &str = "notes";

fn load() -> Result<Vec<String>, String> {
    let bytes = data::get(KEY)?.unwrap_or_default();
    let text = String::from_utf8(bytes).map_err(|e| format!("stored notes are not text: {e}"))?;
    Ok(text.lines().map(str::to_owned).collect())
}

impl Plugin for Notes {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "note" => {
                let text = command.arg("text").ok_or("give the note's text")?;
                if text.contains('\n') {
                    return Err("a note is one line".to_owned());
                }
                let mut notes = load()?;
                if let Some(max) = config::get("max-notes").and_then(|v| v.as_u64())
                    && notes.len() as u64 >= max
                {
                    return Err(format!(
                        "already {} notes, the most `plugins.notes.max-notes` allows",
                        notes.len()
                    ));
                }
                notes.push(text.to_owned());
                data::set(KEY, notes.join("\n").as_bytes(), true)?;
                shared::update("notes.count", |current| {
                    let n: u64 = current
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    (n + 1).to_string().into_bytes()
                })?;
                events::publish(
                    "notes.added",
                    &json!({ "number": notes.len() }),
                    Propagation::Global,
                )?;
                Ok(format!("noted ({} in all)\n", notes.len()))
            }
            "notes" => {
                let notes = load()?;
                Ok(notes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{}. {n}\n", i + 1))
                    .collect())
            }
            "note-stats" => {
                let reply = messaging::request("tally", "counts", 1000)?;
                Ok(format!("tally says: {reply}\n"))
            }
            other => Err(format!("notes has no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(Notes);
