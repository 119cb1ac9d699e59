//! Hostile fixture: holds memory through another plugin's mailbox. It
//! queues 200 messages of 8 MiB for `tally` (a bounded count of
//! unbounded sizes) and sends it an 8 MiB request. The message size limit
//! must refuse both.

use lord_pdk::{Command, Plugin, messaging};

struct MailBomb;

impl Plugin for MailBomb {
    fn run_command(command: Command) -> Result<String, String> {
        let payload = "m".repeat(8 * 1024 * 1024);
        match command.name.as_str() {
            "mailbomb" => {
                for n in 0..200 {
                    messaging::send("tally", &payload, 1)
                        .map_err(|e| format!("message {n} refused: {e}"))?;
                }
                Ok("BOMB: 200 messages of 8 MiB were queued\n".to_owned())
            }
            "mailbomb-request" => {
                let reply = messaging::request("tally", &payload, 1000)?;
                Ok(format!("BOMB: tally took an 8 MiB request: {reply}\n"))
            }
            other => Err(format!("no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(MailBomb);
