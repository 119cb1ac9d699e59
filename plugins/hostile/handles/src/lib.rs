//! Hostile fixture: exhausts file handles. `handles.hog` opens the
//! project's `data.txt` in a loop and keeps every handle; when the system
//! refuses one it holds what it has until near its deadline, so a reader
//! running beside it in the same process would find none left.
//! `handles.read` waits a moment and reads the file: it must still work.

use std::fs::File;
use std::time::Duration;

use lord_pdk::serde_json::json;
use lord_pdk::{Json, Micro, MicroContext};

struct Handles;

const FILE: &str = "/project/data.txt";

impl Micro for Handles {
    fn execute(ctx: &MicroContext, _input: Json) -> Result<Json, String> {
        match ctx.id.as_str() {
            "handles.hog" => {
                let mut held = Vec::new();
                loop {
                    match File::open(FILE) {
                        Ok(file) => held.push(file),
                        Err(e) => {
                            std::thread::sleep(Duration::from_millis(1500));
                            return Err(format!("held {} handles, then: {e}", held.len()));
                        }
                    }
                }
            }
            "handles.read" => {
                std::thread::sleep(Duration::from_millis(400));
                let text = std::fs::read_to_string(FILE).map_err(|e| format!("read: {e}"))?;
                Ok(json!(text.trim()))
            }
            other => Err(format!("no micro-plugin `{other}`")),
        }
    }
}

lord_pdk::export_micro!(Handles);
