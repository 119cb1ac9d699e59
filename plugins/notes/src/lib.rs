//! `notes`: keeps short notes across runs in the plugin's own persistent
//! data, keeps a count of notes taken by anyone in the shared value
//! `notes.count`, and announces each new note on `notes.added`.
//! `plugins.notes.max-notes` in lord's configuration caps how many it
//! keeps. Both the notes and the count are updated by compare-and-swap, so
//! `lord note` run from many processes at once loses none.

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin, config, data, messaging, shared};

struct Notes;

/// The one data key: the notes, newline-separated.
const KEY: &str = "notes";

fn parse(bytes: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("stored notes are not text: {e}"))?;
    Ok(text.lines().map(str::to_owned).collect())
}

fn load() -> Result<Vec<String>, String> {
    parse(&data::get(KEY)?.unwrap_or_default())
}

impl Plugin for Notes {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "note" => {
                let text = command.arg("text").ok_or("give the note's text")?;
                if text.contains('\n') {
                    return Err("a note is one line".to_owned());
                }
                let max = config::get("max-notes").and_then(|v| v.as_u64());
                // The check and the append are one compare-and-swap: another
                // process's note in between makes this one start again.
                let mut count = 0;
                data::update(KEY, |current| {
                    let mut notes = parse(current.unwrap_or_default())?;
                    if let Some(max) = max
                        && notes.len() as u64 >= max
                    {
                        return Err(format!(
                            "already {} notes, the most `plugins.notes.max-notes` allows",
                            notes.len()
                        ));
                    }
                    notes.push(text.to_owned());
                    count = notes.len();
                    Ok(notes.join("\n").into_bytes())
                })?;
                shared::update("notes.count", |current| {
                    let n: u64 = current
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    (n + 1).to_string().into_bytes()
                })?;
                events::publish(
                    "notes.added",
                    &json!({ "number": count }),
                    Propagation::Global,
                )?;
                Ok(format!("noted ({count} in all)\n"))
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
